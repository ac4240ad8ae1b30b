#pragma once
// Helpers of the objectives tests: random embeddings and derivative checks in double against
// central finite differences (reverse mode, forward mode, reverse over forward).
#include <cmath>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "structgan/autodiff.hpp"

namespace structgan::objtest {

using TD = Tensor<double, Cpu>;
using VD = Var<double, Cpu>;

inline bool close(double got, double want, double rtol, double atol) {
  return std::abs(got - want) <= atol + rtol * std::abs(want);
}

/// n random unit rows of width p.
inline TD unit_rows(index_t n, index_t p, Rng& rng) { return row_normalize(randn<double>(Shape{n, p}, rng)); }

inline double dot(const TD& a, const TD& b) { return (a.array() * b.array()).sum(); }

inline TD axpy(const TD& x, double a, const TD& v) {
  TD y = clone(x);
  y.array() += a * v.array();
  return y;
}

/// f(xs) for a generic f taking std::vector<V> and returning a one-element V, on plain tensors.
template <class F>
double value(F& f, const std::vector<TD>& xs) {
  return f(xs)[0];
}

/// The reverse-mode gradients of f at xs (undefined gradients become zeros).
template <class F>
std::vector<TD> gradients(F& f, const std::vector<TD>& xs) {
  std::vector<VD> vs;
  for (const auto& x : xs) vs.emplace_back(x, true);
  VD y = f(vs);
  BOOST_REQUIRE_EQUAL(y.numel(), 1);
  backward(y);
  std::vector<TD> g;
  for (std::size_t i = 0; i < xs.size(); ++i) g.push_back(vs[i].grad().defined() ? vs[i].grad() : zeros<double>(xs[i].shape()));
  return g;
}

/// Reverse mode against central differences on every entry of every input.
template <class F>
void check_gradient(const std::string& name, F f, const std::vector<TD>& xs, double rtol = 1e-6, double atol = 1e-9,
                    double h = 1e-6) {
  BOOST_TEST_CONTEXT("gradient of " << name) {
    const std::vector<TD> g = gradients(f, xs);
    for (std::size_t j = 0; j < xs.size(); ++j) {
      for (index_t e = 0; e < xs[j].numel(); ++e) {
        std::vector<TD> p = xs, m = xs;
        p[j] = clone(xs[j]);
        m[j] = clone(xs[j]);
        p[j][e] += h;
        m[j][e] -= h;
        const double fd = (value(f, p) - value(f, m)) / (2 * h);
        BOOST_TEST(close(g[j][e], fd, rtol, atol), "input " << j << " entry " << e << ": reverse " << g[j][e] << " vs FD " << fd);
      }
    }
  }
}

/// Forward mode against central differences along random directions, and reverse over forward
/// (∇ of the recorded JVP) against central differences of the reverse gradient.
template <class F>
void check_jvp(const std::string& name, F f, const std::vector<TD>& xs, double rtol = 1e-6, double atol = 1e-9,
               double h = 1e-6) {
  BOOST_TEST_CONTEXT("JVP of " << name) {
    Rng rng(77);
    std::vector<TD> dirs;
    for (const auto& x : xs) dirs.push_back(randn<double>(x.shape(), rng));
    // forward mode
    std::vector<DualTensor<TD>> duals;
    for (std::size_t j = 0; j < xs.size(); ++j) duals.emplace_back(xs[j], dirs[j]);
    const DualTensor<TD> y = f(duals);
    BOOST_TEST(y.primal[0] == value(f, xs));
    std::vector<TD> p, m;
    for (std::size_t j = 0; j < xs.size(); ++j) {
      p.push_back(axpy(xs[j], h, dirs[j]));
      m.push_back(axpy(xs[j], -h, dirs[j]));
    }
    const double fd = (value(f, p) - value(f, m)) / (2 * h);
    BOOST_REQUIRE(y.has_tangent());
    BOOST_TEST(close(y.tangent[0], fd, rtol, atol), "JVP " << y.tangent[0] << " vs FD " << fd);
    // reverse over forward: ∇ₓ(J·dir) against (∇f(x + h·dir) − ∇f(x − h·dir)) / 2h
    std::vector<VD> vs;
    std::vector<DualTensor<VD>> rd;
    for (std::size_t j = 0; j < xs.size(); ++j) {
      vs.emplace_back(xs[j], true);
      rd.emplace_back(vs.back(), VD(dirs[j]));
    }
    DualTensor<VD> yr = f(rd);
    BOOST_TEST(close(yr.tangent.value()[0], y.tangent[0], 1e-12, 1e-14));
    backward(yr.tangent);
    const std::vector<TD> gp = gradients(f, p), gm = gradients(f, m);
    for (std::size_t j = 0; j < xs.size(); ++j)
      for (index_t e = 0; e < xs[j].numel(); ++e) {
        const double want = (gp[j][e] - gm[j][e]) / (2 * h);
        const double got = vs[j].grad().defined() ? vs[j].grad()[e] : 0.0;
        BOOST_TEST(close(got, want, 1e-4, 1e-6), "input " << j << " entry " << e << ": reverse over forward " << got
                                                            << " vs FD " << want);
      }
  }
}

}  // namespace structgan::objtest
