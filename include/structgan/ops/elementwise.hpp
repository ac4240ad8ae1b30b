#pragma once
/// \file Element-wise ops with their three rules: value (Tensor), reverse (Var), tangent (DualTensor).
///
/// Broadcasting (binary ops): shapes align on the right; each dimension is equal or 1, and a
/// dimension of 1 repeats. The documented uses: per channel (1,C,1,1) or (C,1,1) against
/// (N,C,H,W); per sample (N,1,1,1) or (N,1); per sample and channel (N,C,1,1); a row (1,F) or
/// (F) against (N,F); a one-element tensor against anything.
#include <cmath>

#include "structgan/autodiff/value.hpp"
#include "structgan/core/op_kinds.hpp"

namespace structgan {

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

/// The shape of a broadcast of a against b; throws naming `op` when they do not broadcast.
inline Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const int r = std::max(a.rank(), b.rank());
  const auto pa = a.padded4(), pb = b.padded4();
  std::array<index_t, 4> out{};
  for (int i = 0; i < 4; ++i) {
    if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1) fail(op, ": shapes ", a, " and ", b, " do not broadcast");
    out[i] = std::max(pa[i], pb[i]);
    if (pa[i] == 0 || pb[i] == 0) out[i] = 0;
  }
  return Shape::from_range(out.begin() + (4 - r), out.end());
}

namespace detail {
/// A scalar argument that takes its type from the tensor (so x * 2.0 works for float tensors).
template <class T>
struct scalar_identity { using type = T; };
template <class T>
using scalar_t = typename scalar_identity<T>::type;

template <class T, class D>
Tensor<T, D> unary_value(UnaryOp op, const Tensor<T, D>& x, T alpha = T(0)) {
  require(x.defined(), "unary op on an undefined tensor");
  Tensor<T, D> y(x.shape());
  unary(D{}, op, alpha, x.numel(), x.data(), y.data());
  return y;
}
template <class T, class D>
Tensor<T, D> binary_value(const char* name, BinaryOp op, const Tensor<T, D>& a, const Tensor<T, D>& b) {
  require(a.defined() && b.defined(), name, ": undefined operand");
  const Shape s = broadcast_shape(name, a.shape(), b.shape());
  Tensor<T, D> y(s);
  if (a.shape() == b.shape()) {
    binary(D{}, op, s.padded4(), a.data(), s.padded4(), b.data(), s.padded4(), y.data());
  } else {
    binary(D{}, op, s.padded4(), a.data(), a.shape().padded4(), b.data(), b.shape().padded4(), y.data());
  }
  return y;
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// sum_to / expand: the pair that makes broadcasting differentiable
// ---------------------------------------------------------------------------------------------

/// Sums x down to `shape` (x's shape broadcast from it): the adjoint of expand.
template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  require(broadcast_shape("sum_to", shape, x.shape()) == x.shape(), "sum_to: ", x.shape(), " is not a broadcast of ", shape);
  Tensor<T, D> y(shape);
  reduce_sum(D{}, x.data(), x.shape().padded4(), y.data(), shape.padded4());
  return y;
}
/// Repeats x along its dimensions of size 1 to `shape`.
template <class T, class D>
Tensor<T, D> expand(const Tensor<T, D>& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  require(broadcast_shape("expand", x.shape(), shape) == shape, "expand: cannot expand ", x.shape(), " to ", shape);
  Tensor<T, D> zero = filled<T, D>(Shape{1}, T(0));
  Tensor<T, D> y(shape);
  binary(D{}, BinaryOp::Add, shape.padded4(), x.data(), x.shape().padded4(), zero.data(), Shape{1}.padded4(), y.data());
  return y;
}
template <class T, class D>
Var<T, D> sum_to(const Var<T, D>& x, const Shape& shape) {
  const Shape from = x.shape();
  return Var<T, D>::op(sum_to(x.value(), shape), {&x}, [from](auto& n) { send_grad(n, 0, expand(n.grad, from)); });
}
template <class T, class D>
Var<T, D> expand(const Var<T, D>& x, const Shape& shape) {
  const Shape from = x.shape();
  return Var<T, D>::op(expand(x.value(), shape), {&x}, [from](auto& n) { send_grad(n, 0, sum_to(n.grad, from)); });
}
template <class V>
DualTensor<V> sum_to(const DualTensor<V>& x, const Shape& s) {
  return {primal_value([&] { return sum_to(x.primal, s); }), x.has_tangent() ? sum_to(x.tangent, s) : V()};
}
template <class V>
DualTensor<V> expand(const DualTensor<V>& x, const Shape& s) {
  return {primal_value([&] { return expand(x.primal, s); }), x.has_tangent() ? expand(x.tangent, s) : V()};
}

// ---------------------------------------------------------------------------------------------
// Binary arithmetic
// ---------------------------------------------------------------------------------------------

/// a + b, a − b, a ⊙ b, a / b with broadcasting.
template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b) { return detail::binary_value("add", BinaryOp::Add, a, b); }
template <class T, class D>
Tensor<T, D> sub(const Tensor<T, D>& a, const Tensor<T, D>& b) { return detail::binary_value("sub", BinaryOp::Sub, a, b); }
template <class T, class D>
Tensor<T, D> mul(const Tensor<T, D>& a, const Tensor<T, D>& b) { return detail::binary_value("mul", BinaryOp::Mul, a, b); }
template <class T, class D>
Tensor<T, D> div(const Tensor<T, D>& a, const Tensor<T, D>& b) { return detail::binary_value("div", BinaryOp::Div, a, b); }

