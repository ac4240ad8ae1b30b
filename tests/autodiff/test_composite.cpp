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

BOOST_AUTO_TEST_CASE(unsaved_activations_are_freed_before_backward) {
  // h = x·3 (its rule saves nothing), y = Σ h²: square saves h, so h's storage lives on in that
  // rule; g = h + 1 is saved by no rule, so its storage goes when the last handle to g does,
  // while its node stays in the graph until backward. The gradients are unchanged.
  Var<double> x(rnd({4, 5}, 16), true);
  Tensor<double> h_value, g_value;
  Var<double> y;
  {
    Var<double> h = mul_scalar(x, 3.0);
    Var<double> g = add_scalar(h, 1.0);
    h_value = h.value();
    g_value = g.value();
    y = add(sum_all(square(h)), sum_all(g));
    BOOST_TEST(g_value.use_count() == 2);  // g's node and this copy
  }
  BOOST_TEST(g_value.use_count() == 1);  // only this copy: g's node let go of it
  BOOST_TEST(h_value.use_count() > 1);   // square's rule saved h
  backward(y);
  // ∂y/∂x = 3·(2h + 1) = 18x + 3
  const std::vector<double> xs = to_vector(x.value()), gs = to_vector(x.grad());
  for (std::size_t i = 0; i < xs.size(); ++i) BOOST_TEST(gs[i] == 18 * xs[i] + 3, boost::test_tools::tolerance(1e-12));
  // A leaf keeps its value when its handles go (parameters, input_gradient's zeros_like).
  std::weak_ptr<VarNode<double, Cpu>> leaf;
  Var<double> z;
  {
    Var<double> a(rnd({2, 2}, 17), true);
    leaf = a.node();
    z = sum_all(a);
  }
  BOOST_TEST(leaf.lock()->value.defined());
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

namespace {
/// A network with every kind of op the discriminator uses (conv, GroupNorm, ELU, pooling, mean,
/// linear, a residual add), over parameters lifted into any value type.
struct TapeNet {
  Parameter<double> w1{rnd({4, 3, 3, 3}, 30)}, gw{rnd({4}, 31, 0.5, 1.5)}, gb{rnd({4}, 32)}, w2{rnd({4, 4, 3, 3}, 33)},
      lw{rnd({3, 4}, 34)}, lb{rnd({3}, 35)};
  template <class V>
  V operator()(const V& x) {
    V h = elu(group_norm(conv2d(x, lift<V>(w1), 1, 1), 2, lift<V>(gw), lift<V>(gb)));
    h = add(h, elu(conv2d(h, lift<V>(w2), 1, 1)));
    return linear(mean(avg_pool2d(h, 2), {2, 3}), lift<V>(lw), lift<V>(lb));
  }
  std::vector<Parameter<double>*> params() { return {&w1, &gw, &gb, &w2, &lw, &lb}; }
};
}  // namespace

BOOST_AUTO_TEST_CASE(input_gradient_is_the_vjp_and_keeps_the_graph) {
  TapeNet net;
  Rng rng(36);
  const TD x = rnd({2, 3, 6, 6}, 37), u = randn<double>(Shape{2, 3}, rng), s = randn<double>(Shape{2, 3}, rng);
  Var<double> xv(x, true);
  Var<double> y = net(xv);
  // uᵀJ equals the frozen-parameter VJP, and no parameter gradient is touched.
  const TD g = input_gradient(y, u, xv);
  const TD want = vjp(net, x, u).vjp;
  for (index_t i = 0; i < g.numel(); ++i) BOOST_TEST(g[i] == want[i]);
  for (auto* p : net.params()) BOOST_TEST((!p->grad.defined() || p->grad.array().abs().maxCoeff() == 0.0));
  BOOST_TEST(!xv.grad().defined());  // the leaf's gradient is handed back, not kept
  // The graph is kept: a backward from y afterwards gives the gradients of a fresh graph.
  backward(y, s);
  std::vector<TD> kept;
  for (auto* p : net.params()) kept.push_back(clone(p->grad)), p->zero_grad();
  const TD x_grad = xv.grad();
  Var<double> xf(x, true);
  backward(net(xf), s);
  for (std::size_t k = 0; k < kept.size(); ++k)
    for (index_t i = 0; i < kept[k].numel(); ++i) BOOST_TEST(kept[k][i] == net.params()[k]->grad[i]);
  for (index_t i = 0; i < x_grad.numel(); ++i) BOOST_TEST(x_grad[i] == xf.grad()[i]);
  // A leaf's gradient from an earlier backward survives an input_gradient pass.
  Var<double> a(rnd({3}, 38), true);
  Var<double> z = mul(a, a);
  backward(sum_all(z));
  const TD before = clone(a.grad());
  Var<double> c(rnd({3}, 39), true);
  const TD gc = input_gradient(mul(z, c), filled<double>(Shape{3}, 1.0), c);
  for (index_t i = 0; i < 3; ++i) BOOST_TEST(gc[i] == z.value()[i]);
  for (index_t i = 0; i < 3; ++i) BOOST_TEST(a.grad()[i] == before[i]);
  // Not depending on x: zeros.
  const TD none = input_gradient(z, filled<double>(Shape{3}, 1.0), c);
  BOOST_TEST(none.array().abs().maxCoeff() == 0.0);
}

BOOST_AUTO_TEST_CASE(primal_tape_replays_the_primals_of_a_dual_pass) {
  using DV = DualTensor<Var<double>>;
  TapeNet net;
  Rng rng(40);
  const TD x = rnd({2, 3, 6, 6}, 41), v = randn<double>(x.shape(), rng), u = randn<double>(Shape{2, 3}, rng);
  // Without a tape: the recorded dual pass and the parameter gradient of s = Σ u ⊙ Jv.
  DV plain = net(DV(Var<double>(x), Var<double>(v)));
  backward(sum_all(mul(plain.tangent, Var<double>(u))));
  std::vector<TD> want;
  for (auto* p : net.params()) want.push_back(clone(p->grad)), p->zero_grad();
  // Record a pass without tangents, replay it with v: the same primal Vars come back, the same
  // J·v and the same gradients (through the recorded pass's nodes).
  PrimalTape tape;
  Var<double> first;
  {
    PrimalTape::Scope record(tape, PrimalTape::Mode::Record);
    first = net(DV(Var<double>(x))).primal;
  }
  BOOST_TEST(tape.size() > 10u);
  DV replayed;
  {
    PrimalTape::Scope replay(tape, PrimalTape::Mode::Replay);
    replayed = net(DV(Var<double>(x), Var<double>(v)));
    tape.require_replayed("test");
  }
  BOOST_TEST(replayed.primal.node() == first.node());
  for (index_t i = 0; i < plain.tangent.numel(); ++i) BOOST_TEST(replayed.tangent.value()[i] == plain.tangent.value()[i]);
  backward(sum_all(mul(replayed.tangent, Var<double>(u))));
  for (std::size_t k = 0; k < want.size(); ++k)
    for (index_t i = 0; i < want[k].numel(); ++i)
      BOOST_TEST(close(net.params()[k]->grad[i], want[k][i], 1e-13, 1e-14));
  // Different code in the replaying pass: a clear error, never a wrong value.
  {
    PrimalTape::Scope replay(tape, PrimalTape::Mode::Replay);
    const DV a{Var<double>(x), Var<double>(v)};
    BOOST_CHECK_THROW(matmul(reshape(a, Shape{2, 108}), DV(Var<double>(rnd({108, 2}, 42)))), Error);
  }
  {
    PrimalTape::Scope replay(tape, PrimalTape::Mode::Replay);
    BOOST_CHECK_THROW(tape.require_replayed("test"), Error);  // nothing used yet
  }
  PrimalTape tiny;
  {
    PrimalTape::Scope record(tiny, PrimalTape::Mode::Record);
    (void)exp(DV(Var<double>(x)));
  }
  {
    PrimalTape::Scope replay(tiny, PrimalTape::Mode::Replay);
    (void)exp(DV(Var<double>(x)));
    BOOST_CHECK_THROW(exp(DV(Var<double>(x))), Error);  // more values than were recorded
  }
}
