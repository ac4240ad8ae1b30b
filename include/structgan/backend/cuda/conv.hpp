#pragma once
/// \file CUDA 2-D convolution: im2col of a chunk of images into a (C·kh·kw) × (images·Ho·Wo)
/// matrix, one cuBLAS GEMM per chunk, then the rows moved into NCHW order (the CPU backend's
/// layout). The input gradient is a GEMM and col2im written as a gather (one thread per input
/// element, no atomics, deterministic). All these GEMMs are convolution GEMMs (GemmUse::conv):
/// TF32 for float unless set_tf32 turned it off for convolutions (tf32.hpp).
#include <algorithm>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cuda/gemm.hpp"
#include "structgan/backend/cuda/memory.hpp"

namespace structgan::backend {
namespace cuda {

/// col[p, i·HW + s] for patch row p = (c, ki, kj), image i of the chunk (starting at image n0),
/// output position s; L = images·HW is col's leading dimension.
template <class T>
__global__ void im2col_kernel(ConvGeometry g, index_t n0, index_t images, const T* x, T* col) {
  const index_t ho = g.ho(), wo = g.wo();
  const index_t hw = ho * wo, L = images * hw, total = g.c * g.kh * g.kw * L;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t p = t / L, rem = t % L, i = rem / hw, s = rem % hw;
    const index_t c = p / (g.kh * g.kw), ki = (p / g.kw) % g.kh, kj = p % g.kw;
    const index_t iy = (s / wo) * g.stride - g.pad_h + ki, ix = (s % wo) * g.stride - g.pad_w + kj;
    col[t] = (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? x[(((n0 + i) * g.c + c) * g.h + iy) * g.w + ix] : T(0);
  }
}

/// dx of the chunk's images (overwritten): each input element gathers the columns it fed.
template <class T>
__global__ void col2im_kernel(ConvGeometry g, index_t n0, index_t images, const T* col, T* dx) {
  const index_t ho = g.ho(), wo = g.wo();
  const index_t hw = ho * wo, L = images * hw, total = images * g.c * g.h * g.w;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t ix = t % g.w, iy = (t / g.w) % g.h, c = (t / (g.w * g.h)) % g.c, i = t / (g.w * g.h * g.c);
    T acc = T(0);
    for (index_t ki = 0; ki < g.kh; ++ki) {
      const index_t ty = iy + g.pad_h - ki;  // = oy·stride
      if (ty < 0 || ty % g.stride != 0 || ty / g.stride >= ho) continue;
      const index_t oy = ty / g.stride;
      for (index_t kj = 0; kj < g.kw; ++kj) {
        const index_t tx = ix + g.pad_w - kj;
        if (tx < 0 || tx % g.stride != 0 || tx / g.stride >= wo) continue;
        const index_t ox = tx / g.stride;
        acc += col[((c * g.kh + ki) * g.kw + kj) * L + i * hw + oy * wo + ox];
      }
    }
    dx[n0 * g.c * g.h * g.w + t] = acc;
  }
}

/// Between rows (O × images·HW) and NCHW outputs of the chunk: to_nchw moves rows → y, else y → rows.
template <class T>
__global__ void rows_nchw_kernel(index_t o_count, index_t images, index_t hw, index_t n0, bool to_nchw, T* rows, T* y) {
  const index_t L = images * hw, total = o_count * L;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t o = t / L, rem = t % L, i = rem / hw, s = rem % hw;
    T& out = y[((n0 + i) * o_count + o) * hw + s];
    if (to_nchw) out = rows[t];
    else rows[t] = out;
  }
}

/// Images per chunk so that the column buffer holds about 16M values.
inline index_t conv_chunk(const ConvGeometry& g) {
  const index_t per_image = std::max<index_t>(1, g.patch() * g.ho() * g.wo());
  return std::clamp<index_t>((index_t(1) << 24) / per_image, 1, std::max<index_t>(g.n, 1));
}

}  // namespace cuda