template <class T, class D>
Var<T, D> add(const Var<T, D>& a, const Var<T, D>& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return Var<T, D>::op(add(a.value(), b.value()), {&a, &b}, [sa, sb](auto& n) {
    send_grad(n, 0, sum_to(n.grad, sa));
    send_grad(n, 1, sum_to(n.grad, sb));
  });
}
template <class T, class D>
Var<T, D> sub(const Var<T, D>& a, const Var<T, D>& b) {
  const Shape sa = a.shape(), sb = b.shape();
  return Var<T, D>::op(sub(a.value(), b.value()), {&a, &b}, [sa, sb](auto& n) {
    send_grad(n, 0, sum_to(n.grad, sa));
    if (needs_grad(n, 1)) send_grad(n, 1, sum_to(detail::unary_value(UnaryOp::Neg, n.grad), sb));
  });
}
template <class T, class D>
Var<T, D> mul(const Var<T, D>& a, const Var<T, D>& b) {
  const Tensor<T, D> av = a.value(), bv = b.value();
  return Var<T, D>::op(mul(av, bv), {&a, &b}, [av, bv](auto& n) {
    if (needs_grad(n, 0)) send_grad(n, 0, sum_to(mul(n.grad, bv), av.shape()));
    if (needs_grad(n, 1)) send_grad(n, 1, sum_to(mul(n.grad, av), bv.shape()));
  });
}
template <class T, class D>
Var<T, D> div(const Var<T, D>& a, const Var<T, D>& b) {
  const Tensor<T, D> bv = b.value(), y = div(a.value(), b.value());
  const Shape sa = a.shape();
  return Var<T, D>::op(y, {&a, &b}, [bv, y, sa](auto& n) {
    const Tensor<T, D> ga = div(n.grad, bv);  // ∂/∂a = g / b; ∂/∂b = −g·y / b
    send_grad(n, 0, sum_to(ga, sa));
    if (needs_grad(n, 1)) send_grad(n, 1, sum_to(detail::unary_value(UnaryOp::Neg, mul(ga, y)), bv.shape()));
  });
}

namespace detail {
/// a + b where an undefined operand is zero; the result has shape `s` (expanded if needed).
template <class V>
V add_optional(const V& a, const V& b, const Shape& s) {
  if (!a.defined() && !b.defined()) return V();
  if (!a.defined()) return b.shape() == s ? b : expand(b, s);
  if (!b.defined()) return a.shape() == s ? a : expand(a, s);
  return add(a, b);
}
}  // namespace detail

template <class V>
DualTensor<V> add(const DualTensor<V>& a, const DualTensor<V>& b) {
  V y = primal_value([&] { return add(a.primal, b.primal); });
  return {y, detail::add_optional(a.tangent, b.tangent, y.shape())};
}
template <class V>
DualTensor<V> sub(const DualTensor<V>& a, const DualTensor<V>& b) {
  V y = primal_value([&] { return sub(a.primal, b.primal); });
  return {y, detail::add_optional(a.tangent, b.has_tangent() ? neg(b.tangent) : V(), y.shape())};
}
template <class V>
DualTensor<V> mul(const DualTensor<V>& a, const DualTensor<V>& b) {
  V y = primal_value([&] { return mul(a.primal, b.primal); });
  return {y, detail::add_optional(a.has_tangent() ? mul(a.tangent, b.primal) : V(),
                                  b.has_tangent() ? mul(a.primal, b.tangent) : V(), y.shape())};
}
template <class V>
DualTensor<V> div(const DualTensor<V>& a, const DualTensor<V>& b) {
  V y = primal_value([&] { return div(a.primal, b.primal); });  // t = (ta − y·tb) / b
  V num = detail::add_optional(a.tangent, b.has_tangent() ? neg(mul(y, b.tangent)) : V(), y.shape());
  return {y, num.defined() ? div(num, b.primal) : V()};
}

