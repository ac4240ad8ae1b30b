#pragma once
/// \file Barnes–Hut t-SNE (van der Maaten 2014) for 2-D plots of representations (SPEC §6, paper Fig. 2–3).
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"

namespace structgan::eval {

/// Options of t-SNE. Defaults follow scikit-learn 1.2's TSNE (method="barnes_hut", init="pca",
/// learning_rate="auto") with the perplexity 30 and theta 0.5 of the usual representation plots.
struct TsneOptions {
  double perplexity = 30.0;            ///< effective number of neighbours; 3·perplexity exact neighbours are used
  double theta = 0.5;                  ///< Barnes–Hut accuracy: a cell of width w at distance r is summarized when w/r < theta
  int iterations = 1000;               ///< gradient steps in all
  int exaggeration_iterations = 250;   ///< first steps with P multiplied by early_exaggeration and momentum 0.5
  double early_exaggeration = 12.0;
  double learning_rate = 0.0;          ///< 0 = max(N / early_exaggeration / 4, 50)
  int pca_dims = 50;                   ///< project the input on its first principal components first (0 = never)
  bool pca_init = true;                ///< start from the first two principal components scaled to std 1e-4 (else N(0, 1e-4²))
  std::uint64_t seed = 0;              ///< random start when pca_init is false
  int threads = 0;                     ///< 0 = OpenMP's maximum; the result does not depend on it
  Eigen::Index max_points = 10000;     ///< inputs with more rows are refused (subsample first)
};

namespace detail {

// Rows projected on the first `dims` principal components (columns ordered by decreasing variance,
// each sign fixed so that its largest coefficient is positive).
inline RowMatrixD pca_project(const RowMatrixD& centered, int dims) {
  const Eigen::MatrixXd cov = (centered.transpose() * centered) / std::max<double>(1.0, double(centered.rows() - 1));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  require(eig.info() == Eigen::Success, "tsne: PCA eigen-decomposition failed");
  const Eigen::Index d = cov.rows();
  Eigen::MatrixXd basis(d, dims);
  for (int c = 0; c < dims; ++c) {
    Eigen::VectorXd v = eig.eigenvectors().col(d - 1 - c);
    Eigen::Index arg;
    v.cwiseAbs().maxCoeff(&arg);
    if (v[arg] < 0) v = -v;
    basis.col(c) = v;
  }
  return centered * basis;
}

// Flat quadtree over 2-D points with centers of mass, for the Barnes–Hut repulsion.
class QuadTree {
 public:
  struct Node {
    double cx, cy, half;  // box
    double mx = 0, my = 0;  // center of mass
    int count = 0;
    int begin = 0, end = 0;  // points of a leaf: index_[begin, end)
    int child[4] = {-1, -1, -1, -1};
    bool leaf = true;
  };

  void build(const RowMatrixD& y) {
    const int n = static_cast<int>(y.rows());
    y_ = &y;
    index_.resize(static_cast<std::size_t>(n));
    std::iota(index_.begin(), index_.end(), 0);
    scratch_.resize(static_cast<std::size_t>(n));
    nodes_.clear();
    const double x0 = y.col(0).minCoeff(), x1 = y.col(0).maxCoeff();
    const double y0 = y.col(1).minCoeff(), y1 = y.col(1).maxCoeff();
    Node root;
    root.cx = 0.5 * (x0 + x1);
    root.cy = 0.5 * (y0 + y1);
    root.half = 0.5 * std::max(x1 - x0, y1 - y0) * (1.0 + 1e-9) + 1e-12;
    nodes_.push_back(root);
    build_node(0, 0, n, 0);
  }

  // Σ_j q_ij and Σ_j q_ij² (y_i − y_j) over all j ≠ i, Barnes–Hut approximated.
  void repulsion(int i, double theta2, double& sum_q, double& fx, double& fy) const {
    const RowMatrixD& y = *y_;
    const double xi = y(i, 0), yi = y(i, 1);
    int stack[256];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const Node& nd = nodes_[static_cast<std::size_t>(stack[--top])];
      if (nd.leaf) {
        for (int t = nd.begin; t < nd.end; ++t) {
          const int j = index_[static_cast<std::size_t>(t)];
          if (j == i) continue;
          const double dx = xi - y(j, 0), dy = yi - y(j, 1);
          const double q = 1.0 / (1.0 + dx * dx + dy * dy);
          sum_q += q;
          fx += q * q * dx;
          fy += q * q * dy;
        }
        continue;
      }
      const double dx = xi - nd.mx, dy = yi - nd.my;
      const double d2 = dx * dx + dy * dy;
      const double width = 2.0 * nd.half;
      if (width * width < theta2 * d2) {
        const double q = 1.0 / (1.0 + d2);
        sum_q += nd.count * q;
        fx += nd.count * q * q * dx;
        fy += nd.count * q * q * dy;
        continue;
      }
      for (int c = 0; c < 4; ++c)
        if (nd.child[c] >= 0) stack[top++] = nd.child[c];
    }
  }

