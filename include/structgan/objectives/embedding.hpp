#pragma once
/// \file The structural objectives for networks that live elsewhere (PyTorch, JAX, your own
/// C++): plain Eigen matrices in, plain Eigen matrices out, in double or float. One sample per
/// row everywhere. docs/embedding.md walks through it; examples/embed_objectives runs it.
///
/// - the Gaussian distances (SPEC §2) with ∂/∂f and ∂/∂f^g;
/// - the kNN similarities s_real, s_fake (SPEC §3) with their gradients, given keys, values and
///   the bank (keys are normalized here);
/// - the Jacobian regularizer (SPEC §4) driven by your VJP and JVP callables: it returns σ, u, v
///   and ∂penalty/∂σ, so your framework computes the parameter gradient of the penalty as
///   Σ_i (∂P/∂σ_i)·∂(u_iᵀ J_i v_i)/∂θ with u, v held fixed.
///
/// \code
///   Eigen::MatrixXd f = ..., fg = ...;                       // N×p and M×p unit rows
///   auto d = structgan::embedding::logdet_distance(f, fg);  // d.value, d.grad_real, d.grad_fake
/// \endcode
#include <cstdint>
#include <functional>
#include <type_traits>

#include <Eigen/Core>

#include "structgan/objectives/clustering.hpp"
#include "structgan/objectives/gaussian.hpp"
#include "structgan/objectives/jacobian.hpp"

namespace structgan::embedding {

/// A dense matrix of T (column-major, Eigen's default), one sample per row.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
/// Neighbour indices, one row per query, into [batch; bank].
using IndexMatrix = Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic>;

using objectives::ClusterOptions;
using objectives::GaussianDistance;
using objectives::GaussianOptions;
using objectives::JacobianPenalty;

/// A distance and its gradients.
template <class T>
struct DistanceResult {
  T value;
  Matrix<T> grad_real;  ///< ∂d/∂f, N×p
  Matrix<T> grad_fake;  ///< ∂d/∂f^g, M×p
};

namespace detail {
template <class T>
struct identity {
  using type = T;
};
template <class Derived>
using scalar_t = typename Derived::Scalar;

template <class Derived>
Tensor<scalar_t<Derived>, Cpu> to_tensor(const Eigen::MatrixBase<Derived>& m) {
  using T = scalar_t<Derived>;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "structgan::embedding: float or double matrices");
  Tensor<T, Cpu> t(Shape{m.rows(), m.cols()});
  t.matrix() = m;
  return t;
}
template <class T>
Matrix<T> to_matrix(const Tensor<T, Cpu>& t, index_t rows, index_t cols) {
  if (!t.defined()) return Matrix<T>::Zero(rows, cols);
  return t.reshape(Shape{rows, cols}).matrix();
}
template <class T>
Tensor<T, Cpu> normalized_rows(const Tensor<T, Cpu>& t) { return row_normalize(t); }

template <class DA, class DB, class Fn>
DistanceResult<scalar_t<DA>> distance(const Eigen::MatrixBase<DA>& f, const Eigen::MatrixBase<DB>& fg, Fn&& fn) {
  static_assert(std::is_same_v<scalar_t<DA>, scalar_t<DB>>, "structgan::embedding: f and f^g of the same scalar type");
  using T = scalar_t<DA>;
  Var<T> a(to_tensor(f), true), b(to_tensor(fg), true);
  Var<T> d = fn(a, b);
  backward(d);
  return {d.value()[0], to_matrix(a.grad(), f.rows(), f.cols()), to_matrix(b.grad(), fg.rows(), fg.cols())};
}
}  // namespace detail

