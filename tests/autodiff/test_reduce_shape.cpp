#define BOOST_TEST_MODULE autodiff_reduce_shape
#include <boost/test/unit_test.hpp>

#include "common/gradcheck.hpp"

using namespace structgan;
using namespace structgan::testing;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1.5, double hi = 1.5) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
}  // namespace

BOOST_AUTO_TEST_CASE(sums_and_means) {
  const TD x = rnd({2, 3, 4, 5}, 1);
  check_op("sum over H,W", [](const auto& v) { return sum(v[0], {2, 3}); }, {x});
  check_op("mean over H,W keepdim", [](const auto& v) { return mean(v[0], {2, 3}, true); }, {x});
  check_op("sum over N", [](const auto& v) { return sum(v[0], {0}); }, {x});
  check_op("mean over C", [](const auto& v) { return mean(v[0], {1}); }, {x});
  check_op("sum_all", [](const auto& v) { return sum_all(square(v[0])); }, {x});
  check_op("mean_all", [](const auto& v) { return mean_all(exp(v[0])); }, {x});
  const TD m = rnd({5, 7}, 2);
  check_op("row sums", [](const auto& v) { return sum(square(v[0]), {1}); }, {m});
  const TD s = sum(x, {0, 2});
  double want = 0;
  for (index_t n = 0; n < 2; ++n)
    for (index_t h = 0; h < 4; ++h) want += x.at(n, 1, h, 3);
  BOOST_TEST(s.shape() == (Shape{3, 5}));
  BOOST_TEST(std::abs(s.at(1, 3) - want) < 1e-12);
}

BOOST_AUTO_TEST_CASE(reshape_concat_slice) {
  const TD x = rnd({2, 6, 3, 2}, 3), y = rnd({2, 4, 3, 2}, 4), r = rnd({3, 6, 3, 2}, 5);
  check_op("reshape", [](const auto& v) { return square(reshape(v[0], Shape{12, 6})); }, {x});
  check_op("concat channels", [](const auto& v) { return square(concat(std::vector{v[0], v[1]}, 1)); }, {x, y});
  check_op("concat rows", [](const auto& v) { return exp(concat(std::vector{v[0], v[1]}, 0)); }, {x, r});
  check_op("channel slice", [](const auto& v) { return square(slice(v[0], 1, 2, 3)); }, {x});
  check_op("row slice", [](const auto& v) { return square(slice(v[0], 0, 1, 1)); }, {x});
  check_op("last-axis slice", [](const auto& v) { return square(slice(v[0], 3, 1, 1)); }, {x});
  const TD c = concat(std::vector<TD>{x, y}, 1);
  BOOST_TEST(c.at(1, 7, 2, 1) == y.at(1, 1, 2, 1));
  BOOST_TEST(c.at(1, 5, 0, 1) == x.at(1, 5, 0, 1));
  const TD s = slice(x, 1, 2, 3);
  BOOST_TEST(s.at(1, 2, 1, 0) == x.at(1, 4, 1, 0));
}

BOOST_AUTO_TEST_CASE(gather_and_topk) {
  const TD x = rnd({6, 4}, 6);
  const std::vector<index_t> idx = {5, 0, 0, 3};
  check_op("gather_rows (repeats)", [idx](const auto& v) { return square(gather_rows(v[0], idx)); }, {x});
  const TD scores = from_vector<double>({2, 5}, {0.1, 0.9, 0.5, 0.9, -1, 3, 2, 1, 0, 4});
  const auto top = topk_indices(scores, 3);
  BOOST_TEST((top == std::vector<index_t>{1, 3, 2, 4, 0, 1}));
  // Larger k takes the partial-sort path: compare with a full sort.
  const TD big = rnd({3, 100}, 7);
  const auto t12 = topk_indices(big, 12);
  for (index_t r = 0; r < 3; ++r) {
    std::vector<index_t> all(100);
    std::iota(all.begin(), all.end(), 0);
    std::sort(all.begin(), all.end(), [&](index_t a, index_t b) { return big.at(r, a) > big.at(r, b); });
    for (index_t j = 0; j < 12; ++j) BOOST_TEST(t12[static_cast<std::size_t>(r * 12 + j)] == all[static_cast<std::size_t>(j)]);
  }
  BOOST_CHECK_THROW(topk_indices(scores, 6), Error);
}

