#pragma once
/// \file CUDA element-wise kernels: unary ops, axpy and fill through Thrust; broadcast binary
/// ops and sum-reductions (CUB block reductions) as plain kernels. Needs nvcc.
#include <array>

#include <cub/block/block_reduce.cuh>
#include <thrust/fill.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system_error.h>
#include <thrust/transform.h>

#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/plans.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {
namespace cuda {

/// Thrust's policy for structgan work: our stream, no synchronization after each algorithm.
inline auto thrust_policy() { return thrust::cuda::par_nosync.on(stream()); }

/// Runs a Thrust call, turning its exceptions into structgan::Error.
#define STRUCTGAN_THRUST(call)                                                                     \
  do {                                                                                             \
    try {                                                                                          \
      call;                                                                                        \
    } catch (const thrust::system_error& e_) {                                                     \
      ::structgan::fail("CUDA error: ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", e_.what()); \
    }                                                                                              \
  } while (0)

/// Device math for float and double (the single-precision functions for float).
template <class T>
struct Math;
template <>
struct Math<float> {
  __device__ static float exp(float x) { return ::expf(x); }
  __device__ static float log(float x) { return ::logf(x); }
  __device__ static float sqrt(float x) { return ::sqrtf(x); }
  __device__ static float tanh(float x) { return ::tanhf(x); }
  __device__ static float abs(float x) { return ::fabsf(x); }
  __device__ static float pow(float x, float a) { return ::powf(x, a); }
};
template <>
struct Math<double> {
  __device__ static double exp(double x) { return ::exp(x); }
  __device__ static double log(double x) { return ::log(x); }
  __device__ static double sqrt(double x) { return ::sqrt(x); }
  __device__ static double tanh(double x) { return ::tanh(x); }
  __device__ static double abs(double x) { return ::fabs(x); }
  __device__ static double pow(double x, double a) { return ::pow(x, a); }
};

/// y = op(x) with the CPU backend's definitions (op_kinds.hpp).
template <class T>
struct UnaryFn {
  UnaryOp op;
  T alpha;
  __device__ T operator()(T x) const {
    using M = Math<T>;
    switch (op) {
      case UnaryOp::Neg: return -x;
      case UnaryOp::Exp: return M::exp(x);
      case UnaryOp::Log: return M::log(x);
      case UnaryOp::Sqrt: return M::sqrt(x);
      case UnaryOp::Tanh: return M::tanh(x);
      case UnaryOp::Elu: return x > T(0) ? x : alpha * (M::exp(x) - T(1));
      case UnaryOp::EluDeriv: return x > T(0) ? T(1) : alpha * M::exp(x);
      case UnaryOp::EluDeriv2: return x > T(0) ? T(0) : alpha * M::exp(x);
      case UnaryOp::Relu: return x < T(0) ? T(0) : x;
      case UnaryOp::Step: return x > alpha ? T(1) : T(0);
      case UnaryOp::Abs: return M::abs(x);
      case UnaryOp::Sign: return T(x > T(0)) - T(x < T(0));
      case UnaryOp::Square: return x * x;
      case UnaryOp::Pow: return M::pow(x, alpha);
      case UnaryOp::AddScalar: return x + alpha;
      case UnaryOp::MulScalar: return x * alpha;
      case UnaryOp::ClampMin: return x < alpha ? alpha : x;
      case UnaryOp::Reciprocal: return T(1) / x;
    }
    return x;
  }
};

template <class T>
__device__ inline T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::EluTangent: return a > T(0) ? b : Math<T>::exp(a) * b;
    case BinaryOp::EluCurvature: return a > T(0) ? T(0) : Math<T>::exp(a) * b;
  }
  return a;
}

template <class T>
struct BinaryFn {
  BinaryOp op;
  __device__ T operator()(T a, T b) const { return apply_binary(op, a, b); }
};

template <class T>
struct AxpyFn {
  T alpha;
  __device__ T operator()(T x, T y) const { return y + alpha * x; }
};

template <class T>
__global__ void binary_broadcast_kernel(BinaryOp op, index_t n, BroadcastIndex p, const T* a, const T* b, T* y) {
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
    index_t oa, ob;
    broadcast_offsets(p, i, oa, ob);
    y[i] = apply_binary(op, a[oa], b[ob]);
  }
}

/// Few terms per output: one thread sums each output.
template <class T>
__global__ void reduce_sum_thread_kernel(ReducePlan p, const T* x, T* y) {
  for (index_t j = index_t(blockIdx.x) * blockDim.x + threadIdx.x; j < p.ny; j += index_t(gridDim.x) * blockDim.x) {
    const index_t base = offset_of(j, p.kept_rank, p.kept_size, p.kept_stride);
    T acc = T(0);
    for (index_t r = 0; r < p.nr; ++r) acc += x[base + offset_of(r, p.red_rank, p.red_size, p.red_stride)];
    y[j] = acc;
  }
}

