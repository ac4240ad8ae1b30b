#pragma once
// The four checks every op (and every composite) must pass, in double on small random inputs:
//  1. reverse-mode gradients against central finite differences;
//  2. the JVP against central finite differences;
//  3. ⟨w, J v⟩ = ⟨wᵀ J, v⟩ (forward and reverse mode agree);
//  4. reverse over forward: ∇ₓ[wᵀ J v] against (∇ₓ[wᵀ f(x + h v)] − ∇ₓ[wᵀ f(x − h v)]) / 2h;
// plus the float result against the double one.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "structgan/autodiff.hpp"

namespace structgan::testing {

using TD = Tensor<double, Cpu>;

struct CheckOptions {
  double h = 1e-6;            ///< finite-difference step
  double rtol = 1e-5, atol = 1e-7;
  double float_rtol = 2e-4, float_atol = 2e-5;
  bool check_float = true;
  bool check_mixed = true;    ///< reverse over forward (needs a twice-differentiable f)
  std::vector<bool> differentiable;  ///< per input; default all
  int max_elements = 48;      ///< finite differences on at most this many entries per input
};

inline bool close(double got, double want, double rtol, double atol) {
  return std::abs(got - want) <= atol + rtol * std::abs(want);
}

template <class V>
std::vector<V> lift_all(const std::vector<TD>& xs) {
  std::vector<V> out;
  for (const auto& x : xs) out.push_back(constant<V>(x));
  return out;
}

inline double dot(const TD& a, const TD& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  return (a.array() * b.array()).sum();
}

inline TD axpy_copy(const TD& x, double a, const TD& v) {
  TD y = clone(x);
  y.array() += a * v.array();
  return y;
}

inline std::vector<index_t> sample_indices(index_t n, int max, Rng& rng) {
  std::vector<index_t> idx;
  if (n <= max) {
    for (index_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int i = 0; i < max; ++i) idx.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(n))));
  }
  return idx;
}