// ---------------------------------------------------------------------------------------------
// Unary functions. Each Var rule is written with Tensor ops and each tangent rule with V ops,
// so reverse over forward differentiates the tangent rule itself (second derivatives included).
// ---------------------------------------------------------------------------------------------

#define STRUCTGAN_UNARY_VALUE(name, OP) \
  template <class T, class D>           \
  Tensor<T, D> name(const Tensor<T, D>& x) { return detail::unary_value(UnaryOp::OP, x); }

/// −x
STRUCTGAN_UNARY_VALUE(neg, Neg)
/// eˣ
STRUCTGAN_UNARY_VALUE(exp, Exp)
/// ln x
STRUCTGAN_UNARY_VALUE(log, Log)
/// √x
STRUCTGAN_UNARY_VALUE(sqrt, Sqrt)
/// tanh x
STRUCTGAN_UNARY_VALUE(tanh, Tanh)
/// max(x, 0)
STRUCTGAN_UNARY_VALUE(relu, Relu)
/// |x|
STRUCTGAN_UNARY_VALUE(abs, Abs)
/// x²
STRUCTGAN_UNARY_VALUE(square, Square)
/// 1/x
STRUCTGAN_UNARY_VALUE(reciprocal, Reciprocal)
#undef STRUCTGAN_UNARY_VALUE

/// ELU with α = 1 (PyTorch's default): x > 0 ? x : eˣ − 1
template <class T, class D>
Tensor<T, D> elu(const Tensor<T, D>& x) { return detail::unary_value(UnaryOp::Elu, x, T(1)); }
/// elu′(x)·t in one pass: ELU's tangent along t, and its VJP when t is the output's gradient.
template <class T, class D>
Tensor<T, D> elu_tangent(const Tensor<T, D>& x, const Tensor<T, D>& t) {
  return detail::binary_value("elu_tangent", BinaryOp::EluTangent, x, t);
}
/// elu″(x)·t (the reverse rule of elu_tangent with respect to x).
template <class T, class D>
Tensor<T, D> elu_curvature(const Tensor<T, D>& x, const Tensor<T, D>& t) {
  return detail::binary_value("elu_curvature", BinaryOp::EluCurvature, x, t);
}
/// xᵃ
template <class T, class D>
Tensor<T, D> pow(const Tensor<T, D>& x, detail::scalar_t<T> a) { return detail::unary_value(UnaryOp::Pow, x, a); }
/// max(x, a)
template <class T, class D>
Tensor<T, D> clamp_min(const Tensor<T, D>& x, detail::scalar_t<T> a) { return detail::unary_value(UnaryOp::ClampMin, x, a); }
/// x + s
template <class T, class D>
Tensor<T, D> add_scalar(const Tensor<T, D>& x, detail::scalar_t<T> s) { return detail::unary_value(UnaryOp::AddScalar, x, s); }
/// s·x
template <class T, class D>
Tensor<T, D> mul_scalar(const Tensor<T, D>& x, detail::scalar_t<T> s) { return detail::unary_value(UnaryOp::MulScalar, x, s); }
/// 1 where x > a, else 0 (no gradient: a constant mask).
template <class T, class D>
Tensor<T, D> step(const Tensor<T, D>& x, detail::scalar_t<T> a = T(0)) { return detail::unary_value(UnaryOp::Step, x, a); }
/// sign x (no gradient).
template <class T, class D>
Tensor<T, D> sign(const Tensor<T, D>& x) { return detail::unary_value(UnaryOp::Sign, x); }

namespace detail {
/// A Var op y = f(x) whose reverse rule is g ⊙ dfdx(x, y) (all Tensor).
template <class T, class D, class Deriv>
Var<T, D> unary_var(const Var<T, D>& x, Tensor<T, D> y, Deriv deriv) {
  const Tensor<T, D> xv = x.value();
  return Var<T, D>::op(y, {&x}, [xv, y, deriv](auto& n) { send_grad(n, 0, mul(n.grad, deriv(xv, y))); });
}
}  // namespace detail

