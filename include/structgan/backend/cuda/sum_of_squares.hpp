#pragma once
/// \file The multi-tensor sum of squares on CUDA (the gradient norm of an optimizer's
/// parameters, issue #24): one launch per 64 tensors plus one, instead of a reduction, a
/// temporary and an axpy per tensor; no upload, so the host never waits.
#include <algorithm>
#include <vector>

#include <cub/block/block_reduce.cuh>

#include "structgan/backend/cuda/block_sum.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/core/error.hpp"

namespace structgan::backend {
namespace cuda {

/// Values per chunk (one block each): 16 per thread.
inline constexpr index_t square_sum_chunk = index_t(block_threads) * 16;
/// Tensors per launch: their table travels as a kernel argument (1.6 KB of the 4 KB allowed), so
/// nothing is uploaded and the host never waits for the device.
inline constexpr int square_sum_tensors = 64;

/// The tensors of one launch: tensor t's chunks are first_chunk[t] … first_chunk[t + 1] − 1.
template <class T>
struct SquareSumTable {
  const T* x[square_sum_tensors];
  index_t size[square_sum_tensors];
  index_t first_chunk[square_sum_tensors + 1];
  int tensors;
};

/// partial[c] = Σ of chunk c's values squared, in double, one block per chunk. Thread t adds values
/// t, t + blockDim, … and CUB's block reduction combines the threads in a fixed tree, so a chunk's
/// partial sum is the same every run.
template <class T>
__global__ void chunk_square_sums_kernel(SquareSumTable<T> table, double* partial) {
  using Reduce = cub::BlockReduce<double, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  const index_t count = table.first_chunk[table.tensors];
  for (index_t c = blockIdx.x; c < count; c += gridDim.x) {
    int t = 0;
    while (table.first_chunk[t + 1] <= c) ++t;
    const index_t begin = (c - table.first_chunk[t]) * square_sum_chunk;
    const index_t n = table.size[t] - begin < square_sum_chunk ? table.size[t] - begin : square_sum_chunk;
    const T* x = table.x[t] + begin;
    double s = 0;
    for (index_t i = threadIdx.x; i < n; i += blockDim.x) {
      const double v = x[i];
      s += v * v;
    }
    s = Reduce(tmp).Sum(s);
    if (threadIdx.x == 0) partial[c] = s;
    __syncthreads();  // tmp is reused by the next chunk
  }
}

}  // namespace cuda

/// y[0] = Σ_t Σ_i x_t[i]² over `tensors` tensors of sizes[t] values (x and sizes host arrays of
/// device pointers and lengths). The tensors are cut into chunks; each launch takes up to
/// square_sum_tensors tensors, whose table is its argument, and writes one double partial sum per
/// chunk into pool scratch; one block adds the partials into y. Nothing is copied either way.
template <class T>
void sum_of_squares(Cuda, index_t tensors, const T* const* x, const index_t* sizes, T* y) {
  require(tensors >= 0, "sum_of_squares: ", tensors, " tensors");
  index_t count = 0;
  for (index_t t = 0; t < tensors; ++t) {
    require(sizes[t] >= 0, "sum_of_squares: tensor ", t, " has ", sizes[t], " values");
    count += (sizes[t] + cuda::square_sum_chunk - 1) / cuda::square_sum_chunk;
  }
  cuda::DeviceBuffer<double> partial(static_cast<std::size_t>(count));
  index_t done = 0;  // chunks of the launches so far
  for (index_t t0 = 0; t0 < tensors; t0 += cuda::square_sum_tensors) {
    cuda::SquareSumTable<T> table{};
    table.tensors = static_cast<int>(std::min<index_t>(cuda::square_sum_tensors, tensors - t0));
    table.first_chunk[0] = 0;
    for (int i = 0; i < table.tensors; ++i) {
      table.x[i] = x[t0 + i];
      table.size[i] = sizes[t0 + i];
      table.first_chunk[i + 1] = table.first_chunk[i] + (sizes[t0 + i] + cuda::square_sum_chunk - 1) / cuda::square_sum_chunk;
    }
    const index_t chunks = table.first_chunk[table.tensors];
    if (chunks == 0) continue;
    const unsigned blocks = static_cast<unsigned>(std::min<index_t>(chunks, index_t(1) << 20));
    cuda::chunk_square_sums_kernel<T><<<blocks, cuda::block_threads, 0, cuda::stream()>>>(table, partial.data() + done);
    STRUCTGAN_CUDA_CHECK_LAUNCH("chunk_square_sums_kernel");
    done += chunks;
  }
  cuda::sum_to_scalar(partial.data(), count, cuda::ScalarOf::sum, y);
}

}  // namespace structgan::backend
