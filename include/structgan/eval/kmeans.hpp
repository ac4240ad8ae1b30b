#pragma once
/// \file Spherical k-means and the repeated k-means clustering protocol of the paper's Table 1 (SPEC §6).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"
#include "structgan/eval/hungarian.hpp"
#include "structgan/eval/metrics.hpp"

namespace structgan::eval {

/// Options of spherical k-means (SPEC §6 defaults).
struct KMeansOptions {
  int restarts = 5;             ///< independent k-means++ starts; the lowest inertia is kept
  int max_iterations = 300;     ///< Lloyd iterations per start
  double tol = 1e-6;            ///< stop when Σ_j ‖c_j(new) − c_j(old)‖² ≤ tol (or when no label changes)
  int local_trials = 0;         ///< k-means++ candidates per center; 0 = 2 + ⌊ln K⌋ (greedy, as scikit-learn)
  std::uint64_t seed = 0;       ///< all randomness derives from it: same seed, same result, any thread count
  int threads = 0;              ///< starts run in parallel on this many threads (0 = OpenMP's maximum)
  Eigen::Index block_rows = 256;///< rows per GEMM block of the assignment step (X·Cᵀ)
};

/// One clustering.
struct KMeansResult {
  RowMatrixF centers;        ///< K×D, unit rows
  std::vector<int> labels;   ///< N cluster indices in [0, K)
  double inertia = 0.0;      ///< Σ_i ‖x̂_i − c_{label(i)}‖² with x̂ = normalize(x)
  int iterations = 0;        ///< Lloyd iterations of the kept start
  bool converged = false;    ///< it stopped before max_iterations
  int restart = 0;           ///< which start was kept
};

namespace detail {

struct KMeansWork {
  RowMatrixF sims;                                                      // block × K
  RowMatrixF block_sums;                                                // K × D (float, one block)
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> sums;  // K × D
  std::vector<long long> counts;
  std::vector<float> dist2;
};

// One E-step over all rows in GEMM blocks; optionally accumulates the M-step sums. Returns the inertia
// and sets `changed` to the number of labels that changed.
inline double kmeans_assign(const RowMatrixF& x, const Eigen::VectorXf& sq, const RowMatrixF& centers,
                            const Eigen::VectorXf& center_sq, std::vector<int>& labels, KMeansWork& w,
                            bool accumulate, long long& changed) {
  const Eigen::Index n = x.rows(), k = centers.rows(), d = x.cols();
  const Eigen::Index block = std::max<Eigen::Index>(1, std::min<Eigen::Index>(w.sims.rows(), n));
  if (accumulate) {
    w.sums.setZero(k, d);
    std::fill(w.counts.begin(), w.counts.end(), 0LL);
  }
  double inertia = 0.0;
  changed = 0;
  for (Eigen::Index b = 0; b < n; b += block) {
    const Eigen::Index nb = std::min(block, n - b);
    w.sims.topRows(nb).noalias() = x.middleRows(b, nb) * centers.transpose();
    if (accumulate) w.block_sums.setZero();
    for (Eigen::Index r = 0; r < nb; ++r) {
      const float* s = w.sims.row(r).data();
      // nearest center by Euclidean distance: ‖c‖² − 2 x·c smallest (‖c‖ is 1, or 0 for a degenerate center)
      int best = 0;
      float best_score = center_sq[0] - 2.0f * s[0];
      for (Eigen::Index j = 1; j < k; ++j) {
        const float score = center_sq[j] - 2.0f * s[j];
        if (score < best_score) {
          best_score = score;
          best = static_cast<int>(j);
        }
      }
      const Eigen::Index i = b + r;
      if (labels[static_cast<std::size_t>(i)] != best) ++changed;
      labels[static_cast<std::size_t>(i)] = best;
      const double d2 = std::max(0.0, static_cast<double>(sq[i]) + static_cast<double>(best_score));
      w.dist2[static_cast<std::size_t>(i)] = static_cast<float>(d2);  // squared distance to own center
      inertia += d2;
      if (accumulate) {
        w.block_sums.row(best) += x.row(i);
        ++w.counts[static_cast<std::size_t>(best)];
      }
    }
    if (accumulate) w.sums += w.block_sums.cast<double>();
  }
  return inertia;
}

struct KMeansRun {
  RowMatrixF centers;
  std::vector<int> labels;
  double inertia = 0.0;
  int iterations = 0;
  bool converged = false;
};

// Greedy k-means++ on unit (or zero) rows: centers are data rows.
inline RowMatrixF kmeans_plus_plus(const RowMatrixF& x, const Eigen::VectorXf& sq, int k, int trials, Rng& rng) {
  const Eigen::Index n = x.rows(), d = x.cols();
  RowMatrixF centers(k, d);
  const Eigen::Index first = static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n)));
  centers.row(0) = x.row(first);
  Eigen::VectorXd closest(n);
  {
    const Eigen::VectorXf dot = x * x.row(first).transpose();
    for (Eigen::Index i = 0; i < n; ++i)
      closest[i] = std::max(0.0, double(sq[i]) + double(sq[first]) - 2.0 * double(dot[i]));
  }
  std::vector<double> cumsum(static_cast<std::size_t>(n));
  std::vector<Eigen::Index> cand(static_cast<std::size_t>(trials));
  RowMatrixF cand_rows(trials, d);
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> dots(n, trials);
  Eigen::VectorXd potential(trials);
  for (int c = 1; c < k; ++c) {
    double total = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) cumsum[static_cast<std::size_t>(i)] = (total += closest[i]);
    for (int t = 0; t < trials; ++t) {
      Eigen::Index idx;
      if (total > 0.0) {
        const double r = rng.uniform() * total;
        idx = static_cast<Eigen::Index>(std::upper_bound(cumsum.begin(), cumsum.end(), r) - cumsum.begin());
        idx = std::min(idx, n - 1);
      } else {
        idx = static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n)));
      }
      cand[static_cast<std::size_t>(t)] = idx;
      cand_rows.row(t) = x.row(idx);
    }
    dots.noalias() = x * cand_rows.transpose();
    potential.setZero();
    for (Eigen::Index i = 0; i < n; ++i)
      for (int t = 0; t < trials; ++t) {
        const double d2 = std::max(0.0, double(sq[i]) + double(sq[cand[t]]) - 2.0 * double(dots(i, t)));
        potential[t] += std::min(closest[i], d2);
      }
    int best = 0;
    for (int t = 1; t < trials; ++t)
      if (potential[t] < potential[best]) best = t;
    const Eigen::Index chosen = cand[static_cast<std::size_t>(best)];
    for (Eigen::Index i = 0; i < n; ++i) {
      const double d2 = std::max(0.0, double(sq[i]) + double(sq[chosen]) - 2.0 * double(dots(i, best)));
      closest[i] = std::min(closest[i], d2);
    }
    centers.row(c) = x.row(chosen);
  }
  return centers;
}