template <class T, class D>
Var<T, D> neg(const Var<T, D>& x) {
  return Var<T, D>::op(neg(x.value()), {&x}, [](auto& n) { send_grad(n, 0, neg(n.grad)); });
}
template <class T, class D>
Var<T, D> exp(const Var<T, D>& x) {
  return detail::unary_var(x, exp(x.value()), [](const auto&, const auto& y) { return y; });
}
template <class T, class D>
Var<T, D> log(const Var<T, D>& x) {
  return detail::unary_var(x, log(x.value()), [](const auto& xv, const auto&) { return reciprocal(xv); });
}
template <class T, class D>
Var<T, D> sqrt(const Var<T, D>& x) {
  return detail::unary_var(x, sqrt(x.value()), [](const auto&, const auto& y) { return mul_scalar(reciprocal(y), T(0.5)); });
}
template <class T, class D>
Var<T, D> tanh(const Var<T, D>& x) {
  return detail::unary_var(x, tanh(x.value()), [](const auto&, const auto& y) { return add_scalar(neg(square(y)), T(1)); });
}
template <class T, class D>
Var<T, D> elu(const Var<T, D>& x) {
  const Tensor<T, D> xv = x.value();
  return Var<T, D>::op(elu(xv), {&x}, [xv](auto& n) { send_grad(n, 0, elu_tangent(xv, n.grad)); });
}
/// The recorded tangent of a dual pass: one node for elu′(x)·t, whose reverse rule writes
/// ∂/∂x = g·elu″(x)·t and ∂/∂t = elu′(x)·g (docs/autodiff.md, "Never a double backward").
template <class T, class D>
Var<T, D> elu_tangent(const Var<T, D>& x, const Var<T, D>& t) {
  const Tensor<T, D> xv = x.value(), tv = t.value();
  return Var<T, D>::op(elu_tangent(xv, tv), {&x, &t}, [xv, tv](auto& n) {
    if (needs_grad(n, 0)) send_grad(n, 0, elu_curvature(xv, mul(n.grad, tv)));
    if (needs_grad(n, 1)) send_grad(n, 1, elu_tangent(xv, n.grad));
  });
}
template <class T, class D>
Var<T, D> relu(const Var<T, D>& x) {
  return detail::unary_var(x, relu(x.value()), [](const auto& xv, const auto&) { return step(xv); });
}
template <class T, class D>
Var<T, D> abs(const Var<T, D>& x) {
  return detail::unary_var(x, abs(x.value()), [](const auto& xv, const auto&) { return sign(xv); });
}
template <class T, class D>
Var<T, D> square(const Var<T, D>& x) {
  return detail::unary_var(x, square(x.value()), [](const auto& xv, const auto&) { return mul_scalar(xv, T(2)); });
}
template <class T, class D>
Var<T, D> reciprocal(const Var<T, D>& x) {
  return detail::unary_var(x, reciprocal(x.value()), [](const auto&, const auto& y) { return neg(square(y)); });
}
template <class T, class D>
Var<T, D> pow(const Var<T, D>& x, detail::scalar_t<T> a) {
  return detail::unary_var(x, pow(x.value(), a), [a](const auto& xv, const auto&) { return mul_scalar(pow(xv, a - T(1)), a); });
}
template <class T, class D>
Var<T, D> clamp_min(const Var<T, D>& x, detail::scalar_t<T> a) {
  return detail::unary_var(x, clamp_min(x.value(), a), [a](const auto& xv, const auto&) { return step(xv, a); });
}
template <class T, class D>
Var<T, D> add_scalar(const Var<T, D>& x, detail::scalar_t<T> s) {
  return Var<T, D>::op(add_scalar(x.value(), s), {&x}, [](auto& n) { send_grad(n, 0, n.grad); });
}
template <class T, class D>
Var<T, D> mul_scalar(const Var<T, D>& x, detail::scalar_t<T> s) {
  return Var<T, D>::op(mul_scalar(x.value(), s), {&x}, [s](auto& n) { send_grad(n, 0, mul_scalar(n.grad, s)); });
}

namespace detail {
template <class V>
using scalar_of = typename ValueTraits<V>::scalar;
/// A dual op whose tangent is t ⊙ f′, with f′ built from V ops on (x, y).
template <class V, class Deriv>
DualTensor<V> unary_dual(const DualTensor<V>& x, V y, Deriv deriv) {
  if (!x.has_tangent()) return {y};
  return {y, mul(x.tangent, deriv(x.primal, y))};
}
}  // namespace detail

