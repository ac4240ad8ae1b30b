#define BOOST_TEST_MODULE autodiff_elementwise
#include <boost/test/unit_test.hpp>

#include "common/gradcheck.hpp"

using namespace structgan;
using namespace structgan::testing;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1.5, double hi = 1.5) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
}  // namespace

BOOST_AUTO_TEST_CASE(binary_ops_same_shape) {
  const TD a = rnd({2, 3, 4}, 1), b = rnd({2, 3, 4}, 2, 0.5, 2.0);
  check_op("add", [](const auto& x) { return x[0] + x[1]; }, {a, b});
  check_op("sub", [](const auto& x) { return x[0] - x[1]; }, {a, b});
  check_op("mul", [](const auto& x) { return x[0] * x[1]; }, {a, b});
  check_op("div", [](const auto& x) { return x[0] / x[1]; }, {a, b});
}

BOOST_AUTO_TEST_CASE(binary_ops_broadcast) {
  const TD x = rnd({2, 3, 4, 5}, 3);
  const std::vector<Shape> shapes = {Shape{1, 3, 1, 1}, Shape{3, 1, 1}, Shape{2, 1, 1, 1}, Shape{2, 3, 1, 1}, Shape{1}, Shape{5}};
  std::uint64_t seed = 10;
  for (const Shape& s : shapes) {
    BOOST_TEST_CONTEXT("broadcast " << s) {
      const TD b = rnd(s, seed++, 0.5, 2.0);
      check_op("add", [](const auto& v) { return v[0] + v[1]; }, {x, b});
      check_op("sub (reversed)", [](const auto& v) { return v[1] - v[0]; }, {x, b});
      check_op("mul", [](const auto& v) { return v[0] * v[1]; }, {x, b});
      check_op("div", [](const auto& v) { return v[0] / v[1]; }, {x, b});
    }
  }
  const TD m = rnd({6, 4}, 20), row = rnd({1, 4}, 21), col = rnd({6, 1}, 22, 0.5, 2.0);
  check_op("row broadcast", [](const auto& v) { return v[0] * v[1] + v[1]; }, {m, row});
  check_op("column broadcast", [](const auto& v) { return v[0] / v[1]; }, {m, col});
}

