#define BOOST_TEST_MODULE cuda_models_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// The paper's networks at full size on the GPU against the same code on the CPU, in double
// (issue #24, item 4): ResNet-18 D (SPEC's width 64 at 32×32) forward, backward and the
// gradient of the Jacobian regularizer's σ penalty (SPEC §4); BigGAN-deep G at 32×32 and at
// 128×128 with its attention block, forward and backward; and a checkpoint saved by the GPU
// trainer resumed on the CPU and back, bit for bit.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../train/train_test_util.hpp"
#include "cuda_test_util.hpp"
#include "gpu_test_main.hpp"
#include "structgan/nn/biggan.hpp"
#include "structgan/nn/resnet.hpp"
#include "structgan/objectives/jacobian.hpp"

using namespace structgan;
using namespace structgan::testing;
using TD = Tensor<double, Cpu>;

namespace {

constexpr double model_tol = 1e-9;  // double: the two devices differ only in summation order

/// Every parameter gradient of the GPU copy of a network against the CPU copy's, by name.
template <class NetCpu, class NetGpu>
void check_parameter_gradients(const std::string& what, NetCpu& cpu, NetGpu& dev) {
  std::vector<std::pair<std::string, TD>> want;
  nn::for_each_parameter(cpu, [&](const std::string& name, auto& p) { want.emplace_back(name, p.grad.defined() ? clone(p.grad) : TD()); });
  std::size_t i = 0;
  nn::for_each_parameter(dev, [&](const std::string& name, auto& p) {
    BOOST_REQUIRE(i < want.size());
    BOOST_TEST(name == want[i].first);
    BOOST_TEST(p.grad.defined() == want[i].second.defined(), what << ": " << name << " has a gradient on one device only");
    if (p.grad.defined() && want[i].second.defined()) check_close(what + ": " + name, want[i].second, p.grad, model_tol);
    ++i;
  });
  BOOST_TEST(i == want.size());
  BOOST_TEST(i > 10u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(resnet18_forward_backward_and_sigma_gradient_at_full_size) {
  Rng ra(31), rb(31);  // the same seed draws the same network on both devices
  nn::ResNet18Discriminator<double, Cpu> dc(nn::DiscriminatorOptions{}, ra);
  nn::ResNet18Discriminator<double, Cuda> dg(nn::DiscriminatorOptions{}, rb);
  Rng rng(32);
  const TD x = random<double>(Shape{2, 3, 32, 32}, rng, -1, 1);
  const std::vector<int> labels{7, 2};

  const auto oc = dc(x);
  const auto og = dg(gpu(x));
  check_close("f^b", oc.f_b, og.f_b, model_tol);
  check_close("f~", oc.f_tilde, og.f_tilde, model_tol);
  check_close("probe logits", oc.logits, og.logits, model_tol);

  // backward: a loss over f~ and the probe's cross-entropy reaches every parameter
  auto loss = [&](auto& d, const auto& v) {
    const auto o = d(v);
    return add(mean_all(square(o.f_tilde)), softmax_cross_entropy(o.logits, labels));
  };
  Var<double, Cpu> xc(x, true);
  Var<double, Cuda> xg(gpu(x), true);
  const Var<double, Cpu> lc = loss(dc, xc);
  const Var<double, Cuda> lg = loss(dg, xg);
  check_close("loss", lc.value(), lg.value(), model_tol);
  backward(lc);
  backward(lg);
  check_close("input gradient", xc.grad(), xg.grad(), model_tol);
  check_parameter_gradients("backward", dc, dg);

  // σ = uᵀ J v of f̃ after one power-iteration step from the same u0, and its penalty's gradient
  // (forward mode inside reverse mode through the whole network)
  nn::zero_grad(dc);
  nn::zero_grad(dg);
  const TD u0 = random<double>(Shape{2, 128}, rng, -1, 1);
  objectives::JacobianOptions o;
  o.steps = 1;
  const auto rc = objectives::jacobian_regularizer([&](const auto& v) { return dc.embed(v); }, x, u0, o);
  const auto rg = objectives::jacobian_regularizer([&](const auto& v) { return dg.embed(v); }, gpu(x), gpu(u0), o);
  check_close("sigma", rc.estimate.sigma.value(), rg.estimate.sigma.value(), model_tol);
  check_close("sigma penalty", rc.penalty.value(), rg.penalty.value(), model_tol);
  backward(rc.penalty);
  backward(rg.penalty);
  check_parameter_gradients("sigma penalty", dc, dg);
}

BOOST_AUTO_TEST_CASE(biggan_deep_at_32_and_at_128_with_attention) {
  for (const index_t resolution : {32, 128}) {
    BOOST_TEST_CONTEXT("BigGAN-deep at " << resolution) {
      nn::GeneratorOptions go;
      go.resolution = resolution;  // attention after the 64×64 stage (the default): at 128 only, as the paper's G_attn='64'
      Rng ra(41), rb(41);
      nn::BigGANDeepGenerator<double, Cpu> gc(go, ra);
      nn::BigGANDeepGenerator<double, Cuda> gg(go, rb);
      BOOST_TEST(gc.attention.size() == (resolution == 128 ? 1u : 0u));
      Rng rng(42);
      const TD z = gc.sample_latent(2, rng);
      Var<double, Cpu> zc(z, true);
      Var<double, Cuda> zg(gpu(z), true);
      const Var<double, Cpu> ic = gc(zc);
      const Var<double, Cuda> ig = gg(zg);
      BOOST_TEST(ic.value().shape() == (Shape{2, 3, resolution, resolution}));
      check_close("images", ic.value(), ig.value(), model_tol);
      const TD w = random<double>(ic.value().shape(), rng, -1, 1);  // a loss that weighs every pixel differently
      const Var<double, Cpu> lc = mean_all(mul(ic, constant<Var<double, Cpu>>(w)));
      const Var<double, Cuda> lg = mean_all(mul(ig, constant<Var<double, Cuda>>(gpu(w))));
      backward(lc);
      backward(lg);
      check_close("latent gradient", zc.grad(), zg.grad(), model_tol);
      check_parameter_gradients("backward", gc, gg);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_saved_on_the_gpu_resumes_on_the_cpu_and_back) {
  // the CPU's next step within 1e-8; the resumed GPU trainer and the one that never stopped within
  // 1e-12 (the GPU's atomics may add in another order)
  train_test::check_checkpoint_round_trip<Cuda>(train_test::fresh_dir("cuda_checkpoint"), 1e-8, 1e-12);
}
