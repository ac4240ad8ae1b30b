#define BOOST_TEST_MODULE eval_tsne
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <numeric>

#include "structgan/eval/tsne.hpp"
#include "synthetic.hpp"

namespace ev = structgan::eval;

namespace {
// indices of the k nearest rows of row i (Euclidean), excluding i
std::vector<int> nearest(const ev::RowMatrixD& x, Eigen::Index i, int k) {
  std::vector<int> idx(static_cast<std::size_t>(x.rows()));
  std::iota(idx.begin(), idx.end(), 0);
  idx.erase(idx.begin() + i);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return (x.row(a) - x.row(i)).squaredNorm() < (x.row(b) - x.row(i)).squaredNorm();
  });
  idx.resize(static_cast<std::size_t>(k));
  return idx;
}
}  // namespace

BOOST_AUTO_TEST_CASE(separated_clusters_stay_separated) {
  // 4 clusters × 75 points in 20-D (cluster centers at distance ≈ √2, noise 0.05 per coordinate).
  const evtest::Clusters data = evtest::sphere_clusters(4, 75, 20, 0.05f, 31);
  const ev::RowMatrixD x = data.x.cast<double>();
  ev::TsneOptions o;
  o.iterations = 500;
  const ev::RowMatrixD y = ev::tsne(data.x, o);
  BOOST_REQUIRE_EQUAL(y.rows(), 300);
  BOOST_REQUIRE_EQUAL(y.cols(), 2);
  BOOST_REQUIRE(y.allFinite());
  const int k = 10;
  double same_label = 0.0, preserved = 0.0;
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    const std::vector<int> in_y = nearest(y, i, k), in_x = nearest(x, i, k);
    for (int j : in_y) {
      same_label += data.labels[static_cast<std::size_t>(j)] == data.labels[static_cast<std::size_t>(i)];
      preserved += std::count(in_x.begin(), in_x.end(), j);
    }
  }
  same_label /= static_cast<double>(y.rows() * k);
  preserved /= static_cast<double>(y.rows() * k);
  // Every 2-D neighbour lies in the same cluster (the clusters do not touch in the input).
  BOOST_CHECK_EQUAL(same_label, 1.0);
  // Neighbourhood preservation: on average at least 35% of the 10 input-space nearest neighbours are among
  // the 10 embedding nearest neighbours (measured: 44%). Random neighbours within the right cluster would give
  // 10/74 ≈ 13.5%, random points anywhere 10/299 ≈ 3.3%.
  BOOST_CHECK_GE(preserved, 0.35);
  BOOST_TEST_MESSAGE("same-label 10-NN fraction " << same_label << ", 10-NN preservation " << preserved);
  // Cluster separation: centroid distances exceed 2× the largest RMS cluster radius.
  Eigen::MatrixXd centroid = Eigen::MatrixXd::Zero(4, 2);
  Eigen::VectorXd radius = Eigen::VectorXd::Zero(4);
  for (Eigen::Index i = 0; i < y.rows(); ++i) centroid.row(data.labels[static_cast<std::size_t>(i)]) += y.row(i) / 75.0;
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    const int l = data.labels[static_cast<std::size_t>(i)];
    radius[l] += (y.row(i) - centroid.row(l)).squaredNorm() / 75.0;
  }
  const double rmax = radius.cwiseSqrt().maxCoeff();
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) BOOST_CHECK_GT((centroid.row(a) - centroid.row(b)).norm(), 2.0 * rmax);
}

BOOST_AUTO_TEST_CASE(deterministic_and_thread_independent) {
  // 2100 points: above the size from which the steps run in parallel
  const evtest::Clusters data = evtest::sphere_clusters(3, 700, 64, 0.3f, 32);
  ev::TsneOptions o;
  o.iterations = 30;
  o.exaggeration_iterations = 20;
  o.perplexity = 10;
  o.pca_dims = 8;  // exercises the PCA step (64 → 8)
  o.threads = 1;
  const ev::RowMatrixD a = ev::tsne(data.x, o);
  o.threads = 2;
  const ev::RowMatrixD b = ev::tsne(data.x, o);
  BOOST_CHECK(a == b);
  const ev::RowMatrixF small = data.x.topRows(120);
  o.pca_init = false;
  o.seed = 5;
  const ev::RowMatrixD c = ev::tsne(small, o), d = ev::tsne(small, o);
  BOOST_CHECK(c == d);
  o.seed = 6;
  BOOST_CHECK(!(ev::tsne(small, o) == c));
}

BOOST_AUTO_TEST_CASE(rejects_bad_input) {
  ev::TsneOptions o;
  o.max_points = 50;
  BOOST_CHECK_THROW(ev::tsne(ev::RowMatrixF::Random(51, 3), o), structgan::Error);
  BOOST_CHECK_THROW(ev::tsne(ev::RowMatrixF::Random(20, 3)), structgan::Error);  // perplexity 30 ≥ N
  ev::RowMatrixF x = ev::RowMatrixF::Random(40, 3);
  x(3, 1) = std::nanf("");
  o.perplexity = 5;
  BOOST_CHECK_THROW(ev::tsne(x, o), structgan::Error);
}
