#pragma once
/// \file The value types layers are written over, and how a layer sees its parameters.
///
/// | V                         | a forward pass computes                                    |
/// |---------------------------|------------------------------------------------------------|
/// | Tensor<T, D>              | values only                                                |
/// | Var<T, D>                 | values, recorded for a backward pass                       |
/// | DualTensor<Tensor<T, D>>  | values and a JVP (forward mode)                            |
/// | DualTensor<Var<T, D>>     | values and a JVP, recorded: gradients of functions of J·v  |
#include <type_traits>

#include "structgan/autodiff/dual_tensor.hpp"
#include "structgan/autodiff/var.hpp"

namespace structgan {

/// A trainable tensor and its gradient (accumulated by backward passes; zeroed by optimizers).
template <class T, class D = Cpu>
struct Parameter {
  Tensor<T, D> value;
  Tensor<T, D> grad{};  ///< undefined until the first backward (a default, so Parameter<T>{value} is complete)
  /// The gradient, created (zero) on first use.
  Tensor<T, D>& ensure_grad() {
    if (!grad.defined() || grad.shape() != value.shape()) grad = filled<T, D>(value.shape(), T(0));
    return grad;
  }
  void zero_grad() {
    if (grad.defined()) fill(D{}, grad.numel(), T(0), grad.data());
  }
};

template <class V>
struct ValueTraits;

template <class T, class D>
struct ValueTraits<Tensor<T, D>> {
  using scalar = T;
  using device = D;
  static const Tensor<T, D>& tensor(const Tensor<T, D>& x) { return x; }
  static Tensor<T, D> constant(const Tensor<T, D>& t) { return t; }
  static Tensor<T, D> parameter(Parameter<T, D>& p) { return p.value; }
};

template <class T, class D>
struct ValueTraits<Var<T, D>> {
  using scalar = T;
  using device = D;
  static const Tensor<T, D>& tensor(const Var<T, D>& x) { return x.value(); }
  static Var<T, D> constant(const Tensor<T, D>& t) { return Var<T, D>(t, false); }
  static Var<T, D> parameter(Parameter<T, D>& p) {
    if (!grad_enabled() || !parameter_grad_enabled()) return Var<T, D>(p.value, false);
    return Var<T, D>::bound_to(p.value, p.ensure_grad());
  }
};

template <class V>
struct ValueTraits<DualTensor<V>> {
  using scalar = typename ValueTraits<V>::scalar;
  using device = typename ValueTraits<V>::device;
  static const auto& tensor(const DualTensor<V>& x) { return ValueTraits<V>::tensor(x.primal); }
  template <class Tn>
  static DualTensor<V> constant(const Tn& t) { return DualTensor<V>(ValueTraits<V>::constant(t)); }
  template <class P>
  static DualTensor<V> parameter(P& p) { return DualTensor<V>(ValueTraits<V>::parameter(p)); }
};

/// The plain tensor holding x's (primal) value.
template <class V>
decltype(auto) value_of(const V& x) { return ValueTraits<V>::tensor(x); }
/// A constant of value type V (no gradient, zero tangent).
template <class V, class T, class D>
V constant(const Tensor<T, D>& t) { return ValueTraits<V>::constant(t); }
/// How a layer running on value type V sees parameter p (a leaf bound to p.grad for Var).
template <class V, class T, class D>
V lift(Parameter<T, D>& p) { return ValueTraits<V>::parameter(p); }

template <class V, class = void>
struct is_value : std::false_type {};
template <class T, class D>
struct is_value<Tensor<T, D>> : std::true_type {};
template <class T, class D>
struct is_value<Var<T, D>> : std::true_type {};
template <class V>
struct is_value<DualTensor<V>> : std::true_type {};
template <class V>
inline constexpr bool is_value_v = is_value<V>::value;

}  // namespace structgan
