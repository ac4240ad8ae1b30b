#pragma once
/// \file The CPU's multi-tensor sum of squares (the gradient norm of an optimizer's parameters).
#include <algorithm>
#include <vector>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/core/error.hpp"

namespace structgan::backend {

namespace cpu {
/// Values per chunk of sum_of_squares: the partition into chunks, not the threads, fixes the
/// order of the additions, so the result does not depend on the number of threads.
constexpr index_t square_sum_chunk = index_t(1) << 15;

/// Σ x[i]² over n values in double, in four interleaved accumulators (independent additions the
/// compiler can overlap) added up at the end: a fixed order for given n.
template <class T>
double chunk_square_sum(const T* x, index_t n) {
  double a[4] = {0, 0, 0, 0};
  index_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) a[k] += double(x[i + k]) * double(x[i + k]);
  for (; i < n; ++i) a[0] += double(x[i]) * double(x[i]);
  return (a[0] + a[1]) + (a[2] + a[3]);
}
}  // namespace cpu

/// y = Σ_t Σ_i x_t[i]² over `tensors` tensors of sizes[t] values (x, sizes host arrays). Each
/// tensor is cut into chunks of square_sum_chunk values; the chunks are summed in parallel, each
/// into its own double, and the partial sums are added in chunk order.
template <class T>
void sum_of_squares(Cpu, index_t tensors, const T* const* x, const index_t* sizes, T* y) {
  require(tensors >= 0, "sum_of_squares: ", tensors, " tensors");
  struct Chunk {
    const T* x;
    index_t n;
  };
  std::vector<Chunk> chunks;
  for (index_t t = 0; t < tensors; ++t) {
    require(sizes[t] >= 0, "sum_of_squares: tensor ", t, " has ", sizes[t], " values");
    for (index_t b = 0; b < sizes[t]; b += cpu::square_sum_chunk)
      chunks.push_back({x[t] + b, std::min(cpu::square_sum_chunk, sizes[t] - b)});
  }
  std::vector<double> partial(chunks.size());
  cpu::parallel_for(static_cast<index_t>(chunks.size()), 1, [&](index_t b, index_t e) {
    for (index_t c = b; c < e; ++c) partial[c] = cpu::chunk_square_sum(chunks[c].x, chunks[c].n);
  });
  double total = 0;
  for (double p : partial) total += p;
  *y = static_cast<T>(total);
}

}  // namespace structgan::backend
