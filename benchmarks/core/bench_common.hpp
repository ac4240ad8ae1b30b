#pragma once
/// \file Shared helpers of bench_core: the shape switch (--quick), FLOP counters, input makers.
#include <cmath>
#include <cstdint>

#include <benchmark/benchmark.h>

#include "structgan/structgan.hpp"

namespace structgan::bench {

/// True when bench_core runs with --quick (or STRUCTGAN_BENCH_QUICK=1): tiny shapes for CI.
bool quick();

/// A float tensor of standard normal values (seeded: both sides of a comparison see one input).
inline Tensor<float> normal(const Shape& s, std::uint64_t seed, double std = 1.0) {
  Rng rng(seed);
  return randn<float>(s, rng, 0.0, std);
}

/// Reports the floating-point work of one iteration: "flop" (per iteration, for the runner) and
/// "FLOP/s" (a rate over real time).
inline void set_flops(benchmark::State& st, double flop_per_iter) {
  st.counters["flop"] = benchmark::Counter(flop_per_iter);
  st.counters["FLOP/s"] = benchmark::Counter(flop_per_iter, benchmark::Counter::kIsIterationInvariantRate);
}

/// Counts the host block cache's misses and the bytes they allocated fresh over the measured
/// iterations (construct after the warm-up, report after the loop): a steady-state step should
/// find every block in the cache, and a miss costs fresh, zeroed pages (core/device.hpp).
struct CacheMisses {
  CacheMisses() { Allocator<Cpu>::reset_cache_stats(); }
  void report(benchmark::State& st) const {
    const auto s = Allocator<Cpu>::cache_stats();
    const double its = double(std::max<benchmark::IterationCount>(st.iterations(), 1));
    st.counters["cache_misses"] = benchmark::Counter(double(s.misses) / its);
    st.counters["fresh_MiB"] = benchmark::Counter(double(s.missed_bytes) / its / double(1 << 20));
    st.counters["live_peak_MiB"] = benchmark::Counter(double(s.max_live_bytes) / double(1 << 20));
    st.counters["cached_MiB"] = benchmark::Counter(double(Allocator<Cpu>::cached_bytes()) / double(1 << 20));
  }
};

/// Marks the run as failed when a result has a NaN or Inf (a fast wrong kernel must not pass).
template <class D>
void check_finite(benchmark::State& st, const Tensor<float, D>& t) {
  if (!t.defined()) { st.SkipWithError("result undefined"); return; }
  const Tensor<float, Cpu> h = to_host(t);
  if (!h.array().isFinite().all()) st.SkipWithError("result has NaN or Inf");
}

/// 2·N·O·C·kh·kw·Ho·Wo: the multiply-adds of one convolution, counted as two FLOPs each.
inline double conv_flop(const ConvGeometry& g) {
  return 2.0 * double(g.n) * double(g.o) * double(g.patch()) * double(g.ho()) * double(g.wo());
}

}  // namespace structgan::bench
