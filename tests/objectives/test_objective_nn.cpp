#define BOOST_TEST_MODULE objectives_nn
#include <boost/test/unit_test.hpp>

// StructuralObjective with the networks of structgan::nn (the 2-D MLP discriminator and
// generator of SPEC §1): the fused and separate passes agree on D's gradients, and a few
// iterations of the SPEC §5 training step (AdamW for D, Adam for G, EMA, memory bank) run with
// finite terms, G's step leaving D's gradients at zero.
#include <cmath>

#include "objectives_test_util.hpp"
#include "structgan/nn/ema.hpp"
#include "structgan/nn/mlp.hpp"
#include "structgan/nn/optim.hpp"
#include "structgan/objectives/structural_objective.hpp"

using namespace structgan;
using namespace structgan::objectives;
using namespace structgan::objtest;

namespace {

/// n points of a noisy double spiral (SPEC §7) and their labels.
template <class T>
Tensor<T> spiral(index_t n, Rng& rng, std::vector<int>* labels) {
  Tensor<T> x(Shape{n, 2});
  labels->assign(static_cast<std::size_t>(n), 0);
  for (index_t i = 0; i < n; ++i) {
    const double t = 1.5 * M_PI * (1 + 2 * rng.uniform());
    const double sgn = (i % 2) ? -1.0 : 1.0;
    x.at(i, 0) = T(sgn * t * std::cos(t) / 10 + 0.01 * rng.normal());
    x.at(i, 1) = T(sgn * t * std::sin(t) / 10 + 0.01 * rng.normal());
    (*labels)[static_cast<std::size_t>(i)] = int(i % 2);
  }
  return x;
}

nn::MlpDiscriminatorOptions d_options() {
  nn::MlpDiscriminatorOptions o;
  o.hidden = 32;
  o.depth = 2;
  o.embed_dim = 16;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(fused_pass_matches_separate_passes_with_the_mlp_discriminator) {
  Rng rng(1);
  nn::MlpDiscriminator<double> d(d_options(), rng);
  nn::MlpGeneratorOptions go;
  go.hidden = 32;
  go.depth = 2;
  nn::MlpGenerator<double> g(go, rng);
  std::vector<int> labels;
  const TD x_real = spiral<double>(24, rng, &labels);
  const TD x_fake = g(g.sample_latent(20, rng));
  MemoryBank<double> bank(64, 32, 16, rng);
  const TD kr = StructuralObjective<double>::keys(d, x_real), kf = StructuralObjective<double>::keys(d, x_fake);
  std::vector<std::vector<double>> grads(2);
  double totals[2];
  for (int fuse = 0; fuse < 2; ++fuse) {
    ObjectiveOptions o;
    o.fuse_jacobian_pass = fuse == 1;
    nn::zero_grad(d);
    Rng r(7);
    const auto step = StructuralObjective<double>(o).discriminator_loss(d, x_real, x_fake, kr, kf, bank, r, labels);
    backward(step.loss);
    totals[fuse] = step.terms.total;
    nn::for_each_parameter(d, [&](const std::string&, auto& p) {
      for (index_t i = 0; i < p.grad.numel(); ++i) grads[static_cast<std::size_t>(fuse)].push_back(p.grad[i]);
    });
  }
  BOOST_TEST(close(totals[0], totals[1], 1e-12, 1e-14));
  BOOST_REQUIRE(grads[0].size() == grads[1].size());
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < grads[0].size(); ++i) {
    worst = std::max(worst, std::abs(grads[0][i] - grads[1][i]));
    scale = std::max(scale, std::abs(grads[0][i]));
  }
  BOOST_TEST(scale > 0);
  BOOST_TEST(worst <= 1e-11 * (1 + scale));
}

BOOST_AUTO_TEST_CASE(a_few_training_iterations) {
  Rng rng(2);
  nn::MlpDiscriminator<float> d(d_options(), rng);
  nn::Ema<nn::MlpDiscriminator<float>> d_ema(d);
  nn::MlpGeneratorOptions go;
  go.hidden = 32;
  go.depth = 2;
  nn::MlpGenerator<float> g(go, rng);
  nn::AdamW<float> opt_d(nn::named_parameters(d), {2e-4, 0.5, 0.999, 1e-8, 0.1});
  nn::Adam<float> opt_g(nn::named_parameters(g), {2e-4, 0.5, 0.999, 1e-8, 0.0});
  StructuralObjective<float> obj;
  MemoryBank<float> bank(100, 32, 16, rng);  // L = 100 with batches of 32: wraps around unevenly
  const index_t b = 32;
  for (int it = 0; it < 4; ++it) {
    std::vector<int> labels;
    const Tensor<float> x_real = spiral<float>(b, rng, &labels);
    const Tensor<float> kr = obj.keys(d_ema.model(), x_real);
    // D step on detached generated points.
    const Tensor<float> x_fake = g(g.sample_latent(b, rng));
    opt_d.zero_grad();
    const auto ds = obj.discriminator_loss(d, x_real, x_fake, kr, obj.keys(d_ema.model(), x_fake), bank, rng, labels);
    backward(ds.loss);
    opt_d.step();
    for (const auto& [name, v] : ds.terms.named()) BOOST_TEST(std::isfinite(v), name << " at iteration " << it);
    BOOST_TEST(ds.terms.sigma_mean > 0);
    // G step with its own forward pass; D's gradients stay zero.
    opt_d.zero_grad();
    opt_g.zero_grad();
    const Var<float> xg = g(Var<float>(g.sample_latent(b, rng)));
    const auto gs = obj.generator_loss(d, x_real, xg, kr, obj.keys(d_ema.model(), value_of(xg)), bank);
    backward(gs.loss);
    bool d_untouched = true, g_touched = false;
    nn::for_each_parameter(d, [&](const std::string&, auto& p) { d_untouched = d_untouched && (p.grad.array() == 0).all(); });
    nn::for_each_parameter(g, [&](const std::string&, auto& p) { g_touched = g_touched || (p.grad.array() != 0).any(); });
    BOOST_TEST(d_untouched);
    BOOST_TEST(g_touched);
    opt_g.step();
    BOOST_TEST(std::isfinite(gs.terms.total));
    d_ema.update(d);
    bank.enqueue(kr, ds.real_values);
    BOOST_TEST(bank.pointer() == ((it + 1) * b) % 100);
  }
}
