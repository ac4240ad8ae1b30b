#define BOOST_TEST_MODULE eval_hungarian
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <numeric>
#include <random>

#include "structgan/eval/hungarian.hpp"

namespace ev = structgan::eval;

namespace {
// Best total weight over all injective row→column maps (n ≤ m), by enumerating column permutations.
double brute_force_max(const Eigen::MatrixXd& w) {
  const int n = static_cast<int>(w.rows()), m = static_cast<int>(w.cols());
  std::vector<int> cols(m);
  std::iota(cols.begin(), cols.end(), 0);
  double best = -1e300;
  do {
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += w(i, cols[i]);
    best = std::max(best, s);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}
double total(const Eigen::MatrixXd& w, const std::vector<int>& a) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] >= 0) s += w(static_cast<Eigen::Index>(i), a[i]);
  return s;
}
void check_valid(const std::vector<int>& a, Eigen::Index rows, Eigen::Index cols) {
  BOOST_REQUIRE_EQUAL(static_cast<Eigen::Index>(a.size()), rows);
  std::vector<int> used(static_cast<std::size_t>(cols), 0);
  int assigned = 0;
  for (int c : a) {
    if (c < 0) continue;
    BOOST_REQUIRE(c < cols);
    BOOST_REQUIRE_EQUAL(used[static_cast<std::size_t>(c)]++, 0);
    ++assigned;
  }
  BOOST_CHECK_EQUAL(assigned, static_cast<int>(std::min(rows, cols)));
}
}  // namespace

BOOST_AUTO_TEST_CASE(matches_brute_force_on_random_square_and_rectangular_matrices) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> counts(0, 50);
  std::normal_distribution<double> real(0.0, 3.0);
  for (int k = 1; k <= 7; ++k) {
    for (int trial = 0; trial < 20; ++trial) {
      Eigen::MatrixXd w(k, k);
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = trial % 2 ? counts(gen) : real(gen);
      const std::vector<int> a = ev::hungarian_max(w);
      check_valid(a, k, k);
      BOOST_CHECK_CLOSE_FRACTION(total(w, a) + 1e3, brute_force_max(w) + 1e3, 1e-12);
      // minimisation is maximisation of the negated matrix
      const std::vector<int> b = ev::hungarian_min(-w);
      BOOST_CHECK_CLOSE_FRACTION(total(w, b) + 1e3, brute_force_max(w) + 1e3, 1e-12);
    }
  }
  for (int n = 1; n <= 4; ++n)
    for (int m = n; m <= 6; ++m) {
      Eigen::MatrixXd w(n, m);
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = counts(gen);
      const std::vector<int> a = ev::hungarian_max(w);
      check_valid(a, n, m);
      BOOST_CHECK_EQUAL(total(w, a), brute_force_max(w));
      // more rows than columns: the best columns-to-rows map, extra rows unassigned
      const Eigen::MatrixXd wt = w.transpose();
      const std::vector<int> at = ev::hungarian_max(wt);
      check_valid(at, m, n);
      BOOST_CHECK_EQUAL(total(wt, at), brute_force_max(w));
    }
}

BOOST_AUTO_TEST_CASE(small_known_case) {
  Eigen::MatrixXd cost(3, 3);
  cost << 4, 1, 3,  //
      2, 0, 5,      //
      3, 2, 2;
  // optimum: row0→1 (1), row1→0 (2), row2→2 (2) = 5
  const std::vector<int> a = ev::hungarian_min(cost);
  BOOST_CHECK_EQUAL(a[0], 1);
  BOOST_CHECK_EQUAL(a[1], 0);
  BOOST_CHECK_EQUAL(a[2], 2);
}

BOOST_AUTO_TEST_CASE(clustering_accuracy_under_a_label_permutation) {
  std::vector<int> classes, clusters;
  const int perm[5] = {3, 0, 4, 1, 2};
  for (int c = 0; c < 5; ++c)
    for (int i = 0; i < 10 + c; ++i) {
      classes.push_back(c * 7 - 3);  // arbitrary class ids
      clusters.push_back(perm[c] + 100);
    }
  ev::ClusterMatch m = ev::clustering_accuracy(classes, clusters);
  BOOST_CHECK_EQUAL(m.accuracy, 1.0);
  for (std::size_t c = 0; c < m.cluster_ids.size(); ++c) {
    const int cluster = m.cluster_ids[c];
    const int cls = static_cast<int>(std::find(perm, perm + 5, cluster - 100) - perm);
    BOOST_CHECK_EQUAL(m.cluster_to_class[c], cls * 7 - 3);
  }
  // two wrong samples out of 60
  clusters[0] = clusters.back();
  clusters[15] = clusters.back();
  m = ev::clustering_accuracy(classes, clusters);
  BOOST_CHECK_EQUAL(m.matched, static_cast<long long>(classes.size()) - 2);
  // one cluster only: best class is the largest
  std::vector<int> one(classes.size(), 0);
  BOOST_CHECK_CLOSE_FRACTION(ev::clustering_accuracy(classes, one).accuracy, 14.0 / 60.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(rejects_bad_input) {
  BOOST_CHECK_THROW(ev::hungarian_min(Eigen::MatrixXd(0, 3)), structgan::Error);
  Eigen::MatrixXd nan = Eigen::MatrixXd::Zero(2, 2);
  nan(0, 1) = std::nan("");
  BOOST_CHECK_THROW(ev::hungarian_max(nan), structgan::Error);
  BOOST_CHECK_THROW(ev::clustering_accuracy({1, 2}, {1}), structgan::Error);
  BOOST_CHECK_THROW(ev::clustering_accuracy({}, {}), structgan::Error);
}
