#pragma once
/// \file CUDA pooling and upsampling kernels on NCHW data (planes = N·C), one thread per output
/// element; the backward passes gather (one thread per input element, no atomics).
#include <cuda/std/limits>

#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {
namespace cuda {

/// The flat in-plane index of the first maximal element of window (oy, ox) inside the image
/// (ties: the first in row-major order, as the CPU backend; padded positions never count).
template <class T>
__device__ inline index_t window_argmax(const PoolGeometry& g, const T* xp, index_t oy, index_t ox) {
  const index_t i0 = g.row0(oy), i1 = g.row1(oy), j0 = g.col0(ox), j1 = g.col1(ox);
  index_t best = i0 * g.w + j0;
  for (index_t i = i0; i < i1; ++i)
    for (index_t j = j0; j < j1; ++j)
      if (xp[i * g.w + j] > xp[best]) best = i * g.w + j;
  return best;
}

template <class T>
__global__ void pool_forward_kernel(bool max, PoolGeometry g, const T* x, T* y) {
  const index_t ho = g.ho(), wo = g.wo(), total = g.planes() * ho * wo;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ox = t % wo, oy = (t / wo) % ho, p = t / (wo * ho);
    const T* xp = x + p * g.h * g.w;
    const index_t i1 = g.row1(oy), j0 = g.col0(ox), j1 = g.col1(ox);
    T acc = max ? -::cuda::std::numeric_limits<T>::infinity() : T(0);
    for (index_t i = g.row0(oy); i < i1; ++i)
      for (index_t j = j0; j < j1; ++j) {
        const T v = xp[i * g.w + j];
        acc = max ? (acc < v ? v : acc) : acc + v;
      }
    y[t] = max ? acc : acc * (T(1) / T(g.divisor(oy, ox)));
  }
}

template <class T>
__global__ void pool_backward_kernel(bool max, PoolGeometry g, const T* x, const T* dy, T* dx) {
  const index_t h = g.h, w = g.w, ho = g.ho(), wo = g.wo(), total = g.planes() * h * w;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ix = t % w, iy = (t / w) % h, p = t / (w * h);
    const T* xp = x + p * h * w;
    const T* gp = dy + p * ho * wo;
    // windows (oy, ox) with oy·s ≤ iy + pad < oy·s + k
    const index_t s = g.stride, k = g.k, ty = iy + g.pad, tx = ix + g.pad;
    const index_t oy0 = ty >= k ? (ty - k) / s + 1 : 0, oy1 = ty / s < ho - 1 ? ty / s : ho - 1;
    const index_t ox0 = tx >= k ? (tx - k) / s + 1 : 0, ox1 = tx / s < wo - 1 ? tx / s : wo - 1;
    T acc = T(0);
    for (index_t oy = oy0; oy <= oy1; ++oy)
      for (index_t ox = ox0; ox <= ox1; ++ox) {
        if (max) {
          if (window_argmax(g, xp, oy, ox) == iy * w + ix) acc += gp[oy * wo + ox];
        } else {
          acc += gp[oy * wo + ox] * (T(1) / T(g.divisor(oy, ox)));
        }
      }
    dx[t] = acc;
  }
}

template <class T>
__global__ void max_pool_select_kernel(PoolGeometry g, const T* x, const T* tv, T* y) {
  const index_t ho = g.ho(), wo = g.wo(), hw = g.h * g.w, total = g.planes() * ho * wo;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ox = t % wo, oy = (t / wo) % ho, p = t / (wo * ho);
    y[t] = tv[p * hw + window_argmax(g, x + p * hw, oy, ox)];
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

/// Average (or max) k×k pooling of g.planes() planes, stride g.stride, padding g.pad (PoolGeometry).
template <class T>
void pool2d_forward(Cuda, bool max, const PoolGeometry& g, const T* x, T* y) {
  const index_t n = g.planes() * g.ho() * g.wo();
  if (n <= 0) return;
  cuda::pool_forward_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(max, g, x, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("pool_forward_kernel");
}

/// dx = ∂/∂x of pooling given dy (overwrites dx). Max pooling sends the gradient to the first
/// maximal element of each window (found again from x).
template <class T>
void pool2d_backward(Cuda, bool max, const PoolGeometry& g, const T* x, const T* dy, T* dx) {
  const index_t n = g.planes() * g.h * g.w;
  if (n <= 0) return;
  cuda::pool_backward_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(max, g, x, dy, dx);
  STRUCTGAN_CUDA_CHECK_LAUNCH("pool_backward_kernel");
}

/// y = t at the first maximal element of x in each window (max pooling's tangent rule).
template <class T>
void max_pool2d_select(Cuda, const PoolGeometry& g, const T* x, const T* t, T* y) {
  const index_t n = g.planes() * g.ho() * g.wo();
  if (n <= 0) return;
  cuda::max_pool_select_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(g, x, t, y);
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
