#define BOOST_TEST_MODULE objectives_gaussian
#include <boost/test/unit_test.hpp>

// The Gaussian distances of SPEC §2: values against an independent Eigen computation and against
// the row formulas written with the ops (the form before the sufficient statistics), gradients and
// JVPs against central differences in double, the sufficient statistics (additivity, shift,
// union, cancellation in float, the one-rank global path), float against double, errors.
#include <Eigen/Dense>

#include "objectives_test_util.hpp"
#include "structgan/backend/device_readout.hpp"
#include "structgan/backend/ref.hpp"
#include "structgan/distributed/communicator.hpp"
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

// The distances written directly on the rows with the ops (stacking [f; f^g], centring each set
// by its mean): the form the sufficient statistics replaced, kept here to compare values and
// gradients.
template <class V>
V rows_logdet_term(const V& x, double eps) {
  const index_t n = x.shape()[0], p = x.shape()[1];
  V c = sub(x, row_normalize(mean(x, {0}, true)));
  Tensor<double> eye = zeros<double>(Shape{p, p});
  for (index_t i = 0; i < p; ++i) eye.at(i, i) = 1;
  return logdet_spd(add(constant<V>(eye), mul_scalar(matmul(c, c, true, false), double(p) / (eps * (double(n) + 1e-5)))));
}
template <class V>
V rows_covariance(const V& x, double ridge, V* m = nullptr) {
  const index_t n = x.shape()[0], p = x.shape()[1];
  V mu = mean(x, {0}, true);
  V c = sub(x, mu);
  Tensor<double> eye = zeros<double>(Shape{p, p});
  for (index_t i = 0; i < p; ++i) eye.at(i, i) = ridge;
  if (m) *m = mu;
  return add(mul_scalar(matmul(c, c, true, false), 1.0 / double(n)), constant<V>(eye));
}
template <class V>
V rows_distance(const V& f, const V& g, const GaussianOptions& o) {
  const V joint = concat(std::vector<V>{f, g}, 0);
  if (o.kind == GaussianDistance::Logdet)
    return mul_scalar(sub(rows_logdet_term(joint, o.eps), mul_scalar(add(rows_logdet_term(f, o.eps), rows_logdet_term(g, o.eps)), 0.5)), 0.5);
  if (o.kind == GaussianDistance::Jsd)
    return sub(logdet_spd(rows_covariance(joint, o.ridge)),
               mul_scalar(add(logdet_spd(rows_covariance(f, o.ridge)), logdet_spd(rows_covariance(g, o.ridge))), 0.5));
  V mf, mg;
  V sf = rows_covariance(f, o.ridge, &mf), sg = rows_covariance(g, o.ridge, &mg), sc = mul_scalar(add(sf, sg), 0.5);
  V dm = reshape(sub(mf, mg), Shape{f.shape()[1], 1});
  return add(mul_scalar(sum_all(mul(dm, solve(sc, dm))), 0.125),
             mul_scalar(sub(logdet_spd(sc), mul_scalar(add(logdet_spd(sf), logdet_spd(sg)), 0.5)), 0.5));
}

std::vector<GaussianOptions> every_distance(double ridge) {
  std::vector<GaussianOptions> out;
  for (auto kind : {GaussianDistance::Logdet, GaussianDistance::Jsd, GaussianDistance::Bhattacharyya}) {
    GaussianOptions o;
    o.kind = kind;
    o.ridge = ridge;
    out.push_back(o);
  }
  return out;
}

double max_abs_diff(const TD& a, const TD& b) { return (a.array() - b.array()).abs().maxCoeff(); }
double max_abs(const TD& a) { return a.array().abs().maxCoeff(); }

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

