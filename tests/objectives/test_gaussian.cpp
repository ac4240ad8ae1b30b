#define BOOST_TEST_MODULE objectives_gaussian
#include <boost/test/unit_test.hpp>

// The Gaussian distances of SPEC §2: values against an independent Eigen computation,
// gradients and JVPs against central differences in double, float against double, errors.
#include <Eigen/Dense>

#include "objectives_test_util.hpp"
#include "structgan/objectives/gaussian.hpp"

using namespace structgan;
using namespace structgan::objectives;
using namespace structgan::objtest;

namespace {

using Mat = Eigen::MatrixXd;

Mat to_mat(const TD& t) { return t.matrix(); }
double logdet(const Mat& s) { return 2.0 * Eigen::LLT<Mat>(s).matrixLLT().diagonal().array().log().sum(); }

/// L(X) of the released form, written directly in Eigen (independent of the ops).
double ref_logdet_term(const Mat& x, double eps) {
  const double n = double(x.rows()), p = double(x.cols());
  Eigen::RowVectorXd mu = x.colwise().mean();
  mu /= std::max(mu.norm(), 1e-12);
  const Mat c = x.rowwise() - mu;
  return logdet(Mat::Identity(x.cols(), x.cols()) + (p / eps) * (c.transpose() * c) / (n + 1e-5));
}
double ref_logdet_distance(const Mat& a, const Mat& b, double eps) {
  Mat j(a.rows() + b.rows(), a.cols());
  j << a, b;
  return 0.5 * (ref_logdet_term(j, eps) - 0.5 * (ref_logdet_term(a, eps) + ref_logdet_term(b, eps)));
}
Mat ref_cov(const Mat& x, double ridge, Eigen::VectorXd* mean = nullptr) {
  const Eigen::RowVectorXd m = x.colwise().mean();
  const Mat c = x.rowwise() - m;
  if (mean) *mean = m.transpose();
  return c.transpose() * c / double(x.rows()) + ridge * Mat::Identity(x.cols(), x.cols());
}
double ref_jsd(const Mat& a, const Mat& b, double ridge) {
  Mat j(a.rows() + b.rows(), a.cols());
  j << a, b;
  return logdet(ref_cov(j, ridge)) - 0.5 * (logdet(ref_cov(a, ridge)) + logdet(ref_cov(b, ridge)));
}
double ref_bhattacharyya(const Mat& a, const Mat& b, double ridge) {
  Eigen::VectorXd ma, mb;
  const Mat sa = ref_cov(a, ridge, &ma), sb = ref_cov(b, ridge, &mb), s = 0.5 * (sa + sb);
  const Eigen::VectorXd dm = ma - mb;
  return 0.125 * dm.dot(s.ldlt().solve(dm)) + 0.5 * (logdet(s) - 0.5 * (logdet(sa) + logdet(sb)));
}

auto logdet_fn(double eps) {
  return [eps](const auto& v) { return logdet_distance(v[0], v[1], eps); };
}
auto jsd_fn(double ridge) {
  return [ridge](const auto& v) { return jsd_distance(v[0], v[1], ridge); };
}
auto bhat_fn(double ridge) {
  return [ridge](const auto& v) { return bhattacharyya_distance(v[0], v[1], ridge); };
}

}  // namespace

