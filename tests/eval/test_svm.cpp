#define BOOST_TEST_MODULE eval_svm
#include <boost/test/unit_test.hpp>

#include "structgan/eval/svm.hpp"
#include "synthetic.hpp"

namespace ev = structgan::eval;

BOOST_AUTO_TEST_CASE(solves_a_one_dimensional_problem_exactly) {
  // x = +1 (class 4), x = −1 (class 2), no intercept, no normalization. Primal of the squared hinge:
  // ½w² + C·2·(1 − w)² → w = 4C / (1 + 4C): 0.8 for C = 1, 0.5 for C = 0.25.
  ev::RowMatrixD x(2, 1);
  x << 1, -1;
  ev::SvmOptions o;
  o.bias = -1.0;
  o.normalize = false;
  o.eps = 1e-8;
  for (const auto& [c, solver] : {std::pair{1.0, ev::SvmSolver::dual}, std::pair{0.25, ev::SvmSolver::dual},
                                  std::pair{1.0, ev::SvmSolver::primal}, std::pair{0.25, ev::SvmSolver::primal}}) {
    o.c = c;
    o.solver = solver;
    const ev::LinearSvm svm = ev::train_linear_svm(x, {4, 2}, o);
    BOOST_REQUIRE_EQUAL(svm.classes.size(), 2u);
    BOOST_CHECK_EQUAL(svm.classes[0], 2);
    // row 0 scores class 2 (x = −1): w = −4C/(1+4C); row 1 is its negation
    BOOST_CHECK_CLOSE_FRACTION(svm.weights(0, 0), -4 * c / (1 + 4 * c), 1e-6);
    BOOST_CHECK_CLOSE_FRACTION(svm.weights(1, 0), 4 * c / (1 + 4 * c), 1e-6);
    BOOST_CHECK_EQUAL(svm.intercepts[0], 0.0);
  }
}

BOOST_AUTO_TEST_CASE(separable_binary_data_in_both_label_orders) {
  const evtest::Clusters all = evtest::sphere_clusters(2, 200, 6, 0.1f, 21);
  evtest::Clusters train, test;  // interleaved labels: both halves hold both classes
  train.x = all.x.topRows(200);
  test.x = all.x.bottomRows(200);
  train.labels.assign(all.labels.begin(), all.labels.begin() + 200);
  test.labels.assign(all.labels.begin() + 200, all.labels.end());
  for (int first : {0, 1}) {
    // relabelled so that either label comes first (LIBLINEAR scores its first-seen label positively)
    std::vector<int> ytrain = train.labels, ytest = test.labels;
    for (int& l : ytrain) l = (l == first) ? 9 : -3;
    for (int& l : ytest) l = (l == first) ? 9 : -3;
    BOOST_CHECK_EQUAL(ev::svm_accuracy(train.x, ytrain, test.x, ytest), 1.0);
  }
}

BOOST_AUTO_TEST_CASE(separable_multiclass_data) {
  evtest::Clusters all = evtest::sphere_clusters(5, 80, 16, 0.08f, 22);
  const Eigen::Index n = all.x.rows() / 2;
  ev::RowMatrixF train = all.x.topRows(n), test = all.x.bottomRows(all.x.rows() - n);
  std::vector<int> ytrain(all.labels.begin(), all.labels.begin() + n), ytest(all.labels.begin() + n, all.labels.end());
  for (int& l : ytrain) l = 10 * l + 1;
  for (int& l : ytest) l = 10 * l + 1;
  ev::SvmOptions o;
  o.threads = 1;
  const ev::LinearSvm one = ev::train_linear_svm(train, ytrain, o);
  BOOST_CHECK_EQUAL(one.weights.rows(), 5);
  BOOST_CHECK_EQUAL(one.weights.cols(), 16);
  BOOST_CHECK(ev::predict(one, test) == ytest);
  o.threads = 2;
  BOOST_CHECK_EQUAL(ev::svm_accuracy(train, ytrain, test, ytest, o), 1.0);
  // scaling the features does not matter: rows are L2-normalized
  const ev::RowMatrixF scaled = 17.0f * test;
  BOOST_CHECK(ev::predict(one, scaled) == ytest);
}

BOOST_AUTO_TEST_CASE(dual_and_primal_solvers_reach_the_same_classifier) {
  // Overlapping clusters (no separating hyperplane), so every sample's hinge matters; C large enough
  // that the dual solver needs many passes. The objective is strictly convex: one minimizer.
  const evtest::Clusters all = evtest::sphere_clusters(4, 150, 12, 0.6f, 23);
  ev::SvmOptions o;
  o.threads = 1;
  o.c = 10.0;
  o.eps = 1e-7;
  o.solver = ev::SvmSolver::dual;
  const ev::LinearSvm dual = ev::train_linear_svm(all.x, all.labels, o);
  o.solver = ev::SvmSolver::primal;
  const ev::LinearSvm primal = ev::train_linear_svm(all.x, all.labels, o);
  const double scale = dual.weights.cwiseAbs().maxCoeff();
  BOOST_TEST_MESSAGE("max |w_dual - w_primal| / max |w| = " << (dual.weights - primal.weights).cwiseAbs().maxCoeff() / scale);
  BOOST_CHECK_LT((dual.weights - primal.weights).cwiseAbs().maxCoeff(), 1e-4 * scale);
  BOOST_CHECK_LT((dual.intercepts - primal.intercepts).cwiseAbs().maxCoeff(), 1e-4 * scale);
  BOOST_CHECK(ev::predict(dual, all.x) == ev::predict(primal, all.x));

  // automatic: the primal solver with more samples than features (600 > 12), the dual one otherwise
  o.solver = ev::SvmSolver::automatic;
  BOOST_CHECK(ev::train_linear_svm(all.x, all.labels, o).weights == primal.weights);  // TRON draws no random numbers
  BOOST_CHECK(ev::resolve_solver(ev::SvmSolver::automatic, 600, 12) == ev::SvmSolver::primal);
  BOOST_CHECK(ev::resolve_solver(ev::SvmSolver::automatic, 12, 12) == ev::SvmSolver::dual);
  BOOST_CHECK(ev::resolve_solver(ev::SvmSolver::dual, 600, 12) == ev::SvmSolver::dual);
  BOOST_CHECK(ev::resolve_solver(ev::SvmSolver::primal, 8, 12) == ev::SvmSolver::primal);
}

BOOST_AUTO_TEST_CASE(rejects_bad_input) {
  ev::RowMatrixF x = ev::RowMatrixF::Random(6, 3);
  BOOST_CHECK_THROW(ev::train_linear_svm(x, {1, 1, 1, 1, 1, 1}), structgan::Error);  // one class
  BOOST_CHECK_THROW(ev::train_linear_svm(x, {1, 2, 1}), structgan::Error);
  ev::SvmOptions o;
  o.c = 0.0;
  BOOST_CHECK_THROW(ev::train_linear_svm(x, {1, 2, 1, 2, 1, 2}, o), structgan::Error);
  const ev::LinearSvm svm = ev::train_linear_svm(x, {1, 2, 1, 2, 1, 2});
  BOOST_CHECK_THROW(ev::predict(svm, ev::RowMatrixF::Ones(2, 4)), structgan::Error);
  x(0, 0) = std::nanf("");
  BOOST_CHECK_THROW(ev::train_linear_svm(x, {1, 2, 1, 2, 1, 2}), structgan::Error);
}
