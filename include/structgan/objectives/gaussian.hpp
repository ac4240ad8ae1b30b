#pragma once
/// \file The coarse scale of the structural objective (SPEC §2): distances between the Gaussians
/// fitted to the real embeddings f and the generated ones f^g (N×p, one sample per row).
///
/// Every distance is computed from each set's sufficient statistics: the count n, the sum
/// s = Σ(x − c) and the scatter S = Σ(x − c)ᵀ(x − c) about a shift c (a constant), from which
/// mean = c + s/n and the centred scatter M = S − s sᵀ/n. Sums of statistics over disjoint sets
/// are the statistics of their union, so with `GaussianStats::Global` and a communicator the
/// statistics are summed over the ranks (ops/collective.hpp) and d is exactly the distance of the
/// global batch (docs/distributed.md, "Global Gaussian statistics").
///
/// Written once over the value type V (Tensor, Var, DualTensor<Tensor>, DualTensor<Var>) with the
/// library's ops, so gradients, JVPs, reverse over forward and float/double come from the ops'
/// rules. Every log det goes through a Cholesky factorization (logdet_spd; gradient Σ⁻¹).
///
/// \code
///   Var<double> f(real, true), g(fake, true);           // unit rows, N×p and M×p
///   Var<double> d = objectives::logdet_distance(f, g);  // shape [1]
///   backward(d);                                         // f.grad(), g.grad()
///   // on N processes: d of the global batch (o.stats = GaussianStats::Global, the default)
///   Var<double> dg = objectives::gaussian_distance(f, g, GaussianOptions{}, &comm);
/// \endcode
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "structgan/backend/device_readout.hpp"
#include "structgan/distributed/communicator.hpp"
#include "structgan/ops/collective.hpp"
#include "structgan/ops/composite.hpp"
#include "structgan/ops/linalg.hpp"

