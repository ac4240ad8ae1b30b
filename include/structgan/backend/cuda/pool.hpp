#pragma once
/// \file CUDA pooling and upsampling kernels on NCHW data (planes = N·C), one thread per output
/// element; the backward passes gather (one thread per input element, no atomics).
#include <cuda/std/limits>

#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {
namespace cuda {

/// The flat in-plane index of the first maximal element of window (oy, ox) (ties: the first in
/// row-major order, as the CPU backend).
template <class T>
__device__ inline index_t window_argmax(const T* xp, index_t w, index_t k, index_t s, index_t oy, index_t ox) {
  index_t best = (oy * s) * w + ox * s;
  for (index_t i = 0; i < k; ++i)
    for (index_t j = 0; j < k; ++j) {
      const index_t q = (oy * s + i) * w + ox * s + j;
      if (xp[q] > xp[best]) best = q;
    }
  return best;
}

template <class T>
__global__ void pool_forward_kernel(bool max, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, T* y) {
  const index_t ho = (h - k) / s + 1, wo = (w - k) / s + 1, total = planes * ho * wo;
  const T inv = T(1) / T(k * k);
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ox = t % wo, oy = (t / wo) % ho, p = t / (wo * ho);
    const T* xp = x + p * h * w;
    T acc = max ? -::cuda::std::numeric_limits<T>::infinity() : T(0);
    for (index_t i = 0; i < k; ++i)
      for (index_t j = 0; j < k; ++j) {
        const T v = xp[(oy * s + i) * w + ox * s + j];
        acc = max ? (acc < v ? v : acc) : acc + v;
      }
    y[t] = max ? acc : acc * inv;
  }
}

template <class T>
__global__ void pool_backward_kernel(bool max, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x,
                                     const T* dy, T* dx) {
  const index_t ho = (h - k) / s + 1, wo = (w - k) / s + 1, total = planes * h * w;
  const T inv = T(1) / T(k * k);
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ix = t % w, iy = (t / w) % h, p = t / (w * h);
    const T* xp = x + p * h * w;
    const T* gp = dy + p * ho * wo;
    // windows (oy, ox) with oy·s ≤ iy < oy·s + k
    const index_t oy0 = iy >= k ? (iy - k) / s + 1 : 0, oy1 = iy / s < ho - 1 ? iy / s : ho - 1;
    const index_t ox0 = ix >= k ? (ix - k) / s + 1 : 0, ox1 = ix / s < wo - 1 ? ix / s : wo - 1;
    T acc = T(0);
    for (index_t oy = oy0; oy <= oy1; ++oy)
      for (index_t ox = ox0; ox <= ox1; ++ox) {
        if (max) {
          if (window_argmax(xp, w, k, s, oy, ox) == iy * w + ix) acc += gp[oy * wo + ox];
        } else {
          acc += gp[oy * wo + ox] * inv;
        }
      }
    dx[t] = acc;
  }
}

template <class T>
__global__ void max_pool_select_kernel(index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, const T* tv,
                                       T* y) {
  const index_t ho = (h - k) / s + 1, wo = (w - k) / s + 1, total = planes * ho * wo;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ox = t % wo, oy = (t / wo) % ho, p = t / (wo * ho);
    y[t] = tv[p * h * w + window_argmax(x + p * h * w, w, k, s, oy, ox)];
  }
}

template <class T>
__global__ void upsample2x_forward_kernel(index_t planes, index_t h, index_t w, const T* x, T* y) {
  const index_t total = planes * 4 * h * w;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t j = t % (2 * w), i = (t / (2 * w)) % (2 * h), p = t / (4 * h * w);
    y[t] = x[(p * h + i / 2) * w + j / 2];
  }
}

template <class T>
__global__ void upsample2x_backward_kernel(index_t planes, index_t h, index_t w, const T* dy, T* dx) {
  const index_t total = planes * h * w;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t j = t % w, i = (t / w) % h, p = t / (h * w);
    const T* g = dy + (p * 2 * h + 2 * i) * 2 * w + 2 * j;
    dx[t] = g[0] + g[1] + g[2 * w] + g[2 * w + 1];
  }
}

}  // namespace cuda

/// Average (or max) pooling with a k×k window, stride s, no padding: Ho = (H − k)/s + 1.
template <class T>
void pool2d_forward(Cuda, bool max, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, T* y) {
  const index_t n = planes * ((h - k) / s + 1) * ((w - k) / s + 1);
  if (n <= 0) return;
  cuda::pool_forward_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(max, planes, h, w, k, s, x, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("pool_forward_kernel");
}

/// dx = ∂/∂x of pooling given dy (overwrites dx). Max pooling sends the gradient to the first
/// maximal element of each window (found again from x).
template <class T>
void pool2d_backward(Cuda, bool max, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, const T* dy,
                     T* dx) {
  const index_t n = planes * h * w;
  if (n <= 0) return;
  cuda::pool_backward_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(max, planes, h, w, k, s, x,
                                                                                               dy, dx);
  STRUCTGAN_CUDA_CHECK_LAUNCH("pool_backward_kernel");
}

/// y = t at the first maximal element of x in each window (max pooling's tangent rule).
template <class T>
void max_pool2d_select(Cuda, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, const T* t, T* y) {
  const index_t n = planes * ((h - k) / s + 1) * ((w - k) / s + 1);
  if (n <= 0) return;
  cuda::max_pool_select_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(planes, h, w, k, s, x, t, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("max_pool_select_kernel");
}

/// Nearest-neighbour upsampling by 2: y (2H×2W) from x (H×W), per plane.
template <class T>
void upsample2x_forward(Cuda, index_t planes, index_t h, index_t w, const T* x, T* y) {
  const index_t n = planes * 4 * h * w;
  if (n <= 0) return;
  cuda::upsample2x_forward_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(planes, h, w, x, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("upsample2x_forward_kernel");
}

/// The adjoint of upsample2x: dx (H×W) = the sum of each 2×2 block of dy.
template <class T>
void upsample2x_backward(Cuda, index_t planes, index_t h, index_t w, const T* dy, T* dx) {
  const index_t n = planes * h * w;
  if (n <= 0) return;
  cuda::upsample2x_backward_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(planes, h, w, dy, dx);
  STRUCTGAN_CUDA_CHECK_LAUNCH("upsample2x_backward_kernel");
}

}  // namespace structgan::backend