/// y (N×O×Ho×Wo) = conv2d(x (N×C×H×W), w (O×C×kh×kw)); no bias.
template <class T>
void conv2d_forward(Cuda, const ConvGeometry& g, const T* x, const T* w, T* y) {
  const index_t hw = g.ho() * g.wo(), nb = cuda::conv_chunk(g);
  if (g.n == 0 || g.o == 0 || hw == 0) return;
  cuda::DeviceBuffer<T> col(static_cast<std::size_t>(g.patch() * nb * hw));
  cuda::DeviceBuffer<T> rows(nb > 1 ? static_cast<std::size_t>(g.o * nb * hw) : 0);
  for (index_t n0 = 0; n0 < g.n; n0 += nb) {
    const index_t b = std::min(nb, g.n - n0), ld = b * hw;
    cuda::im2col_kernel<T><<<cuda::grid_for(g.patch() * ld), cuda::block_threads, 0, cuda::stream()>>>(g, n0, b, x, col.data());
    STRUCTGAN_CUDA_CHECK_LAUNCH("im2col_kernel");
    // One image: its rows are already its NCHW output.
    T* out = b == 1 ? y + n0 * g.o * hw : rows.data();
    cuda::gemm_for(cuda::GemmUse::conv, false, false, g.o, ld, g.patch(), T(1), w, g.patch(), col.data(), ld, T(0), out, ld);
    if (b > 1) {
      cuda::rows_nchw_kernel<T><<<cuda::grid_for(g.o * ld), cuda::block_threads, 0, cuda::stream()>>>(g.o, b, hw, n0, true,
                                                                                                    rows.data(), y);
      STRUCTGAN_CUDA_CHECK_LAUNCH("rows_nchw_kernel");
    }
  }
}

/// Given dy (N×O×Ho×Wo): dx (N×C×H×W) = ∂/∂x (when dx is not null; overwritten) and
/// dw (O×C×kh×kw) += ∂/∂w (when dw is not null; accumulated).
template <class T>
void conv2d_backward(Cuda, const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const index_t hw = g.ho() * g.wo(), nb = cuda::conv_chunk(g);
  if (g.n == 0) return;
  if (g.o == 0 || hw == 0) {  // no output: the gradients are zero (dw is accumulated: unchanged)
    if (dx) fill(Cuda{}, g.n * g.c * g.h * g.w, T(0), dx);
    return;
  }
  cuda::DeviceBuffer<T> col(static_cast<std::size_t>(g.patch() * nb * hw));
  cuda::DeviceBuffer<T> rows(static_cast<std::size_t>(g.o * nb * hw));
  for (index_t n0 = 0; n0 < g.n; n0 += nb) {
    const index_t b = std::min(nb, g.n - n0), ld = b * hw;
    // rows (O × b·HW) = this chunk of dy; dy is only read (the kernel writes rows).
    cuda::rows_nchw_kernel<T><<<cuda::grid_for(g.o * ld), cuda::block_threads, 0, cuda::stream()>>>(
        g.o, b, hw, n0, false, rows.data(), const_cast<T*>(dy));
    STRUCTGAN_CUDA_CHECK_LAUNCH("rows_nchw_kernel");
    if (dw) {
      cuda::im2col_kernel<T><<<cuda::grid_for(g.patch() * ld), cuda::block_threads, 0, cuda::stream()>>>(g, n0, b, x, col.data());
      STRUCTGAN_CUDA_CHECK_LAUNCH("im2col_kernel");
      cuda::gemm_for(cuda::GemmUse::conv, false, true, g.o, g.patch(), ld, T(1), rows.data(), ld, col.data(), ld, T(1), dw, g.patch());
    }
    if (dx) {
      cuda::gemm_for(cuda::GemmUse::conv, true, false, g.patch(), ld, g.o, T(1), w, g.patch(), rows.data(), ld, T(0), col.data(), ld);
      cuda::col2im_kernel<T><<<cuda::grid_for(b * g.c * g.h * g.w), cuda::block_threads, 0, cuda::stream()>>>(g, n0, b,
                                                                                                            col.data(), dx);
      STRUCTGAN_CUDA_CHECK_LAUNCH("col2im_kernel");
    }
  }
}

}  // namespace structgan::backend