/// The logdet distance (SPEC §2, released form; default eps 0.5) and its gradients.
/// Throws structgan::Error on NaN/Inf or mismatched widths.
template <class DA, class DB>
DistanceResult<detail::scalar_t<DA>> logdet_distance(const Eigen::MatrixBase<DA>& f, const Eigen::MatrixBase<DB>& fg,
                                                     double eps = 0.5) {
  return detail::distance(f, fg, [eps](const auto& a, const auto& b) { return objectives::logdet_distance(a, b, eps); });
}
/// The JSD distance (paper eq. 4, SPEC §2) and its gradients; throws if the ridge is too small.
template <class DA, class DB>
DistanceResult<detail::scalar_t<DA>> jsd_distance(const Eigen::MatrixBase<DA>& f, const Eigen::MatrixBase<DB>& fg,
                                                  double ridge = 1e-4) {
  return detail::distance(f, fg, [ridge](const auto& a, const auto& b) { return objectives::jsd_distance(a, b, ridge); });
}
/// The Bhattacharyya distance (paper eq. 5, SPEC §2) and its gradients; throws if the ridge is too small.
template <class DA, class DB>
DistanceResult<detail::scalar_t<DA>> bhattacharyya_distance(const Eigen::MatrixBase<DA>& f, const Eigen::MatrixBase<DB>& fg,
                                                            double ridge = 1e-4) {
  return detail::distance(f, fg,
                          [ridge](const auto& a, const auto& b) { return objectives::bhattacharyya_distance(a, b, ridge); });
}
/// The distance chosen by o.kind (SPEC §2) and its gradients.
template <class DA, class DB>
DistanceResult<detail::scalar_t<DA>> gaussian_distance(const Eigen::MatrixBase<DA>& f, const Eigen::MatrixBase<DB>& fg,
                                                       const GaussianOptions& o = {}) {
  return detail::distance(f, fg, [&o](const auto& a, const auto& b) { return objectives::gaussian_distance(a, b, o); });
}

/// s_real, s_fake (SPEC §3), their gradients and the neighbours.
template <class T>
struct ClusterResult {
  T s_real, s_fake;
  Matrix<T> grad_s_real_f;   ///< ∂s_real/∂f, N×p
  Matrix<T> grad_s_fake_fg;  ///< ∂s_fake/∂f^g, M×p
  Matrix<T> grad_s_fake_f;   ///< ∂s_fake/∂f (the real values are candidates too), N×p
  IndexMatrix real_neighbours;  ///< N×k into [batch; bank] (j ≥ N: bank row j − N)
  IndexMatrix fake_neighbours;  ///< M×k into [batch; bank]
};