namespace structgan::objectives {

/// Which Gaussian distance the coarse scale uses (SPEC §2).
enum class GaussianDistance {
  Logdet,        ///< the released code's logdet form (default)
  Jsd,           ///< paper eq. 4 with a ridge
  Bhattacharyya  ///< paper eq. 5 with a ridge
};

/// Which batch the statistics describe when several processes train (docs/distributed.md).
enum class GaussianStats {
  Global,  ///< the global batch: every rank's statistics summed (one process: its own batch)
  PerRank  ///< each rank's own batch (the released code on several GPUs)
};

/// The options of the Gaussian distances, SPEC §2 defaults.
struct GaussianOptions {
  GaussianDistance kind = GaussianDistance::Logdet;
  double eps = 0.5;     ///< logdet form: L(X) = logdet(I + (p/eps)·Σ)
  double ridge = 1e-4;  ///< JSD and Bhattacharyya: Σ + ridge·I
  GaussianStats stats = GaussianStats::Global;  ///< with a communicator of several ranks
};

/// The name of a distance ("logdet", "jsd", "bhattacharyya") and back (throws on an unknown name).
inline const char* to_string(GaussianDistance k) {
  switch (k) {
    case GaussianDistance::Logdet: return "logdet";
    case GaussianDistance::Jsd: return "jsd";
    case GaussianDistance::Bhattacharyya: return "bhattacharyya";
  }
  return "?";
}
inline GaussianDistance gaussian_distance_from_string(const std::string& s) {
  if (s == "logdet") return GaussianDistance::Logdet;
  if (s == "jsd") return GaussianDistance::Jsd;
  if (s == "bhattacharyya") return GaussianDistance::Bhattacharyya;
  fail("gaussian distance: unknown kind '", s, "' (expected logdet, jsd or bhattacharyya)");
}
inline const char* to_string(GaussianStats k) { return k == GaussianStats::Global ? "global" : "per_rank"; }
inline GaussianStats gaussian_stats_from_string(const std::string& s) {
  if (s == "global") return GaussianStats::Global;
  if (s == "per_rank") return GaussianStats::PerRank;
  fail("gaussian stats: unknown mode '", s, "' (expected global or per_rank)");
}

/// The sufficient statistics of one set of rows x (n×p) about a constant shift c (1×p): n,
/// s = Σ(x − c) (1×p) and S = Σ(x − c)ᵀ(x − c) (p×p). The statistics of disjoint sets about the
/// same c add up to those of their union.
template <class V>
struct GaussianSums {
  using Tn = Tensor<typename ValueTraits<V>::scalar, typename ValueTraits<V>::device>;
  double count = 0;
  V sum;      ///< s, 1×p
  V scatter;  ///< S, p×p
  Tn shift;   ///< c, 1×p (no gradient)
};

/// The mean and the centred scatter of one set, from which every distance is computed.
template <class V>
struct GaussianMoments {
  double count = 0;  ///< n
  V mean;            ///< m = Σx/n, 1×p
  V scatter;         ///< M = Σ(x − m)ᵀ(x − m), p×p
};

namespace detail {

/// Throws unless x is a finite N×p matrix with N ≥ 1 (naming `op` and `what`).
template <class V>
void check_embedding(const char* op, const char* what, const V& x) {
  const auto& t = value_of(x);
  require(t.defined(), op, ": ", what, " is undefined");
  require(t.rank() == 2 && t.dim(0) >= 1 && t.dim(1) >= 1, op, ": ", what, " must be a non-empty N×p matrix, got ", t.shape());
  require_finite(t, op, ": ", what, " of shape ", t.shape(), " has NaN or Inf entries");
}

/// Throws unless the two sets are finite matrices of the same width.
template <class V>
void check_pair(const char* op, const V& f, const V& g) {
  check_embedding(op, "the real embeddings", f);
  check_embedding(op, "the generated embeddings", g);
  require(value_of(f).dim(1) == value_of(g).dim(1), op, ": widths differ: real ", value_of(f).shape(), " vs generated ",
          value_of(g).shape());
}

/// The p×p identity as a constant of value type V, made on the device (no host upload: on a GPU
/// an upload waits for the stream, as a read does).
template <class V>
V identity(index_t p) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  Tensor<T, D> eye = filled<T, D>(Shape{p, p}, T(0));
  const Tensor<T, D> one = filled<T, D>(Shape{1}, T(1));
  copy_rows(D{}, p, 1, one.data(), 0, eye.data(), p + 1, false);  // the diagonal: stride p + 1
  return constant<V>(eye);
}

/// Throws a structgan::Error when the symmetric matrix s (a ridge covariance) cannot be factored
/// reliably in T: a NaN or Inf entry, Cholesky fails, or its pivots d_i = L_ii² span more than
/// 1/(64·ε_T) (the ridge is too small). Checked on s's device, read as the factorization checks
/// of ops/linalg.hpp are (one read outside a DeferredReads scope, none inside).
template <class T, class D>
void require_factorable(const char* op, const char* what, const Tensor<T, D>& s, double ridge) {
  const index_t p = s.dim(0);
  Tensor<T, D> l(s.shape()), info(Shape{1});
  cholesky(D{}, p, s.data(), l.data(), info.data());
  Tensor<T, D> diag(Shape{p, 1});
  copy_rows(D{}, p, 1, l.data(), p + 1, diag.data(), 1, false);
  const Tensor<T, D> d = mul(diag, diag);
  // min d > tol·max d ⟺ d_i − tol·d_j > 0 for every pair (i, j): the indicator counts the pairs
  // that fail (a NaN fails), a sum of 0s and 1s, so it is 0 exactly when all pass.
  const T tol = T(64) * std::numeric_limits<T>::epsilon();
  const Tensor<T, D> pass = step(sub(d, mul_scalar(reshape(d, Shape{1, p}), tol)));
  const Tensor<T, D> failed_pairs = sum_all(add_scalar(mul_scalar(pass, T(-1)), T(1)));
  require_all_zero_on_device<T, D>(
      {{nonfinite_indicator(s), format_message(op, ": ", what, " has NaN or Inf entries")},
       {info, format_message(op, ": the ", p, "×", p, " ", what, " is singular to working precision with ridge ", ridge,
                             " (Cholesky failed); increase the ridge")},
       {failed_pairs, format_message(op, ": the ", p, "×", p, " ", what, " is singular to working precision with ridge ",
                                     ridge, " (Cholesky pivots too small); increase the ridge")}});
}

/// L = logdet(I + (p/eps)·Σ) with μ = normalize(m) and Σ = (X−μ)ᵀ(X−μ)/(n + 1e-5)
/// = (M + n·(m−μ)ᵀ(m−μ))/(n + 1e-5) (the cross terms vanish since Σ(x − m) = 0).
template <class V>
V logdet_term(const GaussianMoments<V>& x, double eps) {
  using T = typename ValueTraits<V>::scalar;
  const index_t p = x.mean.shape()[1];
  const double n = x.count;
  V off = sub(x.mean, row_normalize(x.mean));
  V s = add(x.scatter, mul_scalar(matmul(off, off, true, false), T(n)));
  const double scale = double(p) / (eps * (n + 1e-5));
  return logdet_spd(add(identity<V>(p), mul_scalar(s, T(scale))));
}

/// Σ = M/n + ridge·I (the plain 1/n sample covariance), checked to factor.
template <class V>
V ridge_covariance(const char* op, const char* what, const GaussianMoments<V>& x, double ridge) {
  using T = typename ValueTraits<V>::scalar;
  const index_t p = x.mean.shape()[1];
  V s = add(mul_scalar(x.scatter, T(1.0 / x.count)), mul_scalar(identity<V>(p), T(ridge)));
  require_factorable(op, what, value_of(s), ridge);
  return s;
}

inline void check_ridge(const char* op, double ridge) {
  require(std::isfinite(ridge) && ridge >= 0, op, ": the ridge must be finite and ≥ 0, got ", ridge);
}

}  // namespace detail

