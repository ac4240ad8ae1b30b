#define BOOST_TEST_MODULE nn_spectral_norm
#include <boost/test/unit_test.hpp>

#include <Eigen/SVD>

#include "structgan/autodiff.hpp"
#include "structgan/nn/layers.hpp"

using namespace structgan;
using TD = Tensor<double, Cpu>;
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {
nn::Conv2d<double> sn_conv(std::uint64_t seed, index_t in = 4, index_t out = 6) {
  Rng rng(seed);
  nn::Conv2dOptions o(in, out, 3);
  o.spectral_norm = true;
  return nn::Conv2d<double>(o, rng);
}
Mat as_matrix(const TD& w) { return Eigen::Map<const Mat>(w.data(), w.dim(0), w.numel() / w.dim(0)); }
}  // namespace

BOOST_AUTO_TEST_CASE(power_iteration_converges_to_the_largest_singular_value) {
  for (std::uint64_t seed : {1, 2, 3}) {
    nn::Conv2d<double> conv = sn_conv(seed);
    const Mat w = as_matrix(conv.weight.value);
    Eigen::JacobiSVD<Mat> svd(w, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const double smax = svd.singularValues()[0];
    Rng xr(seed + 10);
    const TD x = randn<double>(Shape{1, 4, 5, 5}, xr);
    // Each training forward pass does one power iteration.
    for (int it = 0; it < 300; ++it) conv(x);
    BOOST_TEST(std::abs(conv.sn.sigma(conv.weight.value) - smax) < 1e-9 * smax);
    // u and v are the top singular vectors (up to a common sign).
    const Eigen::Map<const Eigen::VectorXd> u(conv.sn.u.data(), 6), v(conv.sn.v.data(), 36);
    BOOST_TEST(std::abs(std::abs(u.dot(svd.matrixU().col(0))) - 1) < 1e-8);
    BOOST_TEST(std::abs(std::abs(v.dot(svd.matrixV().col(0))) - 1) < 1e-8);
    BOOST_TEST(u.dot(svd.matrixU().col(0)) * v.dot(svd.matrixV().col(0)) > 0);
    // The normalized weight then has spectral norm 1: W/σ.
    const TD y = conv(x);
    const TD want = conv2d(x, mul_scalar(conv.weight.value, 1.0 / smax), 1, 1);
    for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(std::abs(y[i] - (want[i] + conv.bias.value[i / 25 % 6])) < 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(one_iteration_per_training_forward_none_in_evaluation) {
  nn::Conv2d<double> conv = sn_conv(4);
  const Mat w = as_matrix(conv.weight.value);
  const Eigen::VectorXd u0 = Eigen::Map<const Eigen::VectorXd>(conv.sn.u.data(), 6);
  Rng xr(5);
  const TD x = randn<double>(Shape{2, 4, 3, 3}, xr);
  const TD y = conv(x);
  Eigen::VectorXd v1 = w.transpose() * u0;
  v1 /= v1.norm();
  Eigen::VectorXd u1 = w * v1;
  u1 /= u1.norm();
  for (index_t i = 0; i < 6; ++i) BOOST_TEST(std::abs(conv.sn.u[i] - u1[i]) < 1e-14);
  for (index_t i = 0; i < 36; ++i) BOOST_TEST(std::abs(conv.sn.v[i] - v1[i]) < 1e-14);
  // σ = u₁ᵀ W v₁ with the updated vectors
  const double sigma = u1.dot(w * v1);
  BOOST_TEST(std::abs(conv.sn.sigma(conv.weight.value) - sigma) < 1e-14);
  const TD want = conv2d(x, mul_scalar(conv.weight.value, 1.0 / sigma), 1, 1);
  for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(std::abs(y[i] - (want[i] + conv.bias.value[i / 9 % 6])) < 1e-12);
  // Evaluation: stored vectors used as they are, nothing updated.
  conv.train(false);
  const TD ye = conv(x);
  for (index_t i = 0; i < 6; ++i) BOOST_TEST(conv.sn.u[i] == u1[i]);
  for (index_t i = 0; i < y.numel(); ++i) BOOST_TEST(std::abs(ye[i] - y[i]) < 1e-14);
}

BOOST_AUTO_TEST_CASE(gradient_treats_u_and_v_as_constants) {
  // d(W/σ)/dW applied to G, with σ = uᵀWv and u, v constant: G/σ − ⟨G, W⟩/σ² · u vᵀ.
  Rng rng(6);
  nn::LinearOptions o(5, 3);
  o.spectral_norm = true;
  o.bias = false;
  nn::Linear<double> fc(o, rng);
  const TD x = randn<double>(Shape{4, 5}, rng), seed = randn<double>(Shape{4, 3}, rng);
  Var<double> y = fc(Var<double>(x));  // training: updates u, v first
  const Mat w = as_matrix(fc.weight.value);
  const Eigen::Map<const Eigen::VectorXd> u(fc.sn.u.data(), 3), v(fc.sn.v.data(), 5);
  const Mat uv = u * v.transpose();
  const double sigma = u.dot(w * v);
  // A second training pass before the first backward: it updates u and v in place, but the first
  // graph keeps the vectors it used.
  const Eigen::VectorXd u_first = u;
  fc(Var<double>(x));
  BOOST_TEST((Eigen::Map<const Eigen::VectorXd>(fc.sn.u.data(), 3) - u_first).norm() > 1e-6);
  backward(y, seed);
  const Mat gy = Eigen::Map<const Mat>(seed.data(), 4, 3);
  const Mat xm = Eigen::Map<const Mat>(x.data(), 4, 5);
  const Mat g_wn = gy.transpose() * xm;  // ∂L/∂(W/σ)
  const Mat want = g_wn / sigma - (g_wn.cwiseProduct(w).sum() / (sigma * sigma)) * uv;
  const Mat got = as_matrix(fc.weight.grad);
  BOOST_TEST((got - want).norm() < 1e-12 * want.norm());
}

BOOST_AUTO_TEST_CASE(spectral_norm_works_in_forward_mode_and_float) {
  nn::Conv2d<double> conv = sn_conv(7);
  Rng rng(8);
  const TD x = randn<double>(Shape{1, 4, 4, 4}, rng), t = randn<double>(Shape{1, 4, 4, 4}, rng);
  conv.train(false);
  const auto r = jvp([&](const auto& z) { return conv(z); }, x, t);
  // Linear in x: J t = conv(t, W/σ) without the bias.
  const TD want = conv2d(t, mul_scalar(conv.weight.value, 1.0 / conv.sn.sigma(conv.weight.value)), 1, 1);
  for (index_t i = 0; i < want.numel(); ++i) BOOST_TEST(std::abs(r.jvp[i] - want[i]) < 1e-12);
  Rng r1(9), r2(9);
  nn::LinearOptions o(6, 4);
  o.spectral_norm = true;
  nn::Linear<float> lf(o, r1);
  nn::Linear<double> ld(o, r2);
  for (int i = 0; i < 50; ++i) {
    lf.sn.power_iteration(lf.weight.value);
    ld.sn.power_iteration(ld.weight.value);
  }
  BOOST_TEST(std::abs(lf.sn.sigma(lf.weight.value) - ld.sn.sigma(ld.weight.value)) < 1e-5 * ld.sn.sigma(ld.weight.value));
}
