#define BOOST_TEST_MODULE autodiff_composite
#include <boost/test/unit_test.hpp>

#include "common/gradcheck.hpp"

using namespace structgan;
using namespace structgan::testing;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
/// The small composite network of the foundation issue, written once over V:
/// conv → group_norm → ELU → avg-pool → conv → mean over H, W → linear.
template <class V>
V small_net(const V& x, const V& w1, const V& gw, const V& gb, const V& w2, const V& lw, const V& lb) {
  V h = elu(group_norm(conv2d(x, w1, 1, 1), 2, gw, gb));
  h = conv2d(avg_pool2d(h, 2), w2, 1, 1);
  return linear(mean(h, {2, 3}), lw, lb);
}
}  // namespace

BOOST_AUTO_TEST_CASE(composite_network_all_checks) {
  const std::vector<TD> in = {rnd({2, 3, 6, 6}, 1), rnd({4, 3, 3, 3}, 2), rnd({4}, 3, 0.5, 1.5), rnd({4}, 4),
                              rnd({5, 4, 3, 3}, 5), rnd({3, 5}, 6), rnd({3}, 7)};
  check_op("composite network", [](const auto& v) { return small_net(v[0], v[1], v[2], v[3], v[4], v[5], v[6]); }, in);
}

BOOST_AUTO_TEST_CASE(functional_vjp_jvp_and_recorded_jvp) {
  Rng rng(9);
  Parameter<double> w1{rnd({4, 3, 3, 3}, 10)}, w2{rnd({6, 4, 1, 1}, 11)};
  auto net = [&](const auto& x) {
    using V = std::decay_t<decltype(x)>;
    return reshape(mean(conv2d(elu(conv2d(x, lift<V>(w1), 1, 1)), lift<V>(w2)), {2, 3}), Shape{x.shape()[0], 6});
  };
  const TD x = rnd({2, 3, 5, 5}, 12), v = randn<double>(x.shape(), rng), u = randn<double>(Shape{2, 6}, rng);
  const auto r = vjp(net, x, u);
  const auto j = jvp(net, x, v);
  BOOST_TEST(std::abs(dot(u, j.jvp) - dot(r.vjp, v)) < 1e-12 * (1 + std::abs(dot(u, j.jvp))));
  for (index_t i = 0; i < j.value.numel(); ++i) BOOST_TEST(j.value[i] == r.value[i]);
  // vjp differentiates with respect to x only: parameter gradients stay untouched.
  BOOST_TEST((!w1.grad.defined() || w1.grad.array().abs().maxCoeff() == 0.0));
  // Parameters lifted inside net receive the gradient of s = Σ u ⊙ Jv from one backward pass.
  w1.zero_grad();
  w2.zero_grad();
  const auto rec = jvp_recorded(net, x, v);
  backward(sum_all(mul(rec.jvp, Var<double>(u))));
  BOOST_REQUIRE(w1.grad.defined());
  // Finite differences of s in one weight entry.
  const double h = 1e-6;
  for (index_t e : {0, 17, 50}) {
    const double keep = w1.value[e];
    w1.value[e] = keep + h;
    const double sp = dot(u, jvp(net, x, v).jvp);
    w1.value[e] = keep - h;
    const double sm = dot(u, jvp(net, x, v).jvp);
    w1.value[e] = keep;
    BOOST_TEST(close(w1.grad[e], (sp - sm) / (2 * h), 1e-6, 1e-8));
  }
}

BOOST_AUTO_TEST_CASE(no_grad_scope_records_nothing) {
  Var<double> x(rnd({3, 3}, 13), true);
  {
    NoGradGuard guard;
    Var<double> y = exp(x);
    BOOST_TEST(!y.requires_grad());
    BOOST_TEST(y.node()->parents.empty());
  }
  Var<double> z = exp(x);
  BOOST_TEST(z.requires_grad());
}

BOOST_AUTO_TEST_CASE(backward_releases_the_graph) {
  Var<double> x(rnd({3, 3}, 14), true);
  Tensor<double> big = rnd({100, 100}, 15);
  std::weak_ptr<VarNode<double, Cpu>> inner;
  Var<double> y;
  {
    Var<double> h = exp(x);
    inner = h.node();
    y = sum_all(square(h));
  }
  BOOST_TEST(!inner.expired());  // kept alive by y's graph
  backward(y);
  BOOST_TEST(inner.expired());   // released by backward
  BOOST_TEST(y.node()->parents.empty());
  BOOST_TEST(x.grad().defined());
}

BOOST_AUTO_TEST_CASE(parameters_accumulate_across_uses) {
  Parameter<double> p{rnd({2, 2}, 16)};
  auto f = [&](const auto& x) {
    using V = std::decay_t<decltype(x)>;
    return matmul(x, lift<V>(p));
  };
  const TD x = rnd({3, 2}, 17);
  Var<double> a = f(Var<double>(x)), b = f(Var<double>(x));
  backward(sum_all(add(a, b)));
  TD once = p.grad;
  const TD want = matmul(x, ones<double>(Shape{3, 2}), true, false);
  for (index_t i = 0; i < 4; ++i) BOOST_TEST(std::abs(once[i] - 2 * want[i]) < 1e-13);
}