BOOST_AUTO_TEST_CASE(broadcast_values_match_loops) {
  const TD x = rnd({2, 3, 4, 5}, 30), c = rnd({1, 3, 1, 1}, 31);
  const TD y = x * c;
  for (index_t n = 0; n < 2; ++n)
    for (index_t ch = 0; ch < 3; ++ch)
      for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 5; ++j) BOOST_TEST(y.at(n, ch, i, j) == x.at(n, ch, i, j) * c.at(0, ch, 0, 0));
  const TD s = sum_to(x, Shape{1, 3, 1, 1});
  for (index_t ch = 0; ch < 3; ++ch) {
    double want = 0;
    for (index_t n = 0; n < 2; ++n)
      for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 5; ++j) want += x.at(n, ch, i, j);
    BOOST_TEST(std::abs(s[ch] - want) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(long_runs_split_across_threads_match_loops) {
  // Tensors large enough that the CPU backend splits inside a run (a contiguous same-shape
  // operation, a broadcast with few outer rows, a copy, a slice along the first axis).
  const index_t n = 3 * (index_t(1) << 16) + 7;
  const TD a = rnd({2, n}, 40), b = rnd({2, n}, 41, 0.5, 2.0), row = rnd({1, n}, 42), one = rnd({1}, 43);
  const TD sum = a + b, prod = a * row, quot = a / one, copied = clone(a);
  const TD first = slice(a, 0, 1, 1), both = concat(std::vector<TD>{first, first}, 0);
  for (index_t i = 0; i < 2; ++i)
    for (index_t j = 0; j < n; j += (j % 9973 == 0 ? 1 : 13)) {
      BOOST_TEST(sum.at(i, j) == a.at(i, j) + b.at(i, j));
      BOOST_TEST(prod.at(i, j) == a.at(i, j) * row.at(0, j));
      BOOST_TEST(quot.at(i, j) == a.at(i, j) / one[0]);
      BOOST_TEST(copied.at(i, j) == a.at(i, j));
      BOOST_TEST(both.at(i, j) == a.at(1, j));
    }
  BOOST_TEST(first.at(0, n - 1) == a.at(1, n - 1));
  // Every entry, not only the sampled ones, for the same-shape sum.
  BOOST_TEST(((sum.array() - (a.array() + b.array())).abs() == 0).all());
}

BOOST_AUTO_TEST_CASE(unary_ops) {
  const TD x = rnd({3, 4, 5}, 40), pos = rnd({3, 4, 5}, 41, 0.3, 2.0);
  check_op("neg", [](const auto& v) { return neg(v[0]); }, {x});
  check_op("exp", [](const auto& v) { return exp(v[0]); }, {x});
  check_op("log", [](const auto& v) { return log(v[0]); }, {pos});
  check_op("sqrt", [](const auto& v) { return sqrt(v[0]); }, {pos});
  check_op("tanh", [](const auto& v) { return tanh(v[0]); }, {x});
  check_op("elu", [](const auto& v) { return elu(v[0]); }, {x});
  check_op("square", [](const auto& v) { return square(v[0]); }, {x});
  check_op("reciprocal", [](const auto& v) { return reciprocal(v[0]); }, {pos});
  check_op("pow 2.5", [](const auto& v) { return pow(v[0], 2.5); }, {pos});
  check_op("pow -0.5", [](const auto& v) { return pow(v[0], -0.5); }, {pos});
  // Piecewise-linear ops: their second derivative is zero away from the kinks.
  check_op("relu", [](const auto& v) { return relu(v[0]) * v[0]; }, {x});
  check_op("abs", [](const auto& v) { return abs(v[0]) * v[0]; }, {x});
  check_op("clamp_min", [](const auto& v) { return clamp_min(v[0], 0.2) * v[0]; }, {x});
}

BOOST_AUTO_TEST_CASE(scalar_ops) {
  const TD x = rnd({4, 3}, 50);
  check_op("x * s", [](const auto& v) { return v[0] * 2.5; }, {x});
  check_op("s * x", [](const auto& v) { return -1.5 * square(v[0]); }, {x});
  check_op("x + s", [](const auto& v) { return square(v[0] + 0.7); }, {x});
  check_op("s - x", [](const auto& v) { return exp(1.0 - v[0]); }, {x});
  check_op("x / s", [](const auto& v) { return tanh(v[0] / 3.0); }, {x});
}

BOOST_AUTO_TEST_CASE(elu_matches_definition) {
  const TD x = rnd({50}, 60, -3, 3);
  const TD t = rnd({50}, 61);
  const TD y = elu(x), d = elu_tangent(x, t), c = elu_curvature(x, t);
  for (index_t i = 0; i < 50; ++i) {
    BOOST_TEST(y[i] == (x[i] > 0 ? x[i] : std::expm1(x[i])), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(d[i] == (x[i] > 0 ? t[i] : std::exp(x[i]) * t[i]), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(c[i] == (x[i] > 0 ? 0.0 : std::exp(x[i]) * t[i]), boost::test_tools::tolerance(1e-14));
  }
  // broadcast operands take the scalar path
  const TD xr = rnd({5, 1}, 62, -3, 3), tr = rnd({5, 4}, 63);
  const TD db = elu_tangent(xr, tr), cb = elu_curvature(tr, xr);
  for (index_t i = 0; i < 5; ++i)
    for (index_t j = 0; j < 4; ++j) {
      const double u = xr[i], v = tr[i * 4 + j];
      BOOST_TEST(db[i * 4 + j] == (u > 0 ? v : std::exp(u) * v), boost::test_tools::tolerance(1e-14));
      BOOST_TEST(cb[i * 4 + j] == (v > 0 ? 0.0 : std::exp(v) * u), boost::test_tools::tolerance(1e-14));
    }
}
