#pragma once
/// \file Label-agreement scores (NMI, ARI, accuracy) and the weighted kNN classifier (SPEC §6).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"

namespace structgan::eval {

namespace detail {
// Contingency table of two labellings: counts(a, b), with the row and column sums.
struct Contingency {
  Eigen::MatrixXd counts;
  Eigen::VectorXd rows, cols;
  double n = 0.0;
};
inline Contingency contingency(const std::vector<int>& a, const std::vector<int>& b, const char* where) {
  require(!a.empty(), where, ": empty labelling");
  require(a.size() == b.size(), where, ": labellings differ in length (", a.size(), " vs ", b.size(), ")");
  const CompactLabels ca = compact_labels(a), cb = compact_labels(b);
  Contingency t;
  t.counts = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(ca.classes.size()),
                                   static_cast<Eigen::Index>(cb.classes.size()));
  for (std::size_t i = 0; i < a.size(); ++i) t.counts(ca.index[i], cb.index[i]) += 1.0;
  t.rows = t.counts.rowwise().sum();
  t.cols = t.counts.colwise().sum().transpose();
  t.n = static_cast<double>(a.size());
  return t;
}
}  // namespace detail

/// Fraction of positions where prediction equals truth. Requires equal non-zero lengths.
inline double accuracy(const std::vector<int>& truth, const std::vector<int>& prediction) {
  require(!truth.empty(), "accuracy: empty labelling");
  require(truth.size() == prediction.size(), "accuracy: ", truth.size(), " labels but ", prediction.size(),
          " predictions");
  std::size_t hit = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) hit += truth[i] == prediction[i];
  return static_cast<double>(hit) / static_cast<double>(truth.size());
}

/// Normalized mutual information MI(a,b) / ((H(a)+H(b))/2) (arithmetic normalization, natural log, as
/// scikit-learn's default; SPEC §6). Symmetric, invariant to renaming labels, 1 for identical partitions;
/// 1 when both labellings have one cluster. Requires equal non-zero lengths. Throws structgan::Error.
inline double normalized_mutual_info(const std::vector<int>& a, const std::vector<int>& b) {
  const detail::Contingency t = detail::contingency(a, b, "normalized_mutual_info");
  if (t.rows.size() == 1 && t.cols.size() == 1) return 1.0;
  double mi = 0.0;
  for (Eigen::Index i = 0; i < t.counts.rows(); ++i)
    for (Eigen::Index j = 0; j < t.counts.cols(); ++j) {
      const double nij = t.counts(i, j);
      if (nij > 0.0) mi += nij / t.n * std::log(t.n * nij / (t.rows[i] * t.cols[j]));
    }
  auto entropy = [&](const Eigen::VectorXd& c) {
    double h = 0.0;
    for (Eigen::Index i = 0; i < c.size(); ++i)
      if (c[i] > 0.0) h -= c[i] / t.n * std::log(c[i] / t.n);
    return h;
  };
  const double norm = 0.5 * (entropy(t.rows) + entropy(t.cols));
  if (mi <= 0.0) return 0.0;
  return std::min(1.0, mi / std::max(norm, std::numeric_limits<double>::epsilon()));
}

/// Adjusted Rand index (Hubert & Arabie): (Σ C(n_ij,2) − E) / (½(Σ C(a_i,2) + Σ C(b_j,2)) − E),
/// E = Σ C(a_i,2) Σ C(b_j,2) / C(n,2) (SPEC §6). 1 for identical partitions (also the degenerate all-one /
/// all-singleton cases, as scikit-learn), about 0 for independent ones. Requires equal non-zero lengths.
inline double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  const detail::Contingency t = detail::contingency(a, b, "adjusted_rand_index");
  auto comb2 = [](double v) { return 0.5 * v * (v - 1.0); };
  double sum_ij = 0.0, sum_a = 0.0, sum_b = 0.0;
  for (Eigen::Index i = 0; i < t.counts.size(); ++i) sum_ij += comb2(t.counts.data()[i]);
  for (Eigen::Index i = 0; i < t.rows.size(); ++i) sum_a += comb2(t.rows[i]);
  for (Eigen::Index j = 0; j < t.cols.size(); ++j) sum_b += comb2(t.cols[j]);
  const double total = comb2(t.n);
  if (total == 0.0) return 1.0;
  const double expected = sum_a * sum_b / total;
  const double maximum = 0.5 * (sum_a + sum_b);
  if (maximum == expected) return 1.0;
  return (sum_ij - expected) / (maximum - expected);
}

/// Options of the weighted kNN classifier (Wu et al. 2018; SPEC §6: k = 20, T = 0.07, cosine).
struct KnnOptions {
  int k = 20;                      ///< neighbours from the training set
  double temperature = 0.07;       ///< vote weight exp(s / T), s = cosine similarity
  int threads = 0;                 ///< query blocks in parallel (0 = OpenMP's maximum)
  Eigen::Index query_block = 256;  ///< queries per GEMM block
  Eigen::Index bank_block = 4096;  ///< training rows per GEMM block
};

