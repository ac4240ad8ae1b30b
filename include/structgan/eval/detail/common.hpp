#pragma once
/// \file Internal helpers shared by the evaluation headers (not meant to be included directly).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/core/row_matrix.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace structgan::eval {

// The feature layout of every evaluation function (core/row_matrix.hpp), also as eval::RowMatrix.
using structgan::RowMatrix;
using structgan::RowMatrixD;
using structgan::RowMatrixF;

namespace detail {

/// Number of worker threads for `requested` (0 = OpenMP's maximum, 1 without OpenMP).
inline int resolve_threads(int requested) {
#ifdef _OPENMP
  return requested > 0 ? requested : std::max(1, omp_get_max_threads());
#else
  (void)requested;
  return 1;
#endif
}

/// Runs body(i) for i in [0, n) on `threads` OpenMP threads (dynamic schedule); rethrows the first exception.
template <class Body>
void parallel_for(std::int64_t n, int threads, const Body& body) {
  if (n <= 0) return;
  threads = static_cast<int>(std::min<std::int64_t>(std::max(threads, 1), n));
  std::exception_ptr error;
  std::mutex error_mutex;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (std::int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

/// Throws when x is empty or has a NaN/Inf entry.
template <class Derived>
void require_features(const Eigen::MatrixBase<Derived>& x, const char* where, const char* what) {
  require(x.rows() > 0 && x.cols() > 0, where, ": ", what, " is empty (", x.rows(), "x", x.cols(), ")");
  require(x.allFinite(), where, ": ", what, " contains NaN or Inf");
}

/// Throws when labels.size() != rows.
inline void require_labels(const std::vector<int>& labels, Eigen::Index rows, const char* where,
                           const char* what) {
  require(static_cast<Eigen::Index>(labels.size()) == rows, where, ": ", what, " has ", labels.size(),
          " labels for ", rows, " feature rows");
}

/// normalize(x) of SPEC: every row divided by max(‖row‖₂, 1e-12), in Scalar.
template <class Scalar, class Derived>
RowMatrix<Scalar> normalized_rows(const Eigen::MatrixBase<Derived>& x) {
  RowMatrix<Scalar> y = x.template cast<Scalar>();
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    const double n = y.row(i).template cast<double>().norm();
    y.row(i) /= static_cast<Scalar>(std::max(n, 1e-12));
  }
  return y;
}

/// Labels renumbered 0..C-1 in increasing order of their values.
struct CompactLabels {
  std::vector<int> index;    ///< index[i] in [0, classes.size())
  std::vector<int> classes;  ///< the distinct original values, sorted
};

inline CompactLabels compact_labels(const std::vector<int>& y) {
  CompactLabels out;
  out.classes = y;
  std::sort(out.classes.begin(), out.classes.end());
  out.classes.erase(std::unique(out.classes.begin(), out.classes.end()), out.classes.end());
  out.index.resize(y.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    out.index[i] = static_cast<int>(std::lower_bound(out.classes.begin(), out.classes.end(), y[i]) -
                                    out.classes.begin());
  return out;
}

/// SplitMix64 step: a good 64-bit mixer, used to derive independent seeds.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// A seed derived from (seed, a, b); distinct inputs give unrelated streams.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  std::uint64_t s = seed;
  std::uint64_t h = splitmix64(s);
  s = h ^ (a * 0xD1B54A32D192ED03ULL);
  h = splitmix64(s);
  s = h ^ (b * 0x8CB92BA72F3D8DD7ULL);
  return splitmix64(s);
}

/// xoshiro256** generator with portable uniform/normal draws (same numbers on every platform).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (auto& w : state_) w = splitmix64(s);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n), n > 0.
  std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)) % n; }
  /// Standard normal (Box–Muller).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    do u1 = uniform();
    while (u1 <= 0.0);
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(6.283185307179586 * u2);
    has_spare_ = true;
    return r * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace detail
}  // namespace structgan::eval
