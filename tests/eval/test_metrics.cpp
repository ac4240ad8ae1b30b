#define BOOST_TEST_MODULE eval_metrics
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "structgan/eval/metrics.hpp"

namespace ev = structgan::eval;

BOOST_AUTO_TEST_CASE(nmi_and_ari_by_hand) {
  // a = [0 0 0 1 1 1], b = [0 0 1 1 2 2]: contingency rows (2,1,0), (0,1,2); N = 6.
  // MI = 2·(2/6)·ln(6·2/(3·2)) = (2/3) ln 2; H(a) = ln 2; H(b) = ln 3  →  NMI = (4/3) ln 2 / ln 6.
  // ARI: Σ C(n_ij,2) = 2, Σ C(a_i,2) = 6, Σ C(b_j,2) = 3, C(6,2) = 15, E = 6·3/15 = 1.2, max = 4.5
  //      → (2 − 1.2) / (4.5 − 1.2) = 8/33.
  const std::vector<int> a{0, 0, 0, 1, 1, 1}, b{0, 0, 1, 1, 2, 2};
  BOOST_CHECK_CLOSE_FRACTION(ev::normalized_mutual_info(a, b), 4.0 / 3.0 * std::log(2.0) / std::log(6.0), 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::adjusted_rand_index(a, b), 8.0 / 33.0, 1e-12);
  // [0 0 1 1] vs [0 0 1 2]: MI = ln 2, H = ln 2 and 1.5 ln 2 → NMI = 0.8; ARI = (1 − 1/3)/(1.5 − 1/3) = 4/7.
  BOOST_CHECK_CLOSE_FRACTION(ev::normalized_mutual_info({0, 0, 1, 1}, {0, 0, 1, 2}), 0.8, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}), 4.0 / 7.0, 1e-12);
  // symmetric
  BOOST_CHECK_CLOSE_FRACTION(ev::adjusted_rand_index(b, a), 8.0 / 33.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::normalized_mutual_info(b, a), ev::normalized_mutual_info(a, b), 1e-12);
  // one cluster against singletons: no information, ARI = 0, NMI = 0
  BOOST_CHECK_EQUAL(ev::normalized_mutual_info({0, 0, 0, 0}, {0, 1, 2, 3}), 0.0);
  BOOST_CHECK_SMALL(ev::adjusted_rand_index({0, 0, 0, 0}, {0, 1, 2, 3}), 1e-15);
}

BOOST_AUTO_TEST_CASE(identical_and_permuted_labellings_score_one) {
  std::mt19937 gen(3);
  std::uniform_int_distribution<int> pick(0, 6);
  std::vector<int> a(500), b(500), c(500);
  const int perm[7] = {5, 2, 6, 0, 3, 1, 4};
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = pick(gen);
    b[i] = 10 * perm[a[i]] - 4;  // renamed clusters
    c[i] = pick(gen);            // independent labelling
  }
  BOOST_CHECK_CLOSE_FRACTION(ev::normalized_mutual_info(a, a), 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::adjusted_rand_index(a, a), 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::normalized_mutual_info(a, b), 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::adjusted_rand_index(a, b), 1.0, 1e-12);
  // permuting the sample order of both labellings changes nothing
  std::vector<int> pa = a, pc = c;
  std::vector<std::size_t> order(a.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = (i * 37) % order.size();
  for (std::size_t i = 0; i < order.size(); ++i) {
    pa[i] = a[order[i]];
    pc[i] = c[order[i]];
  }
  BOOST_CHECK_CLOSE_FRACTION(ev::normalized_mutual_info(pa, pc), ev::normalized_mutual_info(a, c), 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(ev::adjusted_rand_index(pa, pc), ev::adjusted_rand_index(a, c), 1e-12);
  // independent labellings: near zero
  BOOST_CHECK_SMALL(ev::adjusted_rand_index(a, c), 0.02);
  BOOST_CHECK_SMALL(ev::normalized_mutual_info(a, c), 0.05);
  BOOST_CHECK_EQUAL(ev::accuracy(a, a), 1.0);
  BOOST_CHECK_THROW(ev::normalized_mutual_info({1, 2}, {1}), structgan::Error);
  BOOST_CHECK_THROW(ev::adjusted_rand_index({}, {}), structgan::Error);
}

BOOST_AUTO_TEST_CASE(knn_weights_votes_by_exp_similarity) {
  // Query along +x. Class 7: two rows at 60° (s = 0.5); class 3: one row at 45° (s ≈ 0.707).
  // k = 3, T = 0.07: exp(0.707/T) > 2·exp(0.5/T) → class 3 wins although class 7 has the majority.
  // With T = 10 the weights are nearly equal and the majority (class 7) wins.
  ev::RowMatrixD train(5, 2);
  const double pi = 3.14159265358979323846;
  train << std::cos(pi / 3), std::sin(pi / 3),  //
      std::cos(pi / 3), -std::sin(pi / 3),      //
      2 * std::cos(pi / 4), 2 * std::sin(pi / 4),  // not unit: cosine similarity ignores the norm
      -1, 0,                                    //
      0, -1;
  const std::vector<int> labels{7, 7, 3, 1, 1};
  ev::RowMatrixD query(1, 2);
  query << 5, 0;
  ev::KnnOptions o;
  o.k = 3;
  BOOST_CHECK_EQUAL(ev::knn_predict(train, labels, query, o).front(), 3);
  o.temperature = 10.0;
  BOOST_CHECK_EQUAL(ev::knn_predict(train, labels, query, o).front(), 7);
  o.k = 6;
  BOOST_CHECK_THROW(ev::knn_predict(train, labels, query, o), structgan::Error);
}

BOOST_AUTO_TEST_CASE(knn_on_separated_clusters_with_blocks) {
  // 4 classes around orthogonal directions in 16-D; block sizes smaller than the data to exercise blocking.
  std::mt19937 gen(11);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  const int per = 60, classes = 4, d = 16;
  ev::RowMatrixF train(per * classes, d), test(per * classes, d);
  std::vector<int> ytrain, ytest;
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < per; ++i) {
      for (int j = 0; j < d; ++j) {
        train(c * per + i, j) = (j == c ? 1.0f : 0.0f) + noise(gen);
        test(c * per + i, j) = (j == c ? 1.0f : 0.0f) + noise(gen);
      }
      ytrain.push_back(c);
      ytest.push_back(c);
    }
  ev::KnnOptions o;
  o.query_block = 7;
  o.bank_block = 33;
  BOOST_CHECK_EQUAL(ev::knn_accuracy(train, ytrain, test, ytest, o), 1.0);
  // wrong labels for a whole class are reproduced, not repaired
  std::vector<int> wrong = ytrain;
  for (int i = 0; i < per; ++i) wrong[static_cast<std::size_t>(i)] = 1;
  BOOST_CHECK_CLOSE_FRACTION(ev::knn_accuracy(train, wrong, test, ytest, o), 0.75, 1e-12);
  // shape errors
  BOOST_CHECK_THROW(ev::knn_accuracy(train, ytrain, ev::RowMatrixF(3, d + 1), {0, 1, 2}, o), structgan::Error);
  ev::RowMatrixF bad = test;
  bad(3, 3) = std::nanf("");
  BOOST_CHECK_THROW(ev::knn_accuracy(train, ytrain, bad, ytest, o), structgan::Error);
}
