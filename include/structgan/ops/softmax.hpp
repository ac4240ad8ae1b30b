#pragma once
/// \file Row softmax, log-softmax, the softmax cross-entropy and the arg-max accuracy, each one
/// device kernel (backend contract: softmax_rows, softmax_cross_entropy, argmax_accuracy) with its
/// reverse and tangent rules, so that nothing is read back to the host (issue #24: a read is a
/// synchronizing round trip on a GPU). Labels come from the host (host → device only).
///
/// Rules, with p = softmax(x) per row (every reduction per row):
///   softmax:       VJP dx = p ⊙ (g − Σ p⊙g)        JVP ṗ = p ⊙ (ẋ − Σ p⊙ẋ)
///   log-softmax:   VJP dx = g − p ⊙ Σ g            JVP ẏ = ẋ − Σ p⊙ẋ
///   cross-entropy: VJP dx = g·(p − onehot)/n (the kernel's gradient, saved by the forward pass)
///                  JVP   = Σ (p − onehot)⊙ẋ / n
/// The tangent rules are written with value-type ops, so reverse over forward differentiates them.
#include <vector>

#include "structgan/backend/device_readout.hpp"
#include "structgan/ops/shape_ops.hpp"

namespace structgan {

namespace detail {
template <class T, class D>
Tensor<T, D> softmax_rows_value(const char* op, const Tensor<T, D>& x, bool log) {
  require(x.defined() && x.rank() == 2, op, ": needs a matrix (rows × columns), got ", x.defined() ? x.shape() : Shape{});
  Tensor<T, D> y(x.shape());
  softmax_rows(D{}, x.dim(0), x.dim(1), log, x.data(), y.data());
  return y;
}

inline void check_rows_and_labels(const char* op, const Shape& s, const std::vector<int>& labels) {
  require(s.rank() == 2, op, ": logits must be n×k, got ", s);
  require(static_cast<index_t>(labels.size()) == s[0], op, ": ", labels.size(), " labels for ", s[0], " rows");
  for (std::size_t i = 0; i < labels.size(); ++i)
    require(labels[i] >= 0 && labels[i] < s[1], op, ": label ", labels[i], " of row ", i, " outside [0, ", s[1], ")");
}

/// The loss [1] of logits (checked: shape, labels, finite entries) and, when grad is defined
/// (n × k), ∂loss/∂logits in it. The finiteness check is queued on the device where a
/// DeferredReads scope is installed (backend/device_readout.hpp), so it reads nothing then.
template <class T, class D>
Tensor<T, D> softmax_cross_entropy_value(const Tensor<T, D>& logits, const std::vector<int>& labels, Tensor<T, D>* grad) {
  const char* op = "softmax_cross_entropy";
  check_rows_and_labels(op, logits.shape(), labels);
  require_finite(logits, op, ": the logits ", logits.shape(), " are not finite");
  Tensor<T, D> loss(Shape{1});
  if (grad) *grad = Tensor<T, D>(logits.shape());
  softmax_cross_entropy(D{}, logits.data(), logits.dim(0), logits.dim(1), labels, loss.data(), grad ? grad->data() : nullptr);
  return loss;
}

/// The one-hot matrix of the labels (n × k) on device D (built on the host, copied up).
template <class T, class D>
Tensor<T, D> one_hot(const std::vector<int>& labels, index_t k) {
  Tensor<T, Cpu> h = zeros<T>(Shape{static_cast<index_t>(labels.size()), k});
  for (std::size_t i = 0; i < labels.size(); ++i) h.at(static_cast<index_t>(i), index_t(labels[i])) = T(1);
  return to_device<D>(h);
}
}  // namespace detail

// ---- softmax and log-softmax over the rows of a matrix --------------------------------------------

/// Softmax over the last axis of a matrix (rows × cols): each row's exp(x − max) / Σ exp(x − max).
template <class T, class D>
Tensor<T, D> softmax_rows(const Tensor<T, D>& x) { return detail::softmax_rows_value("softmax_rows", x, false); }
/// Log-softmax over the last axis of a matrix: x − max − log Σ exp(x − max) per row.
template <class T, class D>
Tensor<T, D> log_softmax_rows(const Tensor<T, D>& x) { return detail::softmax_rows_value("log_softmax_rows", x, true); }

template <class T, class D>
Var<T, D> softmax_rows(const Var<T, D>& x) {
  const Tensor<T, D> p = softmax_rows(x.value());
  return Var<T, D>::op(p, {&x}, [p](auto& n) { send_grad(n, 0, mul(p, sub(n.grad, sum(mul(p, n.grad), {1}, true)))); });
}
template <class T, class D>
Var<T, D> log_softmax_rows(const Var<T, D>& x) {
  const Tensor<T, D> y = log_softmax_rows(x.value());
  return Var<T, D>::op(y, {&x}, [y](auto& n) { send_grad(n, 0, sub(n.grad, mul(exp(y), sum(n.grad, {1}, true)))); });
}

template <class V>
DualTensor<V> softmax_rows(const DualTensor<V>& x) {
  const V p = primal_value([&] { return softmax_rows(x.primal); });
  if (!x.has_tangent()) return {p};
  return {p, mul(p, sub(x.tangent, sum(mul(p, x.tangent), {1}, true)))};
}
template <class V>
DualTensor<V> log_softmax_rows(const DualTensor<V>& x) {
  const V y = primal_value([&] { return log_softmax_rows(x.primal); });
  if (!x.has_tangent()) return {y};
  return {y, sub(x.tangent, sum(mul(exp(y), x.tangent), {1}, true))};
}

// ---- the softmax cross-entropy ------------------------------------------------------------------

/// Mean softmax cross-entropy of logits (n × k) against integer labels in [0, k), shape [1] on the
/// logits' device: mean over rows of −log softmax(row)[label]. Throws on a label outside [0, k);
/// NaN or Inf logits fail require_finite (at once, or queued in a DeferredReads scope).
template <class T, class D>
Tensor<T, D> softmax_cross_entropy(const Tensor<T, D>& logits, const std::vector<int>& labels) {
  return detail::softmax_cross_entropy_value(logits, labels, static_cast<Tensor<T, D>*>(nullptr));
}
/// The forward kernel writes the gradient too (when one is wanted), saved for the reverse rule.
template <class T, class D>
Var<T, D> softmax_cross_entropy(const Var<T, D>& logits, const std::vector<int>& labels) {
  Tensor<T, D> grad;
  const bool wants = grad_enabled() && logits.requires_grad();
  Tensor<T, D> loss = detail::softmax_cross_entropy_value(logits.value(), labels, wants ? &grad : nullptr);
  return Var<T, D>::op(loss, {&logits}, [grad](auto& n) { send_grad(n, 0, mul(grad, n.grad)); });
}
template <class V>
DualTensor<V> softmax_cross_entropy(const DualTensor<V>& logits, const std::vector<int>& labels) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  const V loss = primal_value([&] { return softmax_cross_entropy(logits.primal, labels); });
  if (!logits.has_tangent() || labels.empty()) return {loss};
  const V p = softmax_rows(logits.primal);
  const V residual = sub(p, constant<V>(detail::one_hot<T, D>(labels, logits.dim(1))));
  return {loss, mul_scalar(sum_all(mul(residual, logits.tangent)), T(1) / T(logits.dim(0)))};
}

// ---- accuracy -------------------------------------------------------------------------------------

/// The fraction of rows of logits (n × k) whose first maximal column is their label, shape [1] on
/// the logits' device (0 when n = 0; no gradient).
template <class T, class D>
Tensor<T, D> argmax_accuracy(const Tensor<T, D>& logits, const std::vector<int>& labels) {
  detail::check_rows_and_labels("argmax_accuracy", logits.shape(), labels);
  Tensor<T, D> out(Shape{1});
  argmax_accuracy(D{}, logits.data(), logits.dim(0), logits.dim(1), labels, out.data());
  return out;
}

}  // namespace structgan
