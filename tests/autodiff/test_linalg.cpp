#define BOOST_TEST_MODULE autodiff_linalg
#include <boost/test/unit_test.hpp>

#include <functional>

#include "common/gradcheck.hpp"
#include "structgan/backend/device_readout.hpp"
#include "structgan/backend/ref.hpp"

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

namespace {
using TR = Tensor<double, Ref>;
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

// Issue #24: logdet_spd and inverse_spd factor on the device. Outside a DeferredReads scope their
// checks are one read; inside one, nothing is read until the scope's readout is.
BOOST_AUTO_TEST_CASE(spd_ops_on_the_reference_device_read_once_outside_a_scope_and_never_inside) {
  const TD a = rnd({5, 5}, 11);
  const TD s = spd(a);
  const TR sr = to_device<Ref>(s);
  auto& counters = backend::counters(Ref{});
  counters.reset();
  const TR ld = logdet_spd(sr);
  BOOST_TEST(counters.to_host == 1u);  // both checks (finite, factored) in one read
  const TR inv = inverse_spd(sr);
  BOOST_TEST(counters.to_host == 2u);
  Var<double, Ref> v(sr, true);
  Var<double, Ref> y = logdet_spd(v);  // one factorization for the value and the gradient
  backward(y);
  BOOST_TEST(counters.to_host == 3u);
  // The values are the CPU's.
  BOOST_TEST(std::abs(to_host(ld)[0] - logdet_spd(s)[0]) < 1e-12);
  BOOST_TEST((to_host(inv).array() - inverse_spd(s).array()).abs().maxCoeff() < 1e-12);
  BOOST_TEST((to_host(v.grad()).array() - inverse_spd(s).array()).abs().maxCoeff() < 1e-12);

  DeviceReadout<double, Ref> readout;
  {
    DeferredReads<double, Ref> scope(readout);
    counters.reset();
    const TR ld2 = logdet_spd(sr);
    const TR inv2 = inverse_spd(sr);
    Var<double, Ref> w(sr, true);
    Var<double, Ref> z = add(logdet_spd(w), sum_all(inverse_spd(w)));
    backward(z);
    const DualTensor<TR> d = logdet_spd(DualTensor<TR>{sr, to_device<Ref>(a)});
    BOOST_TEST(counters.to_host == 0u);
    // 2 per factorization: ld2, inv2, w's logdet (value and gradient share one), w's inverse, d's
    // value and d's tangent (S⁻¹)
    BOOST_TEST(readout.checks() == 12u);
  }
  counters.reset();
  BOOST_TEST(!readout.read().has_value());
  BOOST_TEST(counters.to_host == 1u);
}

BOOST_AUTO_TEST_CASE(failed_factorizations_on_the_reference_device_are_named) {
  const TR not_spd = to_device<Ref>(from_vector<double>({2, 2}, {1, 2, 2, 1}));
  const TR nan = to_device<Ref>(from_vector<double>({2, 2}, {1, std::nan(""), std::nan(""), 1}));
  // Outside a scope: at once.
  std::string e = message_of([&] { logdet_spd(not_spd); });
  BOOST_TEST((contains(e, "logdet_spd") && contains(e, "not positive definite")), e);
  e = message_of([&] { inverse_spd(not_spd); });
  BOOST_TEST((contains(e, "inverse_spd") && contains(e, "not positive definite")), e);
  e = message_of([&] { logdet_spd(nan); });
  BOOST_TEST(contains(e, "NaN"), e);
  // Inside a scope: nothing thrown or read; the readout's read names the first failure.
  auto& counters = backend::counters(Ref{});
  DeviceReadout<double, Ref> readout;
  {
    DeferredReads<double, Ref> scope(readout);
    counters.reset();
    BOOST_CHECK_NO_THROW(logdet_spd(not_spd));
    BOOST_CHECK_NO_THROW(inverse_spd(nan));
    BOOST_TEST(counters.to_host == 0u);
  }
  const auto failed = readout.read();
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST((contains(*failed, "logdet_spd") && contains(*failed, "not positive definite")), *failed);
  {
    DeferredReads<double, Ref> scope(readout);
    inverse_spd(nan);
  }
  const auto failed_nan = readout.read();
  BOOST_REQUIRE(failed_nan.has_value());
  BOOST_TEST((contains(*failed_nan, "inverse_spd") && contains(*failed_nan, "NaN")), *failed_nan);
}
