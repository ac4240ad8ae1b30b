#define BOOST_TEST_MODULE test_data_spiral
#include <boost/test/unit_test.hpp>

#include "structgan/data/spiral.hpp"

#include <cmath>

using namespace structgan::data;

namespace {
constexpr double pi = 3.14159265358979323846;
}

BOOST_AUTO_TEST_CASE(geometry_without_noise) {
  SpiralOptions o;
  o.noise = 0.0;
  const PointSet s = make_double_spiral(2000, 1, o);
  BOOST_REQUIRE_EQUAL(s.size(), 2000u);
  BOOST_REQUIRE_EQUAL(s.points.rows(), 2000);
  BOOST_REQUIRE_EQUAL(s.points.cols(), 2);
  double rmin = 1e9, rmax = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    BOOST_REQUIRE_EQUAL(s.labels[i], i < 1000 ? 0 : 1);
    const double sign = s.labels[i] == 0 ? 1.0 : -1.0;  // the second spiral is the first rotated by 180°
    const double x = sign * s.points(Eigen::Index(i), 0), y = sign * s.points(Eigen::Index(i), 1);
    const double t = std::hypot(x, y);  // the radius is the parameter t
    rmin = std::min(rmin, t);
    rmax = std::max(rmax, t);
    // the point is (t cos t, t sin t): its angle equals t modulo 2π
    BOOST_REQUIRE_SMALL(std::remainder(std::atan2(y, x) - t, 2 * pi), 1e-4);
  }
  BOOST_TEST(rmin >= 1.5 * pi - 1e-4);
  BOOST_TEST(rmax <= 4.5 * pi + 1e-4);
  BOOST_TEST(rmin < 1.5 * pi + 0.1);  // t covers its whole range [1.5π, 4.5π]
  BOOST_TEST(rmax > 4.5 * pi - 0.1);
}

BOOST_AUTO_TEST_CASE(noise_has_the_given_std) {
  SpiralOptions quiet;
  quiet.noise = 0.0;
  const PointSet a = make_double_spiral(4000, 7, quiet);
  const PointSet b = make_double_spiral(4000, 7);  // noise 0.1, same t draws
  double sum = 0, sum2 = 0;
  for (Eigen::Index i = 0; i < a.points.rows(); ++i)
    for (Eigen::Index j = 0; j < 2; ++j) {
      const double d = double(b.points(i, j)) - double(a.points(i, j));
      sum += d;
      sum2 += d * d;
    }
  const double n = 2.0 * double(a.points.rows()), mean = sum / n;
  const double sd = std::sqrt(sum2 / n - mean * mean);
  BOOST_TEST(std::abs(mean) < 0.005);
  BOOST_TEST(sd > 0.095);
  BOOST_TEST(sd < 0.105);
  // radius range with noise: within 6σ of [1.5π, 4.5π]
  for (Eigen::Index i = 0; i < b.points.rows(); ++i) {
    const double r = std::hypot(double(b.points(i, 0)), double(b.points(i, 1)));
    BOOST_REQUIRE(r > 1.5 * pi - 0.6);
    BOOST_REQUIRE(r < 4.5 * pi + 0.6);
  }
}

BOOST_AUTO_TEST_CASE(balanced_and_seeded) {
  const PointSet a = make_double_spiral(1000, 3), b = make_double_spiral(1000, 3), c = make_double_spiral(1000, 4);
  BOOST_TEST(std::count(a.labels.begin(), a.labels.end(), 0) == 500);
  BOOST_TEST(std::count(a.labels.begin(), a.labels.end(), 1) == 500);
  BOOST_TEST(bool(a.points == b.points));
  BOOST_TEST(a.labels == b.labels);
  BOOST_TEST(!bool(a.points == c.points));
  // the two classes sit on opposite sides: their means are about opposite
  double m0[2] = {0, 0}, m1[2] = {0, 0};
  for (Eigen::Index i = 0; i < 1000; ++i)
    for (int j = 0; j < 2; ++j) (i < 500 ? m0 : m1)[j] += a.points(i, j) / 500.0;
  BOOST_TEST(std::hypot(m0[0] + m1[0], m0[1] + m1[1]) < 0.25 * (std::hypot(m0[0], m0[1]) + std::hypot(m1[0], m1[1]) + 1.0));
  BOOST_CHECK_THROW(make_double_spiral(7, 1), structgan::Error);
  BOOST_CHECK_THROW(make_double_spiral(0, 1), structgan::Error);
}