// ---- sufficient statistics ----------------------------------------------------------------------

/// The statistics of the rows of x (n×p) about `shift` (1×p on x's device; a constant).
template <class V>
GaussianSums<V> gaussian_sums(const V& x, const typename GaussianSums<V>::Tn& shift) {
  require(x.shape().rank() == 2 && x.shape()[0] >= 1, "gaussian_sums: needs a non-empty n×p matrix, got ", x.shape());
  require(shift.rank() == 2 && shift.dim(0) == 1 && shift.dim(1) == x.shape()[1], "gaussian_sums: the shift ", shift.shape(),
          " is not 1×", x.shape()[1]);
  V c = sub(x, constant<V>(shift));
  return {double(x.shape()[0]), sum(c, {0}, true), matmul(c, c, true, false), shift};
}

/// m = c + s/n and M = S − sᵀs/n: exact for any shift. Why a shift at all: about c = 0 the
/// scatter S/n − mᵀm cancels when the spread is small against the mean (collapsed embeddings in
/// float lose every digit of Σ); about a c near the mean, s is near 0 and S is the centred
/// scatter itself, as accurate as the two-pass formula, with a correction sᵀs/n near 0.
template <class V>
GaussianMoments<V> gaussian_moments(const GaussianSums<V>& s) {
  using T = typename ValueTraits<V>::scalar;
  require(s.count >= 1, "gaussian_moments: statistics of ", s.count, " rows");
  const T inv = T(1.0 / s.count);
  V mean = add(constant<V>(s.shift), mul_scalar(s.sum, inv));
  V scatter = sub(s.scatter, mul_scalar(matmul(s.sum, s.sum, true, false), inv));
  return {s.count, mean, scatter};
}

/// The moments of the rows of x, about their own mean (its value, as the shift).
template <class V>
GaussianMoments<V> gaussian_moments(const V& x) {
  require(x.shape().rank() == 2 && x.shape()[0] >= 1, "gaussian_moments: needs a non-empty n×p matrix, got ", x.shape());
  return gaussian_moments(gaussian_sums(x, mean(value_of(x), {0}, true)));
}

/// The moments of the union of two sets of rows (the pairwise update of Chan, Golub and LeVeque):
/// m = (n_a m_a + n_b m_b)/n, M = M_a + M_b + (n_a n_b/n)·(m_a − m_b)ᵀ(m_a − m_b).
template <class V>
GaussianMoments<V> joint_moments(const GaussianMoments<V>& a, const GaussianMoments<V>& b) {
  using T = typename ValueTraits<V>::scalar;
  const double n = a.count + b.count;
  V dm = sub(a.mean, b.mean);
  V mean = add(mul_scalar(a.mean, T(a.count / n)), mul_scalar(b.mean, T(b.count / n)));
  V scatter = add(add(a.scatter, b.scatter), mul_scalar(matmul(dm, dm, true, false), T(a.count * b.count / n)));
  return {n, mean, scatter};
}

