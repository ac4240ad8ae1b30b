// machine_peak_fma: the FLOP/s this machine's cores reach on nothing but independent fused
// multiply-adds at the widest vector width the compiler targets (AVX-512 with -march=native on a
// Zen 4/5 or Xeon), on every OpenMP thread. It is the "peak" the conv and GEMM rows are compared
// with in docs/performance.md (with the ISA estimate: FMA pipes × lanes × 2 × clock).
#include <cstdint>

#include "bench_common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vec __attribute__((vector_size(kLanes * sizeof(float))));
constexpr int kChains = 16;  // ≥ FMA latency × pipes (4 × 2 on Zen 5), so the pipes never wait

// rounds × kChains × kLanes FMAs on one thread; returns a value that depends on all of them.
__attribute__((noinline)) float fma_loop(std::int64_t rounds, float seed) {
  vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = vec{} + seed * float(c + 1);
  const vec a = vec{} + 0.999999f, b = vec{} + 1e-7f;
  for (std::int64_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;
  }
  vec s = acc[0];
  for (int c = 1; c < kChains; ++c) s += acc[c];
  float t = 0;
  for (int l = 0; l < kLanes; ++l) t += s[l];
  return t;
}

void machine_peak_fma(benchmark::State& st) {
  const std::int64_t rounds = structgan::bench::quick() ? 1 << 14 : 1 << 22;
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  float sink = 0;
  for (auto _ : st) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_loop(rounds, 1.0f + float(omp_get_thread_num()));
#else
    sink += fma_loop(rounds, 1.0f);
#endif
  }
  benchmark::DoNotOptimize(sink);
  structgan::bench::set_flops(st, 2.0 * double(rounds) * kChains * kLanes * threads);
  st.counters["lanes"] = kLanes;
  st.counters["threads"] = threads;
}
BENCHMARK(machine_peak_fma)->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