/// The fine-scale similarities of SPEC §3 for values f (N×p), f^g (M×p), keys real_keys (N×q),
/// fake_keys (M×q), and a bank of bank_keys (L×q) and bank_values (L×p); L may be 0 (no bank).
/// Keys are normalized here. D's term is λ_c(−s_real + s_fake), G's λ_c(−s_fake).
/// Throws on NaN/Inf, mismatched shapes, or K (+1) larger than the N + L candidates.
template <class D1, class D2, class D3, class D4, class D5, class D6>
ClusterResult<detail::scalar_t<D1>> cluster_similarities(const Eigen::MatrixBase<D1>& f, const Eigen::MatrixBase<D2>& fg,
                                                         const Eigen::MatrixBase<D3>& real_keys,
                                                         const Eigen::MatrixBase<D4>& fake_keys,
                                                         const Eigen::MatrixBase<D5>& bank_keys,
                                                         const Eigen::MatrixBase<D6>& bank_values, const ClusterOptions& o = {}) {
  using T = detail::scalar_t<D1>;
  const Tensor<T, Cpu> rk = detail::normalized_rows(detail::to_tensor(real_keys));
  const Tensor<T, Cpu> fk = detail::normalized_rows(detail::to_tensor(fake_keys));
  Tensor<T, Cpu> bk, bv;
  if (bank_keys.rows() > 0 || bank_values.rows() > 0) {
    require(bank_keys.rows() == bank_values.rows(), "embedding::cluster_similarities: bank keys (", bank_keys.rows(),
            " rows) and values (", bank_values.rows(), " rows) differ");
    bk = detail::normalized_rows(detail::to_tensor(bank_keys));
    bv = detail::to_tensor(bank_values);
  }
  ClusterResult<T> r;
  DeviceIndices<Cpu> nr_device, nf_device;
  {
    Var<T> fv(detail::to_tensor(f), true);
    Var<T> s = objectives::real_cluster_similarity(fv, rk, bk, bv, o, &nr_device);
    backward(s);
    r.s_real = s.value()[0];
    r.grad_s_real_f = detail::to_matrix(fv.grad(), f.rows(), f.cols());
  }
  {
    Var<T> fv(detail::to_tensor(f), true), gv(detail::to_tensor(fg), true);
    Var<T> s = objectives::fake_cluster_similarity(gv, fv, fk, rk, bk, bv, o, &nf_device);
    backward(s);
    r.s_fake = s.value()[0];
    r.grad_s_fake_fg = detail::to_matrix(gv.grad(), fg.rows(), fg.cols());
    r.grad_s_fake_f = detail::to_matrix(fv.grad(), f.rows(), f.cols());
  }
  const std::vector<index_t> nr = to_host(nr_device), nf = to_host(nf_device);
  r.real_neighbours = Eigen::Map<const Eigen::Matrix<index_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                          nr.data(), f.rows(), o.k).template cast<std::int64_t>();
  r.fake_neighbours = Eigen::Map<const Eigen::Matrix<index_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                          nf.data(), fg.rows(), o.k).template cast<std::int64_t>();
  return r;
}

// ---------------------------------------------------------------------------------------------
// The Jacobian regularizer with your own VJP and JVP
// ---------------------------------------------------------------------------------------------

/// A Jacobian product of your network at the current batch x (b samples, d = inputs per sample,
/// p = embedding width): the VJP maps u (b×p) to uᵀJ (b×d, row i = u_iᵀ J_i) and the JVP maps
/// v (b×d) to J v (b×p, row i = J_i v_i). Rows are samples; inputs are flattened per sample.
template <class T>
using JacobianProduct = std::function<Matrix<T>(const Matrix<T>&)>;

/// Algorithm 1's result: σ_i = u_iᵀ J_i v_i with unit u_i (b×p) and unit v_i (b×d).
template <class T>
struct SpectralResult {
  Vector<T> sigma;
  Matrix<T> u, v;
};

