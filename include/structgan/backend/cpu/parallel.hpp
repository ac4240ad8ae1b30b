#pragma once
/// \file Threading helpers of the CPU backend (OpenMP when enabled, else serial).
#include <algorithm>

#include "structgan/core/shape.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

/// Put before a loop whose double sums (the named variables) may be split into SIMD lanes and
/// added together at the end: OpenMP's `simd reduction(+: …)`, which lets the compiler reassociate
/// them (it never does for plain floating-point code); the loop stays serial without OpenMP. A sum
/// in one chain of dependent additions is bound by the adder's latency, not by memory.
#define STRUCTGAN_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define STRUCTGAN_SIMD_SUM(...) STRUCTGAN_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#else
#define STRUCTGAN_SIMD_SUM(...)
#endif

namespace structgan::backend::cpu {

/// Number of threads the CPU backend uses (OpenMP's; 1 without OpenMP).
inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Calls f(begin, end) on [0, n) split into contiguous chunks across threads; serial when the
/// work is small (under `grain` items), since a parallel region costs a few microseconds.
template <class F>
void parallel_for(index_t n, index_t grain, F&& f) {
#ifdef _OPENMP
  const int threads = num_threads();
  if (threads > 1 && n >= 2 * grain && !omp_in_parallel()) {
    const index_t chunks = std::min<index_t>(threads, n / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
    for (index_t c = 0; c < chunks; ++c) {
      const index_t b = n * c / chunks, e = n * (c + 1) / chunks;
      f(b, e);
    }
    return;
  }
#endif
  f(index_t(0), n);
}

}  // namespace structgan::backend::cpu
