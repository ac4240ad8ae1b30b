#pragma once
/// \file Image-quality metrics on network features (issue #23): Fréchet Inception Distance (FID) as
/// pytorch-fid computes it, Kernel Inception Distance (KID) and Inception Score (IS) as torch-fidelity computes
/// them, in double. pytorch-fid's statistics files (.npz with `mu` and `sigma`) are io/npz.hpp's.
/// The Inception network that produces the features is not part of this header.
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"
#include "structgan/core/fid_statistics.hpp"

namespace structgan::eval {

/// A mean and the population standard deviation (ddof 0, numpy's default) over repeats (KID subsets, IS splits).
struct MeanStd {
  double mean = 0.0;
  double std = 0.0;
};

/// The statistics FID compares (core/fid_statistics.hpp; io/npz.hpp reads and writes pytorch-fid's files).
using structgan::FidStatistics;

/// KID settings; the defaults are torch-fidelity's (kid_subsets 100, kid_subset_size 1000, rng_seed 2020).
struct KidOptions {
  int subsets = 100;
  int subset_size = 1000;
  std::uint64_t seed = 2020;  ///< seed of numpy's legacy RandomState, whose draws are reproduced (< 2³²)
};

/// Inception Score settings. Splits are consecutive row ranges [i·N/K, (i+1)·N/K) as in the original
/// implementation; `shuffle` first permutes the rows as torch-fidelity does by default (isc_samples_shuffle,
/// numpy RandomState(seed).permutation), to reproduce its numbers.
struct InceptionScoreOptions {
  int splits = 10;
  bool shuffle = false;
  std::uint64_t seed = 2020;
};

namespace detail {

/// Throws unless x is non-empty and finite; the message names the first NaN/Inf by row and column.
template <class Derived>
void require_finite_samples(const Eigen::MatrixBase<Derived>& x, const std::string& where, const char* what) {
  require(x.rows() > 0 && x.cols() > 0, where, ": ", what, " is empty (", x.rows(), "x", x.cols(), ")");
  if (x.allFinite()) return;
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      if (!std::isfinite(static_cast<double>(x(i, j))))
        fail(where, ": ", what, " hold ", std::isnan(static_cast<double>(x(i, j))) ? "NaN" : "Inf", " (row ", i,
             ", column ", j, ")");
}

inline MeanStd mean_std(const std::vector<double>& v) {
  MeanStd out;
  for (double x : v) out.mean += x;
  out.mean /= static_cast<double>(v.size());
  double ss = 0.0;
  for (double x : v) ss += (x - out.mean) * (x - out.mean);
  out.std = std::sqrt(ss / static_cast<double>(v.size()));
  return out;
}

/// numpy's legacy np.random.RandomState(seed) for the two draws torch-fidelity makes: permutation(n) and
/// choice(n, m, replace=False) (= permutation(n)[:m]). MT19937 seeded as init_genrand (std::mt19937 is the same
/// generator), Fisher–Yates from the last index down, indices drawn by masked rejection (numpy's random_interval).
class NumpyRandomState {
 public:
  explicit NumpyRandomState(std::uint64_t seed) : mt_(static_cast<std::mt19937::result_type>(seed)) {
    require(seed <= 0xffffffffull, "NumpyRandomState: seed ", seed, " is outside numpy's legacy range [0, 2^32)");
  }
  std::vector<Eigen::Index> permutation(Eigen::Index n) {
    std::vector<Eigen::Index> p(static_cast<std::size_t>(n));
    std::iota(p.begin(), p.end(), Eigen::Index(0));
    for (std::size_t i = p.size(); i-- > 1;) std::swap(p[i], p[static_cast<std::size_t>(interval(i))]);
    return p;
  }
  std::vector<Eigen::Index> choice_without_replacement(Eigen::Index n, Eigen::Index m) {
    std::vector<Eigen::Index> p = permutation(n);
    p.resize(static_cast<std::size_t>(m));
    return p;
  }