/// Weighted kNN prediction (SPEC §6): each query's k most cosine-similar training rows vote for their
/// label with weight exp(s/T); the label with the largest total wins (ties: smallest label).
/// Requires: train N×D and query M×D finite with the same D, train_labels.size() == N, 1 ≤ k ≤ N.
/// Returns M labels. Throws structgan::Error.
/// \code
///   std::vector<int> pred = structgan::eval::knn_predict(train_x, train_y, test_x);
/// \endcode
template <class D1, class D2>
std::vector<int> knn_predict(const Eigen::MatrixBase<D1>& train, const std::vector<int>& train_labels,
                             const Eigen::MatrixBase<D2>& query, const KnnOptions& options = {}) {
  detail::require_features(train, "knn_predict", "training features");
  detail::require_features(query, "knn_predict", "query features");
  detail::require_labels(train_labels, train.rows(), "knn_predict", "training labels");
  require(train.cols() == query.cols(), "knn_predict: training features have D=", train.cols(),
          " but queries have D=", query.cols());
  require(options.k >= 1 && options.k <= train.rows(), "knn_predict: k must be in [1, N=", train.rows(),
          "], got ", options.k);
  require(options.temperature > 0.0 && std::isfinite(options.temperature),
          "knn_predict: temperature must be > 0, got ", options.temperature);
  require(options.query_block >= 1 && options.bank_block >= 1, "knn_predict: block sizes must be >= 1");
  const RowMatrixF bank = detail::normalized_rows<float>(train);
  const RowMatrixF q = detail::normalized_rows<float>(query);
  const detail::CompactLabels cl = detail::compact_labels(train_labels);
  const Eigen::Index n = bank.rows(), m = q.rows();
  const int k = options.k;
  const Eigen::Index qb = options.query_block, bb = std::min(options.bank_block, n);
  const std::int64_t blocks = (m + qb - 1) / qb;
  std::vector<int> out(static_cast<std::size_t>(m));
  detail::parallel_for(blocks, detail::resolve_threads(options.threads), [&](std::int64_t blk) {
    const Eigen::Index q0 = blk * qb, nq = std::min(qb, m - q0);
    RowMatrixF sims(nq, bb);
    // per query: k best (similarity, index), kept sorted descending
    std::vector<float> top_s(static_cast<std::size_t>(nq * k), -std::numeric_limits<float>::infinity());
    std::vector<Eigen::Index> top_i(static_cast<std::size_t>(nq * k), -1);
    for (Eigen::Index b0 = 0; b0 < n; b0 += bb) {
      const Eigen::Index nb = std::min(bb, n - b0);
      sims.leftCols(nb).noalias() = q.middleRows(q0, nq) * bank.middleRows(b0, nb).transpose();
      for (Eigen::Index r = 0; r < nq; ++r) {
        float* ts = top_s.data() + r * k;
        Eigen::Index* ti = top_i.data() + r * k;
        const float* s = sims.row(r).data();
        for (Eigen::Index j = 0; j < nb; ++j) {
          const float v = s[j];
          if (!(v > ts[k - 1])) continue;
          int pos = k - 1;
          while (pos > 0 && ts[pos - 1] < v) {
            ts[pos] = ts[pos - 1];
            ti[pos] = ti[pos - 1];
            --pos;
          }
          ts[pos] = v;
          ti[pos] = b0 + j;
        }
      }
    }
    std::vector<double> votes(cl.classes.size());
    for (Eigen::Index r = 0; r < nq; ++r) {
      std::fill(votes.begin(), votes.end(), 0.0);
      for (int t = 0; t < k; ++t) {
        const Eigen::Index j = top_i[static_cast<std::size_t>(r * k + t)];
        if (j < 0) continue;
        votes[static_cast<std::size_t>(cl.index[static_cast<std::size_t>(j)])] +=
            std::exp(static_cast<double>(top_s[static_cast<std::size_t>(r * k + t)]) / options.temperature);
      }
      const std::size_t best = static_cast<std::size_t>(std::max_element(votes.begin(), votes.end()) - votes.begin());
      out[static_cast<std::size_t>(q0 + r)] = cl.classes[best];
    }
  });
  return out;
}

/// Weighted kNN accuracy on the test split (SPEC §6): fraction of test rows whose knn_predict label is right.
template <class D1, class D2>
double knn_accuracy(const Eigen::MatrixBase<D1>& train, const std::vector<int>& train_labels,
                    const Eigen::MatrixBase<D2>& test, const std::vector<int>& test_labels,
                    const KnnOptions& options = {}) {
  detail::require_labels(test_labels, test.rows(), "knn_accuracy", "test labels");
  return accuracy(test_labels, knn_predict(train, train_labels, test, options));
}

}  // namespace structgan::eval
