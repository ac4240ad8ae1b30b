#pragma once
/// \file vjp, jvp and the recorded JVP: the three products the Jacobian regularizer needs
/// (SPEC §4). `f` is a callable generic over the value type (e.g. `[&](const auto& x) { return
/// net(x); }`), so the same network code runs in every mode.
#include <utility>

#include "structgan/ops/composite.hpp"

namespace structgan {

/// f(x) and uᵀ·J_f(x) (reverse mode: one backward pass seeded with u). Parameters lifted inside
/// f are constants here: the pass leaves their gradients untouched.
template <class T, class D>
struct VjpResult {
  Tensor<T, D> value;  ///< f(x)
  Tensor<T, D> vjp;    ///< uᵀ J, shaped like x
};
template <class F, class T, class D>
VjpResult<T, D> vjp(F&& f, const Tensor<T, D>& x, const Tensor<T, D>& u) {
  FrozenParametersGuard frozen;
  Var<T, D> xv(x, true);
  Var<T, D> y = f(xv);
  require(y.shape() == u.shape(), "vjp: cotangent ", u.shape(), " for output ", y.shape());
  backward(y, u);
  return {y.value(), xv.grad().defined() ? xv.grad() : zeros_like(x)};
}

/// f(x) and J_f(x)·v (forward mode: one dual pass on struct-of-arrays tensors).
template <class T, class D>
struct JvpResult {
  Tensor<T, D> value;  ///< f(x)
  Tensor<T, D> jvp;    ///< J v, shaped like f(x)
};
template <class F, class T, class D>
JvpResult<T, D> jvp(F&& f, const Tensor<T, D>& x, const Tensor<T, D>& v) {
  require(x.shape() == v.shape(), "jvp: tangent ", v.shape(), " for input ", x.shape());
  DualTensor<Tensor<T, D>> y = f(DualTensor<Tensor<T, D>>(x, v));
  return {y.primal, y.has_tangent() ? y.tangent : zeros_like(y.primal)};
}

/// J_f(x)·v as a recorded Var (reverse over forward): any scalar built from it, e.g.
/// s = Σ u ⊙ Jv, can be back-propagated to the parameters f lifts, in one backward pass.
/// Also returns f(x) as a Var (the primal of the same pass).
template <class T, class D>
struct RecordedJvp {
  Var<T, D> value;
  Var<T, D> jvp;
};
template <class F, class T, class D>
RecordedJvp<T, D> jvp_recorded(F&& f, const Tensor<T, D>& x, const Tensor<T, D>& v) {
  require(x.shape() == v.shape(), "jvp_recorded: tangent ", v.shape(), " for input ", x.shape());
  using DV = DualTensor<Var<T, D>>;
  DV y = f(DV(Var<T, D>(x), Var<T, D>(v)));
  return {y.primal, y.has_tangent() ? y.tangent : Var<T, D>(zeros_like(y.primal.value()))};
}

}  // namespace structgan
