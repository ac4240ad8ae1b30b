#pragma once
/// \file CPU pooling and upsampling kernels on NCHW data (planes = N·C).
#include <algorithm>
#include <limits>

#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {

namespace cpu {
/// Whether `g` is an average pooling whose windows tile the image without overlap or padding
/// (stride = k, pad = 0: the ResNet blocks' avgpool_s of SPEC §1), which pool2d_forward and
/// pool2d_backward run a whole row at a time (the same sums in the same order: the same bits).
inline bool tiles_the_image(bool max, const PoolGeometry& g) { return !max && g.stride == g.k && g.pad == 0; }
}  // namespace cpu

/// Average (or max) k×k pooling of g.planes() planes, stride g.stride, padding g.pad (PoolGeometry:
/// padded positions are never the maximum, and count in the average only when g.count_padding).
template <class T>
void pool2d_forward(Cpu, bool max, const PoolGeometry& g, const T* x, T* y) {
  const index_t h = g.h, w = g.w, ho = g.ho(), wo = g.wo();
  const T inv = T(1) / T(g.k * g.k);
  if (cpu::tiles_the_image(max, g)) {
    // Each window's sum in the general loop's order (row by row, left to right), a whole output
    // row at a time so that the additions vectorize.
    const index_t k = g.k;
    cpu::parallel_for(g.planes(), 16, [&](index_t p0, index_t p1) {
      for (index_t p = p0; p < p1; ++p)
        for (index_t oy = 0; oy < ho; ++oy) {
          T* yr = y + (p * ho + oy) * wo;
          std::fill(yr, yr + wo, T(0));
          for (index_t i = 0; i < k; ++i) {
            const T* xr = x + (p * h + oy * k + i) * w;
            for (index_t j = 0; j < k; ++j)
              for (index_t ox = 0; ox < wo; ++ox) yr[ox] += xr[ox * k + j];
          }
          for (index_t ox = 0; ox < wo; ++ox) yr[ox] *= inv;
        }
    });
    return;
  }
  cpu::parallel_for(g.planes(), 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p) {
      const T* xp = x + p * h * w;
      T* yp = y + p * ho * wo;
      for (index_t oy = 0; oy < ho; ++oy) {
        const index_t i0 = g.row0(oy), i1 = g.row1(oy);
        for (index_t ox = 0; ox < wo; ++ox) {
          const index_t j0 = g.col0(ox), j1 = g.col1(ox);
          T acc = max ? -std::numeric_limits<T>::infinity() : T(0);
          for (index_t i = i0; i < i1; ++i)
            for (index_t j = j0; j < j1; ++j) {
              const T v = xp[i * w + j];
              acc = max ? std::max(acc, v) : acc + v;
            }
          yp[oy * wo + ox] = max ? acc : acc * (g.count_padding ? inv : T(1) / T(g.divisor(oy, ox)));
        }
      }
    }
  });
}

namespace cpu {
/// The flat in-plane index of the first maximal element of window (oy, ox) inside the image
/// (ties: the first in row-major order).
template <class T>
index_t window_argmax(const PoolGeometry& g, const T* xp, index_t oy, index_t ox) {
  const index_t i0 = g.row0(oy), i1 = g.row1(oy), j0 = g.col0(ox), j1 = g.col1(ox);
  index_t best = i0 * g.w + j0;
  for (index_t i = i0; i < i1; ++i)
    for (index_t j = j0; j < j1; ++j)
      if (xp[i * g.w + j] > xp[best]) best = i * g.w + j;
  return best;
}
}  // namespace cpu

/// dx = ∂/∂x of pooling given dy (overwrites dx). Max pooling sends the gradient to the first
/// maximal element of each window (found again from x, so no index tensor is stored).
template <class T>
void pool2d_backward(Cpu, bool max, const PoolGeometry& g, const T* x, const T* dy, T* dx) {
  const index_t h = g.h, w = g.w, ho = g.ho(), wo = g.wo();
  const T inv = T(1) / T(g.k * g.k);
  if (cpu::tiles_the_image(max, g)) {
    const index_t k = g.k;
    cpu::parallel_for(g.planes(), 16, [&](index_t p0, index_t p1) {
      for (index_t p = p0; p < p1; ++p) {
        T* dp = dx + p * h * w;
        std::fill(dp, dp + h * w, T(0));  // rows and columns past the last window get nothing
        for (index_t oy = 0; oy < ho; ++oy) {
          const T* gr = dy + (p * ho + oy) * wo;
          for (index_t i = 0; i < k; ++i) {
            T* dr = dp + (oy * k + i) * w;
            for (index_t ox = 0; ox < wo; ++ox)
              for (index_t j = 0; j < k; ++j) dr[ox * k + j] += gr[ox] * inv;
          }
        }
      }
    });
    return;
  }
  cpu::parallel_for(g.planes(), 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p) {
      const T* xp = x + p * h * w;
      const T* gp = dy + p * ho * wo;
      T* dp = dx + p * h * w;
      std::fill(dp, dp + h * w, T(0));
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          const T d = gp[oy * wo + ox];
          if (max) {
            dp[cpu::window_argmax(g, xp, oy, ox)] += d;
            continue;
          }
          const T share = d * (g.count_padding ? inv : T(1) / T(g.divisor(oy, ox)));
          const index_t i1 = g.row1(oy), j0 = g.col0(ox), j1 = g.col1(ox);
          for (index_t i = g.row0(oy); i < i1; ++i)
            for (index_t j = j0; j < j1; ++j) dp[i * w + j] += share;
        }
    }
  });
}

/// Nearest-neighbour upsampling by 2: y (2H×2W) from x (H×W), per plane.
template <class T>
void upsample2x_forward(Cpu, index_t planes, index_t h, index_t w, const T* x, T* y) {
  cpu::parallel_for(planes, 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p)
      for (index_t i = 0; i < 2 * h; ++i)
        for (index_t j = 0; j < 2 * w; ++j) y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
  });
}

/// The adjoint of upsample2x: dx (H×W) = the sum of each 2×2 block of dy.
template <class T>
void upsample2x_backward(Cpu, index_t planes, index_t h, index_t w, const T* dy, T* dx) {
  cpu::parallel_for(planes, 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p)
      for (index_t i = 0; i < h; ++i)
        for (index_t j = 0; j < w; ++j) {
          const T* g = dy + (p * 2 * h + 2 * i) * 2 * w + 2 * j;
          dx[(p * h + i) * w + j] = g[0] + g[1] + g[2 * w] + g[2 * w + 1];
        }
  });
}

}  // namespace structgan::backend

namespace structgan::backend {
/// y = t at the first maximal element of x in each window (max pooling's tangent rule).
template <class T>
void max_pool2d_select(Cpu, const PoolGeometry& g, const T* x, const T* t, T* y) {
  const index_t hw = g.h * g.w, ho = g.ho(), wo = g.wo();
  cpu::parallel_for(g.planes(), 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p)
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) y[(p * ho + oy) * wo + ox] = t[p * hw + cpu::window_argmax(g, x + p * hw, oy, ox)];
  });
}
}  // namespace structgan::backend
