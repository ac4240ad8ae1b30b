// Kernel-level workloads (the foundation's hot paths), float, 2 threads by default:
//   gemm            C = A·B, 1024³                        (quick: 256³)
//   conv2d_fwd      3×3 conv 128→128, 16×16, batch 64, pad 1 (quick: 32→32, 8×8, batch 4)
//   conv2d_fwd_bwd  the same, forward + backward (dx and dw) through Var
//   group_norm_fwd_bwd  GroupNorm(8 groups, affine) on 64×128×16×16, forward + backward
//   group_norm_elu_fwd_bwd  the same followed by ELU (GroupNorm then ELU, as in D), forward + backward
//   avg_pool_fwd_bwd  2×2 average pooling, stride 2 (D's avgpool_s, SPEC §1), on 64×128×16×16, forward + backward
//   conv_block_jvp  dual (JVP) forward of D's stride-1 residual block (SPEC §1) on 64×128×16×16
// Peers: benchmarks/peer/torch_bench.py (same names, shapes and thread count).
#include "bench_common.hpp"

namespace {
using namespace structgan;
using bench::quick;
using T = float;

void gemm(benchmark::State& st) {
  const index_t n = quick() ? 256 : 1024;
  const Tensor<T> a = bench::normal(Shape{n, n}, 1), b = bench::normal(Shape{n, n}, 2);
  Tensor<T> c = matmul(a, b);  // warm-up
  for (auto _ : st) {
    c = matmul(a, b);
    benchmark::DoNotOptimize(c.data());
  }
  bench::set_flops(st, 2.0 * double(n) * double(n) * double(n));
  bench::check_finite(st, c);
}
BENCHMARK(gemm)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

struct ConvCase {
  index_t n, c, hw;
};
ConvCase conv_case() { return quick() ? ConvCase{4, 32, 8} : ConvCase{64, 128, 16}; }

void conv2d_fwd(benchmark::State& st) {
  const ConvCase k = conv_case();
  const Tensor<T> x = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 1);
  const Tensor<T> w = bench::normal(Shape{k.c, k.c, 3, 3}, 2, 0.03);
  Tensor<T> y = conv2d(x, w, 1, 1);
  for (auto _ : st) {
    y = conv2d(x, w, 1, 1);
    benchmark::DoNotOptimize(y.data());
  }
  bench::set_flops(st, bench::conv_flop(ConvGeometry{k.n, k.c, k.hw, k.hw, k.c, 3, 3, 1, 1, 1}));
  bench::check_finite(st, y);
}
BENCHMARK(conv2d_fwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void conv2d_fwd_bwd(benchmark::State& st) {
  const ConvCase k = conv_case();
  const Tensor<T> x = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 1);
  const Tensor<T> w = bench::normal(Shape{k.c, k.c, 3, 3}, 2, 0.03);
  const Tensor<T> dy = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 3);
  Tensor<T> dx, dw;
  auto step = [&] {
    Var<T> xv(x, true), wv(w, true);
    Var<T> y = conv2d(xv, wv, 1, 1);
    backward(y, dy);
    dx = xv.grad();
    dw = wv.grad();
  };
  step();
  for (auto _ : st) {
    step();
    benchmark::DoNotOptimize(dw.data());
  }
  // forward, dx and dw: three products of the same size
  bench::set_flops(st, 3.0 * bench::conv_flop(ConvGeometry{k.n, k.c, k.hw, k.hw, k.c, 3, 3, 1, 1, 1}));
  bench::check_finite(st, dx);
  bench::check_finite(st, dw);
}
BENCHMARK(conv2d_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// Times `step` (a forward + backward that writes dx) after one warm-up call, then checks dx.
template <class Step>
void time_fwd_bwd(benchmark::State& st, Step& step, const Tensor<T>& dx) {
  step();
  for (auto _ : st) {
    step();
    benchmark::DoNotOptimize(dx.data());
  }
  bench::check_finite(st, dx);
}

void group_norm_fwd_bwd(benchmark::State& st) {
  const ConvCase k = conv_case();
  const index_t groups = k.c / 16;
  const Tensor<T> x = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 1);
  const Tensor<T> dy = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 3);
  const Tensor<T> gw = bench::normal(Shape{k.c}, 4), gb = bench::normal(Shape{k.c}, 5);
  Tensor<T> dx;
  auto step = [&] {
    Var<T> xv(x, true), wv(gw, true), bv(gb, true);
    Var<T> y = group_norm(xv, groups, wv, bv);
    backward(y, dy);
    dx = xv.grad();
  };
  time_fwd_bwd(st, step, dx);
}
BENCHMARK(group_norm_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void avg_pool_fwd_bwd(benchmark::State& st) {
  const ConvCase k = conv_case();
  const Tensor<T> x = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 1);
  const Tensor<T> dy = bench::normal(Shape{k.n, k.c, k.hw / 2, k.hw / 2}, 3);
  Tensor<T> dx;
  auto step = [&] {
    Var<T> xv(x, true);
    Var<T> y = avg_pool2d(xv, 2);
    backward(y, dy);
    dx = xv.grad();
  };
  time_fwd_bwd(st, step, dx);
}
BENCHMARK(avg_pool_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

void group_norm_elu_fwd_bwd(benchmark::State& st) {
  const ConvCase k = conv_case();
  const index_t groups = k.c / 16;
  const Tensor<T> x = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 1);
  const Tensor<T> dy = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 3);
  const Tensor<T> gw = bench::normal(Shape{k.c}, 4), gb = bench::normal(Shape{k.c}, 5);
  Tensor<T> dx;
  auto step = [&] {
    Var<T> xv(x, true), wv(gw, true), bv(gb, true);
    Var<T> y = elu(group_norm(xv, groups, wv, bv));
    backward(y, dy);
    dx = xv.grad();
  };
  time_fwd_bwd(st, step, dx);
}
BENCHMARK(group_norm_elu_fwd_bwd)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

