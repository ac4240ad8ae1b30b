#pragma once
/// \file Internal: seeded draws for the data pipeline, written out so that a seed gives the same
/// numbers with every standard library (<random>'s distributions differ between them).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace structgan::data::detail {

/// SplitMix64 finalizer: a well-mixed 64-bit hash of x.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A seed derived from (seed, a, b): independent streams per epoch and sample.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ (b * 0xD1B54A32D192ED03ull));
}

/// Uniform in [0, 1) with 53 random bits.
inline double uniform01(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * (1.0 / 9007199254740992.0); }

/// Uniform in [lo, hi).
inline double uniform(std::mt19937_64& g, double lo, double hi) { return lo + (hi - lo) * uniform01(g); }

/// Uniform integer in [0, n), unbiased (rejection). Requires n > 0.
inline std::uint64_t below(std::mt19937_64& g, std::uint64_t n) {
  const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
  std::uint64_t x;
  do x = g();
  while (x >= limit);
  return x % n;
}

/// Standard normal draw (Box–Muller, one value per call).
inline double normal(std::mt19937_64& g) {
  const double u1 = 1.0 - uniform01(g);  // (0, 1]
  const double u2 = uniform01(g);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// Fisher–Yates shuffle of v.
template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& g) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(below(g, i));
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace structgan::data::detail
