#define BOOST_TEST_MODULE eval_image_metrics
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "structgan/eval/image_metrics.hpp"
#include "structgan/io/npy.hpp"
#include "error_check.hpp"

// FID, KID and IS against the values numpy/scipy compute for committed features
// (tests/eval/reference/make_image_metrics_reference.py), plus closed-form cases and the error paths.
namespace ev = structgan::eval;
namespace fs = std::filesystem;

namespace {
const fs::path reference_dir = STRUCTGAN_EVAL_REFERENCE_DIR;

nlohmann::json reference() {
  std::ifstream f(reference_dir / "image_metrics_reference.json");
  BOOST_REQUIRE_MESSAGE(f, "cannot read " << (reference_dir / "image_metrics_reference.json"));
  return nlohmann::json::parse(f);
}
ev::RowMatrixD features(const std::string& name) { return structgan::io::read_npy_matrix<double>((reference_dir / name).string()); }
double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

}  // namespace

BOOST_AUTO_TEST_CASE(fid_equals_pytorch_fid_on_well_conditioned_features) {
  const nlohmann::json r = reference().at("fid");
  const ev::RowMatrixD a = features(r.at("a")), b = features(r.at("b"));
  BOOST_REQUIRE_EQUAL(a.rows(), 200);
  BOOST_REQUIRE_EQUAL(a.cols(), 16);
  BOOST_REQUIRE(!r.at("eps_retry").get<bool>());
  const double fid = ev::frechet_distance(a, b);
  const double want = r.at("pytorch_fid").get<double>();
  BOOST_TEST_MESSAGE("FID " << fid << " vs pytorch-fid (scipy sqrtm) " << want << ": relative " << rel(fid, want));
  BOOST_CHECK_LT(rel(fid, want), 1e-6);
  // scipy's sqrtm is itself accurate to ~1e-14 here: both agree with the SVD route far below the 1e-6 asked
  BOOST_CHECK_LT(rel(fid, r.at("exact").get<double>()), 1e-11);
  const ev::FidStatistics s = ev::fid_statistics(a);
  BOOST_CHECK_LT(rel(s.sigma.trace(), r.at("trace_sigma_a").get<double>()), 1e-13);
  BOOST_CHECK(s.sigma == s.sigma.transpose());
  // a distance: symmetric, 0 on itself, from statistics as from features
  BOOST_CHECK_LT(rel(ev::frechet_distance(b, a), fid), 1e-11);
  BOOST_CHECK_SMALL(ev::frechet_distance(a, a), 1e-9 * s.sigma.trace());
  BOOST_CHECK_EQUAL(ev::frechet_distance(s, ev::fid_statistics(b)), fid);
  // float features are widened to double before any arithmetic
  const ev::RowMatrixF af = a.cast<float>(), bf = b.cast<float>();
  BOOST_CHECK_EQUAL(ev::frechet_distance(af, bf), ev::frechet_distance(af.cast<double>(), bf.cast<double>()));
}

BOOST_AUTO_TEST_CASE(fid_with_fewer_samples_than_dimensions) {
  // N < D: both covariances are singular (ranks 9 and 11 in 32-D). The symmetric-eigen route gives the eps-free
  // value; scipy's sqrtm of the singular product (pytorch-fid) loses ~1e-8 relative here without needing its
  // eps retry. The exact value comes from an independent route (nuclear norm of A₁A₂ᵀ, by SVD).
  const nlohmann::json r = reference().at("fid_singular");
  const ev::RowMatrixD a = features(r.at("a")), b = features(r.at("b"));
  BOOST_REQUIRE_LT(a.rows(), a.cols());
  const double fid = ev::frechet_distance(a, b);
  const double exact = r.at("exact").get<double>(), scipy = r.at("pytorch_fid").get<double>();
  BOOST_TEST_MESSAGE("singular FID " << fid << ": relative to exact " << rel(fid, exact) << ", to pytorch-fid "
                                     << rel(fid, scipy) << " (pytorch-fid to exact " << rel(scipy, exact) << ")");
  BOOST_CHECK_LT(rel(fid, exact), 1e-10);
  BOOST_CHECK_LT(rel(fid, scipy), 1e-7);
}

BOOST_AUTO_TEST_CASE(fid_closed_form_for_diagonal_covariances) {
  // Σ₁ = diag(a²), Σ₂ = diag(b²): FID = ‖μ₁ − μ₂‖² + Σ (aᵢ − bᵢ)², including zero variances (singular)
  ev::FidStatistics p, q;
  p.mu = Eigen::VectorXd::LinSpaced(5, 0.0, 1.0);
  q.mu = Eigen::VectorXd::Constant(5, 0.5);
  const Eigen::VectorXd sa = (Eigen::VectorXd(5) << 1.0, 2.0, 0.0, 0.5, 3.0).finished();
  const Eigen::VectorXd sb = (Eigen::VectorXd(5) << 2.0, 2.0, 1.0, 0.0, 0.1).finished();
  p.sigma = sa.cwiseAbs2().asDiagonal();
  q.sigma = sb.cwiseAbs2().asDiagonal();
  const double want = (p.mu - q.mu).squaredNorm() + (sa - sb).squaredNorm();
  BOOST_CHECK_LT(rel(ev::frechet_distance(p, q), want), 1e-14);
}

