#pragma once
/// \file One block's sum of a device array of doubles into a device scalar: the last step of the
/// reductions whose result stays on the device (the sum of squares of a gradient, the mean
/// cross-entropy, the arg-max accuracy; issue #24), so that the host never waits for them.
#include <cub/block/block_reduce.cuh>

#include "structgan/backend/cuda/runtime.hpp"

namespace structgan::backend::cuda {

/// What sum_to_scalar writes: the sum, or the mean (0 when there is nothing to average).
enum class ScalarOf { sum, mean };

/// One block: out[0] = Σ v[0 … n), or that over n. Thread t adds v[t], v[t + blockDim], … in order,
/// then CUB's fixed-tree block reduction: the same bits on every run.
template <class T>
__global__ void sum_to_scalar_kernel(const double* v, index_t n, ScalarOf of, T* out) {
  using Reduce = cub::BlockReduce<double, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  double s = 0;
  for (index_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = Reduce(tmp).Sum(s);
  if (threadIdx.x == 0) out[0] = of == ScalarOf::sum ? T(s) : n > 0 ? T(s / double(n)) : T(0);
}

/// Launches sum_to_scalar_kernel on the current stream (nothing waits).
template <class T>
void sum_to_scalar(const double* v, index_t n, ScalarOf of, T* out) {
  sum_to_scalar_kernel<T><<<1, block_threads, 0, stream()>>>(v, n, of, out);
  STRUCTGAN_CUDA_CHECK_LAUNCH("sum_to_scalar_kernel");
}

}  // namespace structgan::backend::cuda