/// The moments of f and of fg over every rank of comm (each rank passing its own rows; the same
/// width p everywhere, any number of rows): three collectives, every rank calling this in the
/// same order.
///  1. the row counts of both sets (2 host values: the host needs them, and reading them from
///     the device would stop it, issue #24);
///  2. the sums Σx of both sets (values only, 2·p scalars on the device), summed: the shared
///     shift c = the global mean of each set (a constant: every rank's statistics must be taken
///     about the same c to add up);
///  3. s and S about c of both sets (2·(p + p²) scalars), summed by sum_over_ranks, through which
///     the gradients flow (ops/collective.hpp states the convention: each rank's gradient is
///     N × its share, averaged by the trainer).
template <class V>
std::pair<GaussianMoments<V>, GaussianMoments<V>> global_moments(distributed::Communicator& comm, const V& f, const V& fg) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  using Tn = Tensor<T, D>;
  const char* op = "global_moments";
  require(f.shape().rank() == 2 && fg.shape().rank() == 2 && f.shape()[1] == fg.shape()[1], op,
          ": needs two matrices of the same width, got ", f.shape(), " and ", fg.shape());
  const index_t p = f.shape()[1];
  std::vector<double> counts{double(f.shape()[0]), double(fg.shape()[0])};
  distributed::all_reduce_sum(comm, counts);
  const double nf = counts[0], ng = counts[1];
  Tn first = concat(std::vector<Tn>{sum(value_of(f), {0}, true), sum(value_of(fg), {0}, true)}, 1);
  distributed::all_reduce_sum(comm, first);
  GaussianSums<V> sf = gaussian_sums(f, mul_scalar(slice(first, 1, 0, p), T(1.0 / nf)));
  GaussianSums<V> sg = gaussian_sums(fg, mul_scalar(slice(first, 1, p, p), T(1.0 / ng)));
  const Shape flat{1, p * p};
  V total = sum_over_ranks(comm, concat(std::vector<V>{sf.sum, reshape(sf.scatter, flat), sg.sum, reshape(sg.scatter, flat)}, 1));
  sf.count = nf;
  sf.sum = slice(total, 1, 0, p);
  sf.scatter = reshape(slice(total, 1, p, p * p), Shape{p, p});
  sg.count = ng;
  sg.sum = slice(total, 1, p + p * p, p);
  sg.scatter = reshape(slice(total, 1, 2 * p + p * p, p * p), Shape{p, p});
  return {gaussian_moments(sf), gaussian_moments(sg)};
}

// ---- the distances of two Gaussians, from their moments --------------------------------------------

/// The logdet distance of the released code (SPEC §2, default) between the sets whose moments are
/// given: d = ½·(L(f ∪ f^g) − ½·(L(f) + L(f^g))). Shape [1].
template <class V>
V logdet_distance(const GaussianMoments<V>& f, const GaussianMoments<V>& fg, double eps = 0.5) {
  require(std::isfinite(eps) && eps > 0, "logdet_distance: eps must be positive, got ", eps);
  using T = typename ValueTraits<V>::scalar;
  V joint = detail::logdet_term(joint_moments(f, fg), eps);
  V halves = add(detail::logdet_term(f, eps), detail::logdet_term(fg, eps));
  return mul_scalar(sub(joint, mul_scalar(halves, T(0.5))), T(0.5));
}

/// Paper eq. 4 from the sets' moments (see jsd_distance of rows). Shape [1].
template <class V>
V jsd_distance(const GaussianMoments<V>& f, const GaussianMoments<V>& fg, double ridge = 1e-4) {
  const char* op = "jsd_distance";
  detail::check_ridge(op, ridge);
  using T = typename ValueTraits<V>::scalar;
  V lj = logdet_spd(detail::ridge_covariance(op, "joint covariance", joint_moments(f, fg), ridge));
  V lf = logdet_spd(detail::ridge_covariance(op, "real covariance", f, ridge));
  V lg = logdet_spd(detail::ridge_covariance(op, "generated covariance", fg, ridge));
  return sub(lj, mul_scalar(add(lf, lg), T(0.5)));
}

/// Paper eq. 5 from the sets' moments (see bhattacharyya_distance of rows). Shape [1].
template <class V>
V bhattacharyya_distance(const GaussianMoments<V>& f, const GaussianMoments<V>& fg, double ridge = 1e-4) {
  const char* op = "bhattacharyya_distance";
  detail::check_ridge(op, ridge);
  using T = typename ValueTraits<V>::scalar;
  const index_t p = f.mean.shape()[1];
  V sf = detail::ridge_covariance(op, "real covariance", f, ridge);
  V sg = detail::ridge_covariance(op, "generated covariance", fg, ridge);
  V s = mul_scalar(add(sf, sg), T(0.5));
  V dm = reshape(sub(f.mean, fg.mean), Shape{p, 1});
  V quad = sum_all(mul(dm, matmul(inverse_spd(s), dm)));  // S is SPD: Cholesky on the device, not LU on the host
  V logdets = sub(logdet_spd(s), mul_scalar(add(logdet_spd(sf), logdet_spd(sg)), T(0.5)));
  return add(mul_scalar(quad, T(0.125)), mul_scalar(logdets, T(0.5)));
}