BOOST_AUTO_TEST_CASE(sufficient_statistics_equal_the_row_formulas_in_value_and_gradient) {
  Rng rng(9);
  for (auto [n, m, p] : {std::array<index_t, 3>{9, 7, 4}, {30, 25, 8}, {4, 5, 10}, {1, 2, 3}}) {
    const TD a = unit_rows(n, p, rng), b = unit_rows(m, p, rng);
    for (const GaussianOptions& o : every_distance(1e-2)) {
      BOOST_TEST_CONTEXT(to_string(o.kind) << " n " << n << " m " << m << " p " << p) {
        VD va(a, true), vb(b, true), ra(a, true), rb(b, true);
        VD d = gaussian_distance(va, vb, o), want = rows_distance(ra, rb, o);
        backward(d);
        backward(want);
        BOOST_TEST(close(d.value()[0], want.value()[0], 1e-12, 1e-14));
        BOOST_TEST(max_abs_diff(va.grad(), ra.grad()) <= 1e-10 * max_abs(ra.grad()));
        BOOST_TEST(max_abs_diff(vb.grad(), rb.grad()) <= 1e-10 * max_abs(rb.grad()));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(sums_add_over_disjoint_sets_and_moments_ignore_the_shift) {
  Rng rng(10);
  const TD x = unit_rows(11, 5, rng), y = unit_rows(6, 5, rng);
  const TD shift = randn<double>(Shape{1, 5}, rng);
  // The statistics of the first 4 and the last 7 rows about one shift add up to the whole's.
  const GaussianSums<TD> whole = gaussian_sums(x, shift), head = gaussian_sums(slice(x, 0, 0, 4), shift),
                         tail = gaussian_sums(slice(x, 0, 4, 7), shift);
  BOOST_TEST(head.count + tail.count == whole.count);
  BOOST_TEST(max_abs_diff(add(head.sum, tail.sum), whole.sum) < 1e-13);
  BOOST_TEST(max_abs_diff(add(head.scatter, tail.scatter), whole.scatter) < 1e-13);
  // Moments about any shift are the mean and the centred scatter.
  const GaussianMoments<TD> about_shift = gaussian_moments(whole), about_mean = gaussian_moments(x);
  const Eigen::RowVectorXd mean = to_mat(x).colwise().mean();
  const Mat centred = to_mat(x).rowwise() - mean;
  const Mat scatter = centred.transpose() * centred;
  BOOST_TEST(about_shift.count == 11.0);
  BOOST_TEST((to_mat(about_shift.mean) - Mat(mean)).cwiseAbs().maxCoeff() < 1e-14);
  BOOST_TEST((to_mat(about_mean.mean) - Mat(mean)).cwiseAbs().maxCoeff() < 1e-15);
  BOOST_TEST((to_mat(about_shift.scatter) - scatter).cwiseAbs().maxCoeff() < 1e-13);
  BOOST_TEST((to_mat(about_mean.scatter) - scatter).cwiseAbs().maxCoeff() < 1e-14);
  // The union's moments from the two sets' equal those of the stacked rows.
  const GaussianMoments<TD> joint = joint_moments(gaussian_moments(x), gaussian_moments(y)),
                            stacked = gaussian_moments(concat(std::vector<TD>{x, y}, 0));
  BOOST_TEST(joint.count == 17.0);
  BOOST_TEST(max_abs_diff(joint.mean, stacked.mean) < 1e-15);
  BOOST_TEST(max_abs_diff(joint.scatter, stacked.scatter) < 1e-13);
  BOOST_CHECK_THROW(gaussian_sums(x, TD(Shape{1, 4})), Error);
}

BOOST_AUTO_TEST_CASE(the_shift_keeps_a_collapsed_set_accurate_in_float) {
  // Unit rows within ~1e-3 of one direction: the mean has norm ≈ 1, the covariance entries are
  // ≈ 1e-6. About a zero shift, S/n − mᵀm cancels almost every float digit; about the mean it
  // keeps them (the double covariance is the reference).
  Rng rng(11);
  TD x = randn<double>(Shape{64, 8}, rng, 0.0, 1e-3);
  for (index_t i = 0; i < 64; ++i) x.at(i, 0) += 1.0;
  x = row_normalize(x);
  Tensor<float> xf(x.shape());
  xf.array() = x.array().cast<float>();
  const Mat want = to_mat(gaussian_moments(x).scatter) / 64.0;
  auto error_of = [&](const GaussianMoments<Tensor<float>>& m) {
    const Mat got = m.scatter.matrix().cast<double>() / 64.0;
    return (got - want).cwiseAbs().maxCoeff() / want.cwiseAbs().maxCoeff();
  };
  const double shifted = error_of(gaussian_moments(xf));
  const double unshifted = error_of(gaussian_moments(gaussian_sums(xf, zeros<float>(Shape{1, 8}))));
  BOOST_TEST_MESSAGE("relative error of the float covariance: about the mean " << shifted << ", about 0 " << unshifted);
  BOOST_TEST(shifted < 1e-4);
  BOOST_TEST(unshifted > 100 * shifted);  // the case is one where the shift matters
}

BOOST_AUTO_TEST_CASE(the_global_path_on_one_rank_equals_the_local_one_with_its_derivatives) {
  distributed::SingleProcess one;
  Rng rng(12);
  const TD a = unit_rows(9, 4, rng), b = unit_rows(7, 4, rng);
  for (const GaussianOptions& o : every_distance(1e-3)) {
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      auto global = [o, &one](const auto& v) {
        const auto m = global_moments(one, v[0], v[1]);
        return gaussian_distance(m.first, m.second, o);
      };
      const std::vector<TD> xs = {a, b};
      BOOST_TEST(close(global(xs)[0], gaussian_distance(a, b, o)[0], 1e-13, 1e-15));
      check_gradient(std::string("global ") + to_string(o.kind), global, xs);
      check_jvp(std::string("global ") + to_string(o.kind), global, xs);
      // The communicator of one rank: gaussian_distance takes the local path, bit for bit.
      BOOST_TEST(gaussian_distance(a, b, o, &one)[0] == gaussian_distance(a, b, o)[0]);
    }
  }
  BOOST_TEST(one.stats().calls == 0u);  // one rank: no collective was counted
  for (auto k : {GaussianStats::Global, GaussianStats::PerRank})
    BOOST_TEST(static_cast<int>(gaussian_stats_from_string(to_string(k))) == static_cast<int>(k));
  BOOST_CHECK_THROW(gaussian_stats_from_string("per-rank"), Error);
}

// Issue #24: the distances' p×p algebra (factorizations, the ridge check, the identity) stays on
// the device. On the reference device inside a DeferredReads scope a distance and its gradient read
// nothing and upload nothing; the values and gradients are the CPU's; a failed check surfaces at
// the readout's read with its message.
BOOST_AUTO_TEST_CASE(distances_on_the_reference_device_read_nothing_inside_a_scope) {
  using VR = Var<double, Ref>;
  Rng rng(12);
  const TD a = unit_rows(9, 5, rng), b = unit_rows(7, 5, rng);
  auto& counters = backend::counters(Ref{});
  for (const GaussianOptions& o : every_distance(1e-2)) {
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      VD ca(a, true), cb(b, true);
      VD cd = gaussian_distance(ca, cb, o);
      backward(cd);
      VR ra(to_device<Ref>(a), true), rb(to_device<Ref>(b), true);
      DeviceReadout<double, Ref> readout;
      double value = 0;
      {
        DeferredReads<double, Ref> scope(readout);
        counters.reset();
        VR rd = gaussian_distance(ra, rb, o);
        backward(rd);
        BOOST_TEST(counters.to_host == 0u);
        BOOST_TEST(counters.from_host == 0u);
        readout.add(&value, rd.value());
      }
      counters.reset();
      BOOST_TEST(!readout.read().has_value());
      BOOST_TEST(counters.to_host == 1u);
      BOOST_TEST(close(value, cd.value()[0], 1e-12, 1e-14));
      BOOST_TEST(max_abs_diff(to_host(ra.grad()), ca.grad()) <= 1e-10 * max_abs(ca.grad()));
      BOOST_TEST(max_abs_diff(to_host(rb.grad()), cb.grad()) <= 1e-10 * max_abs(cb.grad()));
    }
  }
  // A ridge too small for p > n: the error waits for the read and names the cause.
  const TD x = unit_rows(3, 10, rng), y = unit_rows(4, 10, rng);
  const Tensor<double, Ref> xr = to_device<Ref>(x), yr = to_device<Ref>(y);
  for (double ridge : {0.0, 1e-30}) {
    DeviceReadout<double, Ref> readout;
    {
      DeferredReads<double, Ref> scope(readout);
      counters.reset();
      BOOST_CHECK_NO_THROW(jsd_distance(xr, yr, ridge));
      BOOST_TEST(counters.to_host == 0u);
    }
    const auto failed = readout.read();
    BOOST_REQUIRE(failed.has_value());
    BOOST_TEST(failed->find("jsd_distance") != std::string::npos, *failed);
    BOOST_TEST(failed->find("singular to working precision") != std::string::npos, *failed);
    // Outside a scope the same error is thrown at once, as on the CPU.
    BOOST_CHECK_THROW(jsd_distance(xr, yr, ridge), Error);
    BOOST_CHECK_THROW(jsd_distance(x, y, ridge), Error);
  }
}
