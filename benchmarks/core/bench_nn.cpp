// Whole networks (SPEC §1), float, 2 threads by default:
//   d_fwd_bwd  ResNet18Discriminator (CIFAR), batch 32 of 3×32×32: forward, then backward of
//              Σf̃ + Σf to the parameters (quick: batch 2 of 3×16×16)
//   g_fwd_bwd  BigGANDeepGenerator (32×32, ch 128), batch 32: forward in training mode (batch
//              statistics, one power iteration per spectral norm), backward of mean(images)
//              (quick: ch 16, batch 2)
// Peers: benchmarks/peer/torch_bench.py with the networks of benchmarks/peer/torch_nets.py.
#include "bench_common.hpp"
#include "structgan/nn/all.hpp"

namespace {
using namespace structgan;
using bench::quick;
using T = float;

void d_fwd_bwd(benchmark::State& st) {
  const index_t b = quick() ? 2 : 32, s = quick() ? 16 : 32;
  Rng rng(1);
  nn::ResNet18Discriminator<T> d(nn::DiscriminatorOptions{}, rng);
  const Tensor<T> x = rand_uniform<T>(Shape{b, 3, s, s}, rng, -1.0, 1.0);
  auto step = [&] {
    nn::zero_grad(d);
    auto out = d(Var<T>(x));
    backward(add(sum_all(out.f_tilde), sum_all(out.f)));
  };
  step();
  const bench::CacheMisses misses;
  for (auto _ : st) step();
  misses.report(st);
  bench::check_finite(st, d.backbone.stem.weight.grad);
}
BENCHMARK(d_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void g_fwd_bwd(benchmark::State& st) {
  const index_t b = quick() ? 2 : 32;
  nn::GeneratorOptions o;
  if (quick()) o.ch = 16;
  Rng rng(2);
  nn::BigGANDeepGenerator<T> g(o, rng);
  const Tensor<T> z = g.sample_latent(b, rng);
  auto step = [&] {
    nn::zero_grad(g);
    Var<T> images = g(Var<T>(z));
    backward(mean_all(images));
  };
  step();
  const bench::CacheMisses misses;
  for (auto _ : st) step();
  misses.report(st);
  bench::check_finite(st, g.first_linear.weight.grad);
}
BENCHMARK(g_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
