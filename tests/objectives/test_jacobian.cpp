#define BOOST_TEST_MODULE objectives_jacobian
#include <boost/test/unit_test.hpp>

// The Jacobian spectral-norm regularizer of SPEC §4 (Algorithm 1): σ against the exact largest
// singular value of each sample's Jacobian, σ's parameter gradient (forward inside reverse)
// against central differences of plain backprops, frozen parameters during the power
// iteration, per-sample independence, the hinge, errors.
#include <Eigen/SVD>

#include "objectives_test_util.hpp"
#include "structgan/objectives/jacobian.hpp"

using namespace structgan;
using namespace structgan::objectives;
using namespace structgan::objtest;

namespace {

using P = Parameter<double>;

P param(Shape s, Rng& rng, double scale) { return P{randn<double>(s, rng, 0.0, scale), {}}; }

/// x → elu(l1) → elu(l2) → l3 (b×d → b×p).
struct Mlp {
  P w1, b1, w2, b2, w3, b3;
  Mlp(index_t d, index_t h, index_t p, Rng& rng)
      : w1(param({h, d}, rng, 0.6)), b1(param({h}, rng, 0.1)), w2(param({h, h}, rng, 0.3)), b2(param({h}, rng, 0.1)),
        w3(param({p, h}, rng, 0.3)), b3(param({p}, rng, 0.1)) {}
  template <class V>
  V operator()(const V& x) {
    V h = elu(linear(x, lift<V>(w1), lift<V>(b1)));
    h = elu(linear(h, lift<V>(w2), lift<V>(b2)));
    return linear(h, lift<V>(w3), lift<V>(b3));
  }
  std::vector<P*> params() { return {&w1, &b1, &w2, &b2, &w3, &b3}; }
};

/// x (b×2×6×6) → elu(conv3×3) → GroupNorm(2 groups) → elu → mean over H, W → linear (b×p).
struct ConvNet {
  P c1, gw, gb, fw, fb;
  explicit ConvNet(Rng& rng)
      : c1(param({4, 2, 3, 3}, rng, 0.4)), gw(P{add_scalar(randn<double>(Shape{4}, rng, 0.0, 0.2), 1.0), {}}),
        gb(param({4}, rng, 0.1)), fw(param({3, 4}, rng, 0.5)), fb(param({3}, rng, 0.1)) {}
  template <class V>
  V operator()(const V& x) {
    V h = elu(conv2d(x, lift<V>(c1), 1, 1));
    h = elu(group_norm(h, 2, lift<V>(gw), lift<V>(gb), 1e-5));
    return linear(mean(h, {2, 3}), lift<V>(fw), lift<V>(fb));
  }
  std::vector<P*> params() { return {&c1, &gw, &gb, &fw, &fb}; }
};

/// The explicit Jacobian of sample i (p × d), one JVP per input coordinate.
template <class F>
Eigen::MatrixXd sample_jacobian(F& f, const TD& x, index_t i) {
  const index_t b = x.dim(0), d = x.numel() / b;
  const index_t p = f(x).dim(1);
  Eigen::MatrixXd J(p, d);
  for (index_t c = 0; c < d; ++c) {
    TD e = zeros<double>(x.shape());
    e[i * d + c] = 1.0;
    const TD jv = jvp(f, x, e).jvp;
    for (index_t r = 0; r < p; ++r) J(r, c) = jv.at(i, r);
  }
  return J;
}

/// σ_i(θ) = u_iᵀ J_i(θ) v_i from one plain backprop: (uᵀJ)·v per sample.
template <class F>
TD sigma_by_backprop(F& f, const TD& x, const TD& u, const TD& v) {
  FrozenParametersGuard frozen;
  const TD g = structgan::vjp(f, x, u).vjp;
  const index_t b = x.dim(0), d = x.numel() / b;
  TD s(Shape{b});
  for (index_t i = 0; i < b; ++i) {
    double acc = 0;
    for (index_t c = 0; c < d; ++c) acc += g[i * d + c] * v[i * d + c];
    s[i] = acc;
  }
  return s;
}

/// The parameter gradient of penalty(σ) with u, v fixed, against central differences of σ
/// computed by plain backprops.
template <class Net>
void check_sigma_gradient(const std::string& name, Net& net, const TD& x, const TD& u0, JacobianPenalty kind, int steps) {
  BOOST_TEST_CONTEXT(name) {
    auto f = [&](const auto& v) { return net(v); };
    for (P* p : net.params()) p->grad = TD();
    JacobianOptions o;
    o.steps = steps;
    o.penalty = kind;
    o.lip = 0.5;
    const auto reg = jacobian_regularizer(f, x, u0, o);
    // σ from the recorded pass equals σ from plain backprops at the same u, v.
    const TD s_bp = sigma_by_backprop(f, x, reg.estimate.u, reg.estimate.v);
    for (index_t i = 0; i < s_bp.numel(); ++i) BOOST_TEST(close(reg.estimate.sigma.value()[i], s_bp[i], 1e-12, 1e-14));
    backward(reg.penalty);
    auto penalty_at = [&]() {
      const TD s = sigma_by_backprop(f, x, reg.estimate.u, reg.estimate.v);
      return jacobian_penalty(s, o.lip, kind)[0];
    };
    const double h = 1e-6;
    int k = 0;
    for (P* p : net.params()) {
      BOOST_REQUIRE(p->grad.defined());
      for (index_t e = 0; e < p->value.numel(); e += 1 + p->value.numel() / 7) {
        const double keep = p->value[e];
        p->value[e] = keep + h;
        const double up = penalty_at();
        p->value[e] = keep - h;
        const double down = penalty_at();
        p->value[e] = keep;
        const double fd = (up - down) / (2 * h);
        BOOST_TEST(close(p->grad[e], fd, 1e-5, 1e-8), "parameter " << k << " entry " << e << ": " << p->grad[e] << " vs FD " << fd);
      }
      ++k;
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigma_is_the_largest_singular_value_of_a_linear_map) {
  Rng rng(1);
  P w = param({5, 8}, rng, 1.0);
  auto f = [&](const auto& x) { using V = std::decay_t<decltype(x)>; return linear(x, lift<V>(w)); };
  const TD x = randn<double>(Shape{3, 8}, rng);
  const double smax = Eigen::JacobiSVD<Eigen::MatrixXd>(Eigen::MatrixXd(w.value.matrix())).singularValues()(0);
  const auto est = jacobian_sigma(f, x, randn<double>(Shape{3, 5}, rng), 200);
  for (index_t i = 0; i < 3; ++i) BOOST_TEST(close(est.sigma.value()[i], smax, 1e-8, 1e-10));
  // One step from a random start already gives a lower bound.
  const auto one = jacobian_sigma(f, x, randn<double>(Shape{3, 5}, rng), 1);
  for (index_t i = 0; i < 3; ++i) BOOST_TEST(one.sigma.value()[i] <= smax * (1 + 1e-12));
  // u and v are unit per sample.
  for (index_t i = 0; i < 3; ++i) {
    BOOST_TEST(close(est.u.matrix().row(i).norm(), 1.0, 1e-12, 0));
    BOOST_TEST(close(est.v.matrix().row(i).norm(), 1.0, 1e-12, 0));
  }
}

BOOST_AUTO_TEST_CASE(sigma_matches_each_samples_jacobian_for_a_conv_network) {
  Rng rng(2);
  ConvNet net(rng);
  auto f = [&](const auto& v) { return net(v); };
  const TD x = randn<double>(Shape{3, 2, 6, 6}, rng);
  const auto est = jacobian_sigma(f, x, randn<double>(Shape{3, 3}, rng), 300);
  for (index_t i = 0; i < 3; ++i) {
    const Eigen::MatrixXd J = sample_jacobian(f, x, i);
    const double smax = Eigen::JacobiSVD<Eigen::MatrixXd>(J).singularValues()(0);
    BOOST_TEST(close(est.sigma.value()[i], smax, 1e-7, 1e-10), "sample " << i << ": " << est.sigma.value()[i] << " vs " << smax);
  }
  // The recorded pass's embedding is f(x).
  const TD y = f(x);
  for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(close(est.embedding.value()[i], y[i], 1e-13, 1e-15));
}

BOOST_AUTO_TEST_CASE(samples_are_independent) {
  Rng rng(3);
  ConvNet net(rng);
  auto f = [&](const auto& v) { return net(v); };
  const TD x = randn<double>(Shape{4, 2, 6, 6}, rng), u0 = randn<double>(Shape{4, 3}, rng);
  const auto all = jacobian_sigma(f, x, u0, 2);
  const auto first = jacobian_sigma(f, slice(x, 0, 1, 2), slice(u0, 0, 1, 2), 2);
  BOOST_TEST(close(first.sigma.value()[0], all.sigma.value()[1], 1e-12, 1e-14));
  BOOST_TEST(close(first.sigma.value()[1], all.sigma.value()[2], 1e-12, 1e-14));
}

BOOST_AUTO_TEST_CASE(sigma_gradient_against_central_differences_of_plain_backprops) {
  Rng rng(4);
  Mlp mlp(4, 6, 3, rng);
  const TD x = randn<double>(Shape{5, 4}, rng), u0 = randn<double>(Shape{5, 3}, rng);
  check_sigma_gradient("mlp squared", mlp, x, u0, JacobianPenalty::Squared, 1);
  check_sigma_gradient("mlp absolute, 3 steps", mlp, x, u0, JacobianPenalty::Absolute, 3);
  ConvNet conv(rng);
  const TD xc = randn<double>(Shape{2, 2, 6, 6}, rng), uc = randn<double>(Shape{2, 3}, rng);
  check_sigma_gradient("conv squared", conv, xc, uc, JacobianPenalty::Squared, 1);
  check_sigma_gradient("conv absolute", conv, xc, uc, JacobianPenalty::Absolute, 2);
}

BOOST_AUTO_TEST_CASE(power_iteration_leaves_parameter_gradients_alone) {
  Rng rng(5);
  Mlp mlp(4, 6, 3, rng);
  auto f = [&](const auto& v) { return mlp(v); };
  for (P* p : mlp.params()) p->grad = TD();
  const TD x = randn<double>(Shape{5, 4}, rng);
  const auto it = jacobian_power_iteration(f, x, rng, 3);
  for (P* p : mlp.params()) BOOST_TEST(!p->grad.defined());
  BOOST_TEST(it.u.shape() == (Shape{5, 3}));
  BOOST_TEST(it.v.shape() == x.shape());
  // And jacobian_sigma's gradient is exactly the penalty's, not polluted by the VJPs.
  for (P* p : mlp.params()) p->grad = zeros<double>(p->value.shape());
  const TD u0 = randn<double>(Shape{5, 3}, rng);
  const auto est = jacobian_sigma(f, x, u0, 2);
  backward(sum_all(est.sigma));
  const TD g1 = clone(mlp.w1.grad);
  for (P* p : mlp.params()) p->zero_grad();
  const auto rec = jvp_recorded(f, x, est.v);
  backward(sum_all(sum(mul(rec.jvp, VD(est.u)), {1})));
  BOOST_TEST(((g1.array() - mlp.w1.grad.array()).abs() < 1e-14).all());
}

BOOST_AUTO_TEST_CASE(seeded_u0_is_reproducible) {
  Rng rng(6);
  Mlp mlp(4, 6, 3, rng);
  auto f = [&](const auto& v) { return mlp(v); };
  const TD x = randn<double>(Shape{5, 4}, rng);
  Rng r1(42), r2(42), r3(42);
  const auto a = jacobian_sigma(f, x, r1), b = jacobian_sigma(f, x, r2);
  const auto c = jacobian_sigma(f, x, randn<double>(Shape{5, 3}, r3));
  for (index_t i = 0; i < 5; ++i) {
    BOOST_TEST(a.sigma.value()[i] == b.sigma.value()[i]);
    BOOST_TEST(a.sigma.value()[i] == c.sigma.value()[i]);
  }
}

BOOST_AUTO_TEST_CASE(penalties_and_hinge) {
  const TD s = from_vector<double>(Shape{4}, {0.5, 1.0, 1.5, 3.0});
  BOOST_TEST(close(jacobian_penalty(s)[0], (0.25 + 0 + 0.25 + 4) / 4, 1e-15, 0));
  BOOST_TEST(close(jacobian_penalty(s, 1.0, JacobianPenalty::Absolute)[0], (0.5 + 0 + 0.5 + 2) / 4, 1e-15, 0));
  BOOST_TEST(close(jacobian_penalty(s, 2.0)[0], (2.25 + 1 + 0.25 + 1) / 4, 1e-15, 0));
  // Hinge: rows of norm 0.6, 2, 0.5 → ((−0.4)² + 0 + (−0.5)²)/3.
  const TD ft = from_vector<double>(Shape{3, 2}, {0.36, 0.48, 0, 2, 0.3, -0.4});
  BOOST_TEST(close(norm_hinge(ft)[0], (0.16 + 0.25) / 3, 1e-14, 0));
  BOOST_TEST(norm_hinge(from_vector<double>(Shape{2, 2}, {1, 1, 0, 1.5}))[0] == 0.0);
  Rng rng(7);
  TD near = randn<double>(Shape{6, 4}, rng);
  for (index_t i = 0; i < 6; ++i) near.matrix().row(i) *= (0.4 + 0.25 * double(i)) / near.matrix().row(i).norm();
  check_gradient("hinge", [](const auto& v) { return norm_hinge(v[0]); }, {near});
  check_gradient("penalty squared", [](const auto& v) { return jacobian_penalty(v[0], 1.0); }, {s});
  check_jvp("hinge", [](const auto& v) { return norm_hinge(v[0]); }, {near});
  BOOST_TEST(static_cast<int>(jacobian_penalty_from_string("absolute")) == static_cast<int>(JacobianPenalty::Absolute));
  BOOST_CHECK_THROW(jacobian_penalty_from_string("cubic"), Error);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  Rng rng(8);
  ConvNet net(rng);
  Parameter<float> c1{Tensor<float>(net.c1.value.shape()), {}}, gw{Tensor<float>(Shape{4}), {}}, gb{Tensor<float>(Shape{4}), {}},
      fw{Tensor<float>(Shape{3, 4}), {}}, fb{Tensor<float>(Shape{3}), {}};
  c1.value.array() = net.c1.value.array().cast<float>();
  gw.value.array() = net.gw.value.array().cast<float>();
  gb.value.array() = net.gb.value.array().cast<float>();
  fw.value.array() = net.fw.value.array().cast<float>();
  fb.value.array() = net.fb.value.array().cast<float>();
  auto ff = [&](const auto& x) {
    using V = std::decay_t<decltype(x)>;
    V h = elu(conv2d(x, lift<V>(c1), 1, 1));
    h = elu(group_norm(h, 2, lift<V>(gw), lift<V>(gb), 1e-5f));
    return linear(mean(h, {2, 3}), lift<V>(fw), lift<V>(fb));
  };
  auto fd = [&](const auto& v) { return net(v); };
  const TD x = randn<double>(Shape{3, 2, 6, 6}, rng), u0 = randn<double>(Shape{3, 3}, rng);
  Tensor<float> xf(x.shape()), uf(u0.shape());
  xf.array() = x.array().cast<float>();
  uf.array() = u0.array().cast<float>();
  const auto sd = jacobian_sigma(fd, x, u0, 2);
  const auto sf = jacobian_sigma(ff, xf, uf, 2);
  for (index_t i = 0; i < 3; ++i) BOOST_TEST(close(sf.sigma.value()[i], sd.sigma.value()[i], 1e-4, 1e-5));
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
  Rng rng(9);
  Mlp mlp(4, 6, 3, rng);
  auto f = [&](const auto& v) { return mlp(v); };
  const TD x = randn<double>(Shape{5, 4}, rng), u0 = randn<double>(Shape{5, 3}, rng);
  BOOST_CHECK_THROW(jacobian_sigma(f, x, u0, 0), Error);
  BOOST_CHECK_THROW(jacobian_sigma(f, x, randn<double>(Shape{5, 4}, rng)), Error);
  BOOST_CHECK_THROW(jacobian_sigma(f, x, randn<double>(Shape{4, 3}, rng)), Error);
  TD bad = clone(x);
  bad[3] = std::nan("");
  BOOST_CHECK_THROW(jacobian_sigma(f, bad, u0), Error);
  BOOST_CHECK_THROW(jacobian_sigma(f, TD(), u0), Error);
  // f must map the batch to b×p.
  auto flat = [&](const auto& v) { return reshape(mlp(v), Shape{1, 15}); };
  BOOST_CHECK_THROW(jacobian_sigma(flat, x, rng), Error);
}
