#pragma once
/// \file CPU 2-D convolution: im2col over a chunk of images, then one large GEMM per chunk
/// (small feature maps at the end of a ResNet make per-image GEMMs skinny and slow).
#include <algorithm>
#include <cstring>
#include <vector>

#include "structgan/backend/cpu/gemm.hpp"
#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/core/device.hpp"

namespace structgan {

/// The geometry of a 2-D convolution on NCHW input with OIHW weights (square stride/padding).
struct ConvGeometry {
  index_t n, c, h, w;    ///< input
  index_t o, kh, kw;     ///< output channels, kernel
  index_t stride, pad;
  index_t ho() const { return (h + 2 * pad - kh) / stride + 1; }
  index_t wo() const { return (w + 2 * pad - kw) / stride + 1; }
  index_t patch() const { return c * kh * kw; }
};

namespace backend {
namespace cpu {

/// Writes the patches of one image x (C×H×W) as columns [col0, col0 + Ho·Wo) of `col`, whose
/// rows (c, ki, kj) have leading dimension ld.
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col, index_t ld, index_t col0) {
  const index_t ho = g.ho(), wo = g.wo();
  for (index_t c = 0; c < g.c; ++c)
    for (index_t ki = 0; ki < g.kh; ++ki)
      for (index_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((c * g.kh + ki) * g.kw + kj) * ld + col0;
        const T* plane = x + c * g.h * g.w;
        for (index_t oy = 0; oy < ho; ++oy) {
          T* dst = row + oy * wo;
          const index_t iy = oy * g.stride - g.pad + ki;
          if (iy < 0 || iy >= g.h) { std::fill(dst, dst + wo, T(0)); continue; }
          const T* src = plane + iy * g.w;
          if (g.stride == 1) {
            // valid ox: 0 <= ox - pad + kj < w
            const index_t lo = std::clamp<index_t>(g.pad - kj, 0, wo);
            const index_t hi = std::clamp<index_t>(g.w + g.pad - kj, lo, wo);
            std::fill(dst, dst + lo, T(0));
            std::memcpy(dst + lo, src + lo - g.pad + kj, static_cast<std::size_t>(hi - lo) * sizeof(T));
            std::fill(dst + hi, dst + wo, T(0));
          } else {
            for (index_t ox = 0; ox < wo; ++ox) {
              const index_t ix = ox * g.stride - g.pad + kj;
              dst[ox] = (ix >= 0 && ix < g.w) ? src[ix] : T(0);
            }
          }
        }
      }
}

/// The adjoint of im2col: adds the columns back into one image's gradient dx (C×H×W).
template <class T>
void col2im_add(const ConvGeometry& g, const T* col, index_t ld, index_t col0, T* dx) {
  const index_t ho = g.ho(), wo = g.wo();
  for (index_t c = 0; c < g.c; ++c)
    for (index_t ki = 0; ki < g.kh; ++ki)
      for (index_t kj = 0; kj < g.kw; ++kj) {
        const T* row = col + ((c * g.kh + ki) * g.kw + kj) * ld + col0;
        T* plane = dx + c * g.h * g.w;
        for (index_t oy = 0; oy < ho; ++oy) {
          const index_t iy = oy * g.stride - g.pad + ki;
          if (iy < 0 || iy >= g.h) continue;
          const T* src = row + oy * wo;
          T* dst = plane + iy * g.w;
          for (index_t ox = 0; ox < wo; ++ox) {
            const index_t ix = ox * g.stride - g.pad + kj;
            if (ix >= 0 && ix < g.w) dst[ix] += src[ox];
          }
        }
      }
}

/// Images per chunk so that the column buffer stays near 4M values (cache- and memory-friendly).
inline index_t conv_chunk(const ConvGeometry& g) {
  const index_t per_image = std::max<index_t>(1, g.patch() * g.ho() * g.wo());
  return std::clamp<index_t>((index_t(1) << 22) / per_image, 1, g.n);
}

template <class T>
struct ConvWorkspace {
  std::vector<T> col, rows;  // patches (P × nb·HoWo), and outputs or output gradients (O × nb·HoWo)
};
}  // namespace cpu

/// y (N×O×Ho×Wo) = conv2d(x (N×C×H×W), w (O×C×kh×kw)); no bias.
template <class T>
void conv2d_forward(Cpu, const ConvGeometry& g, const T* x, const T* w, T* y) {
  const index_t hw = g.ho() * g.wo(), in = g.c * g.h * g.w, nb = cpu::conv_chunk(g);
  cpu::ConvWorkspace<T> ws;
  ws.col.resize(static_cast<std::size_t>(g.patch() * nb * hw));
  ws.rows.resize(static_cast<std::size_t>(g.o * nb * hw));
  for (index_t n0 = 0; n0 < g.n; n0 += nb) {
    const index_t b = std::min(nb, g.n - n0), ld = b * hw;
    cpu::parallel_for(b, 1, [&](index_t i0, index_t i1) {
      for (index_t i = i0; i < i1; ++i) cpu::im2col(g, x + (n0 + i) * in, ws.col.data(), ld, i * hw);
    });
    gemm(Cpu{}, false, false, g.o, ld, g.patch(), T(1), w, g.patch(), ws.col.data(), ld, T(0), ws.rows.data(), ld);
    cpu::parallel_for(b, 1, [&](index_t i0, index_t i1) {
      for (index_t i = i0; i < i1; ++i)
        for (index_t o = 0; o < g.o; ++o)
          std::memcpy(y + ((n0 + i) * g.o + o) * hw, ws.rows.data() + o * ld + i * hw, static_cast<std::size_t>(hw) * sizeof(T));
    });
  }
}

/// Given dy (N×O×Ho×Wo): dx (N×C×H×W) = ∂/∂x (when dx is not null; overwritten) and
/// dw (O×C×kh×kw) += ∂/∂w (when dw is not null; accumulated).
template <class T>
void conv2d_backward(Cpu, const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const index_t hw = g.ho() * g.wo(), in = g.c * g.h * g.w, nb = cpu::conv_chunk(g);
  cpu::ConvWorkspace<T> ws;
  ws.col.resize(static_cast<std::size_t>(g.patch() * nb * hw));
  ws.rows.resize(static_cast<std::size_t>(g.o * nb * hw));
  if (dx) std::fill(dx, dx + g.n * in, T(0));
  for (index_t n0 = 0; n0 < g.n; n0 += nb) {
    const index_t b = std::min(nb, g.n - n0), ld = b * hw;
    cpu::parallel_for(b, 1, [&](index_t i0, index_t i1) {
      for (index_t i = i0; i < i1; ++i)
        for (index_t o = 0; o < g.o; ++o)
          std::memcpy(ws.rows.data() + o * ld + i * hw, dy + ((n0 + i) * g.o + o) * hw, static_cast<std::size_t>(hw) * sizeof(T));
    });
    if (dw) {
      cpu::parallel_for(b, 1, [&](index_t i0, index_t i1) {
        for (index_t i = i0; i < i1; ++i) cpu::im2col(g, x + (n0 + i) * in, ws.col.data(), ld, i * hw);
      });
      gemm(Cpu{}, false, true, g.o, g.patch(), ld, T(1), ws.rows.data(), ld, ws.col.data(), ld, T(1), dw, g.patch());
    }
    if (dx) {
      gemm(Cpu{}, true, false, g.patch(), ld, g.o, T(1), w, g.patch(), ws.rows.data(), ld, T(0), ws.col.data(), ld);
      cpu::parallel_for(b, 1, [&](index_t i0, index_t i1) {
        for (index_t i = i0; i < i1; ++i) cpu::col2im_add(g, ws.col.data(), ld, i * hw, dx + (n0 + i) * in);
      });
    }
  }
}

}  // namespace backend
}  // namespace structgan