/// Runs the four checks (and float vs double) on f at `inputs`. f takes a std::vector<V> and
/// returns V, for every value type V.
template <class F>
void check_op(const std::string& name, F f, const std::vector<TD>& inputs, CheckOptions o = {}) {
  BOOST_TEST_CONTEXT("op " << name) {
    Rng rng(12345);
    const std::size_t k = inputs.size();
    if (o.differentiable.empty()) o.differentiable.assign(k, true);
    const TD y = f(inputs);
    const TD w = randn<double>(y.shape(), rng);
    auto loss = [&](const std::vector<TD>& xs) { return dot(f(xs), w); };

    // 1. reverse mode
    std::vector<Var<double>> vars;
    for (std::size_t j = 0; j < k; ++j) vars.emplace_back(inputs[j], static_cast<bool>(o.differentiable[j]));
    Var<double> out = f(vars);
    BOOST_REQUIRE(out.shape() == y.shape());
    for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(out.value()[i] == y[i]);
    backward(out, w);
    std::vector<TD> grads(k);
    for (std::size_t j = 0; j < k; ++j) {
      if (!o.differentiable[j]) continue;
      grads[j] = vars[j].grad().defined() ? vars[j].grad() : zeros<double>(inputs[j].shape());
      BOOST_REQUIRE(grads[j].shape() == inputs[j].shape());
      for (index_t e : sample_indices(inputs[j].numel(), o.max_elements, rng)) {
        std::vector<TD> xp = inputs, xm = inputs;
        xp[j] = clone(inputs[j]); xm[j] = clone(inputs[j]);
        xp[j][e] += o.h; xm[j][e] -= o.h;
        const double fd = (loss(xp) - loss(xm)) / (2 * o.h);
        BOOST_TEST(close(grads[j][e], fd, o.rtol, o.atol), "reverse: input " << j << " entry " << e << ": " << grads[j][e]
                                                                          << " vs finite difference " << fd);
      }
    }

    // 2. forward mode
    std::vector<TD> dirs(k);
    std::vector<DualTensor<TD>> duals;
    for (std::size_t j = 0; j < k; ++j) {
      if (o.differentiable[j]) dirs[j] = randn<double>(inputs[j].shape(), rng);
      duals.emplace_back(inputs[j], dirs[j]);
    }
    DualTensor<TD> dy = f(duals);
    BOOST_REQUIRE(dy.primal.shape() == y.shape());
    const TD jv = dy.has_tangent() ? dy.tangent : zeros<double>(y.shape());
    std::vector<TD> xp = inputs, xm = inputs;
    for (std::size_t j = 0; j < k; ++j)
      if (o.differentiable[j]) { xp[j] = axpy_copy(inputs[j], o.h, dirs[j]); xm[j] = axpy_copy(inputs[j], -o.h, dirs[j]); }
    const TD yp = f(xp), ym = f(xm);
    for (index_t i = 0; i < y.numel(); ++i) {
      const double fd = (yp[i] - ym[i]) / (2 * o.h);
      BOOST_TEST(close(jv[i], fd, o.rtol, o.atol), "jvp: entry " << i << ": " << jv[i] << " vs finite difference " << fd);
    }

    // 3. ⟨w, Jv⟩ = Σⱼ ⟨wᵀJⱼ, vⱼ⟩
    double lhs = dot(w, jv), rhs = 0;
    for (std::size_t j = 0; j < k; ++j)
      if (o.differentiable[j]) rhs += dot(grads[j], dirs[j]);
    BOOST_TEST(close(lhs, rhs, 1e-9, 1e-11), "adjoint: <w, Jv> = " << lhs << " but <w^T J, v> = " << rhs);

    // 4. reverse over forward
    if (o.check_mixed) {
      std::vector<DualTensor<Var<double>>> mixed;
      std::vector<Var<double>> leaves;
      for (std::size_t j = 0; j < k; ++j) {
        leaves.emplace_back(inputs[j], static_cast<bool>(o.differentiable[j]));
        mixed.emplace_back(leaves.back(), dirs[j].defined() ? Var<double>(dirs[j]) : Var<double>());
      }
      DualTensor<Var<double>> my = f(mixed);
      BOOST_REQUIRE(my.has_tangent());
      for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(close(my.tangent.value()[i], jv[i], 1e-12, 1e-13));
      Var<double> s = sum_all(mul(my.tangent, Var<double>(w)));
      backward(s);
      auto grad_at = [&](const std::vector<TD>& xs, std::size_t j) {
        std::vector<Var<double>> vs;
        for (std::size_t q = 0; q < k; ++q) vs.emplace_back(xs[q], q == j);
        Var<double> r = f(vs);
        backward(r, w);
        return vs[j].grad().defined() ? vs[j].grad() : zeros<double>(xs[j].shape());
      };
      for (std::size_t j = 0; j < k; ++j) {
        if (!o.differentiable[j]) continue;
        const TD got = leaves[j].grad().defined() ? leaves[j].grad() : zeros<double>(inputs[j].shape());
        const TD gp = grad_at(xp, j), gm = grad_at(xm, j);
        for (index_t e : sample_indices(inputs[j].numel(), o.max_elements, rng)) {
          const double fd = (gp[e] - gm[e]) / (2 * o.h);
          BOOST_TEST(close(got[e], fd, 10 * o.rtol, 10 * o.atol),
                     "reverse over forward: input " << j << " entry " << e << ": " << got[e] << " vs finite difference " << fd);
        }
      }
    }

    // 5. float against double
    if (o.check_float) {
      std::vector<Tensor<float>> fin;
      for (const auto& x : inputs) {
        Tensor<float> t(x.shape());
        t.array() = x.array().cast<float>();
        fin.push_back(t);
      }
      const Tensor<float> yf = f(fin);
      BOOST_REQUIRE(yf.shape() == y.shape());
      for (index_t i = 0; i < y.numel(); ++i)
        BOOST_TEST(close(yf[i], y[i], o.float_rtol, o.float_atol), "float: entry " << i << ": " << yf[i] << " vs double " << y[i]);
    }
  }
}

}  // namespace structgan::testing
