// The objectives' hot paths (SPEC §2-§4), float, 2 threads by default:
//   sigma_grad       the Jacobian regularizer on D's f̃ for 64 images of 3×32×32 (SPEC §4): one
//                    power-iteration step (VJP, JVP) and σ from one recorded dual pass, then the
//                    backward of mean((σ − 1)²) to D's parameters (quick: 2 images of 3×16×16)
//   logdet_distance  d(f, f^g) for f, f^g of 512×128 unit rows (SPEC §2): value and both
//                    gradients (quick: 64×16)
//   knn_search       top-2 minus the first among [512 batch keys; 10240 bank keys] of width 512
//                    for 512 queries (SPEC §3; quick: 32 queries, 1024 bank keys, width 64)
// Peers: benchmarks/peer/torch_bench.py (σ the released code's way: a no-grad VJP, a vmapped
// functorch JVP, then a create_graph backward and the penalty's backward).
#include "bench_common.hpp"
#include "structgan/nn/all.hpp"
#include "structgan/objectives/clustering.hpp"
#include "structgan/objectives/gaussian.hpp"
#include "structgan/objectives/jacobian.hpp"

namespace {
using namespace structgan;
using bench::quick;
using T = float;

void sigma_grad(benchmark::State& st) {
  const index_t b = quick() ? 2 : 64, s = quick() ? 16 : 32;  // 32 real + 32 generated images (issue 4)
  Rng rng(1);
  nn::ResNet18Discriminator<T> d(nn::DiscriminatorOptions{}, rng);
  const Tensor<T> x = rand_uniform<T>(Shape{b, 3, s, s}, rng, -1.0, 1.0);
  auto f = [&](const auto& v) { return d.embed(v); };
  auto step = [&] {
    nn::zero_grad(d);
    auto reg = objectives::jacobian_regularizer(f, x, rng);
    backward(reg.penalty);
  };
  step();
  const bench::CacheMisses misses;
  for (auto _ : st) step();
  misses.report(st);
  bench::check_finite(st, d.backbone.stem.weight.grad);
}
BENCHMARK(sigma_grad)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

Tensor<T> unit_rows(index_t n, index_t p, std::uint64_t seed) { return row_normalize(bench::normal(Shape{n, p}, seed)); }

void logdet_distance(benchmark::State& st) {
  const index_t n = quick() ? 64 : 512, p = quick() ? 16 : 128;
  const Tensor<T> f = unit_rows(n, p, 1), fg = unit_rows(n, p, 2);
  Tensor<T> gf, gg;
  auto step = [&] {
    Var<T> fv(f, true), gv(fg, true);
    backward(objectives::logdet_distance(fv, gv));
    gf = fv.grad();
    gg = gv.grad();
  };
  step();
  for (auto _ : st) step();
  bench::check_finite(st, gf);
  bench::check_finite(st, gg);
}
BENCHMARK(logdet_distance)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void knn_search(benchmark::State& st) {
  const index_t m = quick() ? 32 : 512, len = quick() ? 1024 : 10240, q = quick() ? 64 : 512;
  const Tensor<T> queries = unit_rows(m, q, 1), bank = unit_rows(len, q, 2);
  DeviceIndices<Cpu> nb;
  for (auto _ : st) {
    nb = objectives::knn_search(queries, queries, bank, 1, true);
    benchmark::DoNotOptimize(nb.data());
  }
  // the similarity GEMM: m × (m + L) × q multiply-adds
  bench::set_flops(st, 2.0 * double(m) * double(m + len) * double(q));
  if (nb.size() != m) st.SkipWithError("wrong neighbour count");
}
BENCHMARK(knn_search)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