// One start: k-means++ then Lloyd iterations with centers re-normalized (spherical k-means).
inline KMeansRun kmeans_run(const RowMatrixF& x, const Eigen::VectorXf& sq, int k, const KMeansOptions& o,
                            std::uint64_t seed) {
  const Eigen::Index n = x.rows(), d = x.cols();
  Rng rng(seed);
  const int trials = o.local_trials > 0 ? o.local_trials : 2 + static_cast<int>(std::log(static_cast<double>(k)));
  KMeansRun run;
  run.centers = kmeans_plus_plus(x, sq, k, trials, rng);
  run.labels.assign(static_cast<std::size_t>(n), -1);
  KMeansWork w;
  w.sims.resize(std::max<Eigen::Index>(1, std::min(o.block_rows, n)), k);
  w.block_sums.resize(k, d);
  w.sums.resize(k, d);
  w.counts.assign(static_cast<std::size_t>(k), 0);
  w.dist2.assign(static_cast<std::size_t>(n), 0.0f);
  Eigen::VectorXf center_sq = run.centers.rowwise().squaredNorm();
  RowMatrixF next(k, d);
  std::vector<Eigen::Index> order;
  long long changed = 0;
  bool need_final_pass = true;
  for (int it = 1; it <= o.max_iterations; ++it) {
    run.iterations = it;
    run.inertia = kmeans_assign(x, sq, run.centers, center_sq, run.labels, w, true, changed);
    if (it > 1 && changed == 0) {  // labels are a fixed point: centers would not move
      run.converged = true;
      need_final_pass = false;
      break;
    }
    // M-step: normalized sums; an empty cluster takes the point farthest from its center.
    int empty_used = 0;
    for (Eigen::Index j = 0; j < k; ++j) {
      const double norm = w.sums.row(j).norm();
      if (w.counts[static_cast<std::size_t>(j)] > 0 && norm > 0.0) {
        next.row(j) = (w.sums.row(j) / norm).cast<float>();
        continue;
      }
      if (order.empty()) {
        order.resize(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), Eigen::Index{0});
        std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
          return w.dist2[static_cast<std::size_t>(a)] > w.dist2[static_cast<std::size_t>(b)];
        });
      }
      const Eigen::Index p = order[static_cast<std::size_t>(std::min<Eigen::Index>(empty_used++, n - 1))];
      if (sq[p] > 0.0f) {
        next.row(j) = x.row(p);
      } else {
        next.row(j).setZero();
        next(j, j % d) = 1.0f;
      }
    }
    order.clear();
    const double shift = (next - run.centers).template cast<double>().squaredNorm();
    run.centers.swap(next);
    center_sq = run.centers.rowwise().squaredNorm();
    if (shift <= o.tol) {
      run.converged = true;
      break;
    }
  }
  if (need_final_pass) run.inertia = kmeans_assign(x, sq, run.centers, center_sq, run.labels, w, false, changed);
  return run;
}

