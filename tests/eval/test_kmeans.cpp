#define BOOST_TEST_MODULE eval_kmeans
#include <boost/test/unit_test.hpp>

#include "structgan/eval/kmeans.hpp"
#include "synthetic.hpp"

namespace ev = structgan::eval;

BOOST_AUTO_TEST_CASE(separated_clusters_are_found_exactly) {
  const evtest::Clusters data = evtest::sphere_clusters(6, 100, 32, 0.05f, 1);
  const ev::KMeansResult r = ev::spherical_kmeans(data.x, 6);
  BOOST_CHECK_EQUAL(ev::clustering_accuracy(data.labels, r.labels).accuracy, 1.0);
  BOOST_CHECK(r.converged);
  BOOST_CHECK_EQUAL(r.centers.rows(), 6);
  BOOST_CHECK_EQUAL(r.centers.cols(), 32);
  for (Eigen::Index j = 0; j < 6; ++j) BOOST_CHECK_CLOSE_FRACTION(r.centers.row(j).norm(), 1.0f, 1e-5f);
}

BOOST_AUTO_TEST_CASE(result_is_a_fixed_point_with_consistent_inertia) {
  // overlapping clusters, so that Lloyd needs several iterations
  const evtest::Clusters data = evtest::sphere_clusters(5, 80, 8, 0.6f, 2);
  const ev::KMeansResult r = ev::spherical_kmeans(data.x, 5);
  BOOST_REQUIRE(r.converged);
  ev::RowMatrixD xn = data.x.cast<double>();
  for (Eigen::Index i = 0; i < xn.rows(); ++i) xn.row(i).normalize();
  const ev::RowMatrixD c = r.centers.cast<double>();
  double inertia = 0.0;
  Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(5, 8);
  for (Eigen::Index i = 0; i < xn.rows(); ++i) {
    const int l = r.labels[static_cast<std::size_t>(i)];
    inertia += (xn.row(i) - c.row(l)).squaredNorm();
    sums.row(l) += xn.row(i);
    // every point sits with its most similar center
    Eigen::Index best;
    (c * xn.row(i).transpose()).maxCoeff(&best);
    BOOST_CHECK_EQUAL(best, l);
  }
  BOOST_CHECK_CLOSE_FRACTION(r.inertia, inertia, 1e-5);
  // every center is the re-normalized mean of its points (within the tolerance of the stop)
  for (Eigen::Index j = 0; j < 5; ++j)
    BOOST_CHECK_SMALL((sums.row(j).normalized() - c.row(j)).norm(), 2e-3);
}

BOOST_AUTO_TEST_CASE(seeded_and_independent_of_thread_count) {
  const evtest::Clusters data = evtest::sphere_clusters(4, 50, 10, 0.5f, 3);
  ev::KMeansOptions o;
  o.seed = 42;
  o.threads = 1;
  const ev::KMeansResult a = ev::spherical_kmeans(data.x, 4, o);
  o.threads = 3;
  const ev::KMeansResult b = ev::spherical_kmeans(data.x, 4, o);
  BOOST_CHECK(a.labels == b.labels);
  BOOST_CHECK(a.centers == b.centers);
  BOOST_CHECK_EQUAL(a.inertia, b.inertia);
  // more starts can only lower the kept inertia (starts 0..1 are a prefix of starts 0..7)
  o.restarts = 2;
  const double two = ev::spherical_kmeans(data.x, 4, o).inertia;
  o.restarts = 8;
  BOOST_CHECK_LE(ev::spherical_kmeans(data.x, 4, o).inertia, two);
}

BOOST_AUTO_TEST_CASE(protocol_under_a_label_permutation) {
  evtest::Clusters data = evtest::sphere_clusters(5, 60, 24, 0.05f, 4);
  const int rename[5] = {40, -2, 7, 3, 11};
  for (int& l : data.labels) l = rename[l];
  ev::KMeansProtocolOptions o;
  o.repeats = 4;
  const ev::KMeansProtocolResult r = ev::kmeans_protocol(data.x, data.labels, o);
  BOOST_CHECK_EQUAL(r.clusters, 5);
  BOOST_CHECK_EQUAL(r.accuracy.size(), 4u);
  BOOST_CHECK_EQUAL(r.accuracy_mean, 1.0);
  BOOST_CHECK_EQUAL(r.accuracy_std, 0.0);
  BOOST_CHECK_CLOSE_FRACTION(r.nmi_mean, 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(r.ari_mean, 1.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(protocol_statistics_on_hard_data) {
  // heavily overlapping clusters: accuracies vary over repeats; check mean/std against the per-repeat values
  const evtest::Clusters data = evtest::sphere_clusters(4, 60, 6, 1.2f, 5);
  ev::KMeansProtocolOptions o;
  o.repeats = 6;
  o.kmeans.restarts = 1;
  const ev::KMeansProtocolResult r = ev::kmeans_protocol(data.x, data.labels, o);
  double mean = 0.0, var = 0.0;
  for (double a : r.accuracy) mean += a / 6.0;
  for (double a : r.accuracy) var += (a - mean) * (a - mean) / 6.0;
  BOOST_CHECK_CLOSE_FRACTION(r.accuracy_mean, mean, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(r.accuracy_std + 1.0, std::sqrt(var) + 1.0, 1e-12);
  BOOST_CHECK_LT(r.accuracy_mean, 1.0);
  BOOST_CHECK_GT(r.accuracy_mean, 0.25);  // better than one cluster per class at random
}

BOOST_AUTO_TEST_CASE(degenerate_data_and_bad_input) {
  // two distinct points repeated, K = 3: a cluster must be re-seeded, nothing may crash
  ev::RowMatrixF x(10, 3);
  x.setZero();
  for (int i = 0; i < 10; ++i) x(i, i % 2 ? 0 : 1) = i % 2 ? 1.0f : 2.0f;  // (1,0,0) or (0,2,0)
  x.row(9).setZero();  // a zero row is allowed (normalize keeps it zero)
  const ev::KMeansResult r = ev::spherical_kmeans(x, 3);
  for (int l : r.labels) BOOST_CHECK(l >= 0 && l < 3);
  BOOST_CHECK_CLOSE_FRACTION(r.inertia, 1.0, 1e-5);  // only the zero row is off: ‖0 − c‖² = 1
  BOOST_CHECK_THROW(ev::spherical_kmeans(x, 0), structgan::Error);
  BOOST_CHECK_THROW(ev::spherical_kmeans(x, 11), structgan::Error);
  x(2, 1) = std::nanf("");
  BOOST_CHECK_THROW(ev::spherical_kmeans(x, 2), structgan::Error);
  BOOST_CHECK_THROW(ev::kmeans_protocol(ev::RowMatrixF::Ones(4, 2), {0, 1, 2}), structgan::Error);
  ev::KMeansOptions bad;
  bad.restarts = 0;
  BOOST_CHECK_THROW(ev::spherical_kmeans(ev::RowMatrixF::Ones(4, 2), 2, bad), structgan::Error);
}