/// Algorithm 1 (SPEC §4) from u0 (b×p): S times v = uᵀJ normalized per row, u = Jv normalized
/// per row; σ_i = u_iᵀ J_i v_i (= ‖J_i v_i‖ for the final u). Your framework then gets the
/// penalty's parameter gradient from σ_i(θ) = u_iᵀ J_i(θ) v_i with u, v fixed (a JVP inside a
/// backward pass, or a double backward), weighted by penalty(...).grad_sigma.
/// Throws structgan::Error when steps < 1 or a callable returns a wrong shape or NaN/Inf.
template <class T>
SpectralResult<T> jacobian_sigma(const typename detail::identity<JacobianProduct<T>>::type& vjp,
                                 const typename detail::identity<JacobianProduct<T>>::type& jvp, const Matrix<T>& u0,
                                 int steps = 1) {
  const char* op = "embedding::jacobian_sigma";
  require(steps >= 1, op, ": needs at least one step, got ", steps);
  require(vjp && jvp, op, ": empty VJP or JVP callable");
  require(u0.rows() >= 1 && u0.cols() >= 1 && u0.allFinite(), op, ": u0 must be a finite b×p matrix, got ", u0.rows(), "×",
          u0.cols());
  const auto normalize = [](Matrix<T> m) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) m.row(i) /= std::max<T>(m.row(i).norm(), T(1e-12));
    return m;
  };
  const Eigen::Index b = u0.rows(), p = u0.cols();
  Matrix<T> u = u0, v, jv;
  for (int s = 0; s < steps; ++s) {
    Matrix<T> g = vjp(u);
    require(g.rows() == b && g.cols() >= 1 && g.allFinite(), op, ": the VJP returned a ", g.rows(), "×", g.cols(),
            " matrix (must be finite, ", b, "×d)");
    if (s > 0) require(g.cols() == v.cols(), op, ": the VJP changed its width from ", v.cols(), " to ", g.cols());
    v = normalize(std::move(g));
    jv = jvp(v);
    require(jv.rows() == b && jv.cols() == p && jv.allFinite(), op, ": the JVP returned a ", jv.rows(), "×", jv.cols(),
            " matrix (must be finite, ", b, "×", p, ")");
    u = normalize(jv);
  }
  SpectralResult<T> r;
  r.sigma = (u.array() * jv.array()).rowwise().sum().matrix();
  r.u = std::move(u);
  r.v = std::move(v);
  return r;
}
/// As above with u0 ~ N(0, I) (b×p) drawn from rng: `jacobian_sigma<double>(vjp, jvp, b, p, rng)`.
template <class T>
SpectralResult<T> jacobian_sigma(const typename detail::identity<JacobianProduct<T>>::type& vjp,
                                 const typename detail::identity<JacobianProduct<T>>::type& jvp, index_t b, index_t p, Rng& rng,
                                 int steps = 1) {
  require(b >= 1 && p >= 1, "embedding::jacobian_sigma: b = ", b, " and p = ", p, " must be ≥ 1");
  const Tensor<T, Cpu> u0 = randn<T>(Shape{b, p}, rng);
  return jacobian_sigma<T>(vjp, jvp, detail::to_matrix(u0, b, p), steps);
}

/// A scalar penalty and its gradient with respect to its input.
template <class T>
struct PenaltyResult {
  T value;
  Matrix<T> grad;  ///< ∂value/∂input (b×1 for σ, b×p for f̃)
};

/// mean((σ − lip)²) (Squared, default) or mean|σ − lip| (Absolute) and ∂/∂σ (SPEC §4).
template <class Derived>
PenaltyResult<detail::scalar_t<Derived>> jacobian_penalty(const Eigen::MatrixBase<Derived>& sigma, double lip = 1.0,
                                                          JacobianPenalty kind = JacobianPenalty::Squared) {
  using T = detail::scalar_t<Derived>;
  require(sigma.cols() == 1 && sigma.rows() >= 1 && sigma.allFinite(), "embedding::jacobian_penalty: σ must be a finite b×1 vector, got ",
          sigma.rows(), "×", sigma.cols());
  Var<T> s(detail::to_tensor(sigma).reshape(Shape{sigma.rows()}), true);
  Var<T> pen = objectives::jacobian_penalty(s, lip, kind);
  backward(pen);
  return {pen.value()[0], detail::to_matrix(s.grad(), sigma.rows(), 1)};
}

/// The norm hinge mean(((‖f̃_i‖ − 1)·[‖f̃_i‖ < 1])²) on the real f̃ (b×p) and ∂/∂f̃ (SPEC §4).
template <class Derived>
PenaltyResult<detail::scalar_t<Derived>> norm_hinge(const Eigen::MatrixBase<Derived>& f_tilde) {
  using T = detail::scalar_t<Derived>;
  require(f_tilde.rows() >= 1 && f_tilde.cols() >= 1 && f_tilde.allFinite(),
          "embedding::norm_hinge: f̃ must be a finite non-empty b×p matrix");
  Var<T> x(detail::to_tensor(f_tilde), true);
  Var<T> h = objectives::norm_hinge(x);
  backward(h);
  return {h.value()[0], detail::to_matrix(x.grad(), f_tilde.rows(), f_tilde.cols())};
}

}  // namespace structgan::embedding