 private:
  // uniform in [0, max]
  std::uint64_t interval(std::uint64_t max) {
    std::uint64_t mask = max;
    for (int s = 1; s <= 32; s *= 2) mask |= mask >> s;
    std::uint64_t v;
    if (max <= 0xffffffffull) {
      do v = mt_() & mask;
      while (v > max);
    } else {
      do v = ((static_cast<std::uint64_t>(mt_()) << 32) | mt_()) & mask;
      while (v > max);
    }
    return v;
  }
  std::mt19937 mt_;
};

/// (A + Aᵀ)/2 after checking A is symmetric to rounding: the eigen route reads one triangle only.
inline Eigen::MatrixXd symmetric_part(const Eigen::MatrixXd& a, const std::string& where, const char* what) {
  const double scale = a.cwiseAbs().maxCoeff();
  const double asym = (a - a.transpose()).cwiseAbs().maxCoeff();
  require(asym <= 1e-9 * scale, where, ": ", what, " is not symmetric (max |s - sᵀ| = ", asym, " for max |s| = ",
          scale, ")");
  return 0.5 * (a + a.transpose());
}

/// Eigenvalues of a symmetric positive semi-definite matrix, those within rounding of 0 set to 0. A backward
/// stable solver resolves eigenvalues only to about D·ε·λmax; below that a true 0 (a singular covariance, N ≤ D)
/// comes out as ±noise, and √noise (~1e-8·√λmax per null direction) would bias Tr √ upward. Rounding's negative
/// eigenvalues are clamped likewise; one negative beyond rounding (1e-10 of the largest |λ|) means the matrix is
/// not a covariance: throws.
inline Eigen::VectorXd psd_eigenvalues(const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>& e,
                                       const std::string& where, const char* what) {
  require(e.info() == Eigen::Success, where, ": the eigen-decomposition of ", what, " did not converge");
  const Eigen::VectorXd& l = e.eigenvalues();  // ascending
  const double largest = l.cwiseAbs().maxCoeff();
  require(l[0] >= -1e-10 * largest, where, ": ", what, " is not positive semi-definite (eigenvalue ", l[0],
          ", largest ", l[l.size() - 1], ")");
  const double unresolved = static_cast<double>(l.size()) * std::numeric_limits<double>::epsilon() * largest;
  return l.unaryExpr([unresolved](double v) { return v <= unresolved ? 0.0 : v; });
}

}  // namespace detail

/// mu and sigma of N×D features (N ≥ 2), in double: the column means and the covariance with ddof 1, as
/// pytorch-fid's np.mean / np.cov(rowvar=False). Throws structgan::Error for fewer than 2 samples, empty or
/// non-finite features (naming the first bad entry) and a covariance that overflows.
template <class Derived>
FidStatistics fid_statistics(const Eigen::MatrixBase<Derived>& features) {
  detail::require_finite_samples(features, "fid_statistics", "the features");
  require(features.rows() >= 2, "fid_statistics: fewer than 2 samples (", features.rows(),
          "): the covariance needs at least 2");
  const Eigen::MatrixXd x = features.template cast<double>();
  FidStatistics s;
  s.mu = x.colwise().mean().transpose();
  const Eigen::MatrixXd c = x.rowwise() - s.mu.transpose();
  // a rank update fills one triangle, so sigma comes out exactly symmetric (a GEMM may round (i,j), (j,i) apart)
  Eigen::MatrixXd lower = Eigen::MatrixXd::Zero(x.cols(), x.cols());
  lower.selfadjointView<Eigen::Lower>().rankUpdate(c.transpose(), 1.0 / static_cast<double>(x.rows() - 1));
  s.sigma = lower.selfadjointView<Eigen::Lower>();
  require(s.mu.allFinite() && s.sigma.allFinite(), "fid_statistics: the covariance of ", x.rows(), "x", x.cols(),
          " features is not finite (values too large for double)");
  return s;
}

/// The Fréchet distance ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr √(Σ₁^½ Σ₂ Σ₁^½) between two Gaussians.
///
/// pytorch-fid takes Tr sqrtm(Σ₁Σ₂) with scipy. Σ₁Σ₂ = Σ₁^½ (Σ₁^½ Σ₂ Σ₁^½) Σ₁^-½ where Σ₁ is invertible, and in
/// general Σ₁^½·(Σ₁^½Σ₂) and (Σ₁^½Σ₂)·Σ₁^½ share their non-zero eigenvalues; so both traces are Σᵢ √λᵢ over the
/// eigenvalues of the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½, singular covariances (N ≤ D) included. Here Σ₁^½ and
/// those eigenvalues come from two symmetric eigen-decompositions (no general sqrtm, no complex values), with
/// eigenvalues within rounding of 0 (below D·ε·λmax, negative ones included) set to 0. pytorch-fid adds 1e-6·I to both covariances when scipy's
/// sqrtm is not finite; this route is always finite and never adds it, so it then gives the eps-free value.
/// Throws structgan::Error for mismatched dimensions, non-finite or non-symmetric inputs and covariances that
/// are not positive semi-definite beyond rounding.
inline double frechet_distance(const FidStatistics& a, const FidStatistics& b) {
  const std::string where = "frechet_distance";
  const Eigen::Index d = a.mu.size();
  require(d > 0 && a.sigma.rows() == d && a.sigma.cols() == d, where, ": first statistics: mu has ", d,
          " entries but sigma is ", a.sigma.rows(), "x", a.sigma.cols());
  require(b.mu.size() == b.sigma.rows() && b.sigma.rows() == b.sigma.cols(), where, ": second statistics: mu has ",
          b.mu.size(), " entries but sigma is ", b.sigma.rows(), "x", b.sigma.cols());
  require(b.mu.size() == d, where, ": dimensions differ (", d, " vs ", b.mu.size(), ")");
  require(a.mu.allFinite() && b.mu.allFinite(), where, ": a mean (mu) holds NaN or Inf");
  require(a.sigma.allFinite() && b.sigma.allFinite(), where, ": a covariance (sigma) holds NaN or Inf");
  const Eigen::MatrixXd s1 = detail::symmetric_part(a.sigma, where, "the first covariance");
  const Eigen::MatrixXd s2 = detail::symmetric_part(b.sigma, where, "the second covariance");
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e1(s1);
  const Eigen::VectorXd root1 = detail::psd_eigenvalues(e1, where, "the first covariance").cwiseSqrt();
  const Eigen::MatrixXd half1 = e1.eigenvectors() * root1.asDiagonal() * e1.eigenvectors().transpose();
  const Eigen::MatrixXd m = half1 * s2 * half1;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(0.5 * (m + m.transpose()), Eigen::EigenvaluesOnly);
  // Σ₁^½ Σ₂ Σ₁^½ is PSD whenever Σ₂ is; a negative eigenvalue beyond rounding means Σ₂ is not a covariance
  const double tr_covmean = detail::psd_eigenvalues(em, where, "the second covariance (through Σ₁^½ Σ₂ Σ₁^½)")
                                .cwiseSqrt()
                                .sum();
  return (a.mu - b.mu).squaredNorm() + s1.trace() + s2.trace() - 2.0 * tr_covmean;
}

/// FID between two N×D feature sets (pytorch-fid's calculate_frechet_distance of their statistics).
template <class DA, class DB>
double frechet_distance(const Eigen::MatrixBase<DA>& features_a, const Eigen::MatrixBase<DB>& features_b) {
  require(features_a.cols() == features_b.cols(), "frechet_distance: the feature sets differ in dimension (",
          features_a.cols(), " vs ", features_b.cols(), ")");
  return frechet_distance(fid_statistics(features_a), fid_statistics(features_b));
}

/// KID: the mean and std (ddof 0) over `subsets` of the unbiased MMD² estimate with the polynomial kernel
/// k(x, y) = (xᵀy / D + 1)³ between random subsets of `subset_size` rows of each set, as torch-fidelity
/// computes it: the subsets are drawn without replacement within a subset (independently across subsets) with
/// numpy's RandomState(seed), a's subset then b's, so the same seed selects the same rows as torch-fidelity.
/// MMD²_u = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ)/m². Kernels in double.
/// Throws structgan::Error for non-finite features, different dimensions, subsets < 1, subset_size < 2 and,
/// as torch-fidelity, a set with fewer rows than subset_size.
template <class DA, class DB>
MeanStd kernel_inception_distance(const Eigen::MatrixBase<DA>& features_a, const Eigen::MatrixBase<DB>& features_b,
                                  const KidOptions& o = {}) {
  const std::string where = "kernel_inception_distance";
  detail::require_finite_samples(features_a, where, "the first features");
  detail::require_finite_samples(features_b, where, "the second features");
  require(features_a.cols() == features_b.cols(), where, ": the feature sets differ in dimension (",
          features_a.cols(), " vs ", features_b.cols(), ")");
  require(o.subsets >= 1, where, ": subsets must be at least 1, got ", o.subsets);
  require(o.subset_size >= 2, where, ": subset size must be at least 2 (the unbiased estimate divides by m(m-1)), got ",
          o.subset_size);
  const Eigen::Index m = o.subset_size;
  require(features_a.rows() >= m && features_b.rows() >= m, where, ": subset size ", m,
          " is larger than the number of samples (first: ", features_a.rows(), ", second: ", features_b.rows(),
          "); lower the subset size");
  const Eigen::MatrixXd a = features_a.template cast<double>(), b = features_b.template cast<double>();
  const double gamma = 1.0 / static_cast<double>(a.cols());
  auto kernel_sum = [&](const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, bool drop_diagonal) {
    const Eigen::ArrayXXd k = ((x * y.transpose()).array() * gamma + 1.0).cube();
    return k.sum() - (drop_diagonal ? k.matrix().trace() : 0.0);
  };
  detail::NumpyRandomState rng(o.seed);
  std::vector<double> mmd(static_cast<std::size_t>(o.subsets));
  Eigen::MatrixXd x(m, a.cols()), y(m, a.cols());
  const double md = static_cast<double>(m);
  for (double& v : mmd) {
    const auto ia = rng.choice_without_replacement(a.rows(), m);
    const auto ib = rng.choice_without_replacement(b.rows(), m);
    for (Eigen::Index i = 0; i < m; ++i) {
      x.row(i) = a.row(ia[static_cast<std::size_t>(i)]);
      y.row(i) = b.row(ib[static_cast<std::size_t>(i)]);
    }
    v = (kernel_sum(x, x, true) + kernel_sum(y, y, true)) / (md * (md - 1.0)) - 2.0 * kernel_sum(x, y, false) / (md * md);
  }
  return detail::mean_std(mmd);
}

/// Inception Score from N×C classifier logits: softmax over all C columns (in double), K splits,
/// exp(mean over the split's rows of KL(p(y|x) ‖ p(y))) per split with p(y) the split's mean, then the mean and
/// std (ddof 0) over the splits. Terms with p(y|x) = 0 count 0 (0·log 0). For the Inception of pytorch-fid /
/// torch-fidelity pass the 1008 logits without the fc bias (torch-fidelity's `logits_unbiased`, as the
/// original TensorFlow code). Throws structgan::Error for non-finite or empty logits, splits < 1 and fewer
/// rows than splits.
template <class Derived>
MeanStd inception_score(const Eigen::MatrixBase<Derived>& logits, const InceptionScoreOptions& o = {}) {
  const std::string where = "inception_score";
  detail::require_finite_samples(logits, where, "the logits");
  require(o.splits >= 1, where, ": splits must be at least 1, got ", o.splits);
  const Eigen::Index n = logits.rows(), k = o.splits;
  require(n >= k, where, ": ", n, " samples cannot fill ", k, " splits");
  Eigen::MatrixXd log_p = logits.template cast<double>();
  if (o.shuffle) {
    const auto perm = detail::NumpyRandomState(o.seed).permutation(n);
    const Eigen::MatrixXd unshuffled = log_p;
    for (Eigen::Index i = 0; i < n; ++i) log_p.row(i) = unshuffled.row(perm[static_cast<std::size_t>(i)]);
  }
  for (Eigen::Index i = 0; i < n; ++i) {  // log-softmax, shifted by the row's maximum against overflow
    const double top = log_p.row(i).maxCoeff();
    log_p.row(i).array() -= top;
    log_p.row(i).array() -= std::log(log_p.row(i).array().exp().sum());
  }
  const Eigen::MatrixXd p = log_p.array().exp().matrix();
  std::vector<double> scores(static_cast<std::size_t>(k));
  for (Eigen::Index s = 0; s < k; ++s) {
    const Eigen::Index lo = s * n / k, hi = (s + 1) * n / k;
    const Eigen::RowVectorXd log_q = p.middleRows(lo, hi - lo).colwise().mean().array().log().matrix();
    double kl = 0.0;
    for (Eigen::Index i = lo; i < hi; ++i)
      for (Eigen::Index c = 0; c < p.cols(); ++c)
        if (p(i, c) > 0.0) kl += p(i, c) * (log_p(i, c) - log_q[c]);
    scores[static_cast<std::size_t>(s)] = std::exp(kl / static_cast<double>(hi - lo));
  }
  return detail::mean_std(scores);
}

}  // namespace structgan::eval