BOOST_AUTO_TEST_CASE(fid_errors_name_the_problem) {
  ev::RowMatrixD x = ev::RowMatrixD::Random(20, 4), y = ev::RowMatrixD::Random(20, 5);
  evtest::check_error_mentions([&] { ev::frechet_distance(x, y); }, {"dimension", "4 vs 5"});
  evtest::check_error_mentions([&] { ev::fid_statistics(x.topRows(1)); }, {"fewer than 2 samples"});
  ev::RowMatrixD bad = x;
  bad(7, 2) = std::numeric_limits<double>::quiet_NaN();
  evtest::check_error_mentions([&] { ev::frechet_distance(bad, x); }, {"NaN", "row 7, column 2"});
  bad(7, 2) = std::numeric_limits<double>::infinity();
  evtest::check_error_mentions([&] { ev::fid_statistics(bad); }, {"Inf", "row 7"});
  evtest::check_error_mentions([&] { ev::fid_statistics((ev::RowMatrixD(2, 2) << 1e200, 0.0, -1e200, 1.0).finished()); },
                       {"not finite"});
  ev::FidStatistics s = ev::fid_statistics(x), t = ev::fid_statistics(x);
  t.sigma(1, 1) = std::numeric_limits<double>::infinity();
  evtest::check_error_mentions([&] { ev::frechet_distance(s, t); }, {"covariance", "NaN or Inf"});
  t = s;
  t.sigma(0, 1) += 0.5;  // not symmetric
  evtest::check_error_mentions([&] { ev::frechet_distance(s, t); }, {"not symmetric"});
  t = s;
  t.sigma(0, 0) = -1.0;  // not positive semi-definite
  evtest::check_error_mentions([&] { ev::frechet_distance(t, s); }, {"not positive semi-definite"});
  evtest::check_error_mentions([&] { ev::frechet_distance(s, t); }, {"not positive semi-definite"});
  t = s;
  t.mu.conservativeResize(3);
  evtest::check_error_mentions([&] { ev::frechet_distance(s, t); }, {"mu has 3 entries"});
}

BOOST_AUTO_TEST_CASE(numpy_random_state_draws) {
  // torch-fidelity picks KID subsets with np.random.RandomState(seed).choice(n, m, replace=False)
  for (const auto& r : reference().at("random_state")) {
    ev::detail::NumpyRandomState rng(r.at("seed").get<std::uint64_t>());
    const auto p = rng.permutation(r.at("n").get<Eigen::Index>());
    const auto want = r.contains("permutation") ? r.at("permutation") : r.at("permutation_head");
    for (std::size_t i = 0; i < want.size(); ++i) BOOST_CHECK_EQUAL(p[i], want[i].get<Eigen::Index>());
  }
  evtest::check_error_mentions([] { ev::detail::NumpyRandomState(1ull << 32); }, {"seed"});
}

BOOST_AUTO_TEST_CASE(kid_equals_torch_fidelity) {
  const nlohmann::json r = reference();
  const ev::RowMatrixD a = features(r.at("fid").at("a")), b = features(r.at("fid").at("b"));
  for (const auto& k : r.at("kid")) {
    ev::KidOptions o;
    o.subsets = k.at("subsets");
    o.subset_size = k.at("subset_size");
    o.seed = k.at("seed");
    const ev::MeanStd got = ev::kernel_inception_distance(a, b, o);
    const double mean = k.at("mean"), std = k.at("std");
    BOOST_TEST_MESSAGE("KID " << o.subsets << "x" << o.subset_size << " seed " << o.seed << ": " << got.mean << " ± "
                              << got.std << " vs " << mean << " ± " << std);
    BOOST_CHECK_LT(rel(got.mean, mean), 1e-12);
    // std over subsets of the same rows (subset_size = N) is rounding noise (~1e-15) on both sides
    BOOST_CHECK_SMALL(got.std - std, 1e-12 * std::abs(mean) + 1e-12 * std);
  }
  // a different seed draws other subsets, hence another mean
  ev::KidOptions o;
  o.subsets = 10;
  o.subset_size = 50;
  o.seed = 2021;
  BOOST_CHECK_GT(rel(ev::kernel_inception_distance(a, b, o).mean, r.at("kid")[0].at("mean").get<double>()), 1e-6);
  // same distribution: the unbiased estimate is near 0 (either sign), far below the two-set value
  BOOST_CHECK_LT(std::abs(ev::kernel_inception_distance(a.topRows(100), a.bottomRows(100), o).mean), 0.5);
}

