#define BOOST_TEST_MODULE nn_mixed_sigma
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "structgan/autodiff.hpp"
#include "structgan/nn/resnet.hpp"

// The parameter gradient that the Jacobian regularizer needs (SPEC §4): for the full CIFAR
// discriminator in double on a 2×3×32×32 batch, s = Σ u ⊙ (J_x f̃ · v) is computed in one dual
// forward pass recorded on the reverse tape (jvp_recorded) and back-propagated once. Its
// parameter gradient must equal the central difference of two plain backprops,
// (∇θ[uᵀ f̃(x + h v)] − ∇θ[uᵀ f̃(x − h v)]) / 2h, on sampled parameter entries.

using namespace structgan;
using TD = Tensor<double, Cpu>;

BOOST_AUTO_TEST_CASE(sigma_parameter_gradient_of_the_cifar_discriminator) {
  Rng rng(2024);
  nn::ResNet18Discriminator<double> d(nn::DiscriminatorOptions{}, rng);
  // Non-trivial GroupNorm affine parameters (weight 1, bias 0 at initialization).
  nn::for_each_parameter(d, [&](const std::string& n, auto& p) {
    if (n.find(".gn") != std::string::npos)
      for (index_t i = 0; i < p.value.numel(); ++i) p.value[i] = rng.uniform(0.5, 1.5);
  });
  const TD x = rand_uniform<double>(Shape{2, 3, 32, 32}, rng, -1, 1);
  const TD v = randn<double>(x.shape(), rng);
  const TD u = randn<double>(Shape{2, 128}, rng);
  auto embed = [&](const auto& z) { return d.embed(z); };
  auto params = nn::named_parameters(d);

  // s = Σ u ⊙ Jv, one recorded dual pass + one backward.
  nn::zero_grad(d);
  auto rec = jvp_recorded(embed, x, v);
  BOOST_REQUIRE(rec.jvp.shape() == (Shape{2, 128}));
  backward(sum_all(mul(rec.jvp, Var<double>(u))));
  std::vector<TD> got;
  for (auto& p : params) got.push_back(p.param->grad.defined() ? clone(p.param->grad) : zeros<double>(p.param->value.shape()));
  // The recorded JVP equals the plain forward-mode JVP.
  const auto plain = jvp(embed, x, v);
  for (index_t i = 0; i < plain.jvp.numel(); ++i) BOOST_TEST(std::abs(rec.jvp.value()[i] - plain.jvp[i]) < 1e-12 * (1 + std::abs(plain.jvp[i])));

  // ∇θ[uᵀ f̃(x ± h v)] by plain backprop. ELU's second derivative jumps at 0, so the central
  // difference carries an error proportional to h from the units whose input crosses 0 within
  // ±h·(J v): h = 1e-5 leaves ~1e-3 relative errors in the stem, h = 1e-7 about 2e-5.
  const double h = 1e-7;
  auto grads_at = [&](double sgn) {
    TD xs = clone(x);
    xs.array() += sgn * h * v.array();
    nn::zero_grad(d);
    backward(d.embed(Var<double>(xs)), u);
    std::vector<TD> g;
    for (auto& p : params) g.push_back(p.param->grad.defined() ? clone(p.param->grad) : zeros<double>(p.param->value.shape()));
    return g;
  };
  const std::vector<TD> gp = grads_at(+1), gm = grads_at(-1);

  int checked = 0, nonzero = 0;
  double worst = 0;
  Rng pick(7);
  for (std::size_t k = 0; k < params.size(); ++k) {
    // A handful of entries of every parameter tensor (its largest entry of the gradient, and random ones).
    std::vector<index_t> idx;
    index_t best = 0;
    for (index_t i = 1; i < got[k].numel(); ++i)
      if (std::abs(got[k][i]) > std::abs(got[k][best])) best = i;
    idx.push_back(best);
    for (int r = 0; r < 3; ++r) idx.push_back(static_cast<index_t>(pick.below(static_cast<std::uint64_t>(got[k].numel()))));
    for (index_t e : idx) {
      const double fd = (gp[k][e] - gm[k][e]) / (2 * h);
      BOOST_TEST(std::abs(got[k][e] - fd) <= 1e-6 + 1e-4 * std::abs(fd),
                 params[k].name << " entry " << e << ": mixed mode " << got[k][e] << " vs central difference " << fd);
      worst = std::max(worst, std::abs(got[k][e] - fd) / (1e-6 + std::abs(fd)));
      ++checked;
      nonzero += std::abs(fd) > 1e-8;
    }
  }
  BOOST_TEST_MESSAGE("largest relative deviation from the central differences: " << worst);
  BOOST_TEST(params.size() == 48u);  // stem, 8 blocks × 4, 3 shortcuts × 3, head 4, probe 2
  BOOST_TEST(checked == 4 * 48);
  BOOST_TEST(nonzero > checked / 2);  // the comparison is not between zeros
  // The probe is not part of f̃: its gradient stays zero.
  BOOST_TEST(d.probe.weight.grad.defined() == false);
}