template <class V>
DualTensor<V> neg(const DualTensor<V>& x) {
  return {primal_value([&] { return neg(x.primal); }), x.has_tangent() ? neg(x.tangent) : V()};
}
template <class V>
DualTensor<V> exp(const DualTensor<V>& x) {
  const V value = primal_value([&] { return exp(x.primal); });
  return detail::unary_dual(x, value, [](const V&, const V& y) { return y; });
}
template <class V>
DualTensor<V> log(const DualTensor<V>& x) {
  const V value = primal_value([&] { return log(x.primal); });
  return detail::unary_dual(x, value, [](const V& p, const V&) { return reciprocal(p); });
}
template <class V>
DualTensor<V> sqrt(const DualTensor<V>& x) {
  using T = detail::scalar_of<V>;
  const V value = primal_value([&] { return sqrt(x.primal); });
  return detail::unary_dual(x, value, [](const V&, const V& y) { return mul_scalar(reciprocal(y), T(0.5)); });
}
template <class V>
DualTensor<V> tanh(const DualTensor<V>& x) {
  using T = detail::scalar_of<V>;
  const V value = primal_value([&] { return tanh(x.primal); });
  return detail::unary_dual(x, value, [](const V&, const V& y) { return add_scalar(neg(square(y)), T(1)); });
}
template <class V>
DualTensor<V> elu(const DualTensor<V>& x) {
  return {primal_value([&] { return elu(x.primal); }), x.has_tangent() ? elu_tangent(x.primal, x.tangent) : V()};
}
template <class V>
DualTensor<V> relu(const DualTensor<V>& x) {
  const V value = primal_value([&] { return relu(x.primal); });
  return detail::unary_dual(x, value, [](const V& p, const V&) { return constant<V>(step(value_of(p))); });
}
template <class V>
DualTensor<V> abs(const DualTensor<V>& x) {
  const V value = primal_value([&] { return abs(x.primal); });
  return detail::unary_dual(x, value, [](const V& p, const V&) { return constant<V>(sign(value_of(p))); });
}
template <class V>
DualTensor<V> square(const DualTensor<V>& x) {
  using T = detail::scalar_of<V>;
  const V value = primal_value([&] { return square(x.primal); });
  return detail::unary_dual(x, value, [](const V& p, const V&) { return mul_scalar(p, T(2)); });
}
template <class V>
DualTensor<V> reciprocal(const DualTensor<V>& x) {
  const V value = primal_value([&] { return reciprocal(x.primal); });
  return detail::unary_dual(x, value, [](const V&, const V& y) { return neg(square(y)); });
}
template <class V, class T>
DualTensor<V> pow(const DualTensor<V>& x, T a) {
  const V value = primal_value([&] { return pow(x.primal, a); });
  return detail::unary_dual(x, value, [a](const V& p, const V&) { return mul_scalar(pow(p, a - T(1)), a); });
}
template <class V, class T>
DualTensor<V> clamp_min(const DualTensor<V>& x, T a) {
  const V value = primal_value([&] { return clamp_min(x.primal, a); });
  return detail::unary_dual(x, value, [a](const V& p, const V&) { return constant<V>(step(value_of(p), a)); });
}
template <class V, class T>
DualTensor<V> add_scalar(const DualTensor<V>& x, T s) {
  return {primal_value([&] { return add_scalar(x.primal, s); }), x.tangent};
}
template <class V, class T>
DualTensor<V> mul_scalar(const DualTensor<V>& x, T s) {
  return {primal_value([&] { return mul_scalar(x.primal, s); }), x.has_tangent() ? mul_scalar(x.tangent, s) : V()};
}

// ---------------------------------------------------------------------------------------------
// Operators, for every value type
// ---------------------------------------------------------------------------------------------
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator+(const V& a, const V& b) { return add(a, b); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator-(const V& a, const V& b) { return sub(a, b); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator*(const V& a, const V& b) { return mul(a, b); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator/(const V& a, const V& b) { return div(a, b); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator-(const V& a) { return neg(a); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator*(const V& a, typename ValueTraits<V>::scalar s) { return mul_scalar(a, s); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator*(typename ValueTraits<V>::scalar s, const V& a) { return mul_scalar(a, s); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator/(const V& a, typename ValueTraits<V>::scalar s) { return mul_scalar(a, typename ValueTraits<V>::scalar(1) / s); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator+(const V& a, typename ValueTraits<V>::scalar s) { return add_scalar(a, s); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator-(const V& a, typename ValueTraits<V>::scalar s) { return add_scalar(a, -s); }
template <class V, class = std::enable_if_t<is_value_v<V>>>
V operator-(typename ValueTraits<V>::scalar s, const V& a) { return add_scalar(neg(a), s); }

}  // namespace structgan