BOOST_AUTO_TEST_CASE(kid_errors_name_the_problem) {
  const ev::RowMatrixD a = ev::RowMatrixD::Random(200, 8), b = ev::RowMatrixD::Random(150, 8);
  // torch-fidelity refuses a subset larger than a set; so do we (the defaults ask for 1000)
  evtest::check_error_mentions([&] { ev::kernel_inception_distance(a, b); },
                       {"subset size 1000", "first: 200", "second: 150"});
  ev::KidOptions o;
  o.subset_size = 1;
  evtest::check_error_mentions([&] { ev::kernel_inception_distance(a, b, o); }, {"at least 2"});
  o.subset_size = 10;
  o.subsets = 0;
  evtest::check_error_mentions([&] { ev::kernel_inception_distance(a, b, o); }, {"subsets must be at least 1"});
  o.subsets = 2;
  evtest::check_error_mentions([&] { ev::kernel_inception_distance(a, ev::RowMatrixD::Random(20, 9), o); }, {"dimension"});
  ev::RowMatrixD bad = b;
  bad(3, 3) = std::numeric_limits<double>::quiet_NaN();
  evtest::check_error_mentions([&] { ev::kernel_inception_distance(a, bad, o); }, {"second features", "NaN", "row 3"});
}

BOOST_AUTO_TEST_CASE(inception_score_equals_numpy) {
  const nlohmann::json r = reference();
  const ev::RowMatrixD logits = features("logits.npy");
  for (const auto& k : r.at("inception_score")) {
    ev::InceptionScoreOptions o;
    o.splits = k.at("splits");
    o.shuffle = k.contains("shuffle_seed");
    if (o.shuffle) o.seed = k.at("shuffle_seed");
    const ev::MeanStd got = ev::inception_score(logits, o);
    BOOST_TEST_MESSAGE("IS splits " << o.splits << (o.shuffle ? " shuffled" : "") << ": " << got.mean << " ± "
                                    << got.std << " vs " << k.at("mean") << " ± " << k.at("std"));
    BOOST_CHECK_LT(rel(got.mean, k.at("mean").get<double>()), 1e-12);
    BOOST_CHECK_LT(rel(got.std, k.at("std").get<double>()), 1e-10);
  }
}

BOOST_AUTO_TEST_CASE(inception_score_closed_forms) {
  // identical rows: p(y|x) = p(y), KL 0, IS exactly 1 with std 0
  const ev::MeanStd one = ev::inception_score(ev::RowMatrixD::Constant(30, 7, 2.5));
  BOOST_CHECK_CLOSE(one.mean, 1.0, 1e-12);
  BOOST_CHECK_SMALL(one.std, 1e-12);
  // confident one-hot predictions, every split holding each of C classes once: IS = C (p(y|x) underflows to 0
  // off the predicted class: those terms count 0)
  ev::RowMatrixD hot = ev::RowMatrixD::Zero(100, 10);
  for (Eigen::Index i = 0; i < 100; ++i) hot(i, i % 10) = 1000.0;
  const ev::MeanStd ten = ev::inception_score(hot);
  BOOST_CHECK_CLOSE(ten.mean, 10.0, 1e-12);
  BOOST_CHECK_SMALL(ten.std, 1e-12);
  // invariant to adding a constant to a row's logits (softmax)
  ev::RowMatrixD shifted = features("logits.npy");
  const ev::MeanStd base = ev::inception_score(shifted);
  shifted.array().colwise() += Eigen::ArrayXd::LinSpaced(shifted.rows(), -50.0, 50.0);
  BOOST_CHECK_CLOSE(ev::inception_score(shifted).mean, base.mean, 1e-10);
}

BOOST_AUTO_TEST_CASE(inception_score_errors_name_the_problem) {
  evtest::check_error_mentions([] { ev::inception_score(ev::RowMatrixD::Random(9, 4)); }, {"9 samples", "10 splits"});
  ev::InceptionScoreOptions o;
  o.splits = 0;
  evtest::check_error_mentions([&] { ev::inception_score(ev::RowMatrixD::Random(9, 4), o); }, {"splits must be at least 1"});
  ev::RowMatrixD bad = ev::RowMatrixD::Random(20, 4);
  bad(11, 0) = -std::numeric_limits<double>::infinity();
  evtest::check_error_mentions([&] { ev::inception_score(bad); }, {"logits", "Inf", "row 11"});
  evtest::check_error_mentions([] { ev::inception_score(ev::RowMatrixD(0, 3)); }, {"empty"});
}