BOOST_AUTO_TEST_CASE(normalize_and_cross_entropy) {
  const TD x = rnd({5, 4}, 8);
  check_op("row_normalize", [](const auto& v) { return row_normalize(v[0]); }, {x});
  check_op("row_norm", [](const auto& v) { return row_norm(v[0]); }, {x});
  const std::vector<int> labels = {0, 3, 1, 1, 2};
  check_op("softmax_cross_entropy", [labels](const auto& v) { return softmax_cross_entropy(v[0], labels); }, {x});
  const TD n = row_normalize(x);
  for (index_t i = 0; i < 5; ++i) BOOST_TEST(std::abs(n.matrix().row(i).norm() - 1.0) < 1e-14);
  // Cross-entropy against its definition.
  const TD ce = softmax_cross_entropy(x, labels);
  double want = 0;
  for (index_t i = 0; i < 5; ++i) want += std::log(x.matrix().row(i).array().exp().sum()) - x.at(i, index_t(labels[std::size_t(i)]));
  BOOST_TEST(std::abs(ce[0] - want / 5) < 1e-13);
}

BOOST_AUTO_TEST_CASE(row_softmax_and_log_softmax) {
  // The device kernels' ops (ops/softmax.hpp): all four checks, on a wide and a tall matrix, with
  // rows shifted by up to ±60 (the kernels subtract each row's maximum; the rules must not care).
  for (const Shape& s : {Shape{5, 4}, Shape{3, 9}, Shape{7, 1}}) {
    TD x = rnd(s, 21);
    for (index_t i = 0; i < s[0]; ++i)
      for (index_t j = 0; j < s[1]; ++j) x.at(i, j) += 20.0 * double(i % 3) - 20.0 * double(i % 2);
    check_op("softmax_rows", [](const auto& v) { return softmax_rows(v[0]); }, {x});
    check_op("log_softmax_rows", [](const auto& v) { return log_softmax_rows(v[0]); }, {x});
    // Against the definitions.
    const TD p = softmax_rows(x), lp = log_softmax_rows(x);
    for (index_t i = 0; i < s[0]; ++i) {
      const double m = x.matrix().row(i).maxCoeff(), z = (x.matrix().row(i).array() - m).exp().sum();
      for (index_t j = 0; j < s[1]; ++j) {
        BOOST_TEST(std::abs(p.at(i, j) - std::exp(x.at(i, j) - m) / z) < 1e-15);
        BOOST_TEST(std::abs(lp.at(i, j) - (x.at(i, j) - m - std::log(z))) < 1e-13);
      }
    }
  }
  // Composed with other ops (the attention's pattern: a matrix product, softmax, another product).
  const TD a = rnd({6, 3}, 22), b = rnd({3, 4}, 23), g = rnd({5, 4}, 24);
  check_op("matmul softmax matmul",
           [](const auto& v) { return matmul(v[2], softmax_rows(matmul(v[0], v[1])), false, true); }, {a, b, g});
  BOOST_CHECK_THROW(softmax_rows(rnd({2, 3, 4}, 25)), Error);
}

BOOST_AUTO_TEST_CASE(cross_entropy_with_large_logits_and_the_accuracy) {
  // Logits of ±50: a naive Σ exp overflows float; the kernel shifts by the row maximum.
  TD x = rnd({6, 5}, 26);
  x.array() *= 35.0;
  const std::vector<int> labels = {4, 0, 2, 2, 1, 3};
  check_op("softmax_cross_entropy, large logits", [labels](const auto& v) { return softmax_cross_entropy(v[0], labels); }, {x});
  const TD ce = softmax_cross_entropy(x, labels);
  BOOST_TEST(ce.shape() == Shape{1});
  double want = 0;
  for (index_t i = 0; i < 6; ++i) {
    const double m = x.matrix().row(i).maxCoeff();
    want += m + std::log((x.matrix().row(i).array() - m).exp().sum()) - x.at(i, index_t(labels[std::size_t(i)]));
  }
  BOOST_TEST(std::abs(ce[0] - want / 6) < 1e-12 * (1 + want / 6));
  // log-softmax picked at the labels is the same loss.
  const TD lp = log_softmax_rows(x);
  double picked = 0;
  for (index_t i = 0; i < 6; ++i) picked -= lp.at(i, index_t(labels[std::size_t(i)]));
  BOOST_TEST(std::abs(ce[0] - picked / 6) < 1e-12 * (1 + want / 6));
  // No gradient wanted: the Var op records nothing; the accuracy against a direct count.
  {
    NoGradGuard off;
    BOOST_TEST(!softmax_cross_entropy(Var<double>(x, true), labels).requires_grad());
  }
  index_t hits = 0;
  for (index_t i = 0; i < 6; ++i) {
    index_t best;
    x.matrix().row(i).maxCoeff(&best);
    hits += best == labels[std::size_t(i)];
  }
  const TD acc = argmax_accuracy(x, labels);
  BOOST_TEST(acc.shape() == Shape{1});
  BOOST_TEST(acc[0] == double(hits) / 6.0);
  BOOST_CHECK_THROW(argmax_accuracy(x, {0, 1}), Error);
  BOOST_CHECK_THROW(softmax_cross_entropy(x, {0, 1, 2, 3, 4, 5}), Error);
}
