#define BOOST_TEST_MODULE autodiff_linalg
#include <boost/test/unit_test.hpp>

#include "common/gradcheck.hpp"

using namespace structgan;
using namespace structgan::testing;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
/// A symmetric positive definite matrix built from a, differentiably: a·aᵀ/p + I.
template <class V>
V spd(const V& a) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  const index_t p = a.shape()[0];
  Tensor<T, Cpu> eye = zeros<T>(Shape{p, p});
  for (index_t i = 0; i < p; ++i) eye.at(i, i) = T(1);
  return add(mul_scalar(matmul(a, a, false, true), T(1) / T(p)), constant<V>(to_device<D>(eye)));
}
}  // namespace

BOOST_AUTO_TEST_CASE(matmul_all_transposes) {
  const TD a = rnd({3, 4}, 1), b = rnd({4, 5}, 2), at = rnd({4, 3}, 3), bt = rnd({5, 4}, 4);
  check_op("a b", [](const auto& v) { return matmul(v[0], v[1]); }, {a, b});
  check_op("aT b", [](const auto& v) { return matmul(v[0], v[1], true, false); }, {at, b});
  check_op("a bT", [](const auto& v) { return matmul(v[0], v[1], false, true); }, {a, bt});
  check_op("aT bT", [](const auto& v) { return matmul(v[0], v[1], true, true); }, {at, bt});
  const TD c = matmul(a, b);
  BOOST_TEST(std::abs(c.at(2, 3) - (a.matrix() * b.matrix())(2, 3)) < 1e-14);
}

BOOST_AUTO_TEST_CASE(linear_layer) {
  const TD x = rnd({5, 4}, 5), w = rnd({3, 4}, 6), b = rnd({3}, 7);
  check_op("linear", [](const auto& v) { return tanh(linear(v[0], v[1], v[2])); }, {x, w, b});
}

BOOST_AUTO_TEST_CASE(spd_logdet_inverse_solve) {
  const TD a = rnd({4, 4}, 8);
  check_op("logdet_spd", [](const auto& v) { return logdet_spd(spd(v[0])); }, {a});
  check_op("inverse_spd", [](const auto& v) { return inverse_spd(spd(v[0])); }, {a});
  const TD s = spd(a);
  const double want = std::log(s.matrix().determinant());
  BOOST_TEST(std::abs(logdet_spd(s)[0] - want) < 1e-12);
  const TD inv = inverse_spd(s);
  BOOST_TEST(((inv.matrix() * s.matrix()) - Eigen::MatrixXd::Identity(4, 4)).norm() < 1e-12);
  const TD m = rnd({4, 4}, 9), rhs = rnd({4, 2}, 10);
  check_op("solve", [](const auto& v) {
    using V = std::decay_t<decltype(v[0])>;
    using T = typename ValueTraits<V>::scalar;
    Tensor<T, Cpu> eye = zeros<T>(Shape{4, 4});
    for (index_t i = 0; i < 4; ++i) eye.at(i, i) = T(3);  // keeps A well conditioned
    return solve(add(v[0], constant<V>(eye)), v[1]);
  }, {m, rhs});
  const TD sol = solve(s, rhs);
  BOOST_TEST(((s.matrix() * sol.matrix()) - rhs.matrix()).norm() < 1e-12);
}

BOOST_AUTO_TEST_CASE(bad_matrices_are_named) {
  TD not_spd = from_vector<double>({2, 2}, {1, 2, 2, 1});
  BOOST_CHECK_EXCEPTION(logdet_spd(not_spd), Error,
                        [](const Error& e) { return std::string(e.what()).find("not positive definite") != std::string::npos; });
  TD nan = from_vector<double>({2, 2}, {1, 0, 0, std::nan("")});
  BOOST_CHECK_EXCEPTION(logdet_spd(nan), Error, [](const Error& e) { return std::string(e.what()).find("NaN") != std::string::npos; });
  TD singular = from_vector<double>({2, 2}, {1, 2, 2, 4});
  BOOST_CHECK_EXCEPTION(solve(singular, from_vector<double>({2, 1}, {1, 1})), Error,
                        [](const Error& e) { return std::string(e.what()).find("singular") != std::string::npos; });
  BOOST_CHECK_THROW(matmul(TD(Shape{2, 3}), TD(Shape{2, 3})), Error);
}
