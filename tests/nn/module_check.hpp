#pragma once
// Checks a module (its input *and* its parameters) in every mode, in double at small sizes:
//  1. reverse mode: ∂/∂x and ∂/∂θ of wᵀf(x) against central finite differences;
//  2. forward mode: J_x v against central finite differences;
//  3. ⟨w, J v⟩ = ⟨wᵀJ, v⟩;
//  4. reverse over forward: ∇_{x,θ}[wᵀ J_x v] (DualTensor<Var>, one backward pass) against
//     (∇[wᵀ f(x + h v)] − ∇[wᵀ f(x − h v)]) / 2h from two plain backward passes;
//  5. a float module built from the same seed against the double one.
// The module must be deterministic across calls in the chosen mode (e.g. spectral norm in
// evaluation); the checker verifies that first.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "structgan/autodiff.hpp"
#include "structgan/nn/module.hpp"

namespace structgan::nntest {

using TD = Tensor<double, Cpu>;
template <class T>
struct Type { using type = T; };

struct ModuleCheckOptions {
  double h = 1e-6;
  double rtol = 1e-5, atol = 1e-7;
  double mixed_rtol = 1e-4, mixed_atol = 1e-6;
  double float_rtol = 1e-4, float_atol = 1e-5;
  int max_entries = 12;  ///< finite differences on at most this many entries per tensor
  bool check_mixed = true;
  bool check_float = true;
};

inline bool close(double got, double want, double rtol, double atol) { return std::abs(got - want) <= atol + rtol * std::abs(want); }
inline double dot(const TD& a, const TD& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  return (a.array() * b.array()).sum();
}
inline std::vector<index_t> sample_entries(index_t n, int max, Rng& rng) {
  std::vector<index_t> idx;
  if (n <= max)
    for (index_t i = 0; i < n; ++i) idx.push_back(i);
  else
    for (int i = 0; i < max; ++i) idx.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(n))));
  return idx;
}
inline TD grad_or_zero(const Tensor<double, Cpu>& g, const Shape& s) { return g.defined() ? clone(g) : zeros<double>(s); }

