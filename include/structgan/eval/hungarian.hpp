#pragma once
/// \file Hungarian algorithm (Kuhn–Munkres, O(n²m)) and clustering accuracy (SPEC §6).
#include <Eigen/Core>

#include <algorithm>
#include <limits>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"

namespace structgan::eval {

/// Minimum-cost assignment on an n×m cost matrix (SPEC §6), shortest augmenting paths with potentials.
/// Requires: finite entries, n ≥ 1, m ≥ 1. Returns: for every row its column (distinct columns);
/// when n > m only m rows get a column and the others get -1. O(min(n,m)²·max(n,m)). Throws structgan::Error.
/// \code
///   Eigen::MatrixXd cost(2, 2); cost << 4, 1, 2, 3;
///   std::vector<int> col = structgan::eval::hungarian_min(cost);  // {1, 0}
/// \endcode
inline std::vector<int> hungarian_min(const Eigen::MatrixXd& cost) {
  require(cost.rows() > 0 && cost.cols() > 0, "hungarian_min: empty cost matrix (", cost.rows(), "x",
          cost.cols(), ")");
  require(cost.allFinite(), "hungarian_min: cost matrix contains NaN or Inf");
  if (cost.rows() > cost.cols()) {
    const std::vector<int> by_col = hungarian_min(cost.transpose());
    std::vector<int> out(static_cast<std::size_t>(cost.rows()), -1);
    for (std::size_t j = 0; j < by_col.size(); ++j) out[static_cast<std::size_t>(by_col[j])] = static_cast<int>(j);
    return out;
  }
  const int n = static_cast<int>(cost.rows());
  const int m = static_cast<int>(cost.cols());
  const double inf = std::numeric_limits<double>::infinity();
  // 1-based potentials u (rows), v (columns); p[j] = row matched to column j; way[j] = previous column.
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), minv(m + 1);
  std::vector<int> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int i0 = p[j0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> out(static_cast<std::size_t>(n), -1);
  for (int j = 1; j <= m; ++j)
    if (p[j] != 0) out[static_cast<std::size_t>(p[j] - 1)] = j - 1;
  return out;
}

/// Maximum-weight assignment (e.g. maximize matched counts on the K×K count matrix, SPEC §6).
/// Same contract as hungarian_min.
inline std::vector<int> hungarian_max(const Eigen::MatrixXd& weight) {
  require(weight.rows() > 0 && weight.cols() > 0, "hungarian_max: empty weight matrix");
  require(weight.allFinite(), "hungarian_max: weight matrix contains NaN or Inf");
  return hungarian_min(Eigen::MatrixXd(-weight));
}

/// Result of matching clusters to classes.
struct ClusterMatch {
  double accuracy = 0.0;               ///< matched samples / N, in [0, 1]
  long long matched = 0;               ///< samples whose cluster is mapped to their class
  std::vector<int> cluster_ids;        ///< distinct cluster ids (sorted)
  std::vector<int> class_ids;          ///< distinct class ids (sorted)
  std::vector<int> cluster_to_class;   ///< class id for each entry of cluster_ids, or a value not in class_ids
                                       ///< (INT_MIN) when there are more clusters than classes
  Eigen::MatrixXd counts;              ///< counts(c, k): samples of cluster_ids[c] with class class_ids[k]
};

/// Clustering accuracy (SPEC §6): best one-to-one map of clusters to classes by the Hungarian algorithm
/// on the count matrix, then the fraction of samples whose mapped cluster equals their class.
/// Requires: equal non-zero lengths. Any integer ids; the numbers of clusters and classes may differ.
inline ClusterMatch clustering_accuracy(const std::vector<int>& classes, const std::vector<int>& clusters) {
  require(!classes.empty(), "clustering_accuracy: empty labelling");
  require(classes.size() == clusters.size(), "clustering_accuracy: ", classes.size(), " class labels but ",
          clusters.size(), " cluster labels");
  const detail::CompactLabels cls = detail::compact_labels(classes);
  const detail::CompactLabels clu = detail::compact_labels(clusters);
  ClusterMatch out;
  out.class_ids = cls.classes;
  out.cluster_ids = clu.classes;
  const Eigen::Index nc = static_cast<Eigen::Index>(clu.classes.size());
  const Eigen::Index nk = static_cast<Eigen::Index>(cls.classes.size());
  out.counts = Eigen::MatrixXd::Zero(nc, nk);
  for (std::size_t i = 0; i < classes.size(); ++i) out.counts(clu.index[i], cls.index[i]) += 1.0;
  const std::vector<int> match = hungarian_max(out.counts);
  out.cluster_to_class.assign(static_cast<std::size_t>(nc), std::numeric_limits<int>::min());
  for (Eigen::Index c = 0; c < nc; ++c) {
    const int k = match[static_cast<std::size_t>(c)];
    if (k < 0) continue;
    out.cluster_to_class[static_cast<std::size_t>(c)] = cls.classes[static_cast<std::size_t>(k)];
    out.matched += static_cast<long long>(out.counts(c, k));
  }
  out.accuracy = static_cast<double>(out.matched) / static_cast<double>(classes.size());
  return out;
}

}  // namespace structgan::eval
