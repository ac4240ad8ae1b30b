#pragma once
/// \file CPU pooling and upsampling kernels on NCHW data (planes = N·C).
#include <algorithm>
#include <limits>

#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {

/// Average (or max) pooling with a k×k window, stride s, no padding: Ho = (H − k)/s + 1.
template <class T>
void pool2d_forward(Cpu, bool max, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, T* y) {
  const index_t ho = (h - k) / s + 1, wo = (w - k) / s + 1;
  const T inv = T(1) / T(k * k);
  cpu::parallel_for(planes, 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p) {
      const T* xp = x + p * h * w;
      T* yp = y + p * ho * wo;
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          T acc = max ? -std::numeric_limits<T>::infinity() : T(0);
          for (index_t i = 0; i < k; ++i)
            for (index_t j = 0; j < k; ++j) {
              const T v = xp[(oy * s + i) * w + ox * s + j];
              acc = max ? std::max(acc, v) : acc + v;
            }
          yp[oy * wo + ox] = max ? acc : acc * inv;
        }
    }
  });
}

/// dx = ∂/∂x of pooling given dy (overwrites dx). Max pooling sends the gradient to the first
/// maximal element of each window (found again from x, so no index tensor is stored).
template <class T>
void pool2d_backward(Cpu, bool max, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x,
                     const T* dy, T* dx) {
  const index_t ho = (h - k) / s + 1, wo = (w - k) / s + 1;
  const T inv = T(1) / T(k * k);
  cpu::parallel_for(planes, 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p) {
      const T* xp = x + p * h * w;
      const T* gp = dy + p * ho * wo;
      T* dp = dx + p * h * w;
      std::fill(dp, dp + h * w, T(0));
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          const T g = gp[oy * wo + ox];
          if (max) {
            index_t best = (oy * s) * w + ox * s;
            for (index_t i = 0; i < k; ++i)
              for (index_t j = 0; j < k; ++j) {
                const index_t q = (oy * s + i) * w + ox * s + j;
                if (xp[q] > xp[best]) best = q;
              }
            dp[best] += g;
          } else {
            for (index_t i = 0; i < k; ++i)
              for (index_t j = 0; j < k; ++j) dp[(oy * s + i) * w + ox * s + j] += g * inv;
          }
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
void max_pool2d_select(Cpu, index_t planes, index_t h, index_t w, index_t k, index_t s, const T* x, const T* t, T* y) {
  const index_t ho = (h - k) / s + 1, wo = (w - k) / s + 1;
  cpu::parallel_for(planes, 16, [&](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p) {
      const T* xp = x + p * h * w;
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          index_t best = (oy * s) * w + ox * s;
          for (index_t i = 0; i < k; ++i)
            for (index_t j = 0; j < k; ++j) {
              const index_t q = (oy * s + i) * w + ox * s + j;
              if (xp[q] > xp[best]) best = q;
            }
          y[p * ho * wo + oy * wo + ox] = t[p * h * w + best];
        }
    }
  });
}
}  // namespace structgan::backend
