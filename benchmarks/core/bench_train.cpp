// train_step: one full training iteration of SPEC §5 on CIFAR-shaped data, float, 2 threads:
// the EMA discriminator's keys, D's loss (logdet distance, clustering with the 10240-entry
// memory bank, the Jacobian regularizer on [real; generated], hinge, probe) with its backward and
// AdamW step, then G's forward, loss, backward and Adam step, the EMA updates and the bank
// enqueue. train_step: batch 32; train_step_b64: batch 64, the training issue's target (quick:
// batch 2 and 4, G with ch 16).
// Peer: the released code's own step (../shared/peer/released_code_step.py --batch 32 or 64, beside the repository).
#include "bench_common.hpp"
#include "structgan/nn/all.hpp"
#include "structgan/objectives/structural_objective.hpp"

namespace {
using namespace structgan;
using bench::quick;
using T = float;

void train_step_of_batch(benchmark::State& st, index_t full_batch) {
  const index_t b = quick() ? full_batch / 16 : full_batch;
  Rng rng(3);
  nn::ResNet18Discriminator<T> d(nn::DiscriminatorOptions{}, rng);
  nn::GeneratorOptions go;
  if (quick()) go.ch = 16;
  nn::BigGANDeepGenerator<T> g(go, rng);
  nn::Ema<nn::ResNet18Discriminator<T>> ema_d(d, 0.99);
  nn::Ema<nn::BigGANDeepGenerator<T>> ema_g(g, 0.99);
  nn::AdamW<T> opt_d(nn::named_parameters(d), {2e-4, 0.5, 0.999, 1e-8, 0.1});
  nn::Adam<T> opt_g(nn::named_parameters(g), {2e-4, 0.5, 0.999, 1e-8, 0.0});
  objectives::StructuralObjective<T> obj;
  objectives::MemoryBank<T> bank = obj.make_bank(512, 128, rng);
  const Tensor<T> x_real = rand_uniform<T>(Shape{b, 3, 32, 32}, rng, -1.0, 1.0);
  std::vector<int> labels(static_cast<std::size_t>(b));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 10);
  double last = 0;
  auto step = [&] {
    // D step: generated images without gradient, keys from the EMA discriminator
    Tensor<T> x_fake;
    {
      NoGradGuard ng;
      x_fake = g(g.sample_latent(b, rng));
    }
    const Tensor<T> kr = obj.keys(ema_d.model(), x_real), kf = obj.keys(ema_d.model(), x_fake);
    auto ds = obj.discriminator_loss(d, x_real, x_fake, kr, kf, bank, rng, labels);
    opt_d.zero_grad();
    backward(ds.loss);
    opt_d.step();
    // G step
    Var<T> xg = g(Var<T>(g.sample_latent(b, rng)));
    auto gs = obj.generator_loss(d, x_real, xg, kr, obj.keys(ema_d.model(), value_of(xg)), bank);
    opt_g.zero_grad();
    backward(gs.loss);
    opt_g.step();
    ema_d.update(d);
    ema_g.update(g);
    bank.enqueue(kr, ds.real_values);
    last = ds.terms.total + gs.terms.total;
  };
  step();
  const bench::CacheMisses misses;
  for (auto _ : st) step();
  misses.report(st);
  if (!std::isfinite(last)) st.SkipWithError("loss is not finite");
  bench::check_finite(st, d.backbone.stem.weight.value);
}
void train_step(benchmark::State& st) { train_step_of_batch(st, 32); }
void train_step_b64(benchmark::State& st) { train_step_of_batch(st, 64); }
BENCHMARK(train_step)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(train_step_b64)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
