#define BOOST_TEST_MODULE cuda_network_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// A small network written once over the value type and the device: its forward pass, reverse-mode
// gradients, JVP and recorded JVP (reverse over forward) on the GPU against the same code on the
// CPU, and the GPU's gradients against central finite differences (double).
#include <tuple>

#include "cuda_test_util.hpp"
#include "gpu_test_main.hpp"

using namespace structgan;
using namespace structgan::testing;
using Scalars = std::tuple<float, double>;

namespace {

template <class T>
constexpr double net_tol() {
  return std::is_same_v<T, float> ? 2e-3 : 1e-9;
}

template <class T, class D>
struct Net {
  Parameter<T, D> w1, gw, gb, w2, bw, bb, w3, b3, wc;
  std::vector<std::pair<std::string, Parameter<T, D>*>> all() {
    return {{"conv1.weight", &w1}, {"gn.weight", &gw},   {"gn.bias", &gb},  {"conv2.weight", &w2}, {"bn.weight", &bw},
            {"bn.bias", &bb},      {"fc.weight", &w3},   {"fc.bias", &b3},  {"classes", &wc}};
  }
};

template <class T>
Net<T, Cpu> make_net(Rng& rng) {
  Net<T, Cpu> n;
  n.w1.value = random<T>(Shape{8, 3, 3, 3}, rng, -0.4, 0.4);
  n.gw.value = random<T>(Shape{8}, rng, 0.5, 1.5);
  n.gb.value = random<T>(Shape{8}, rng, -0.2, 0.2);
  n.w2.value = random<T>(Shape{8, 8, 3, 3}, rng, -0.2, 0.2);
  n.bw.value = random<T>(Shape{8}, rng, 0.5, 1.5);
  n.bb.value = random<T>(Shape{8}, rng, -0.2, 0.2);
  n.w3.value = random<T>(Shape{10, 128}, rng, -0.1, 0.1);
  n.b3.value = random<T>(Shape{10}, rng, -0.1, 0.1);
  n.wc.value = random<T>(Shape{3, 10}, rng, -1, 1);
  return n;
}

template <class T>
Net<T, Cuda> on_gpu(Net<T, Cpu>& n) {
  Net<T, Cuda> g;
  auto src = n.all();
  auto dst = g.all();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].second->value = gpu(src[i].second->value);
  return g;
}

/// Features (4×10) of images x (4×3×8×8).
template <class V, class T, class D>
V features(Net<T, D>& net, const V& x) {
  V h = conv2d(x, lift<V>(net.w1), 1, 1);
  h = elu(group_norm(h, 2, lift<V>(net.gw), lift<V>(net.gb)));
  h = max_pool2d(h, 2);
  h = conv2d(h, lift<V>(net.w2), 1, 1);
  h = tanh(batch_norm_train(h, lift<V>(net.bw), lift<V>(net.bb), T(1e-5), static_cast<NormStats<T, D>*>(nullptr)));
  h = avg_pool2d(upsample_nearest2x(h), 2);
  h = add(h, mul_scalar(relu(h), T(0.5)));
  return linear(reshape(h, Shape{4, 128}), lift<V>(net.w3), lift<V>(net.b3));
}

/// A scalar touching every kind of op: cross-entropy of normalized features, a Gaussian log det
/// (host Cholesky), gather/slice/concat.
template <class V, class T, class D>
V loss(Net<T, D>& net, const V& x, const std::vector<int>& labels) {
  const V f = features(net, x);
  const V logits = mul_scalar(matmul(row_normalize(f), lift<V>(net.wc), false, true), T(5));
  const V ce = softmax_cross_entropy(logits, labels);
  Tensor<T, Cpu> ridge = zeros<T>(Shape{10, 10});
  for (index_t i = 0; i < 10; ++i) ridge.at(i, i) = T(0.5);
  const V cov = add(mul_scalar(matmul(f, f, true, false), T(0.25)), constant<V>(to_device<D>(ridge)));
  const V g = gather_rows(f, {3, 1, 1, 0});
  const V cat = concat(std::vector<V>{slice(f, 1, 0, 4), slice(g, 1, 4, 6)}, 1);
  return add(add(ce, mul_scalar(logdet_spd(cov), T(0.1))), mean_all(square(cat)));
}