// D's stride-1 residual block (SPEC §1): ELU(GN(conv3×3(ELU(conv3×3(x)))) + x).
struct BlockParams {
  Parameter<T> w1, w2, gw, gb;
  index_t groups;
};
template <class V>
V res_block(const V& x, BlockParams& p) {
  V h = elu(conv2d(x, lift<V>(p.w1), 1, 1));
  h = group_norm(conv2d(h, lift<V>(p.w2), 1, 1), p.groups, lift<V>(p.gw), lift<V>(p.gb));
  return elu(add(h, x));
}

void conv_block_jvp(benchmark::State& st) {
  const ConvCase k = conv_case();
  BlockParams p{{bench::normal(Shape{k.c, k.c, 3, 3}, 2, 0.03), {}},
                {bench::normal(Shape{k.c, k.c, 3, 3}, 3, 0.03), {}},
                {filled<T, Cpu>(Shape{k.c}, T(1)), {}},
                {filled<T, Cpu>(Shape{k.c}, T(0)), {}},
                k.c / 16};
  const Tensor<T> x = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 1);
  const Tensor<T> v = bench::normal(Shape{k.n, k.c, k.hw, k.hw}, 4);
  auto f = [&](const auto& in) { return res_block(in, p); };
  JvpResult<T, Cpu> r = jvp(f, x, v);
  for (auto _ : st) {
    r = jvp(f, x, v);
    benchmark::DoNotOptimize(r.jvp.data());
  }
  // two convolutions, each on the primal and on the tangent
  bench::set_flops(st, 4.0 * bench::conv_flop(ConvGeometry{k.n, k.c, k.hw, k.hw, k.c, 3, 3, 1, 1, 1}));
  bench::check_finite(st, r.jvp);
}
BENCHMARK(conv_block_jvp)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
