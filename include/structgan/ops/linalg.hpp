#pragma once
/// \file Matrix ops with their three rules: matmul, linear, and the small dense linear algebra
/// the Gaussian objectives need (SPEC §2): log det through Cholesky, SPD inverse, linear solve.
/// log det and the SPD inverse run on the tensor's device (the contract's cholesky,
/// cholesky_logdet and cholesky_inverse kernels) and read nothing back inside a training step:
/// their failure checks are deferred to the step's one read (backend/device_readout.hpp).
/// solve (LU with full pivoting, any square A) runs on the host in double.
#include <string>
#include <utility>
#include <vector>

#include <Eigen/LU>

#include "structgan/backend/device_readout.hpp"
#include "structgan/ops/shape_ops.hpp"

namespace structgan {

// ---- matmul ---------------------------------------------------------------------------------------

/// op(a)·op(b) for matrices, op = transpose when the flag is set: (m×k)·(k×n) → m×n.
template <class T, class D>
Tensor<T, D> matmul(const Tensor<T, D>& a, const Tensor<T, D>& b, bool trans_a = false, bool trans_b = false) {
  require(a.rank() == 2 && b.rank() == 2, "matmul: needs matrices, got ", a.shape(), " and ", b.shape());
  const index_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const index_t kb = trans_b ? b.dim(1) : b.dim(0), n = trans_b ? b.dim(0) : b.dim(1);
  require(k == kb, "matmul: inner dimensions differ: ", a.shape(), (trans_a ? "ᵀ" : ""), " · ", b.shape(), (trans_b ? "ᵀ" : ""));
  Tensor<T, D> c(Shape{m, n});
  gemm(D{}, trans_a, trans_b, m, n, k, T(1), a.data(), a.dim(1), b.data(), b.dim(1), T(0), c.data(), n);
  return c;
}
template <class T, class D>
Var<T, D> matmul(const Var<T, D>& a, const Var<T, D>& b, bool ta = false, bool tb = false) {
  const Tensor<T, D> av = a.value(), bv = b.value();
  return Var<T, D>::op(matmul(av, bv, ta, tb), {&a, &b}, [av, bv, ta, tb](auto& n) {
    // ∂/∂op(a) = g·op(b)ᵀ and ∂/∂op(b) = op(a)ᵀ·g, transposed back where the operand was.
    if (needs_grad(n, 0)) send_grad(n, 0, ta ? matmul(bv, n.grad, tb, true) : matmul(n.grad, bv, false, !tb));
    if (needs_grad(n, 1)) send_grad(n, 1, tb ? matmul(n.grad, av, true, ta) : matmul(av, n.grad, !ta, false));
  });
}
template <class V>
DualTensor<V> matmul(const DualTensor<V>& a, const DualTensor<V>& b, bool ta = false, bool tb = false) {
  V y = primal_value([&] { return matmul(a.primal, b.primal, ta, tb); });
  return {y, detail::add_optional(a.has_tangent() ? matmul(a.tangent, b.primal, ta, tb) : V(),
                                  b.has_tangent() ? matmul(a.primal, b.tangent, ta, tb) : V(), y.shape())};
}

/// x·Wᵀ + b: x (n×in), W (out×in), b (out) or undefined (PyTorch's Linear).
template <class V>
V linear(const V& x, const V& w, const V& b = V()) {
  require(x.shape().rank() == 2 && w.shape().rank() == 2 && x.shape()[1] == w.shape()[1], "linear: input ", x.shape(),
          " does not fit weight ", w.shape());
  V y = matmul(x, w, false, true);
  if (!b.defined()) return y;
  require(b.shape().rank() == 1 && b.shape()[0] == w.shape()[0], "linear: bias ", b.shape(), " for weight ", w.shape());
  return add(y, b);
}
// ---- symmetric positive definite matrices -----------------------------------------------------------
namespace detail {
template <class T>
using HostMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The lower Cholesky factor L (s = L·Lᵀ) of the square s, on s's device (the contract's
/// cholesky kernel). A NaN or Inf entry, or a matrix that is not positive definite, is `op`'s
/// error: at once outside a DeferredReads scope (one device read for both checks), else at the
/// scope's read, the device never stopped in between.
template <class T, class D>
Tensor<T, D> cholesky_factor(const char* op, const Tensor<T, D>& s) {
  require(s.rank() == 2 && s.dim(0) == s.dim(1), op, ": needs a square matrix, got ", s.shape());
  const index_t p = s.dim(0);
  Tensor<T, D> l(s.shape()), info(Shape{1});
  cholesky(D{}, p, s.data(), l.data(), info.data());
  require_all_zero_on_device<T, D>(
      {{nonfinite_indicator(s), format_message(op, ": matrix of shape ", s.shape(), " has NaN or Inf entries")},
       {info, format_message(op, ": the ", p, "×", p, " matrix is not positive definite (Cholesky failed); increase the ridge")}});
  return l;
}

/// log det(L·Lᵀ) = 2·Σ log L_ii, shape [1].
template <class T, class D>
Tensor<T, D> logdet_of_factor(const Tensor<T, D>& l) {
  Tensor<T, D> y(Shape{1});
  cholesky_logdet(D{}, l.dim(0), l.data(), y.data());
  return y;
}

/// (L·Lᵀ)⁻¹, symmetric.
template <class T, class D>
Tensor<T, D> inverse_of_factor(const Tensor<T, D>& l) {
  Tensor<T, D> y(l.shape());
  cholesky_inverse(D{}, l.dim(0), l.data(), y.data());
  return y;
}
}  // namespace detail

/// log det S of a symmetric positive definite S (Cholesky: 2·Σ log L_ii), shape [1].
/// Reverse rule: ∂/∂S = S⁻¹ (symmetric); tangent rule: tr(S⁻¹ Ṡ).
template <class T, class D>
Tensor<T, D> logdet_spd(const Tensor<T, D>& s) {
  return detail::logdet_of_factor(detail::cholesky_factor("logdet_spd", s));
}
/// S⁻¹ of a symmetric positive definite S. Reverse rule −S⁻¹ G S⁻¹; tangent −S⁻¹ Ṡ S⁻¹.
template <class T, class D>
Tensor<T, D> inverse_spd(const Tensor<T, D>& s) {
  return detail::inverse_of_factor(detail::cholesky_factor("inverse_spd", s));
}
template <class T, class D>
Var<T, D> inverse_spd(const Var<T, D>& s) {
  const Tensor<T, D> inv = inverse_spd(s.value());
  return Var<T, D>::op(inv, {&s}, [inv](auto& n) { send_grad(n, 0, neg(matmul(matmul(inv, n.grad), inv))); });
}
template <class V>
DualTensor<V> inverse_spd(const DualTensor<V>& s) {
  V inv = primal_value([&] { return inverse_spd(s.primal); });
  return {inv, s.has_tangent() ? neg(matmul(matmul(inv, s.tangent), inv)) : V()};
}
template <class T, class D>
Var<T, D> logdet_spd(const Var<T, D>& s) {
  // One factorization for the value and the gradient's S⁻¹.
  const Tensor<T, D> l = detail::cholesky_factor("logdet_spd", s.value());
  const Tensor<T, D> inv = detail::inverse_of_factor(l);
  return Var<T, D>::op(detail::logdet_of_factor(l), {&s}, [inv](auto& n) { send_grad(n, 0, mul(inv, expand(n.grad, inv.shape()))); });
}
template <class V>
DualTensor<V> logdet_spd(const DualTensor<V>& s) {
  V y = primal_value([&] { return logdet_spd(s.primal); });
  if (!s.has_tangent()) return {y};
  return {y, sum_all(mul(inverse_spd(s.primal), s.tangent))};
}

/// The solution X of A·X = B for a square non-singular A (LU with partial pivoting).
/// Reverse rule: ∂/∂B = A⁻ᵀG, ∂/∂A = −(A⁻ᵀG)Xᵀ; tangent: A⁻¹(Ḃ − ȦX).
template <class T, class D>
Tensor<T, D> solve(const Tensor<T, D>& a, const Tensor<T, D>& b, bool transpose_a = false) {
  require(a.rank() == 2 && a.dim(0) == a.dim(1), "solve: A must be square, got ", a.shape());
  require(b.rank() == 2 && b.dim(0) == a.dim(0), "solve: B ", b.shape(), " does not fit A ", a.shape());
  detail::HostMatrix<double> am = to_host(a).matrix().template cast<double>();
  if (transpose_a) am.transposeInPlace();
  require(am.allFinite(), "solve: A has NaN or Inf entries");
  Eigen::FullPivLU<detail::HostMatrix<double>> lu(am);
  require(lu.isInvertible(), "solve: the ", a.dim(0), "×", a.dim(0), " matrix A is singular");
  detail::HostMatrix<double> x = lu.solve(to_host(b).matrix().template cast<double>());
  Tensor<T, Cpu> h(b.shape());
  h.matrix() = x.template cast<T>();
  return to_device<D>(h);
}
template <class T, class D>
Var<T, D> solve(const Var<T, D>& a, const Var<T, D>& b) {
  const Tensor<T, D> av = a.value(), x = solve(a.value(), b.value());
  return Var<T, D>::op(x, {&a, &b}, [av, x](auto& n) {
    const Tensor<T, D> gb = solve(av, n.grad, true);
    send_grad(n, 1, gb);
    if (needs_grad(n, 0)) send_grad(n, 0, neg(matmul(gb, x, false, true)));
  });
}
template <class V>
DualTensor<V> solve(const DualTensor<V>& a, const DualTensor<V>& b) {
  V x = primal_value([&] { return solve(a.primal, b.primal); });
  V rhs = detail::add_optional(b.tangent, a.has_tangent() ? neg(matmul(a.tangent, x)) : V(), x.shape());
  return {x, rhs.defined() ? solve(a.primal, rhs) : V()};
}

}  // namespace structgan
