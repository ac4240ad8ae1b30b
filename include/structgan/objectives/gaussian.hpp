#pragma once
/// \file The coarse scale of the structural objective (SPEC §2): distances between the Gaussians
/// fitted to the real embeddings f and the generated ones f^g (N×p, one sample per row).
///
/// Written once over the value type V (Tensor, Var, DualTensor<Tensor>, DualTensor<Var>) with the
/// library's ops, so gradients, JVPs, reverse over forward and float/double come from the ops'
/// rules. Every log det goes through a Cholesky factorization (logdet_spd; gradient Σ⁻¹).
///
/// \code
///   Var<double> f(real, true), g(fake, true);           // unit rows, N×p and M×p
///   Var<double> d = objectives::logdet_distance(f, g);  // shape [1]
///   backward(d);                                         // f.grad(), g.grad()
/// \endcode
#include <cmath>
#include <limits>
#include <string>

#include "structgan/ops/composite.hpp"
#include "structgan/ops/linalg.hpp"

namespace structgan::objectives {

/// Which Gaussian distance the coarse scale uses (SPEC §2).
enum class GaussianDistance {
  Logdet,        ///< the released code's logdet form (default)
  Jsd,           ///< paper eq. 4 with a ridge
  Bhattacharyya  ///< paper eq. 5 with a ridge
};

/// The options of the Gaussian distances, SPEC §2 defaults.
struct GaussianOptions {
  GaussianDistance kind = GaussianDistance::Logdet;
  double eps = 0.5;     ///< logdet form: L(X) = logdet(I + (p/eps)·Σ)
  double ridge = 1e-4;  ///< JSD and Bhattacharyya: Σ + ridge·I
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

namespace detail {

/// Throws unless x is a finite N×p matrix with N ≥ 1 (naming `op` and `what`).
template <class V>
void check_embedding(const char* op, const char* what, const V& x) {
  const auto& t = value_of(x);
  require(t.defined(), op, ": ", what, " is undefined");
  require(t.rank() == 2 && t.dim(0) >= 1 && t.dim(1) >= 1, op, ": ", what, " must be a non-empty N×p matrix, got ", t.shape());
  const auto h = to_host(t);
  require(h.array().allFinite(), op, ": ", what, " of shape ", t.shape(), " has NaN or Inf entries");
}

/// Throws unless the two sets are finite matrices of the same width.
template <class V>
void check_pair(const char* op, const V& f, const V& g) {
  check_embedding(op, "the real embeddings", f);
  check_embedding(op, "the generated embeddings", g);
  require(value_of(f).dim(1) == value_of(g).dim(1), op, ": widths differ: real ", value_of(f).shape(), " vs generated ",
          value_of(g).shape());
}

/// The p×p identity as a constant of value type V.
template <class V>
V identity(index_t p) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  Tensor<T, Cpu> eye = zeros<T>(Shape{p, p});
  for (index_t i = 0; i < p; ++i) eye.at(i, i) = T(1);
  return constant<V>(to_device<D>(eye));
}

/// Throws a structgan::Error when the symmetric matrix s (a ridge covariance) cannot be factored
/// reliably in T: Cholesky fails, or its pivots span more than 1/(64·ε_T) (the ridge is too small).
template <class T, class D>
void require_factorable(const char* op, const char* what, const Tensor<T, D>& s, double ridge) {
  const auto h = to_host(s);
  structgan::detail::HostMatrix<double> m = h.matrix().template cast<double>();
  require(m.allFinite(), op, ": ", what, " has NaN or Inf entries");
  Eigen::LLT<structgan::detail::HostMatrix<double>> llt(m);
  const auto d = llt.matrixLLT().diagonal().array().square().eval();
  const double tol = 64.0 * double(std::numeric_limits<T>::epsilon());
  require(llt.info() == Eigen::Success && d.minCoeff() > tol * d.maxCoeff(), op, ": the ", s.dim(0), "×", s.dim(0), " ", what,
          " is singular to working precision with ridge ", ridge, " (Cholesky ",
          llt.info() == Eigen::Success ? "pivots too small" : "failed", "); increase the ridge");
}

/// L(X) = logdet(I + (p/eps)·Σ) with μ = normalize(mean of rows), Σ = (X−μ)ᵀ(X−μ)/(n + 1e-5).
template <class V>
V logdet_term(const V& x, double eps) {
  using T = typename ValueTraits<V>::scalar;
  const index_t n = x.shape()[0], p = x.shape()[1];
  V mu = row_normalize(mean(x, {0}, true));
  V c = sub(x, mu);
  V s = matmul(c, c, true, false);
  const double scale = double(p) / (eps * (double(n) + 1e-5));
  return logdet_spd(add(identity<V>(p), mul_scalar(s, T(scale))));
}

/// Σ = (X−m)ᵀ(X−m)/n + ridge·I with the plain mean m (written to *mean_out, 1×p, if given).
template <class V>
V ridge_covariance(const char* op, const char* what, const V& x, double ridge, V* mean_out = nullptr) {
  using T = typename ValueTraits<V>::scalar;
  const index_t n = x.shape()[0], p = x.shape()[1];
  V m = mean(x, {0}, true);
  V c = sub(x, m);
  V s = add(mul_scalar(matmul(c, c, true, false), T(1.0 / double(n))), mul_scalar(identity<V>(p), T(ridge)));
  require_factorable(op, what, value_of(s), ridge);
  if (mean_out) *mean_out = m;
  return s;
}

inline void check_ridge(const char* op, double ridge) {
  require(std::isfinite(ridge) && ridge >= 0, op, ": the ridge must be finite and ≥ 0, got ", ridge);
}

}  // namespace detail

/// The logdet distance of the released code (SPEC §2, default):
/// d = ½·(L([f; f^g]) − ½·(L(f) + L(f^g))), L(X) = logdet(I + (p/eps)·Σ_X), Σ_X around the
/// re-normalized mean with divisor n + 1e-5. Shape [1].
/// Requires: f (N×p) and fg (M×p) finite, same p; eps > 0. More dimensions than samples is fine
/// (I + … stays positive definite). Throws structgan::Error otherwise.
template <class V>
V logdet_distance(const V& f, const V& fg, double eps = 0.5) {
  detail::check_pair("logdet_distance", f, fg);
  require(std::isfinite(eps) && eps > 0, "logdet_distance: eps must be positive, got ", eps);
  using T = typename ValueTraits<V>::scalar;
  V joint = detail::logdet_term(concat(std::vector<V>{f, fg}, 0), eps);
  V halves = add(detail::logdet_term(f, eps), detail::logdet_term(fg, eps));
  return mul_scalar(sub(joint, mul_scalar(halves, T(0.5))), T(0.5));
}

/// The Jensen–Shannon-type distance of paper eq. 4 (SPEC §2): d = log det Σ_joint −
/// ½(log det Σ_f + log det Σ_g), each Σ the plain (1/n) sample covariance + ridge·I. Shape [1].
/// Throws structgan::Error on non-finite input, mismatched widths, or a ridge too small to factor.
template <class V>
V jsd_distance(const V& f, const V& fg, double ridge = 1e-4) {
  const char* op = "jsd_distance";
  detail::check_pair(op, f, fg);
  detail::check_ridge(op, ridge);
  using T = typename ValueTraits<V>::scalar;
  V lj = logdet_spd(detail::ridge_covariance(op, "joint covariance", concat(std::vector<V>{f, fg}, 0), ridge));
  V lf = logdet_spd(detail::ridge_covariance(op, "real covariance", f, ridge));
  V lg = logdet_spd(detail::ridge_covariance(op, "generated covariance", fg, ridge));
  return sub(lj, mul_scalar(add(lf, lg), T(0.5)));
}

/// The Bhattacharyya distance of paper eq. 5 (SPEC §2): with Σ = (Σ_f + Σ_g)/2 (each with the
/// ridge), d = ⅛ Δμᵀ Σ⁻¹ Δμ + ½(log det Σ − ½(log det Σ_f + log det Σ_g)). Shape [1].
/// Throws structgan::Error on non-finite input, mismatched widths, or a ridge too small to factor.
template <class V>
V bhattacharyya_distance(const V& f, const V& fg, double ridge = 1e-4) {
  const char* op = "bhattacharyya_distance";
  detail::check_pair(op, f, fg);
  detail::check_ridge(op, ridge);
  using T = typename ValueTraits<V>::scalar;
  const index_t p = value_of(f).dim(1);
  V mf, mg;
  V sf = detail::ridge_covariance(op, "real covariance", f, ridge, &mf);
  V sg = detail::ridge_covariance(op, "generated covariance", fg, ridge, &mg);
  V s = mul_scalar(add(sf, sg), T(0.5));
  V dm = reshape(sub(mf, mg), Shape{p, 1});
  V quad = sum_all(mul(dm, solve(s, dm)));
  V logdets = sub(logdet_spd(s), mul_scalar(add(logdet_spd(sf), logdet_spd(sg)), T(0.5)));
  return add(mul_scalar(quad, T(0.125)), mul_scalar(logdets, T(0.5)));
}

/// The distance chosen by `o.kind` (SPEC §2). D's loss term is −d, G's is +d.
template <class V>
V gaussian_distance(const V& f, const V& fg, const GaussianOptions& o = {}) {
  switch (o.kind) {
    case GaussianDistance::Logdet: return logdet_distance(f, fg, o.eps);
    case GaussianDistance::Jsd: return jsd_distance(f, fg, o.ridge);
    case GaussianDistance::Bhattacharyya: return bhattacharyya_distance(f, fg, o.ridge);
  }
  fail("gaussian_distance: unknown kind");
}

}  // namespace structgan::objectives
