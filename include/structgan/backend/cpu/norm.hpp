#pragma once
/// \file CPU standardization kernels shared by GroupNorm and BatchNorm (StandardizeLayout:
/// backend/contract.hpp).
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/elementwise.hpp"
#include "structgan/backend/cpu/parallel.hpp"

namespace structgan {

namespace backend {
namespace cpu {
/// Σ double(a[i]) over n values, in SIMD lanes (STRUCTGAN_SIMD_SUM): Eigen's
/// `.cast<double>().sum()` of floats is one chain of dependent scalar additions (Eigen has no
/// vectorized float → double cast), which made the standardization's sums latency-bound.
template <class T>
inline double sum_in_double(const T* a, index_t n) {
  double s = 0;
  STRUCTGAN_SIMD_SUM(s)
  for (index_t i = 0; i < n; ++i) s += double(a[i]);
  return s;
}
/// Σ (double(a[i]) − m)² over n values, in SIMD lanes.
template <class T>
inline double centered_square_sum(const T* a, double m, index_t n) {
  double s = 0;
  STRUCTGAN_SIMD_SUM(s)
  for (index_t i = 0; i < n; ++i) s += (double(a[i]) - m) * (double(a[i]) - m);
  return s;
}

/// Mean and rstd = 1/√(var + eps) (biased variance) of group g of a standardization layout, in
/// double: the mean first, then the centered squares, each summed plane by plane in SIMD lanes.
template <class T>
inline std::pair<double, double> standardize_statistics(const StandardizeLayout& s, index_t g, const T* x, double eps) {
  double sum = 0;
  for (index_t p = 0; p < s.p; ++p) sum += sum_in_double(x + (p * s.g + g) * s.l, s.l);
  const double m = sum / double(s.count());
  double ss = 0;
  for (index_t p = 0; p < s.p; ++p) ss += centered_square_sum(x + (p * s.g + g) * s.l, m, s.l);
  return {m, 1.0 / std::sqrt(ss / double(s.count()) + eps)};
}

/// Σ a and Σ a·(x − m) in double over n values (x − m in T, as the rules use it), in SIMD lanes
/// (STRUCTGAN_SIMD_SUM: one chain of dependent double additions took longer than reading the values,
/// and GroupNorm ran at 0.65× PyTorch's speed).
template <class T>
inline std::pair<double, double> sum_and_centered_dot(const T* a, const T* x, T m, index_t n) {
  double sum = 0, dot = 0;
  STRUCTGAN_SIMD_SUM(sum, dot)
  for (index_t i = 0; i < n; ++i) {
    sum += double(a[i]);
    dot += double(a[i]) * double(x[i] - m);
  }
  return {sum, dot};
}

/// Mean and rstd of the L values of one group, in double: sums of x − x₀ (x₀ the group's first
/// value, so a large mean does not cancel digits of the variance) in one pass, in SIMD lanes.
template <class T>
inline std::pair<double, double> group_statistics(const T* x, index_t l, double eps) {
  const double shift = double(x[0]);
  double sum = 0, sum_sq = 0;
  STRUCTGAN_SIMD_SUM(sum, sum_sq)
  for (index_t i = 0; i < l; ++i) {
    const double d = double(x[i]) - shift;
    sum += d;
    sum_sq += d * d;
  }
  const double s1 = sum / double(l), s2 = sum_sq / double(l);
  const double var = std::max(s2 - s1 * s1, 0.0);
  return {shift + s1, 1.0 / std::sqrt(var + eps)};
}
}  // namespace cpu

/// xhat = (x − mean_g) · rstd_g with rstd_g = 1/√(var_g + eps) (biased variance); writes the
/// per-group mean and rstd too (for running statistics and the backward pass).
template <class T>
void standardize_forward(Cpu, const StandardizeLayout& s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  cpu::parallel_for(s.g, 1, [&](index_t g0, index_t g1) {
    for (index_t g = g0; g < g1; ++g) {
      const auto [m, r] = cpu::standardize_statistics(s, g, x, double(eps));
      for (index_t p = 0; p < s.p; ++p) {
        const index_t off = (p * s.g + g) * s.l;
        cpu::ArrayMap<T>(xhat + off, s.l) = (cpu::ConstArrayMap<T>(x + off, s.l) - T(m)) * T(r);
      }
      mean[g] = T(m);
      rstd[g] = T(r);
    }
  });
}

/// The standardization's Jacobian applied to t (it is symmetric, so this is both the JVP and
/// the VJP): y = rstd · (t − mean(t) − xhat · mean(xhat·t)), means per group.
template <class T>
void standardize_jacobian(Cpu, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, T* y) {
  cpu::parallel_for(s.g, 1, [&](index_t g0, index_t g1) {
    for (index_t g = g0; g < g1; ++g) {
      double st = 0, sxt = 0;
      for (index_t p = 0; p < s.p; ++p) {
        const index_t off = (p * s.g + g) * s.l;
        const T* tp = t + off;
        const T* xp = xhat + off;
        double a = 0, b = 0;
        STRUCTGAN_SIMD_SUM(a, b)
        for (index_t i = 0; i < s.l; ++i) {
          a += double(tp[i]);
          b += double(tp[i] * xp[i]);
        }
        st += a;
        sxt += b;
      }
      const T mt = T(st / double(s.count())), mxt = T(sxt / double(s.count())), r = rstd[g];
      for (index_t p = 0; p < s.p; ++p) {
        const index_t off = (p * s.g + g) * s.l;
        cpu::ArrayMap<T>(y + off, s.l) =
            r * (cpu::ConstArrayMap<T>(t + off, s.l) - mt - cpu::ConstArrayMap<T>(xhat + off, s.l) * mxt);
      }
    }
  });
}

/// Reverse rule of y = standardize_jacobian(xhat, rstd, t) with respect to xhat and rstd, given
/// dy: dxhat = −rstd·(dy·mean(xhat·t) + t·mean(dy·xhat)) (overwritten), drstd_g = Σ dy·y / rstd.
template <class T>
void standardize_jacobian_backward(Cpu, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t,
                                   const T* y, const T* dy, T* dxhat, T* drstd) {
  cpu::parallel_for(s.g, 1, [&](index_t g0, index_t g1) {
    for (index_t g = g0; g < g1; ++g) {
      double sxt = 0, sgx = 0, sgy = 0;
      for (index_t p = 0; p < s.p; ++p) {
        const index_t off = (p * s.g + g) * s.l;
        const T* tp = t + off;
        const T* xp = xhat + off;
        const T* gp = dy + off;
        const T* yp = y + off;
        double a = 0, b = 0, c = 0;
        STRUCTGAN_SIMD_SUM(a, b, c)
        for (index_t i = 0; i < s.l; ++i) {
          a += double(xp[i] * tp[i]);
          b += double(gp[i] * xp[i]);
          c += double(gp[i] * yp[i]);
        }
        sxt += a;
        sgx += b;
        sgy += c;
      }
      const T mxt = T(sxt / double(s.count())), mgx = T(sgx / double(s.count())), r = rstd[g];
      for (index_t p = 0; p < s.p; ++p) {
        const index_t off = (p * s.g + g) * s.l;
        if (dxhat)
          cpu::ArrayMap<T>(dxhat + off, s.l) =
              -r * (cpu::ConstArrayMap<T>(dy + off, s.l) * mxt + cpu::ConstArrayMap<T>(t + off, s.l) * mgx);
      }
      if (drstd) drstd[g] = T(sgy / double(r));
    }
  });
}

}  // namespace backend
}  // namespace structgan