 private:
  void build_node(int ni, int begin, int end, int depth) {
    const RowMatrixD& y = *y_;
    double mx = 0, my = 0;
    for (int t = begin; t < end; ++t) {
      mx += y(index_[static_cast<std::size_t>(t)], 0);
      my += y(index_[static_cast<std::size_t>(t)], 1);
    }
    {
      Node& nd = nodes_[static_cast<std::size_t>(ni)];
      nd.count = end - begin;
      nd.mx = mx / nd.count;
      nd.my = my / nd.count;
      nd.begin = begin;
      nd.end = end;
      if (end - begin <= 1 || depth >= 60 || nd.half < 1e-12) return;  // leaf (coincident points stay together)
      nd.leaf = false;
    }
    const double cx = nodes_[static_cast<std::size_t>(ni)].cx, cy = nodes_[static_cast<std::size_t>(ni)].cy;
    const double half = nodes_[static_cast<std::size_t>(ni)].half;
    int counts[4] = {0, 0, 0, 0};
    auto quadrant = [&](int p) { return (y(p, 0) >= cx ? 1 : 0) + (y(p, 1) >= cy ? 2 : 0); };
    for (int t = begin; t < end; ++t) ++counts[quadrant(index_[static_cast<std::size_t>(t)])];
    int offs[5] = {begin, 0, 0, 0, 0};
    for (int c = 0; c < 4; ++c) offs[c + 1] = offs[c] + counts[c];
    int fill[4] = {offs[0], offs[1], offs[2], offs[3]};
    for (int t = begin; t < end; ++t) {
      const int p = index_[static_cast<std::size_t>(t)];
      scratch_[static_cast<std::size_t>(fill[quadrant(p)]++)] = p;
    }
    std::copy(scratch_.begin() + begin, scratch_.begin() + end, index_.begin() + begin);
    for (int c = 0; c < 4; ++c) {
      if (counts[c] == 0) continue;
      Node child;
      child.half = 0.5 * half;
      child.cx = cx + ((c & 1) ? 0.5 : -0.5) * half;
      child.cy = cy + ((c & 2) ? 0.5 : -0.5) * half;
      const int id = static_cast<int>(nodes_.size());
      nodes_.push_back(child);
      nodes_[static_cast<std::size_t>(ni)].child[c] = id;
      build_node(id, offs[c], offs[c + 1], depth + 1);
    }
  }

