#define BOOST_TEST_MODULE autodiff_dual_scalar
#include <boost/test/unit_test.hpp>

#include <Eigen/Dense>

#include "structgan/autodiff/dual.hpp"

using structgan::Dual;

BOOST_AUTO_TEST_CASE(elementary_functions_match_finite_differences) {
  auto check = [](auto f, double x) {
    const Dual<double> y = f(Dual<double>(x, 1.0));
    const double h = 1e-6, fd = (f(Dual<double>(x + h)).val - f(Dual<double>(x - h)).val) / (2 * h);
    BOOST_TEST(std::abs(y.eps - fd) < 1e-7 * (1 + std::abs(fd)));
  };
  for (double x : {0.3, 1.7, -0.8}) {
    check([](auto v) { return exp(v) * v; }, x);
    check([](auto v) { return tanh(v) / (v * v + 1.0); }, x);
    check([](auto v) { return elu(v) - v * 2.0; }, x);
    check([](auto v) { return pow(v * v + 1.0, 1.5); }, x);
    check([](auto v) { return sqrt(v * v + 0.5) + log(v * v + 2.0); }, x);
  }
}

BOOST_AUTO_TEST_CASE(usable_in_eigen_matrices) {
  // d/dt of A(t)·b with A(t) = A + tE is E·b.
  Eigen::Matrix<Dual<double>, 3, 3> a;
  Eigen::Matrix<Dual<double>, 3, 1> b;
  Eigen::Matrix3d av = Eigen::Matrix3d::Random(), ev = Eigen::Matrix3d::Random();
  Eigen::Vector3d bv = Eigen::Vector3d::Random();
  for (int i = 0; i < 3; ++i) {
    b(i) = Dual<double>(bv(i));
    for (int j = 0; j < 3; ++j) a(i, j) = Dual<double>(av(i, j), ev(i, j));
  }
  const Eigen::Matrix<Dual<double>, 3, 1> y = a * b;
  const Eigen::Vector3d want = ev * bv, val = av * bv;
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(std::abs(y(i).eps - want(i)) < 1e-14);
    BOOST_TEST(std::abs(y(i).val - val(i)) < 1e-14);
  }
  const Dual<double> s = (a * b).squaredNorm();
  BOOST_TEST(std::abs(s.eps - 2 * val.dot(want)) < 1e-12);
}
