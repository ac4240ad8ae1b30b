// The gradient and the JVP of a small MLP discriminator on the double spiral, in every mode:
// reverse mode (vjp), forward mode (jvp), and reverse over forward (the parameter gradient of
// uᵀ J v that the Jacobian regularizer needs, SPEC §4), each checked against finite differences.
#include <cmath>
#include <cstdio>

#include "structgan/core/build_info.hpp"
#include "structgan/structgan.hpp"

using namespace structgan;

namespace {
/// x (n×2) → ELU(linear) → ELU(linear) → linear: f̃ (n×4), written once over the value type V.
struct Mlp {
  Parameter<double> w1, b1, w2, b2, w3, b3;
  explicit Mlp(Rng& rng)
      : w1{randn<double>(Shape{32, 2}, rng, 0, 0.7)}, b1{randn<double>(Shape{32}, rng, 0, 0.1)},
        w2{randn<double>(Shape{32, 32}, rng, 0, 0.18)}, b2{randn<double>(Shape{32}, rng, 0, 0.1)},
        w3{randn<double>(Shape{4, 32}, rng, 0, 0.18)}, b3{randn<double>(Shape{4}, rng, 0, 0.1)} {}
  template <class V>
  V operator()(const V& x) {
    V h = elu(linear(x, lift<V>(w1), lift<V>(b1)));
    h = elu(linear(h, lift<V>(w2), lift<V>(b2)));
    return linear(h, lift<V>(w3), lift<V>(b3));
  }
};

/// The double spiral of SPEC §7: t = 1.5π(1 + 2U), (t cos t, t sin t) + N(0, 0.1²), second arm rotated.
Tensor<double> double_spiral(index_t n, Rng& rng) {
  Tensor<double> x(Shape{n, 2});
  for (index_t i = 0; i < n; ++i) {
    const double t = 1.5 * M_PI * (1 + 2 * rng.uniform()), s = i % 2 ? -1.0 : 1.0;
    x.at(i, 0) = s * t * std::cos(t) + 0.1 * rng.normal();
    x.at(i, 1) = s * t * std::sin(t) + 0.1 * rng.normal();
  }
  return x;
}
double dot(const Tensor<double>& a, const Tensor<double>& b) { return (a.array() * b.array()).sum(); }
}  // namespace

int main(int argc, char** argv) {
  if (version_requested(argc, argv)) {
    std::puts(build_info().c_str());
    return 0;
  }
  Rng rng(2024);
  Mlp net(rng);
  auto f = [&](const auto& x) { return net(x); };
  const Tensor<double> x = double_spiral(8, rng);
  const Tensor<double> v = randn<double>(x.shape(), rng), u = randn<double>(Shape{8, 4}, rng);

  const auto back = vjp(f, x, u);   // uᵀJ, one backward pass
  const auto fwd = jvp(f, x, v);    // Jv, one dual forward pass
  std::printf("f(x)[0]           = % .12f % .12f % .12f % .12f\n", fwd.value[0], fwd.value[1], fwd.value[2], fwd.value[3]);
  std::printf("<u, Jv>           = % .15f\n<u^T J, v>        = % .15f\n", dot(u, fwd.jvp), dot(back.vjp, v));

  // s = uᵀ J v and its gradient for the first layer's weight, by reverse over forward.
  net.w1.zero_grad();
  const auto rec = jvp_recorded(f, x, v);
  Var<double> s = sum_all(mul(rec.jvp, Var<double>(u)));
  backward(s);
  const double h = 1e-6, keep = net.w1.value[5];
  net.w1.value[5] = keep + h;
  const double sp = dot(u, jvp(f, x, v).jvp);
  net.w1.value[5] = keep - h;
  const double sm = dot(u, jvp(f, x, v).jvp);
  net.w1.value[5] = keep;
  const double fd = (sp - sm) / (2 * h);
  std::printf("d s / d w1[5]     = % .12f (reverse over forward)\n                    % .12f (central difference)\n",
              net.w1.grad[5], fd);
  const bool ok = std::abs(dot(u, fwd.jvp) - dot(back.vjp, v)) < 1e-10 && std::abs(net.w1.grad[5] - fd) < 1e-6;
  std::printf("%s\n", ok ? "all three modes agree" : "MISMATCH");
  return ok ? 0 : 1;
}