  const RowMatrixD* y_ = nullptr;
  std::vector<Node> nodes_;
  std::vector<int> index_, scratch_;
};

// Sparse symmetric affinities P (CSR), Σ P = 1, from exact nearest neighbours and per-point perplexity search.
struct SparseP {
  std::vector<std::int64_t> row_start;
  std::vector<int> col;
  std::vector<double> val;
};

inline SparseP tsne_affinities(const RowMatrixD& x, double perplexity, int threads) {
  const Eigen::Index n = x.rows();
  const int k = static_cast<int>(std::min<double>(static_cast<double>(n - 1), std::floor(3.0 * perplexity)));
  const Eigen::VectorXd sq = x.rowwise().squaredNorm();
  std::vector<int> nb_idx(static_cast<std::size_t>(n * k));
  std::vector<double> nb_p(static_cast<std::size_t>(n * k));
  const Eigen::Index block = 128;
  const std::int64_t blocks = (n + block - 1) / block;
  parallel_for(blocks, threads, [&](std::int64_t b) {
    const Eigen::Index r0 = b * block, nr = std::min(block, n - r0);
    const RowMatrixD g = x.middleRows(r0, nr) * x.transpose();
    std::vector<std::pair<double, int>> cand(static_cast<std::size_t>(n - 1));
    std::vector<double> d(static_cast<std::size_t>(k)), p(static_cast<std::size_t>(k));
    for (Eigen::Index r = 0; r < nr; ++r) {
      const Eigen::Index i = r0 + r;
      std::size_t t = 0;
      for (Eigen::Index j = 0; j < n; ++j)
        if (j != i) cand[t++] = {std::max(0.0, sq[i] + sq[j] - 2.0 * g(r, j)), static_cast<int>(j)};
      std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
      for (int a = 0; a < k; ++a) d[static_cast<std::size_t>(a)] = cand[static_cast<std::size_t>(a)].first - cand[0].first;
      // binary search of beta so that the entropy of P(.|i) is log(perplexity) (scikit-learn's tolerances)
      const double target = std::log(perplexity);
      double beta = 1.0, lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
      for (int step = 0; step < 100; ++step) {
        double sum = 0.0;
        for (int a = 0; a < k; ++a) sum += (p[static_cast<std::size_t>(a)] = std::exp(-d[static_cast<std::size_t>(a)] * beta));
        double dp = 0.0;
        for (int a = 0; a < k; ++a) {
          p[static_cast<std::size_t>(a)] /= sum;
          dp += d[static_cast<std::size_t>(a)] * p[static_cast<std::size_t>(a)];
        }
        const double entropy = std::log(sum) + beta * dp;
        if (std::abs(entropy - target) <= 1e-5) break;
        if (entropy > target) {
          lo = beta;
          beta = std::isinf(hi) ? beta * 2.0 : 0.5 * (beta + hi);
        } else {
          hi = beta;
          beta = std::isinf(lo) ? beta / 2.0 : 0.5 * (beta + lo);
        }
      }
      for (int a = 0; a < k; ++a) {
        nb_idx[static_cast<std::size_t>(i * k + a)] = cand[static_cast<std::size_t>(a)].second;
        nb_p[static_cast<std::size_t>(i * k + a)] = p[static_cast<std::size_t>(a)];
      }
    }
  });
  // P + Pᵀ, normalized to sum 1
  struct Entry {
    int row, col;
    double val;
  };
  std::vector<Entry> e;
  e.reserve(static_cast<std::size_t>(2 * n * k));
  for (Eigen::Index i = 0; i < n; ++i)
    for (int a = 0; a < k; ++a) {
      const int j = nb_idx[static_cast<std::size_t>(i * k + a)];
      const double v = nb_p[static_cast<std::size_t>(i * k + a)];
      e.push_back({static_cast<int>(i), j, v});
      e.push_back({j, static_cast<int>(i), v});
    }
  std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });
  SparseP P;
  P.row_start.assign(static_cast<std::size_t>(n + 1), 0);
  double total = 0.0;
  for (std::size_t t = 0; t < e.size();) {
    std::size_t u = t;
    double v = 0.0;
    while (u < e.size() && e[u].row == e[t].row && e[u].col == e[t].col) v += e[u++].val;
    P.col.push_back(e[t].col);
    P.val.push_back(v);
    ++P.row_start[static_cast<std::size_t>(e[t].row + 1)];
    total += v;
    t = u;
  }
  for (Eigen::Index i = 0; i < n; ++i) P.row_start[static_cast<std::size_t>(i + 1)] += P.row_start[static_cast<std::size_t>(i)];
  for (double& v : P.val) v /= std::max(total, std::numeric_limits<double>::min());
  return P;
}

}  // namespace detail