BOOST_AUTO_TEST_CASE(values_match_an_independent_eigen_computation) {
  Rng rng(1);
  for (auto [n, m, p] : {std::array<index_t, 3>{9, 7, 4}, {30, 25, 8}, {5, 6, 12}}) {
    const TD a = unit_rows(n, p, rng), b = unit_rows(m, p, rng);
    BOOST_TEST_CONTEXT("n " << n << " m " << m << " p " << p) {
      BOOST_TEST(close(logdet_distance(a, b)[0], ref_logdet_distance(to_mat(a), to_mat(b), 0.5), 1e-10, 1e-12));
      BOOST_TEST(close(logdet_distance(a, b, 0.2)[0], ref_logdet_distance(to_mat(a), to_mat(b), 0.2), 1e-10, 1e-12));
      BOOST_TEST(close(jsd_distance(a, b, 1e-2)[0], ref_jsd(to_mat(a), to_mat(b), 1e-2), 1e-10, 1e-12));
      BOOST_TEST(close(bhattacharyya_distance(a, b, 1e-2)[0], ref_bhattacharyya(to_mat(a), to_mat(b), 1e-2), 1e-10, 1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(distances_are_near_zero_for_identical_sets_and_positive_otherwise) {
  Rng rng(2);
  const TD a = unit_rows(40, 6, rng);
  // A shifted cloud: every row pulled toward one direction.
  TD b = randn<double>(Shape{40, 6}, rng);
  for (index_t i = 0; i < 40; ++i) b.at(i, 0) += 3.0;
  b = row_normalize(b);
  BOOST_TEST(std::abs(jsd_distance(a, a)[0]) < 1e-10);
  BOOST_TEST(std::abs(bhattacharyya_distance(a, a)[0]) < 1e-10);
  BOOST_TEST(std::abs(logdet_distance(a, a)[0]) < 1e-5);  // n vs 2n in the divisor n + 1e-5 only
  BOOST_TEST(logdet_distance(a, b)[0] > 0.05);
  BOOST_TEST(jsd_distance(a, b)[0] > 0.05);
  BOOST_TEST(bhattacharyya_distance(a, b)[0] > 0.05);
  // Symmetric in its two sets.
  BOOST_TEST(close(logdet_distance(a, b)[0], logdet_distance(b, a)[0], 1e-12, 1e-14));
  BOOST_TEST(close(bhattacharyya_distance(a, b)[0], bhattacharyya_distance(b, a)[0], 1e-12, 1e-14));
}

BOOST_AUTO_TEST_CASE(gradients_against_central_differences) {
  Rng rng(3);
  const std::vector<TD> small = {unit_rows(9, 4, rng), unit_rows(7, 4, rng)};
  check_gradient("logdet", logdet_fn(0.5), small);
  check_gradient("jsd", jsd_fn(1e-3), small);
  check_gradient("bhattacharyya", bhat_fn(1e-3), small);
  // More dimensions than samples: the covariance is singular; the logdet form stays smooth.
  const std::vector<TD> wide = {unit_rows(4, 10, rng), unit_rows(5, 10, rng)};
  check_gradient("logdet (p > n)", logdet_fn(0.5), wide);
  check_gradient("jsd (p > n, ridge 1e-2)", jsd_fn(1e-2), wide, 1e-5, 1e-8);
  // Inputs that are not unit rows (the distances do not assume them).
  const std::vector<TD> raw = {randn<double>(Shape{8, 3}, rng), randn<double>(Shape{6, 3}, rng)};
  check_gradient("logdet (raw rows)", logdet_fn(0.3), raw);
  check_gradient("bhattacharyya (raw rows)", bhat_fn(1e-4), raw);
}

BOOST_AUTO_TEST_CASE(jvps_and_reverse_over_forward_against_central_differences) {
  Rng rng(4);
  const std::vector<TD> xs = {unit_rows(8, 4, rng), unit_rows(6, 4, rng)};
  check_jvp("logdet", logdet_fn(0.5), xs);
  check_jvp("jsd", jsd_fn(1e-3), xs);
  check_jvp("bhattacharyya", bhat_fn(1e-3), xs);
}

BOOST_AUTO_TEST_CASE(dispatch_by_kind_and_names) {
  Rng rng(5);
  const TD a = unit_rows(10, 4, rng), b = unit_rows(9, 4, rng);
  GaussianOptions o;
  BOOST_TEST(gaussian_distance(a, b, o)[0] == logdet_distance(a, b, 0.5)[0]);
  o.kind = GaussianDistance::Jsd;
  o.ridge = 1e-3;
  BOOST_TEST(gaussian_distance(a, b, o)[0] == jsd_distance(a, b, 1e-3)[0]);
  o.kind = GaussianDistance::Bhattacharyya;
  BOOST_TEST(gaussian_distance(a, b, o)[0] == bhattacharyya_distance(a, b, 1e-3)[0]);
  for (auto k : {GaussianDistance::Logdet, GaussianDistance::Jsd, GaussianDistance::Bhattacharyya})
    BOOST_TEST(static_cast<int>(gaussian_distance_from_string(to_string(k))) == static_cast<int>(k));
  BOOST_CHECK_THROW(gaussian_distance_from_string("wasserstein"), Error);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  Rng rng(6);
  const TD a = unit_rows(64, 16, rng), b = unit_rows(48, 16, rng);
  const Tensor<float> af(a.shape()), bf(b.shape());
  const_cast<Tensor<float>&>(af).array() = a.array().cast<float>();
  const_cast<Tensor<float>&>(bf).array() = b.array().cast<float>();
  Var<float> va(af, true), vb(bf, true);
  Var<float> d = logdet_distance(va, vb);
  backward(d);
  VD wa(a, true), wb(b, true);
  VD dd = logdet_distance(wa, wb);
  backward(dd);
  BOOST_TEST(close(d.value()[0], dd.value()[0], 1e-4, 1e-5));
  const double gmax = wa.grad().array().abs().maxCoeff();
  BOOST_TEST((va.grad().array().cast<double>() - wa.grad().array()).abs().maxCoeff() < 1e-3 * gmax);
  BOOST_TEST(close(jsd_distance(af, bf)[0], jsd_distance(a, b)[0], 1e-3, 1e-4));
  BOOST_TEST(close(bhattacharyya_distance(af, bf)[0], bhattacharyya_distance(a, b)[0], 1e-3, 1e-4));
}

BOOST_AUTO_TEST_CASE(more_dimensions_than_samples_keeps_the_logdet_form_finite) {
  Rng rng(7);
  const TD a = unit_rows(3, 64, rng), b = unit_rows(2, 64, rng);
  const double d = logdet_distance(a, b)[0];
  BOOST_TEST(std::isfinite(d));
  BOOST_TEST(close(d, ref_logdet_distance(to_mat(a), to_mat(b), 0.5), 1e-9, 1e-12));
  // A single sample per set is still well defined.
  BOOST_TEST(std::isfinite(logdet_distance(unit_rows(1, 8, rng), unit_rows(1, 8, rng))[0]));
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
  Rng rng(8);
  const TD a = unit_rows(6, 4, rng), b = unit_rows(5, 4, rng), wide = unit_rows(5, 5, rng);
  TD nan = clone(a), inf = clone(b);
  nan.at(2, 1) = std::nan("");
  inf.at(0, 0) = std::numeric_limits<double>::infinity();
  for (auto fn : {0, 1, 2}) {
    auto run = [fn](const TD& x, const TD& y) {
      return fn == 0 ? logdet_distance(x, y) : fn == 1 ? jsd_distance(x, y) : bhattacharyya_distance(x, y);
    };
    BOOST_CHECK_THROW(run(nan, b), Error);
    BOOST_CHECK_THROW(run(a, inf), Error);
    BOOST_CHECK_THROW(run(a, wide), Error);
    BOOST_CHECK_THROW(run(a, TD()), Error);
    BOOST_CHECK_THROW(run(a, zeros<double>(Shape{0, 4})), Error);
    BOOST_CHECK_THROW(run(a, zeros<double>(Shape{4})), Error);
  }
  // The message names the operation and the shapes.
  try {
    logdet_distance(a, wide);
    BOOST_FAIL("no throw");
  } catch (const Error& e) {
    const std::string w = e.what();
    BOOST_TEST(w.find("logdet_distance") != std::string::npos);
    BOOST_TEST(w.find("[5, 5]") != std::string::npos);
  }
  BOOST_CHECK_THROW(logdet_distance(a, b, 0.0), Error);
  // Ridge forms with p > n: singular covariances need a ridge.
  const TD x = unit_rows(3, 10, rng), y = unit_rows(4, 10, rng);
  BOOST_CHECK_THROW(jsd_distance(x, y, 0.0), Error);
  BOOST_CHECK_THROW(jsd_distance(x, y, 1e-30), Error);
  BOOST_CHECK_THROW(bhattacharyya_distance(x, y, 0.0), Error);
  BOOST_CHECK_THROW(jsd_distance(a, b, -1e-3), Error);
  try {
    bhattacharyya_distance(x, y, 1e-30);
    BOOST_FAIL("no throw");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("ridge") != std::string::npos);
  }
  BOOST_TEST(std::isfinite(jsd_distance(x, y, 1e-3)[0]));
  // In float the same ridge that works in double can be too small.
  Tensor<float> xf(x.shape()), yf(y.shape());
  xf.array() = x.array().cast<float>();
  yf.array() = y.array().cast<float>();
  BOOST_CHECK_THROW(jsd_distance(xf, yf, 1e-12), Error);
}
