#pragma once
// Helpers of the GPU tests: host/device copies of random tensors and CPU-vs-GPU comparisons.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "structgan/backend/cuda.hpp"  // first: Eigen as host-only code
#include "structgan/autodiff.hpp"

namespace structgan::testing {

/// Comparison tolerance, relative to the reference's largest magnitude (at least 1).
template <class T>
constexpr double tol() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

template <class T>
Tensor<T, Cuda> gpu(const Tensor<T, Cpu>& x) {
  return to_device<Cuda>(x);
}
template <class T>
Tensor<T, Cpu> host(const Tensor<T, Cuda>& x) {
  return to_host(x);
}

/// max |got − want| / max(1, max |want|) (infinite on a shape mismatch or a NaN).
template <class T>
double rel_error(const Tensor<T, Cpu>& want, const Tensor<T, Cpu>& got) {
  if (want.shape() != got.shape()) return INFINITY;
  double scale = 1, err = 0;
  for (index_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::abs(double(want[i])));
  for (index_t i = 0; i < want.numel(); ++i) {
    const double d = std::abs(double(got[i]) - double(want[i]));
    if (!(d == d)) return INFINITY;
    err = std::max(err, d);
  }
  return err / scale;
}

/// Checks that a GPU result matches the CPU one within tolerance `t` (relative, see rel_error).
template <class T>
void check_close(const std::string& what, const Tensor<T, Cpu>& want, const Tensor<T, Cuda>& got, double t = tol<T>()) {
  BOOST_TEST_REQUIRE(got.defined(), what << ": GPU result undefined");
  const Tensor<T, Cpu> g = host(got);
  BOOST_TEST_CONTEXT(what << " (" << want.shape() << ")") {
    BOOST_TEST(want.shape() == g.shape());
    const double e = rel_error(want, g);
    BOOST_TEST(e <= t, what << ": relative error " << e << " > " << t);
  }
}

/// Checks bitwise equality (for results that involve no arithmetic, or the same arithmetic order).
template <class T>
void check_equal(const std::string& what, const Tensor<T, Cpu>& want, const Tensor<T, Cuda>& got) {
  const Tensor<T, Cpu> g = host(got);
  BOOST_TEST_CONTEXT(what << " (" << want.shape() << ")") {
    BOOST_TEST_REQUIRE(want.shape() == g.shape());
    index_t bad = 0;
    for (index_t i = 0; i < want.numel(); ++i) bad += !(want[i] == g[i] || (want[i] != want[i] && g[i] != g[i]));
    BOOST_TEST(bad == 0, what << ": " << bad << " of " << want.numel() << " values differ");
  }
}

/// Random values with some exact ties (a coarse grid) when `ties` is set.
template <class T>
Tensor<T, Cpu> random(const Shape& s, Rng& rng, double lo = -2, double hi = 2, bool ties = false) {
  Tensor<T, Cpu> t = rand_uniform<T>(s, rng, lo, hi);
  if (ties)
    for (index_t i = 0; i < t.numel(); ++i) t[i] = T(std::round(double(t[i]) * 4) / 4);
  return t;
}

}  // namespace structgan::testing