namespace structgan::backend {
/// y(p, g, l) = x(p, g, l) · c[g] (the per-group scaling of a standardization's backward).
template <class T>
void scale_groups(Cpu, const StandardizeLayout& s, const T* x, const T* c, T* y) {
  cpu::parallel_for(s.p * s.g, 16, [&](index_t b, index_t e) {
    for (index_t q = b; q < e; ++q)
      cpu::ArrayMap<T>(y + q * s.l, s.l) = cpu::ConstArrayMap<T>(x + q * s.l, s.l) * c[q % s.g];
  });
}
}  // namespace structgan::backend

namespace structgan::backend {

/// Fused GroupNorm with its affine map, one group (C/groups channels of one sample, contiguous)
/// per task: statistics in one pass over the group, then y = (x − mean)·(rstd·w_c) + b_c while
/// the group is still in cache.
template <class T>
void group_norm_forward(Cpu, const GroupNormGeometry& g, T eps, const T* x, const T* w, const T* b, T* y, T* mean,
                        T* rstd) {
  const index_t cpg = g.channels_per_group(), len = g.group_size(), hw = g.hw;
  if (len == 0) return;
  cpu::parallel_for(g.statistics(), 1, [&](index_t q0, index_t q1) {
    for (index_t q = q0; q < q1; ++q) {
      const auto [m, r] = cpu::group_statistics(x + q * len, len, double(eps));
      const T mt = T(m), rt = T(r);
      for (index_t k = 0; k < cpg; ++k) {
        const index_t c = (q % g.groups) * cpg + k, off = q * len + k * hw;
        const T a = w ? rt * w[c] : rt, shift = b ? b[c] : T(0);
        cpu::ArrayMap<T>(y + off, hw) = (cpu::ConstArrayMap<T>(x + off, hw) - mt) * a + shift;
      }
      mean[q] = mt;
      rstd[q] = rt;
    }
  });
}

/// The VJP of group_norm_forward. Per group: the per-channel sums Σdy and Σdy·x (double), then
/// dx = dy·(rstd·w_c) + (x − mean)·k₁ + k₀ with the group's two means folded into k₀, k₁, while
/// the group is still in cache; dw and db from the per-channel sums.
template <class T>
void group_norm_backward(Cpu, const GroupNormGeometry& g, const T* x, const T* mean, const T* rstd, const T* w, const T* dy,
                         T* dx, T* dw, T* db) {
  const index_t cpg = g.channels_per_group(), len = g.group_size(), hw = g.hw;
  std::vector<double> sdy(std::size_t(g.n * g.c)), sdyx(std::size_t(g.n * g.c));  // per (sample, channel): Σdy, Σdy·(x − mean)
  cpu::parallel_for(g.statistics(), 1, [&](index_t q0, index_t q1) {
    for (index_t q = q0; q < q1; ++q) {
      const T mt = mean[q];
      const double r = double(rstd[q]);
      double sg = 0, sgx = 0;  // Σ w·dy and Σ w·dy·xhat over the group
      for (index_t k = 0; k < cpg; ++k) {
        const index_t c = (q % g.groups) * cpg + k, off = q * len + k * hw;
        const auto [a, bx] = cpu::sum_and_centered_dot(dy + off, x + off, mt, hw);
        const index_t nc = (q / g.groups) * g.c + c;
        sdy[std::size_t(nc)] = a;
        sdyx[std::size_t(nc)] = bx;
        const double wc = w ? double(w[c]) : 1.0;
        sg += wc * a;
        sgx += wc * bx * r;
      }
      if (!dx) continue;
      const T k0 = T(-r * sg / double(len)), k1 = T(-r * r * sgx / double(len));
      for (index_t k = 0; k < cpg; ++k) {
        const index_t c = (q % g.groups) * cpg + k, off = q * len + k * hw;
        const T a = w ? T(r) * w[c] : T(r);
        cpu::ArrayMap<T>(dx + off, hw) =
            cpu::ConstArrayMap<T>(dy + off, hw) * a + (cpu::ConstArrayMap<T>(x + off, hw) - mt) * k1 + k0;
      }
    }
  });
  if (!dw && !db) return;
  for (index_t c = 0; c < g.c; ++c) {
    double sw = 0, sb = 0;
    for (index_t i = 0; i < g.n; ++i) {
      const std::size_t nc = std::size_t(i * g.c + c);
      sw += sdyx[nc] * double(rstd[i * g.groups + c / cpg]);
      sb += sdy[nc];
    }
    if (dw) dw[c] = T(sw);
    if (db) db[c] = T(sb);
  }
}

/// The tangent of group_norm_forward: per group the sums Σẋ and Σẋ·(x − mean) (double), then
/// ẏ = ẋ·(rstd·w_c) + (x − mean)·(k₁·w_c + rstd·ẇ_c) + k₀·w_c + ḃ_c in the same pass.
template <class T>
void group_norm_jvp(Cpu, const GroupNormGeometry& g, const T* x, const T* mean, const T* rstd, const T* w, const T* xdot,
                    const T* wdot, const T* bdot, T* ydot) {
  const index_t cpg = g.channels_per_group(), len = g.group_size(), hw = g.hw;
  if (len == 0) return;
  cpu::parallel_for(g.statistics(), 1, [&](index_t q0, index_t q1) {
    for (index_t q = q0; q < q1; ++q) {
      const T mt = mean[q];
      const double r = double(rstd[q]);
      const auto [st, stx] = cpu::sum_and_centered_dot(xdot + q * len, x + q * len, mt, len);
      // J(ẋ) = r·ẋ + k₀ + (x − mean)·k₁: k₀ = −r·mean ẋ, k₁ = −r³·mean(ẋ·(x − mean))
      const double k0 = -r * st / double(len), k1 = -r * r * r * stx / double(len);
      for (index_t k = 0; k < cpg; ++k) {
        const index_t c = (q % g.groups) * cpg + k, off = q * len + k * hw;
        const double wc = w ? double(w[c]) : 1.0;
        const T a = T(r * wc), cx = T(k1 * wc + (wdot ? r * double(wdot[c]) : 0.0)), c0 = T(k0 * wc + (bdot ? double(bdot[c]) : 0.0));
        cpu::ArrayMap<T>(ydot + off, hw) = cpu::ConstArrayMap<T>(xdot + off, hw) * a + (cpu::ConstArrayMap<T>(x + off, hw) - mt) * cx + c0;
      }
    }
  });
}

/// BatchNorm with an affine map per (sample, channel) and an optional ReLU (BigGAN's conditional
/// BatchNorm and the ReLU after it, SPEC §1), one channel per task: its mean, then Σ(x − mean)²
/// over its N planes (double, SIMD lanes), then y = max((x − mean)·(rstd·scale) + shift, 0) plane
/// by plane while the channel is still in cache. One op instead of the standardization, the
/// product, the sum and the ReLU, each a pass over memory with its own output.
template <class T>
void batch_norm_affine_forward(Cpu, const StandardizeLayout& s, T eps, bool relu, const T* x, const T* scale, const T* shift,
                               T* y, T* mean, T* rstd) {
  if (s.count() == 0) return;
  cpu::parallel_for(s.g, 1, [&](index_t g0, index_t g1) {
    for (index_t g = g0; g < g1; ++g) {
      const auto [m, r] = cpu::standardize_statistics(s, g, x, double(eps));
      const T mt = T(m), rt = T(r);
      for (index_t p = 0; p < s.p; ++p) {
        const index_t q = p * s.g + g, off = q * s.l;
        const T a = scale ? rt * scale[q] : rt, b = shift ? shift[q] : T(0);
        cpu::ArrayMap<T> yp(y + off, s.l);
        if (relu) yp = ((cpu::ConstArrayMap<T>(x + off, s.l) - mt) * a + b).max(T(0));
        else yp = (cpu::ConstArrayMap<T>(x + off, s.l) - mt) * a + b;
      }
      mean[g] = mt;
      rstd[g] = rt;
    }
  });
}

/// The VJP of batch_norm_affine_forward in two passes over the planes: per (sample, channel) Σdz
/// and Σdz·(x − mean) (double), which give dshift and dscale and, summed over the samples, the
/// channel's two means; then dx = dz·(rstd·scale) + (x − mean)·k₁ + k₀. dz = dy·[y > 0] with the
/// ReLU: the same products as its own backward rule.
template <class T>
void batch_norm_affine_backward(Cpu, const StandardizeLayout& s, bool relu, const T* x, const T* mean, const T* rstd,
                                const T* scale, const T* y, const T* dy, T* dx, T* dscale, T* dshift) {
  const index_t planes = s.p * s.g;
  if (planes == 0 || s.l == 0) return;
  std::vector<double> sdz(static_cast<std::size_t>(planes)), sdzx(static_cast<std::size_t>(planes));
  const index_t grain = std::max<index_t>(1, cpu::elementwise_grain / s.l);
  cpu::parallel_for(planes, grain, [&](index_t q0, index_t q1) {
    for (index_t q = q0; q < q1; ++q) {
      const index_t off = q * s.l;
      const T mt = mean[q % s.g];
      const T* dyq = dy + off;
      const T* xq = x + off;
      const T* yq = y + off;
      double a = 0, b = 0;
      if (relu) {
        STRUCTGAN_SIMD_SUM(a, b)
        for (index_t i = 0; i < s.l; ++i) {
          const T d = dyq[i] * T(yq[i] > T(0));
          a += double(d);
          b += double(d) * double(xq[i] - mt);
        }
      } else {
        STRUCTGAN_SIMD_SUM(a, b)
        for (index_t i = 0; i < s.l; ++i) {
          a += double(dyq[i]);
          b += double(dyq[i]) * double(xq[i] - mt);
        }
      }
      sdz[std::size_t(q)] = a;
      sdzx[std::size_t(q)] = b;
      if (dshift) dshift[q] = T(a);
      if (dscale) dscale[q] = T(b * double(rstd[q % s.g]));
    }
  });
  if (!dx) return;
  // per channel: dx = dz·(r·a_p) + k₀ + (x − mean)·k₁, k₀ = −r·Σ_p a_p·Σdz / count,
  // k₁ = −r³·Σ_p a_p·Σdz·(x − mean) / count (the means of dxhat = dz·a_p and of dxhat·xhat)
  std::vector<T> k0(static_cast<std::size_t>(s.g)), k1(static_cast<std::size_t>(s.g));
  for (index_t g = 0; g < s.g; ++g) {
    double s1 = 0, s2 = 0;
    for (index_t p = 0; p < s.p; ++p) {
      const index_t q = p * s.g + g;
      const double a = scale ? double(scale[q]) : 1.0;
      s1 += a * sdz[std::size_t(q)];
      s2 += a * sdzx[std::size_t(q)];
    }
    const double r = double(rstd[g]), n = double(s.count());
    k0[std::size_t(g)] = T(-r * s1 / n);
    k1[std::size_t(g)] = T(-r * r * r * s2 / n);
  }
  cpu::parallel_for(planes, grain, [&](index_t q0, index_t q1) {
    for (index_t q = q0; q < q1; ++q) {
      const index_t off = q * s.l, g = q % s.g;
      const T a = scale ? rstd[g] * scale[q] : rstd[g], mt = mean[g], c0 = k0[std::size_t(g)], c1 = k1[std::size_t(g)];
      cpu::ArrayMap<T> dxq(dx + off, s.l);
      cpu::ConstArrayMap<T> dyq(dy + off, s.l), xq(x + off, s.l);
      if (relu) dxq = dyq * (cpu::ConstArrayMap<T>(y + off, s.l) > T(0)).template cast<T>() * a + (xq - mt) * c1 + c0;
      else dxq = dyq * a + (xq - mt) * c1 + c0;
    }
  });
}
}  // namespace structgan::backend