inline void check_kmeans_options(const KMeansOptions& o, const char* where) {
  require(o.restarts >= 1, where, ": restarts must be >= 1, got ", o.restarts);
  require(o.max_iterations >= 1, where, ": max_iterations must be >= 1, got ", o.max_iterations);
  require(o.tol >= 0.0 && std::isfinite(o.tol), where, ": tol must be finite and >= 0");
  require(o.local_trials >= 0, where, ": local_trials must be >= 0");
  require(o.block_rows >= 1, where, ": block_rows must be >= 1");
}

// All (repeat, restart) starts of `repeats` clusterings, in parallel; returns the kept run per repeat.
inline std::vector<KMeansResult> kmeans_repeats(const RowMatrixF& xn, int k, const KMeansOptions& o, int repeats) {
  const Eigen::VectorXf sq = xn.rowwise().squaredNorm();
  const std::int64_t tasks = static_cast<std::int64_t>(repeats) * o.restarts;
  std::vector<KMeansRun> runs(static_cast<std::size_t>(tasks));
  parallel_for(tasks, resolve_threads(o.threads), [&](std::int64_t t) {
    const std::uint64_t rep = static_cast<std::uint64_t>(t / o.restarts);
    const std::uint64_t start = static_cast<std::uint64_t>(t % o.restarts);
    runs[static_cast<std::size_t>(t)] = kmeans_run(xn, sq, k, o, derive_seed(o.seed, rep, start));
  });
  std::vector<KMeansResult> out(static_cast<std::size_t>(repeats));
  for (int r = 0; r < repeats; ++r) {
    int best = 0;
    for (int s = 1; s < o.restarts; ++s)
      if (runs[static_cast<std::size_t>(r * o.restarts + s)].inertia <
          runs[static_cast<std::size_t>(r * o.restarts + best)].inertia)
        best = s;
    KMeansRun& run = runs[static_cast<std::size_t>(r * o.restarts + best)];
    KMeansResult& res = out[static_cast<std::size_t>(r)];
    res.centers = std::move(run.centers);
    res.labels = std::move(run.labels);
    res.inertia = run.inertia;
    res.iterations = run.iterations;
    res.converged = run.converged;
    res.restart = best;
  }
  return out;
}

}  // namespace detail