const std::vector<int> labels{0, 2, 1, 2};

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(forward_matches_cpu, T, Scalars) {
  Rng rng(21);
  Net<T, Cpu> cpu = make_net<T>(rng);
  Net<T, Cuda> dev = on_gpu(cpu);
  const Tensor<T, Cpu> x = random<T>(Shape{4, 3, 8, 8}, rng);
  check_close("features", features(cpu, x), features(dev, gpu(x)), net_tol<T>());
  check_close("loss", loss(cpu, x, labels), loss(dev, gpu(x), labels), net_tol<T>());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(backward_matches_cpu, T, Scalars) {
  Rng rng(22);
  Net<T, Cpu> cpu = make_net<T>(rng);
  Net<T, Cuda> dev = on_gpu(cpu);
  const Tensor<T, Cpu> x = random<T>(Shape{4, 3, 8, 8}, rng);
  Var<T, Cpu> xc(x, true);
  Var<T, Cuda> xd(gpu(x), true);
  const Var<T, Cpu> lc = loss(cpu, xc, labels);
  const Var<T, Cuda> ld = loss(dev, xd, labels);
  check_close("loss (recorded)", lc.value(), ld.value(), net_tol<T>());
  backward(lc);
  backward(ld);
  check_close("input gradient", xc.grad(), xd.grad(), net_tol<T>());
  auto pc = cpu.all();
  auto pd = dev.all();
  for (std::size_t i = 0; i < pc.size(); ++i) check_close(pc[i].first + " gradient", pc[i].second->grad, pd[i].second->grad, net_tol<T>());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(jvp_matches_cpu, T, Scalars) {
  Rng rng(23);
  Net<T, Cpu> cpu = make_net<T>(rng);
  Net<T, Cuda> dev = on_gpu(cpu);
  const Tensor<T, Cpu> x = random<T>(Shape{4, 3, 8, 8}, rng), v = random<T>(x.shape(), rng);
  const auto rc = jvp([&](const auto& z) { return features(cpu, z); }, x, v);
  const auto rd = jvp([&](const auto& z) { return features(dev, z); }, gpu(x), gpu(v));
  check_close("jvp value", rc.value, rd.value, net_tol<T>());
  check_close("jvp tangent", rc.jvp, rd.jvp, net_tol<T>());
  // and through the whole scalar loss
  const auto sc = jvp([&](const auto& z) { return loss(cpu, z, labels); }, x, v);
  const auto sd = jvp([&](const auto& z) { return loss(dev, z, labels); }, gpu(x), gpu(v));
  check_close("loss directional derivative", sc.jvp, sd.jvp, net_tol<T>());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(recorded_jvp_gradients_match_cpu, T, Scalars) {
  // s = Σ u ⊙ J_x f · v, back-propagated to the parameters (reverse over forward).
  Rng rng(24);
  Net<T, Cpu> cpu = make_net<T>(rng);
  Net<T, Cuda> dev = on_gpu(cpu);
  const Tensor<T, Cpu> x = random<T>(Shape{4, 3, 8, 8}, rng), v = random<T>(x.shape(), rng), u = random<T>(Shape{4, 10}, rng);
  const auto rc = jvp_recorded([&](const auto& z) { return features(cpu, z); }, x, v);
  const auto rd = jvp_recorded([&](const auto& z) { return features(dev, z); }, gpu(x), gpu(v));
  check_close("recorded jvp", rc.jvp.value(), rd.jvp.value(), net_tol<T>());
  backward(sum_all(mul(rc.jvp, Var<T, Cpu>(u))));
  backward(sum_all(mul(rd.jvp, Var<T, Cuda>(gpu(u)))));
  auto pc = cpu.all();
  auto pd = dev.all();
  for (std::size_t i = 0; i < 8; ++i)  // the classifier weights are not used by the features
    check_close(pc[i].first + " gradient of uᵀJv", pc[i].second->grad, pd[i].second->grad, net_tol<T>());
}

BOOST_AUTO_TEST_CASE(gpu_gradients_match_finite_differences) {
  using T = double;
  Rng rng(25);
  Net<T, Cpu> cpu = make_net<T>(rng);
  Net<T, Cuda> dev = on_gpu(cpu);
  const Tensor<T, Cuda> x = gpu(random<T>(Shape{4, 3, 8, 8}, rng));
  backward(loss(dev, Var<T, Cuda>(x), labels));
  auto params = dev.all();
  for (auto& entry : params) {
    const std::string& name = entry.first;
    Parameter<T, Cuda>* p = entry.second;
    const Tensor<T, Cpu> grad = host(p->grad), value = host(p->value);
    for (index_t i : {index_t(0), value.numel() / 2, value.numel() - 1}) {
      const double h = 1e-5;
      auto at = [&](double delta) {
        Tensor<T, Cpu> moved = clone(value);
        moved[i] += delta;
        p->value = gpu(moved);
        const double l = host(loss(dev, x, labels))[0];
        p->value = gpu(value);
        return l;
      };
      const double fd = (at(h) - at(-h)) / (2 * h);
      BOOST_TEST_CONTEXT(name << "[" << i << "]") { BOOST_TEST(std::abs(fd - grad[i]) <= 1e-6 * std::max(1.0, std::abs(fd))); }
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_with_the_same_errors) {
  const Tensor<float, Cuda> a = filled<float, Cuda>(Shape{2, 3}, 1.0f), b = filled<float, Cuda>(Shape{4, 3}, 1.0f);
  BOOST_CHECK_THROW(add(a, b), Error);
  BOOST_CHECK_THROW(matmul(a, b), Error);
  BOOST_CHECK_THROW(conv2d(a, b), Error);
  BOOST_CHECK_THROW(logdet_spd(filled<float, Cuda>(Shape{2, 2}, -1.0f)), Error);  // not positive definite
}
