#pragma once
/// \file CUDA standardization kernels shared by GroupNorm and BatchNorm: one block per group g,
/// statistics accumulated in double with CUB block reductions (as the CPU backend does).
/// Layout (P, G, L): element (p, g, l) at p·G·L + g·L + l; see StandardizeLayout in backend/contract.hpp.
#include <algorithm>

#include <cub/block/block_reduce.cuh>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cuda/runtime.hpp"

namespace structgan::backend {
namespace cuda {

/// Offset of the e-th element (e < P·L) of group g.
__device__ inline index_t group_offset(const StandardizeLayout& s, index_t g, index_t e) {
  return ((e / s.l) * s.g + g) * s.l + e % s.l;
}

using BlockSum = cub::BlockReduce<double, block_threads>;

template <class T>
__global__ void standardize_forward_kernel(StandardizeLayout s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared;
  const index_t count = s.p * s.l;
  for (index_t g = blockIdx.x; g < s.g; g += gridDim.x) {
    double sum = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) sum += double(x[group_offset(s, g, e)]);
    sum = BlockSum(tmp).Sum(sum);
    if (threadIdx.x == 0) shared = sum / double(count);
    __syncthreads();
    const double m = shared;
    double ss = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const double d = double(x[group_offset(s, g, e)]) - m;
      ss += d * d;
    }
    ss = BlockSum(tmp).Sum(ss);
    __syncthreads();  // everyone has read `shared` (m) before it is overwritten
    if (threadIdx.x == 0) shared = 1.0 / ::sqrt(ss / double(count) + double(eps));
    __syncthreads();
    const double r = shared;
    const T mt = T(m), rt = T(r);
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      xhat[off] = (x[off] - mt) * rt;
    }
    if (threadIdx.x == 0) {
      mean[g] = mt;
      rstd[g] = rt;
    }
    __syncthreads();  // tmp and shared are reused by the next group
  }
}

template <class T>
__global__ void standardize_jacobian_kernel(StandardizeLayout s, const T* xhat, const T* rstd, const T* t, T* y) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared[2];
  const index_t count = s.p * s.l;
  for (index_t g = blockIdx.x; g < s.g; g += gridDim.x) {
    double st = 0, sxt = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      st += double(t[off]);
      sxt += double(t[off] * xhat[off]);
    }
    st = BlockSum(tmp).Sum(st);
    __syncthreads();
    sxt = BlockSum(tmp).Sum(sxt);
    if (threadIdx.x == 0) {
      shared[0] = st;
      shared[1] = sxt;
    }
    __syncthreads();
    const T mt = T(shared[0] / double(count)), mxt = T(shared[1] / double(count)), r = rstd[g];
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      y[off] = r * (t[off] - mt - xhat[off] * mxt);
    }
    __syncthreads();
  }
}

template <class T>
__global__ void standardize_jacobian_backward_kernel(StandardizeLayout s, const T* xhat, const T* rstd, const T* t,
                                                     const T* y, const T* dy, T* dxhat, T* drstd) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared[3];
  const index_t count = s.p * s.l;
  for (index_t g = blockIdx.x; g < s.g; g += gridDim.x) {
    double sxt = 0, sgx = 0, sgy = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      sxt += double(xhat[off] * t[off]);
      sgx += double(dy[off] * xhat[off]);
      sgy += double(dy[off] * y[off]);
    }
    sxt = BlockSum(tmp).Sum(sxt);
    __syncthreads();
    sgx = BlockSum(tmp).Sum(sgx);
    __syncthreads();
    sgy = BlockSum(tmp).Sum(sgy);
    if (threadIdx.x == 0) {
      shared[0] = sxt;
      shared[1] = sgx;
      shared[2] = sgy;
    }
    __syncthreads();
    const T mxt = T(shared[0] / double(count)), mgx = T(shared[1] / double(count)), r = rstd[g];
    if (dxhat)
      for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
        const index_t off = group_offset(s, g, e);
        dxhat[off] = -r * (dy[off] * mxt + t[off] * mgx);
      }
    if (drstd && threadIdx.x == 0) drstd[g] = T(shared[2] / double(r));
    __syncthreads();
  }
}

template <class T>
__global__ void scale_groups_kernel(StandardizeLayout s, const T* x, const T* c, T* y) {
  const index_t total = s.p * s.g * s.l;
  for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += index_t(gridDim.x) * blockDim.x)
    y[e] = x[e] * c[(e / s.l) % s.g];
}

inline unsigned group_blocks(const StandardizeLayout& s) {
  return static_cast<unsigned>(std::clamp<index_t>(s.g, 1, index_t(1) << 20));
}

}  // namespace cuda

/// xhat = (x − mean_g) · rstd_g with rstd_g = 1/√(var_g + eps) (biased variance); writes the
/// per-group mean and rstd too.
template <class T>
void standardize_forward(Cuda, const StandardizeLayout& s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  if (s.g <= 0) return;
  cuda::standardize_forward_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(s, eps, x, xhat,
                                                                                                      mean, rstd);
  STRUCTGAN_CUDA_CHECK_LAUNCH("standardize_forward_kernel");
}

/// The standardization's Jacobian applied to t: y = rstd · (t − mean(t) − xhat · mean(xhat·t)).
template <class T>
void standardize_jacobian(Cuda, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, T* y) {
  if (s.g <= 0) return;
  cuda::standardize_jacobian_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(s, xhat, rstd, t, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("standardize_jacobian_kernel");
}

/// Reverse rule of standardize_jacobian with respect to xhat and rstd, given dy:
/// dxhat = −rstd·(dy·mean(xhat·t) + t·mean(dy·xhat)) (overwritten), drstd_g = Σ dy·y / rstd.
template <class T>
void standardize_jacobian_backward(Cuda, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, const T* y,
                                   const T* dy, T* dxhat, T* drstd) {
  if (s.g <= 0) return;
  cuda::standardize_jacobian_backward_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(
      s, xhat, rstd, t, y, dy, dxhat, drstd);
  STRUCTGAN_CUDA_CHECK_LAUNCH("standardize_jacobian_backward_kernel");
}

/// y(p, g, l) = x(p, g, l) · c[g].
template <class T>
void scale_groups(Cuda, const StandardizeLayout& s, const T* x, const T* c, T* y) {
  const index_t n = s.p * s.g * s.l;
  if (n <= 0) return;
  cuda::scale_groups_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(s, x, c, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("scale_groups_kernel");
}

}  // namespace structgan::backend