/// Spherical k-means (SPEC §6): rows L2-normalized, k-means++ init, Lloyd steps with centers re-normalized,
/// `restarts` starts keeping the lowest inertia. Requires: x N×D finite, N ≥ 1, 1 ≤ k ≤ N.
/// Returns K×D unit centers and N labels. Deterministic for a given options.seed, whatever the thread count.
/// Throws structgan::Error on bad input or options.
/// \code
///   structgan::eval::KMeansResult r = structgan::eval::spherical_kmeans(features, 10);
/// \endcode
template <class Derived>
KMeansResult spherical_kmeans(const Eigen::MatrixBase<Derived>& x, int k, const KMeansOptions& options = {}) {
  detail::require_features(x, "spherical_kmeans", "features");
  detail::check_kmeans_options(options, "spherical_kmeans");
  require(k >= 1 && k <= x.rows(), "spherical_kmeans: k must be in [1, N=", x.rows(), "], got ", k);
  const RowMatrixF xn = detail::normalized_rows<float>(x);
  return std::move(detail::kmeans_repeats(xn, k, options, 1).front());
}

/// Options of the repeated k-means protocol (SPEC §6: 20 repeats of 5-start spherical k-means).
struct KMeansProtocolOptions {
  int repeats = 20;         ///< independent clusterings (each of kmeans.restarts starts)
  int clusters = 0;         ///< K; 0 = number of distinct labels
  KMeansOptions kmeans;     ///< per-clustering options (repeat r, start s uses seed derive(seed, r, s))
};

/// Per-repeat and summary figures of the k-means protocol. Accuracies are fractions in [0, 1];
/// std is the population standard deviation (ddof = 0, as numpy.std) over the repeats.
struct KMeansProtocolResult {
  int clusters = 0;
  int repeats = 0;
  std::vector<double> accuracy, nmi, ari, inertia;
  std::vector<int> iterations;
  double accuracy_mean = 0.0, accuracy_std = 0.0;
  double nmi_mean = 0.0, ari_mean = 0.0;
  std::vector<int> first_labels;  ///< cluster labels of repeat 0 (e.g. for a plot)
};

/// The Table 1 k-means protocol (SPEC §6): `repeats` times spherical k-means with K = #classes and
/// `restarts` starts, clusters mapped to classes by the Hungarian algorithm; accuracy mean and std, with
/// NMI and ARI means. Requires: x N×D finite, labels.size() == N, K ≤ N. Throws structgan::Error.
/// \code
///   auto r = structgan::eval::kmeans_protocol(test_features, test_labels);  // r.accuracy_mean, r.accuracy_std
/// \endcode
template <class Derived>
KMeansProtocolResult kmeans_protocol(const Eigen::MatrixBase<Derived>& x, const std::vector<int>& labels,
                                     const KMeansProtocolOptions& options = {}) {
  detail::require_features(x, "kmeans_protocol", "features");
  detail::require_labels(labels, x.rows(), "kmeans_protocol", "labels");
  detail::check_kmeans_options(options.kmeans, "kmeans_protocol");
  require(options.repeats >= 1, "kmeans_protocol: repeats must be >= 1, got ", options.repeats);
  const int k = options.clusters > 0 ? options.clusters
                                     : static_cast<int>(detail::compact_labels(labels).classes.size());
  require(k <= x.rows(), "kmeans_protocol: K=", k, " exceeds the number of samples ", x.rows());
  const RowMatrixF xn = detail::normalized_rows<float>(x);
  std::vector<KMeansResult> runs = detail::kmeans_repeats(xn, k, options.kmeans, options.repeats);
  KMeansProtocolResult out;
  out.clusters = k;
  out.repeats = options.repeats;
  for (const KMeansResult& r : runs) {
    out.accuracy.push_back(clustering_accuracy(labels, r.labels).accuracy);
    out.nmi.push_back(normalized_mutual_info(labels, r.labels));
    out.ari.push_back(adjusted_rand_index(labels, r.labels));
    out.inertia.push_back(r.inertia);
    out.iterations.push_back(r.iterations);
  }
  const double m = static_cast<double>(out.repeats);
  out.accuracy_mean = std::accumulate(out.accuracy.begin(), out.accuracy.end(), 0.0) / m;
  double var = 0.0;
  for (double a : out.accuracy) var += (a - out.accuracy_mean) * (a - out.accuracy_mean);
  out.accuracy_std = std::sqrt(var / m);
  out.nmi_mean = std::accumulate(out.nmi.begin(), out.nmi.end(), 0.0) / m;
  out.ari_mean = std::accumulate(out.ari.begin(), out.ari.end(), 0.0) / m;
  out.first_labels = std::move(runs.front().labels);
  return out;
}

}  // namespace structgan::eval
