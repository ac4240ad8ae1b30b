#pragma once
/// \file The double spiral toy data set (SPEC §7).
///
/// \code
/// auto s = structgan::data::make_double_spiral(2000, /*seed=*/1);  // s.points: 2000×2, s.labels: 0/1
/// \endcode
#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/data/detail/random.hpp"

namespace structgan::data {

/// Labelled points, one per row.
struct PointSet {
  Eigen::MatrixXf points;   ///< N×2
  std::vector<int> labels;  ///< N labels, 0 or 1
  std::size_t size() const { return labels.size(); }
};

/// Options of make_double_spiral.
struct SpiralOptions {
  double noise = 0.1;  ///< standard deviation of the Gaussian noise added to each coordinate
};

/// Two spirals of n/2 points each (SPEC §7): t = 1.5π(1 + 2U), U ~ Uniform[0,1], point
/// (t cos t, t sin t) + N(0, noise²) per coordinate; the second spiral (label 1) is the first
/// rotated by 180°, i.e. (−t cos t, −t sin t) + noise. Rows 0..n/2−1 are label 0, the rest label 1.
/// The same (n, seed) gives the same points on every platform. Requires n even and > 0.
inline PointSet make_double_spiral(std::size_t n, std::uint64_t seed, const SpiralOptions& options = {}) {
  require(n > 0 && n % 2 == 0, "make_double_spiral: n must be even and positive, got ", n);
  require(options.noise >= 0, "make_double_spiral: noise must be >= 0");
  constexpr double pi = 3.14159265358979323846;
  std::mt19937_64 g(detail::mix_seed(seed, 0x5350495241ull));
  PointSet s;
  s.points.resize(static_cast<Eigen::Index>(n), 2);
  s.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = i < n / 2 ? 0 : 1;
    const double t = 1.5 * pi * (1.0 + 2.0 * detail::uniform01(g));
    const double sign = label == 0 ? 1.0 : -1.0;
    const double nx = options.noise * detail::normal(g);
    const double ny = options.noise * detail::normal(g);
    s.points(static_cast<Eigen::Index>(i), 0) = static_cast<float>(sign * t * std::cos(t) + nx);
    s.points(static_cast<Eigen::Index>(i), 1) = static_cast<float>(sign * t * std::sin(t) + ny);
    s.labels[i] = label;
  }
  return s;
}

}  // namespace structgan::data
