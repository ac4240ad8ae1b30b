#pragma once
/// \file CUDA kernels of the small dense SPD algebra the Gaussian objectives need (SPEC §2):
/// Cholesky factor (cuSOLVER potrf), log det from the factor (a block reduction) and the inverse
/// from the factor (cuSOLVER potri). Nothing is read back to the host: cuSOLVER's int info stays
/// on the device and becomes the contract's info value there.
///
/// cuSOLVER is column-major. The memory of a row-major p×p matrix X, read column-major, is Xᵀ; for
/// the symmetric a that is a itself, and a's row-major lower triangle is its column-major *upper*
/// triangle. So potrf runs with CUBLAS_FILL_MODE_UPPER: it factors a = UᵀU with U upper
/// (column-major) in place, and U's memory read row-major is Uᵀ = L, the lower factor of
/// a = L·Lᵀ. potri, also UPPER, then turns that memory into the column-major upper (= row-major
/// lower) triangle of a⁻¹, mirrored into the other triangle here.
#include <climits>

#include <cub/block/block_reduce.cuh>
#include <cusolverDn.h>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/runtime.hpp"

namespace structgan::backend {
namespace cuda {

inline cusolverStatus_t potrf_buffer_size(cusolverDnHandle_t h, int n, float* a, int* lwork) {
  return cusolverDnSpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
inline cusolverStatus_t potrf_buffer_size(cusolverDnHandle_t h, int n, double* a, int* lwork) {
  return cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
inline cusolverStatus_t potrf(cusolverDnHandle_t h, int n, float* a, float* work, int lwork, int* info) {
  return cusolverDnSpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
inline cusolverStatus_t potrf(cusolverDnHandle_t h, int n, double* a, double* work, int lwork, int* info) {
  return cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
inline cusolverStatus_t potri_buffer_size(cusolverDnHandle_t h, int n, float* a, int* lwork) {
  return cusolverDnSpotri_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
inline cusolverStatus_t potri_buffer_size(cusolverDnHandle_t h, int n, double* a, int* lwork) {
  return cusolverDnDpotri_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
inline cusolverStatus_t potri(cusolverDnHandle_t h, int n, float* a, float* work, int lwork, int* info) {
  return cusolverDnSpotri(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
inline cusolverStatus_t potri(cusolverDnHandle_t h, int n, double* a, double* work, int lwork, int* info) {
  return cusolverDnDpotri(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}

inline int solver_int(const char* op, index_t p) {
  require(p >= 0 && p <= INT_MAX / 2, op, " (cuda): a ", p, "×", p, " matrix exceeds cuSOLVER's 32-bit range");
  return static_cast<int>(p);
}

/// Row-major y (p×p): the strict upper triangle set from the lower one (mirror) or to 0.
template <class T>
__global__ void fill_upper_kernel(index_t p, bool mirror, T* y) {
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < p * p; t += index_t(gridDim.x) * blockDim.x) {
    const index_t i = t / p, j = t % p;
    if (j > i) y[t] = mirror ? y[j * p + i] : T(0);
  }
}

/// One block: info[0] = 0 when potrf reported success and every diagonal entry of l is finite
/// and > 0 (a NaN passes potrf's pivot test but reaches the diagonal), else 1.
template <class T>
__global__ void cholesky_info_kernel(index_t p, const T* l, const int* solver_info, T* info) {
  int bad = 0;
  for (index_t i = threadIdx.x; i < p; i += blockDim.x) {
    const T d = l[i * (p + 1)];
    bad |= !(d > T(0) && isfinite(d));
  }
  bad = __syncthreads_or(bad);
  if (threadIdx.x == 0) info[0] = bad || *solver_info != 0 ? T(1) : T(0);
}

/// One block: y[0] = 2·Σ log l_ii, summed in double.
template <class T>
__global__ void cholesky_logdet_kernel(index_t p, const T* l, T* y) {
  using Reduce = cub::BlockReduce<double, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  double s = 0;
  for (index_t i = threadIdx.x; i < p; i += blockDim.x) s += ::log(double(l[i * (p + 1)]));
  s = Reduce(tmp).Sum(s);
  if (threadIdx.x == 0) y[0] = T(2.0 * s);
}

}  // namespace cuda

/// l = the lower Cholesky factor of the symmetric p×p a (row-major; its lower triangle read):
/// potrf on the column-major upper triangle (the file comment says why), the strict upper
/// triangle of l zeroed; info[0] = 0 on success, else 1. No host read.
template <class T>
void cholesky(Cuda, index_t p, const T* a, T* l, T* info) {
  const int n = cuda::solver_int("cholesky", p);
  if (n == 0) {  // the empty factorization succeeds (0.0 is all zero bits)
    STRUCTGAN_CUDA_CHECK(cudaMemsetAsync(info, 0, sizeof(T), cuda::stream()));
    return;
  }
  copy(Cuda{}, p * p, a, l);
  cusolverDnHandle_t h = cuda::solver_handle();
  int lwork = 0;
  STRUCTGAN_CUDA_CHECK(cuda::potrf_buffer_size(h, n, l, &lwork));
  cuda::DeviceBuffer<T> work(static_cast<std::size_t>(lwork > 0 ? lwork : 1));
  cuda::DeviceBuffer<int> solver_info(1);
  STRUCTGAN_CUDA_CHECK(cuda::potrf(h, n, l, work.data(), lwork, solver_info.data()));
  cuda::fill_upper_kernel<T><<<cuda::grid_for(p * p), cuda::block_threads, 0, cuda::stream()>>>(p, false, l);
  STRUCTGAN_CUDA_CHECK_LAUNCH("fill_upper_kernel");
  cuda::cholesky_info_kernel<T><<<1, cuda::block_threads, 0, cuda::stream()>>>(p, l, solver_info.data(), info);
  STRUCTGAN_CUDA_CHECK_LAUNCH("cholesky_info_kernel");
}

/// y[0] = 2·Σ log l_ii (one block, summed in double).
template <class T>
void cholesky_logdet(Cuda, index_t p, const T* l, T* y) {
  cuda::cholesky_logdet_kernel<T><<<1, cuda::block_threads, 0, cuda::stream()>>>(p, l, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("cholesky_logdet_kernel");
}

/// y = (L·Lᵀ)⁻¹: potri on a copy of l (column-major upper = row-major lower), then the row-major
/// lower triangle mirrored into the upper one, so y is exactly symmetric.
template <class T>
void cholesky_inverse(Cuda, index_t p, const T* l, T* y) {
  const int n = cuda::solver_int("cholesky_inverse", p);
  if (n == 0) return;
  copy(Cuda{}, p * p, l, y);
  cusolverDnHandle_t h = cuda::solver_handle();
  int lwork = 0;
  STRUCTGAN_CUDA_CHECK(cuda::potri_buffer_size(h, n, y, &lwork));
  cuda::DeviceBuffer<T> work(static_cast<std::size_t>(lwork > 0 ? lwork : 1));
  cuda::DeviceBuffer<int> solver_info(1);  // a zero pivot is the caller's (cholesky's info); not read
  STRUCTGAN_CUDA_CHECK(cuda::potri(h, n, y, work.data(), lwork, solver_info.data()));
  cuda::fill_upper_kernel<T><<<cuda::grid_for(p * p), cuda::block_threads, 0, cuda::stream()>>>(p, true, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("fill_upper_kernel");
}

}  // namespace structgan::backend
