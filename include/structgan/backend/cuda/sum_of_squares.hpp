#pragma once
/// \file The multi-tensor sum of squares on CUDA (the gradient norm of an optimizer's
/// parameters, issue #24): two launches for any number of tensors instead of a reduction, a
/// temporary and an axpy per tensor.
#include <algorithm>
#include <vector>

#include <cub/block/block_reduce.cuh>

#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/core/error.hpp"

namespace structgan::backend {
namespace cuda {

/// Values per chunk (one block each): 16 per thread.
inline constexpr index_t square_sum_chunk = index_t(block_threads) * 16;

/// A chunk of one tensor: n ≤ square_sum_chunk values from x.
template <class T>
struct SquareSumChunk {
  const T* x;
  index_t n;
};

/// partial[c] = Σ chunks[c].x[i]² in double, one block per chunk. Thread t adds values t,
/// t + blockDim, … and CUB's block reduction combines the threads in a fixed tree, so a chunk's
/// partial sum is the same every run.
template <class T>
__global__ void chunk_square_sums_kernel(const SquareSumChunk<T>* chunks, index_t count, double* partial) {
  using Reduce = cub::BlockReduce<double, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (index_t c = blockIdx.x; c < count; c += gridDim.x) {
    const SquareSumChunk<T> chunk = chunks[c];
    double s = 0;
    for (index_t i = threadIdx.x; i < chunk.n; i += blockDim.x) {
      const double v = chunk.x[i];
      s += v * v;
    }
    s = Reduce(tmp).Sum(s);
    if (threadIdx.x == 0) partial[c] = s;
    __syncthreads();  // tmp is reused by the next chunk
  }
}

/// y[0] = Σ partial[c] (0 when count is 0), one block: thread t adds partials t, t + blockDim, …
/// in order, then the fixed-tree block reduction.
template <class T>
__global__ void add_square_sums_kernel(const double* partial, index_t count, T* y) {
  using Reduce = cub::BlockReduce<double, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  double s = 0;
  for (index_t c = threadIdx.x; c < count; c += blockDim.x) s += partial[c];
  s = Reduce(tmp).Sum(s);
  if (threadIdx.x == 0) y[0] = static_cast<T>(s);
}

}  // namespace cuda

/// y[0] = Σ_t Σ_i x_t[i]² over `tensors` tensors of sizes[t] values (x and sizes host arrays of
/// device pointers and lengths). The host cuts the tensors into chunks; their table goes to the
/// device (a host→device copy, never a read back), one block per chunk writes a double partial
/// sum into pool scratch, and one block adds the partials into y.
template <class T>
void sum_of_squares(Cuda, index_t tensors, const T* const* x, const index_t* sizes, T* y) {
  require(tensors >= 0, "sum_of_squares: ", tensors, " tensors");
  std::vector<cuda::SquareSumChunk<T>> chunks;
  for (index_t t = 0; t < tensors; ++t) {
    require(sizes[t] >= 0, "sum_of_squares: tensor ", t, " has ", sizes[t], " values");
    for (index_t b = 0; b < sizes[t]; b += cuda::square_sum_chunk)
      chunks.push_back({x[t] + b, std::min(cuda::square_sum_chunk, sizes[t] - b)});
  }
  const index_t count = static_cast<index_t>(chunks.size());
  const cuda::DeviceBuffer<cuda::SquareSumChunk<T>> table(chunks);  // pool memory, uploaded
  cuda::DeviceBuffer<double> partial(chunks.size());
  if (count > 0) {
    const unsigned blocks = static_cast<unsigned>(std::min<index_t>(count, index_t(1) << 20));
    cuda::chunk_square_sums_kernel<T><<<blocks, cuda::block_threads, 0, cuda::stream()>>>(table.data(), count, partial.data());
    STRUCTGAN_CUDA_CHECK_LAUNCH("chunk_square_sums_kernel");
  }
  cuda::add_square_sums_kernel<T><<<1, cuda::block_threads, 0, cuda::stream()>>>(partial.data(), count, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("add_square_sums_kernel");
}

}  // namespace structgan::backend