/// Many terms per output: one block sums each output (CUB block reduction).
template <class T>
__global__ void reduce_sum_block_kernel(ReducePlan p, const T* x, T* y) {
  using Reduce = cub::BlockReduce<T, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (index_t j = blockIdx.x; j < p.ny; j += gridDim.x) {
    const index_t base = offset_of(j, p.kept_rank, p.kept_size, p.kept_stride);
    T acc = T(0);
    for (index_t r = threadIdx.x; r < p.nr; r += blockDim.x)
      acc += x[base + offset_of(r, p.red_rank, p.red_size, p.red_stride)];
    const T total = Reduce(tmp).Sum(acc);
    if (threadIdx.x == 0) y[j] = total;
    __syncthreads();  // tmp is reused by the next output
  }
}

}  // namespace cuda

/// y[i] = op(x[i]) for i < n (y may alias x).
template <class T>
void unary(Cuda, UnaryOp op, T alpha, index_t n, const T* x, T* y) {
  if (n <= 0) return;
  STRUCTGAN_THRUST(thrust::transform(cuda::thrust_policy(), x, x + n, y, cuda::UnaryFn<T>{op, alpha}));
}

/// y = y + alpha·x, in place on y.
template <class T>
void axpy(Cuda, index_t n, T alpha, const T* x, T* y) {
  if (n <= 0) return;
  STRUCTGAN_THRUST(thrust::transform(cuda::thrust_policy(), x, x + n, y, y, cuda::AxpyFn<T>{alpha}));
}

/// y[i] = value.
template <class T>
void fill(Cuda, index_t n, T value, T* y) {
  if (n <= 0) return;
  STRUCTGAN_THRUST(thrust::fill_n(cuda::thrust_policy(), y, n, value));
}

/// y = op(a, b) with broadcasting (shapes padded to rank 4; each dimension of a and b equals the
/// output's or is 1).
template <class T>
void binary(Cuda, BinaryOp op, const std::array<index_t, 4>& out_shape, const T* a, const std::array<index_t, 4>& a_shape,
            const T* b, const std::array<index_t, 4>& b_shape, T* y) {
  index_t n = 1;
  for (int i = 0; i < 4; ++i) n *= out_shape[i];
  if (n <= 0) return;
  if (a_shape == out_shape && b_shape == out_shape) {
    STRUCTGAN_THRUST(thrust::transform(cuda::thrust_policy(), a, a + n, b, y, cuda::BinaryFn<T>{op}));
    return;
  }
  const cuda::BroadcastIndex p = cuda::plan_broadcast_index(out_shape, a_shape, b_shape);
  cuda::binary_broadcast_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(op, n, p, a, b, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("binary_broadcast_kernel");
}

namespace cuda {
template <class F, class... P>
__global__ void map_kernel(index_t n, F f, P*... p) {
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) f(p[i]...);
}
}  // namespace cuda

/// f(p₀[i], p₁[i], …) for i < n, one fused kernel (f: a STRUCTGAN_HOST_DEVICE functor).
template <class F, class... P>
void map(Cuda, index_t n, F f, P*... p) {
  if (n <= 0) return;
  cuda::map_kernel<<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(n, f, p...);
  STRUCTGAN_CUDA_CHECK_LAUNCH("map_kernel");
}

/// y = sum of x over the dimensions where y's (padded) shape is 1 and x's is not.
template <class T>
void reduce_sum(Cuda, const T* x, const std::array<index_t, 4>& x_shape, T* y, const std::array<index_t, 4>& y_shape) {
  const cuda::ReducePlan p = cuda::plan_reduce(x_shape, y_shape);
  if (p.ny <= 0) return;
  if (p.nr <= 32) {
    cuda::reduce_sum_thread_kernel<T><<<cuda::grid_for(p.ny), cuda::block_threads, 0, cuda::stream()>>>(p, x, y);
    STRUCTGAN_CUDA_CHECK_LAUNCH("reduce_sum_thread_kernel");
  } else {
    const unsigned blocks = static_cast<unsigned>(std::min<index_t>(p.ny, index_t(1) << 20));
    cuda::reduce_sum_block_kernel<T><<<blocks, cuda::block_threads, 0, cuda::stream()>>>(p, x, y);
    STRUCTGAN_CUDA_CHECK_LAUNCH("reduce_sum_block_kernel");
  }
}

}  // namespace structgan::backend