/// The distance chosen by `o.kind` between the sets whose moments are given.
template <class V>
V gaussian_distance(const GaussianMoments<V>& f, const GaussianMoments<V>& fg, const GaussianOptions& o) {
  switch (o.kind) {
    case GaussianDistance::Logdet: return logdet_distance(f, fg, o.eps);
    case GaussianDistance::Jsd: return jsd_distance(f, fg, o.ridge);
    case GaussianDistance::Bhattacharyya: return bhattacharyya_distance(f, fg, o.ridge);
  }
  fail("gaussian_distance: unknown kind");
}

// ---- the distances of two sets of rows ------------------------------------------------------------

/// The logdet distance of the released code (SPEC §2, default):
/// d = ½·(L([f; f^g]) − ½·(L(f) + L(f^g))), L(X) = logdet(I + (p/eps)·Σ_X), Σ_X around the
/// re-normalized mean with divisor n + 1e-5. Shape [1].
/// Requires: f (N×p) and fg (M×p) finite, same p; eps > 0. More dimensions than samples is fine
/// (I + … stays positive definite). Throws structgan::Error otherwise.
template <class V>
V logdet_distance(const V& f, const V& fg, double eps = 0.5) {
  detail::check_pair("logdet_distance", f, fg);
  require(std::isfinite(eps) && eps > 0, "logdet_distance: eps must be positive, got ", eps);
  return logdet_distance(gaussian_moments(f), gaussian_moments(fg), eps);
}

/// The Jensen–Shannon-type distance of paper eq. 4 (SPEC §2): d = log det Σ_joint −
/// ½(log det Σ_f + log det Σ_g), each Σ the plain (1/n) sample covariance + ridge·I. Shape [1].
/// Throws structgan::Error on non-finite input, mismatched widths, or a ridge too small to factor.
template <class V>
V jsd_distance(const V& f, const V& fg, double ridge = 1e-4) {
  detail::check_pair("jsd_distance", f, fg);
  detail::check_ridge("jsd_distance", ridge);
  return jsd_distance(gaussian_moments(f), gaussian_moments(fg), ridge);
}

/// The Bhattacharyya distance of paper eq. 5 (SPEC §2): with Σ = (Σ_f + Σ_g)/2 (each with the
/// ridge), d = ⅛ Δμᵀ Σ⁻¹ Δμ + ½(log det Σ − ½(log det Σ_f + log det Σ_g)). Shape [1].
/// Throws structgan::Error on non-finite input, mismatched widths, or a ridge too small to factor.
template <class V>
V bhattacharyya_distance(const V& f, const V& fg, double ridge = 1e-4) {
  detail::check_pair("bhattacharyya_distance", f, fg);
  detail::check_ridge("bhattacharyya_distance", ridge);
  return bhattacharyya_distance(gaussian_moments(f), gaussian_moments(fg), ridge);
}

/// The distance chosen by `o.kind` (SPEC §2). D's loss term is −d, G's is +d.
/// With a communicator of several ranks and o.stats == Global, f and fg are this rank's rows and d
/// is the distance of every rank's rows together (global_moments; the same d on every rank, each
/// rank's gradient N × its share, docs/distributed.md); else d of this rank's rows alone.
template <class V>
V gaussian_distance(const V& f, const V& fg, const GaussianOptions& o = {}, distributed::Communicator* comm = nullptr) {
  if (comm == nullptr || comm->size() == 1 || o.stats == GaussianStats::PerRank) {
    switch (o.kind) {
      case GaussianDistance::Logdet: return logdet_distance(f, fg, o.eps);
      case GaussianDistance::Jsd: return jsd_distance(f, fg, o.ridge);
      case GaussianDistance::Bhattacharyya: return bhattacharyya_distance(f, fg, o.ridge);
    }
    fail("gaussian_distance: unknown kind");
  }
  // Checked before the collectives, so that bad options throw on every rank alike.
  detail::check_pair("gaussian_distance", f, fg);
  require(std::isfinite(o.eps) && o.eps > 0, "gaussian_distance: eps must be positive, got ", o.eps);
  detail::check_ridge("gaussian_distance", o.ridge);
  const auto moments = global_moments(*comm, f, fg);
  return gaussian_distance(moments.first, moments.second, o);
}

}  // namespace structgan::objectives
