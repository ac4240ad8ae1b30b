#pragma once
/// \file CPU standardization kernels shared by GroupNorm and BatchNorm (StandardizeLayout:
/// backend/contract.hpp).
#include <cmath>

#include <Eigen/Core>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/elementwise.hpp"
#include "structgan/backend/cpu/parallel.hpp"

namespace structgan {

namespace backend {

/// xhat = (x − mean_g) · rstd_g with rstd_g = 1/√(var_g + eps) (biased variance); writes the
/// per-group mean and rstd too (for running statistics and the backward pass).
template <class T>
void standardize_forward(Cpu, const StandardizeLayout& s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  cpu::parallel_for(s.g, 1, [&](index_t g0, index_t g1) {
    for (index_t g = g0; g < g1; ++g) {
      double sum = 0;
      for (index_t p = 0; p < s.p; ++p) sum += cpu::ConstArrayMap<T>(x + (p * s.g + g) * s.l, s.l).template cast<double>().sum();
      const double m = sum / double(s.count());
      double ss = 0;
      for (index_t p = 0; p < s.p; ++p)
        ss += (cpu::ConstArrayMap<T>(x + (p * s.g + g) * s.l, s.l).template cast<double>() - m).square().sum();
      const double r = 1.0 / std::sqrt(ss / double(s.count()) + double(eps));
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
        cpu::ConstArrayMap<T> tv(t + off, s.l), xv(xhat + off, s.l);
        st += tv.template cast<double>().sum();
        sxt += (tv * xv).template cast<double>().sum();
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
        cpu::ConstArrayMap<T> tv(t + off, s.l), xv(xhat + off, s.l), gv(dy + off, s.l), yv(y + off, s.l);
        sxt += (xv * tv).template cast<double>().sum();
        sgx += (gv * xv).template cast<double>().sum();
        sgy += (gv * yv).template cast<double>().sum();
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