/// Barnes–Hut t-SNE embedding in 2-D (SPEC §6 "t-SNE plots"): optional PCA to pca_dims, exact 3·perplexity
/// nearest neighbours, perplexity-calibrated sparse P, then `iterations` momentum steps with gains and early
/// exaggeration, repulsion approximated on a quadtree with `theta`. Requires: x N×D finite, 4 ≤ N ≤ max_points,
/// 0 < perplexity < N. Returns N×2. Deterministic for given options (any thread count). Throws structgan::Error.
/// \code
///   structgan::eval::RowMatrixD xy = structgan::eval::tsne(features);  // then io::write_png(path, render_label_scatter(xy, labels))
/// \endcode
template <class Derived>
RowMatrixD tsne(const Eigen::MatrixBase<Derived>& x, const TsneOptions& options = {}) {
  detail::require_features(x, "tsne", "input");
  const Eigen::Index n = x.rows();
  require(n >= 4, "tsne: need at least 4 points, got ", n);
  require(n <= options.max_points, "tsne: ", n, " points exceed max_points=", options.max_points, " (subsample first)");
  require(options.perplexity > 0.0 && options.perplexity < static_cast<double>(n), "tsne: perplexity must be in (0, N=", n,
          "), got ", options.perplexity);
  require(std::floor(3.0 * options.perplexity) >= 1.0, "tsne: perplexity must be >= 1/3, got ", options.perplexity);
  require(options.theta >= 0.0 && options.iterations >= 1 && options.exaggeration_iterations >= 0 &&
              options.early_exaggeration > 0.0 && options.learning_rate >= 0.0 && options.pca_dims >= 0,
          "tsne: invalid options");
  // Each step is one short parallel region: below ~2k points the fork/join costs more than it saves
  // (and a busy machine makes it far worse), so small inputs run on one thread.
  const int threads = n >= 2048 ? detail::resolve_threads(options.threads) : 1;
  RowMatrixD data = x.template cast<double>();
  data.rowwise() -= data.colwise().mean();
  const bool projected = options.pca_dims > 0 && data.cols() > options.pca_dims;
  if (projected) data = detail::pca_project(data, options.pca_dims);
  const detail::SparseP P = detail::tsne_affinities(data, options.perplexity, threads);

  RowMatrixD y(n, 2);
  if (options.pca_init) {
    // after the projection the columns already are the principal components, by decreasing variance
    y = projected && data.cols() >= 2 ? RowMatrixD(data.leftCols(2))
                                      : detail::pca_project(data, static_cast<int>(std::min<Eigen::Index>(2, data.cols())));
    if (y.cols() < 2) {  // 1-D input: second coordinate zero
      RowMatrixD t = RowMatrixD::Zero(n, 2);
      t.col(0) = y.col(0);
      y = t;
    }
    const double mean0 = y.col(0).mean();
    const double sd = std::sqrt((y.col(0).array() - mean0).square().mean());
    y *= 1e-4 / std::max(sd, 1e-300);
  } else {
    detail::Rng rng(options.seed);
    for (Eigen::Index i = 0; i < y.size(); ++i) y.data()[i] = 1e-4 * rng.normal();
  }
  const double lr = options.learning_rate > 0.0 ? options.learning_rate
                                                : std::max(static_cast<double>(n) / options.early_exaggeration / 4.0, 50.0);
  RowMatrixD update = RowMatrixD::Zero(n, 2), gains = RowMatrixD::Ones(n, 2), grad(n, 2), neg(n, 2);
  Eigen::VectorXd sum_q(n);
  detail::QuadTree tree;
  const double theta2 = options.theta * options.theta;
  const Eigen::Index chunk = 64;
  const std::int64_t chunks = (n + chunk - 1) / chunk;
  for (int it = 0; it < options.iterations; ++it) {
    const bool early = it < options.exaggeration_iterations;
    const double exaggeration = early ? options.early_exaggeration : 1.0;
    const double momentum = early ? 0.5 : 0.8;
    tree.build(y);
    detail::parallel_for(chunks, threads, [&](std::int64_t c) {
      for (Eigen::Index i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) {
        double sq = 0.0, fx = 0.0, fy = 0.0;
        tree.repulsion(static_cast<int>(i), theta2, sq, fx, fy);
        sum_q[i] = sq;
        neg(i, 0) = fx;
        neg(i, 1) = fy;
        double px = 0.0, py = 0.0;
        for (std::int64_t t = P.row_start[static_cast<std::size_t>(i)]; t < P.row_start[static_cast<std::size_t>(i + 1)]; ++t) {
          const int j = P.col[static_cast<std::size_t>(t)];
          const double dx = y(i, 0) - y(j, 0), dy = y(i, 1) - y(j, 1);
          const double w = P.val[static_cast<std::size_t>(t)] / (1.0 + dx * dx + dy * dy);
          px += w * dx;
          py += w * dy;
        }
        grad(i, 0) = px;
        grad(i, 1) = py;
      }
    });
    const double z = std::max(sum_q.sum(), std::numeric_limits<double>::min());
    for (Eigen::Index i = 0; i < n; ++i)
      for (int a = 0; a < 2; ++a) {
        const double g = 4.0 * (exaggeration * grad(i, a) - neg(i, a) / z);
        double& gain = gains(i, a);
        gain = (update(i, a) * g < 0.0) ? gain + 0.2 : gain * 0.8;
        gain = std::max(gain, 0.01);
        update(i, a) = momentum * update(i, a) - lr * gain * g;
        y(i, a) += update(i, a);
      }
    y.rowwise() -= y.colwise().mean();
  }
  return y;
}

}  // namespace structgan::eval