/// make(Type<T>{}) builds the module in scalar T (the same seed each call); fwd(module, x) runs it
/// for any value type; prepare(module) sets the mode (train/eval) before every use.
template <class Make, class Fwd, class Prepare>
void check_module(const std::string& name, Make make, Fwd fwd, Prepare prepare, const TD& x, ModuleCheckOptions o = {}) {
  BOOST_TEST_CONTEXT("module " << name) {
    Rng rng(777);
    auto m = make(Type<double>{});
    prepare(m);
    auto params = nn::named_parameters(m);
    const TD y = fwd(m, x);
    {
      const TD y2 = fwd(m, x);
      bool same = true;
      for (index_t i = 0; i < y.numel(); ++i) same = same && y[i] == y2[i];
      BOOST_REQUIRE_MESSAGE(same, "the module is not deterministic in this mode");
    }
    const TD w = randn<double>(y.shape(), rng);
    const TD v = randn<double>(x.shape(), rng);
    auto loss = [&](const TD& xx) { return dot(fwd(m, xx), w); };
    // ∇ of wᵀf at xx: (∂/∂x, ∂/∂θ each) from one backward pass.
    auto gradients = [&](const TD& xx) {
      nn::zero_grad(m);
      Var<double> xv(xx, true);
      Var<double> out = fwd(m, xv);
      backward(out, w);
      std::vector<TD> g{grad_or_zero(xv.grad(), x.shape())};
      for (auto& np : params) g.push_back(grad_or_zero(np.param->grad, np.param->value.shape()));
      return g;
    };

    // 1. reverse mode
    const std::vector<TD> g0 = gradients(x);
    for (index_t e : sample_entries(x.numel(), o.max_entries, rng)) {
      TD xp = clone(x), xm = clone(x);
      xp[e] += o.h;
      xm[e] -= o.h;
      const double fd = (loss(xp) - loss(xm)) / (2 * o.h);
      BOOST_TEST(close(g0[0][e], fd, o.rtol, o.atol), "d/dx entry " << e << ": " << g0[0][e] << " vs finite difference " << fd);
    }
    for (std::size_t k = 0; k < params.size(); ++k) {
      Tensor<double>& p = params[k].param->value;
      for (index_t e : sample_entries(p.numel(), o.max_entries, rng)) {
        const double keep = p[e];
        p[e] = keep + o.h;
        const double lp = loss(x);
        p[e] = keep - o.h;
        const double lm = loss(x);
        p[e] = keep;
        const double fd = (lp - lm) / (2 * o.h);
        BOOST_TEST(close(g0[k + 1][e], fd, o.rtol, o.atol),
                   "d/d" << params[k].name << " entry " << e << ": " << g0[k + 1][e] << " vs finite difference " << fd);
      }
    }

    // 2. forward mode
    DualTensor<TD> dy = fwd(m, DualTensor<TD>(x, v));
    BOOST_REQUIRE(dy.primal.shape() == y.shape());
    for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(close(dy.primal[i], y[i], 1e-12, 1e-13));
    const TD jv = dy.has_tangent() ? dy.tangent : zeros<double>(y.shape());
    TD xp = clone(x), xm = clone(x);
    xp.array() += o.h * v.array();
    xm.array() -= o.h * v.array();
    const TD yp = fwd(m, xp), ym = fwd(m, xm);
    for (index_t i = 0; i < y.numel(); ++i) {
      const double fd = (yp[i] - ym[i]) / (2 * o.h);
      BOOST_TEST(close(jv[i], fd, o.rtol, o.atol), "jvp entry " << i << ": " << jv[i] << " vs finite difference " << fd);
    }

    // 3. adjoint identity
    const double lhs = dot(w, jv), rhs = dot(g0[0], v);
    BOOST_TEST(close(lhs, rhs, 1e-9, 1e-11), "<w, Jv> = " << lhs << " but <w^T J, v> = " << rhs);

    // 4. reverse over forward: gradients of wᵀ J v
    if (o.check_mixed) {
      nn::zero_grad(m);
      Var<double> xl(x, true);
      DualTensor<Var<double>> my = fwd(m, DualTensor<Var<double>>(xl, Var<double>(v)));
      BOOST_REQUIRE(my.has_tangent());
      for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(close(my.tangent.value()[i], jv[i], 1e-10, 1e-12));
      backward(sum_all(mul(my.tangent, Var<double>(w))));
      std::vector<TD> got{grad_or_zero(xl.grad(), x.shape())};
      for (auto& np : params) got.push_back(grad_or_zero(np.param->grad, np.param->value.shape()));
      const std::vector<TD> gp = gradients(xp), gm = gradients(xm);
      for (std::size_t k = 0; k < got.size(); ++k) {
        const std::string what = k == 0 ? std::string("x") : params[k - 1].name;
        for (index_t e : sample_entries(got[k].numel(), o.max_entries, rng)) {
          const double fd = (gp[k][e] - gm[k][e]) / (2 * o.h);
          BOOST_TEST(close(got[k][e], fd, o.mixed_rtol, o.mixed_atol),
                     "reverse over forward d/d" << what << " entry " << e << ": " << got[k][e] << " vs finite difference " << fd);
        }
      }
    }

    // 5. float against double
    if (o.check_float) {
      auto mf = make(Type<float>{});
      prepare(mf);
      Tensor<float> xf(x.shape());
      xf.array() = x.array().cast<float>();
      const Tensor<float> yf = fwd(mf, xf);
      BOOST_REQUIRE(yf.shape() == y.shape());
      for (index_t i = 0; i < y.numel(); ++i)
        BOOST_TEST(close(yf[i], y[i], o.float_rtol, o.float_atol), "float entry " << i << ": " << yf[i] << " vs double " << y[i]);
    }
  }
}

/// check_module with no preparation (the module's default, training mode).
template <class Make, class Fwd>
void check_module(const std::string& name, Make make, Fwd fwd, const TD& x, ModuleCheckOptions o = {}) {
  check_module(name, make, fwd, [](auto&) {}, x, o);
}

}  // namespace structgan::nntest
