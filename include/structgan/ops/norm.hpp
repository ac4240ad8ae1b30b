#pragma once
/// \file Normalization ops with their three rules: the standardization shared by GroupNorm and
/// BatchNorm, then group_norm and batch_norm (train and eval) composed from it.
#include <type_traits>
#include <utility>

#include "structgan/ops/shape_ops.hpp"

namespace structgan {

/// The standardized tensor and the per-group 1/√(var + eps) (shape [G]).
template <class V>
struct Standardized {
  V xhat;
  V rstd;
};

/// Batch statistics of a standardization (for running averages): per group mean and rstd.
template <class T, class D>
struct NormStats {
  Tensor<T, D> mean, rstd;
};

namespace detail {
inline StandardizeLayout group_layout(const Shape& x, index_t groups) {
  require(x.rank() >= 2, "group_norm: input must be N×C[×H×W], got ", x);
  require(groups >= 1 && x[1] % groups == 0, "group_norm: ", x[1], " channels do not split into ", groups, " groups");
  index_t hw = 1;
  for (int i = 2; i < x.rank(); ++i) hw *= x[i];
  return {1, x[0] * groups, (x[1] / groups) * hw};
}
inline StandardizeLayout batch_layout(const Shape& x) {
  require(x.rank() >= 2, "batch_norm: input must be N×C[×H×W], got ", x);
  index_t hw = 1;
  for (int i = 2; i < x.rank(); ++i) hw *= x[i];
  return {x[0], x[1], hw};
}
}  // namespace detail

/// Standardizes x per group of `layout` (StandardizeLayout, see backend/contract.hpp).
template <class T, class D>
Standardized<Tensor<T, D>> standardize(const Tensor<T, D>& x, const StandardizeLayout& s, T eps,
                                       NormStats<T, D>* stats = nullptr) {
  require(s.p * s.g * s.l == x.numel(), "standardize: layout does not cover ", x.shape());
  Tensor<T, D> xhat(x.shape()), mean(Shape{s.g}), rstd(Shape{s.g});
  standardize_forward(D{}, s, eps, x.data(), xhat.data(), mean.data(), rstd.data());
  if (stats) *stats = {mean, rstd};
  return {xhat, rstd};
}

/// The standardization's Jacobian applied to t: rstd·(t − mean t − xhat·mean(xhat·t)) per group.
/// Linear in t and symmetric, so it is also the VJP.
template <class T, class D>
Tensor<T, D> standardize_jacobian(const Tensor<T, D>& xhat, const Tensor<T, D>& rstd, const Tensor<T, D>& t,
                                  const StandardizeLayout& s) {
  Tensor<T, D> y(t.shape());
  standardize_jacobian(D{}, s, xhat.data(), rstd.data(), t.data(), y.data());
  return y;
}

template <class T, class D>
Standardized<Var<T, D>> standardize(const Var<T, D>& x, const StandardizeLayout& s, T eps, NormStats<T, D>* stats = nullptr) {
  const Standardized<Tensor<T, D>> r = standardize(x.value(), s, eps, stats);
  const Tensor<T, D> xhat = r.xhat, rstd = r.rstd;
  Var<T, D> xv = Var<T, D>::op(xhat, {&x}, [xhat, rstd, s](auto& n) { send_grad(n, 0, standardize_jacobian(xhat, rstd, n.grad, s)); });
  // ∂rstd_g/∂x = −rstd_g²·xhat / count
  Var<T, D> rv = Var<T, D>::op(rstd, {&x}, [xhat, rstd, s](auto& n) {
    Tensor<T, D> c = mul_scalar(mul(square(rstd), n.grad), T(-1) / T(s.count()));
    Tensor<T, D> dx(xhat.shape());
    scale_groups(D{}, s, xhat.data(), c.data(), dx.data());
    send_grad(n, 0, dx);
  });
  return {xv, rv};
}

template <class T, class D>
Var<T, D> standardize_jacobian(const Var<T, D>& xhat, const Var<T, D>& rstd, const Var<T, D>& t, const StandardizeLayout& s) {
  const Tensor<T, D> xv = xhat.value(), rv = rstd.value(), tv = t.value();
  const Tensor<T, D> y = standardize_jacobian(xv, rv, tv, s);
  return Var<T, D>::op(y, {&xhat, &rstd, &t}, [xv, rv, tv, y, s](auto& n) {
    if (needs_grad(n, 0) || needs_grad(n, 1)) {
      Tensor<T, D> dx = needs_grad(n, 0) ? Tensor<T, D>(xv.shape()) : Tensor<T, D>();
      Tensor<T, D> dr = needs_grad(n, 1) ? Tensor<T, D>(rv.shape()) : Tensor<T, D>();
      standardize_jacobian_backward(D{}, s, xv.data(), rv.data(), tv.data(), y.data(), n.grad.data(),
                                    dx.defined() ? dx.data() : nullptr, dr.defined() ? dr.data() : nullptr);
      if (dx.defined()) send_grad(n, 0, dx);
      if (dr.defined()) send_grad(n, 1, dr);
    }
    if (needs_grad(n, 2)) send_grad(n, 2, standardize_jacobian(xv, rv, n.grad, s));
  });
}

namespace detail {
/// A dual standardization's primal through the primal tape (autodiff/primal_tape.hpp), batch
/// statistics included, so that a replayed pass still reports them.
template <class V, class T, class D>
Standardized<V> standardize_primal(const V& x, const StandardizeLayout& s, T eps, NormStats<T, D>* stats) {
  auto r = primal_value([&] {
    NormStats<T, D> st;
    Standardized<V> p = standardize(x, s, eps, stats ? &st : nullptr);
    return std::make_pair(p, st);
  });
  if (stats) *stats = r.second;
  return r.first;
}
}  // namespace detail

template <class V, class T, class D>
Standardized<DualTensor<V>> standardize(const DualTensor<V>& x, const StandardizeLayout& s, T eps, NormStats<T, D>* stats = nullptr) {
  Standardized<V> p = detail::standardize_primal(x.primal, s, eps, stats);
  if (!x.has_tangent()) return {DualTensor<V>(p.xhat), DualTensor<V>(p.rstd)};
  V t = standardize_jacobian(p.xhat, p.rstd, x.tangent, s);
  // d rstd_g = −rstd_g³·mean((x − μ)·ẋ) = −rstd_g²·mean_g(xhat·ẋ)
  V m = mean(reshape(mul(p.xhat, x.tangent), Shape{s.p, s.g, s.l}), {0, 2});
  V rt = neg(mul(square(p.rstd), m));
  return {DualTensor<V>(p.xhat, t), DualTensor<V>(p.rstd, rt)};
}
template <class V>
Standardized<DualTensor<V>> standardize(const DualTensor<V>& x, const StandardizeLayout& s, typename ValueTraits<V>::scalar eps) {
  return standardize(x, s, eps, static_cast<NormStats<typename ValueTraits<V>::scalar, typename ValueTraits<V>::device>*>(nullptr));
}

/// standardize(x, …).xhat alone: GroupNorm and BatchNorm use only xhat, and for a dual number
/// rstd's tangent costs a full pass over x (and in a recorded pass, a node that is never used).
template <class V, class T, class D>
V standardized(const V& x, const StandardizeLayout& s, T eps, NormStats<T, D>* stats = nullptr) {
  return standardize(x, s, eps, stats).xhat;
}
template <class V, class T, class D>
DualTensor<V> standardized(const DualTensor<V>& x, const StandardizeLayout& s, T eps, NormStats<T, D>* stats = nullptr) {
  Standardized<V> p = detail::standardize_primal(x.primal, s, eps, stats);
  if (!x.has_tangent()) return DualTensor<V>(p.xhat);
  return DualTensor<V>(p.xhat, standardize_jacobian(p.xhat, p.rstd, x.tangent, s));
}

namespace detail {
/// Shape of a per-channel affine parameter broadcast against x: (1, C, 1, 1) or (1, C).
inline Shape channel_shape(const Shape& x) {
  Shape s = ones_shape(x);
  s[1] = x[1];
  return s;
}
}  // namespace detail

namespace detail {
inline GroupNormGeometry group_geometry(const Shape& x, index_t groups) {
  const StandardizeLayout l = group_layout(x, groups);  // checks the rank and the groups
  return {x[0], x[1], l.l / (x[1] / groups), groups};
}
template <class T, class D>
const T* data_or_null(const Tensor<T, D>& t) {
  return t.defined() ? t.data() : nullptr;
}
template <class T, class D>
T* data_or_null(Tensor<T, D>& t) {
  return t.defined() ? t.data() : nullptr;
}
template <class T, class D>
void check_group_norm_affine(const GroupNormGeometry& g, const Tensor<T, D>& weight, const Tensor<T, D>& bias) {
  require(!weight.defined() || weight.numel() == g.c, "group_norm: weight of ", weight.shape(), " for ", g.c, " channels");
  require(!bias.defined() || bias.numel() == g.c, "group_norm: bias of ", bias.shape(), " for ", g.c, " channels");
}
/// The fused forward (backend kernel group_norm_forward): y and the per-(sample, group) mean and rstd.
template <class T, class D>
struct GroupNormForward {
  Tensor<T, D> y, mean, rstd;
};
template <class T, class D>
GroupNormForward<T, D> group_norm_forward(const Tensor<T, D>& x, const GroupNormGeometry& g, const Tensor<T, D>& weight,
                                          const Tensor<T, D>& bias, T eps) {
  check_group_norm_affine(g, weight, bias);
  GroupNormForward<T, D> r{Tensor<T, D>(x.shape()), Tensor<T, D>(Shape{g.statistics()}), Tensor<T, D>(Shape{g.statistics()})};
  group_norm_forward(D{}, g, eps, x.data(), data_or_null(weight), data_or_null(bias), r.y.data(), r.mean.data(), r.rstd.data());
  return r;
}

/// GroupNorm as one op per value type where a fused kernel covers all its rules: Tensor, Var and a
/// dual number over tensors. Other value types (a dual number over Var: the tangent must itself be
/// differentiable) compose it from standardize, mul and add.
template <class V>
struct FusedGroupNorm : std::false_type {};
template <class T, class D>
struct FusedGroupNorm<Tensor<T, D>> : std::true_type {};
template <class T, class D>
struct FusedGroupNorm<Var<T, D>> : std::true_type {};
template <class T, class D>
struct FusedGroupNorm<DualTensor<Tensor<T, D>>> : std::true_type {};

template <class T, class D>
Tensor<T, D> group_norm_fused(const Tensor<T, D>& x, index_t groups, const Tensor<T, D>& weight, const Tensor<T, D>& bias,
                              T eps) {
  return group_norm_forward(x, group_geometry(x.shape(), groups), weight, bias, eps).y;
}

/// Saves x (the input's own storage), the statistics and the weight; the backward rule is one
/// kernel for dx, dw and db.
template <class T, class D>
Var<T, D> group_norm_fused(const Var<T, D>& x, index_t groups, const Var<T, D>& weight, const Var<T, D>& bias, T eps) {
  const GroupNormGeometry g = group_geometry(x.shape(), groups);
  const Tensor<T, D> xv = x.value(), wv = weight.defined() ? weight.value() : Tensor<T, D>(),
                     bv = bias.defined() ? bias.value() : Tensor<T, D>();
  GroupNormForward<T, D> f = group_norm_forward(xv, g, wv, bv, eps);
  const Tensor<T, D> mean = f.mean, rstd = f.rstd;
  const Shape bias_shape = bias.defined() ? bias.shape() : Shape{g.c};
  return Var<T, D>::op(f.y, {&x, &weight, &bias}, [xv, wv, mean, rstd, g, bias_shape](auto& n) {
    Tensor<T, D> dx = needs_grad(n, 0) ? Tensor<T, D>(xv.shape()) : Tensor<T, D>();
    Tensor<T, D> dw = needs_grad(n, 1) ? Tensor<T, D>(wv.shape()) : Tensor<T, D>();
    Tensor<T, D> db = needs_grad(n, 2) ? Tensor<T, D>(Shape{g.c}) : Tensor<T, D>();
    group_norm_backward(D{}, g, xv.data(), mean.data(), rstd.data(), data_or_null(wv), n.grad.data(), data_or_null(dx),
                        data_or_null(dw), data_or_null(db));
    if (dx.defined()) send_grad(n, 0, dx);
    if (dw.defined()) send_grad(n, 1, dw);
    if (db.defined()) send_grad(n, 2, db.reshape(bias_shape));
  });
}

/// The primal through the primal tape (autodiff/primal_tape.hpp); the tangent in one kernel.
template <class T, class D>
DualTensor<Tensor<T, D>> group_norm_fused(const DualTensor<Tensor<T, D>>& x, index_t groups,
                                          const DualTensor<Tensor<T, D>>& weight, const DualTensor<Tensor<T, D>>& bias, T eps) {
  const GroupNormGeometry g = group_geometry(x.shape(), groups);
  const Tensor<T, D> wv = weight.defined() ? weight.primal : Tensor<T, D>(), bv = bias.defined() ? bias.primal : Tensor<T, D>();
  const GroupNormForward<T, D> f = primal_value([&] { return group_norm_forward(x.primal, g, wv, bv, eps); });
  const bool wt = weight.defined() && weight.has_tangent(), bt = bias.defined() && bias.has_tangent();
  if (!x.has_tangent() && !wt && !bt) return DualTensor<Tensor<T, D>>(f.y);
  const Tensor<T, D> xt = x.has_tangent() ? x.tangent : filled<T, D>(x.shape(), T(0));
  Tensor<T, D> yt(x.shape());
  group_norm_jvp(D{}, g, x.primal.data(), f.mean.data(), f.rstd.data(), data_or_null(wv), xt.data(),
                 wt ? weight.tangent.data() : nullptr, bt ? bias.tangent.data() : nullptr, yt.data());
  return DualTensor<Tensor<T, D>>(f.y, yt);
}
}  // namespace detail

/// GroupNorm (SPEC §1): standardize over (C/groups, H, W) per sample and group, then per-channel
/// weight and bias (each of shape [C], or undefined for none). Fused into one op (backend
/// kernels group_norm_forward/backward/jvp) where the value type allows (detail::FusedGroupNorm).
template <class V>
V group_norm(const V& x, index_t groups, const V& weight, const V& bias, typename ValueTraits<V>::scalar eps = 1e-5) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  if constexpr (detail::FusedGroupNorm<V>::value) {
    return detail::group_norm_fused(x, groups, weight, bias, eps);
  } else {
    V y = standardized(x, detail::group_layout(x.shape(), groups), eps, static_cast<NormStats<T, D>*>(nullptr));
    const Shape cs = detail::channel_shape(x.shape());
    if (weight.defined()) y = mul(y, reshape(weight, cs));
    if (bias.defined()) y = add(y, reshape(bias, cs));
    return y;
  }
}

/// BatchNorm in training mode: standardize with the batch's statistics (biased variance), write
/// them into `stats` for the running averages; weight and bias [C] may be undefined.
template <class V>
V batch_norm_train(const V& x, const V& weight, const V& bias, typename ValueTraits<V>::scalar eps,
                   NormStats<typename ValueTraits<V>::scalar, typename ValueTraits<V>::device>* stats = nullptr) {
  V y = standardized(x, detail::batch_layout(x.shape()), eps, stats);
  const Shape cs = detail::channel_shape(x.shape());
  if (weight.defined()) y = mul(y, reshape(weight, cs));
  if (bias.defined()) y = add(y, reshape(bias, cs));
  return y;
}

namespace detail {
/// batch_norm_train_affine as one op per value type where the fused kernels cover its rules:
/// Tensor and Var. Others (a dual number: no tangent kernel) compose it.
template <class V>
struct FusedBatchNormAffine : std::false_type {};
template <class T, class D>
struct FusedBatchNormAffine<Tensor<T, D>> : std::true_type {};
template <class T, class D>
struct FusedBatchNormAffine<Var<T, D>> : std::true_type {};

template <class T, class D>
struct BatchNormAffineForward {
  Tensor<T, D> y, mean, rstd;
};
template <class T, class D>
BatchNormAffineForward<T, D> batch_norm_affine_forward(const Tensor<T, D>& x, const Tensor<T, D>& scale,
                                                       const Tensor<T, D>& shift, T eps, bool relu) {
  const StandardizeLayout s = batch_layout(x.shape());
  require(s.count() >= 1, "batch_norm_train_affine: no values per channel in input ", x.shape());
  require(!scale.defined() || scale.numel() == s.p * s.g, "batch_norm_train_affine: scale of ", scale.shape(), " for input ",
          x.shape(), " (one value per sample and channel)");
  require(!shift.defined() || shift.numel() == s.p * s.g, "batch_norm_train_affine: shift of ", shift.shape(), " for input ",
          x.shape(), " (one value per sample and channel)");
  BatchNormAffineForward<T, D> r{Tensor<T, D>(x.shape()), Tensor<T, D>(Shape{s.g}), Tensor<T, D>(Shape{s.g})};
  batch_norm_affine_forward(D{}, s, eps, relu, x.data(), data_or_null(scale), data_or_null(shift), r.y.data(), r.mean.data(),
                            r.rstd.data());
  return r;
}

template <class T, class D>
Tensor<T, D> batch_norm_affine_fused(const Tensor<T, D>& x, const Tensor<T, D>& scale, const Tensor<T, D>& shift, T eps,
                                     bool relu, NormStats<T, D>* stats) {
  BatchNormAffineForward<T, D> f = batch_norm_affine_forward(x, scale, shift, eps, relu);
  if (stats) *stats = {f.mean, f.rstd};
  return f.y;
}

/// Saves x, the statistics, the scale and y (the ReLU's mask); the backward rule is one kernel for
/// dx, dscale and dshift.
template <class T, class D>
Var<T, D> batch_norm_affine_fused(const Var<T, D>& x, const Var<T, D>& scale, const Var<T, D>& shift, T eps, bool relu,
                                  NormStats<T, D>* stats) {
  const Tensor<T, D> xv = x.value(), sv = scale.defined() ? scale.value() : Tensor<T, D>();
  BatchNormAffineForward<T, D> f = batch_norm_affine_forward(xv, sv, shift.defined() ? shift.value() : Tensor<T, D>(), eps, relu);
  if (stats) *stats = {f.mean, f.rstd};
  const Tensor<T, D> mean = f.mean, rstd = f.rstd, y = f.y;
  const Shape scale_shape = scale.defined() ? scale.shape() : Shape{}, shift_shape = shift.defined() ? shift.shape() : Shape{};
  const StandardizeLayout s = batch_layout(xv.shape());
  return Var<T, D>::op(y, {&x, &scale, &shift}, [xv, sv, mean, rstd, y, s, relu, scale_shape, shift_shape](auto& n) {
    Tensor<T, D> dx = needs_grad(n, 0) ? Tensor<T, D>(xv.shape()) : Tensor<T, D>();
    Tensor<T, D> dscale = needs_grad(n, 1) ? Tensor<T, D>(scale_shape) : Tensor<T, D>();
    Tensor<T, D> dshift = needs_grad(n, 2) ? Tensor<T, D>(shift_shape) : Tensor<T, D>();
    batch_norm_affine_backward(D{}, s, relu, xv.data(), mean.data(), rstd.data(), data_or_null(sv), y.data(), n.grad.data(),
                               data_or_null(dx), data_or_null(dscale), data_or_null(dshift));
    if (dx.defined()) send_grad(n, 0, dx);
    if (dscale.defined()) send_grad(n, 1, dscale);
    if (dshift.defined()) send_grad(n, 2, dshift);
  });
}
}  // namespace detail

/// BatchNorm in training mode with an affine map per sample and channel and an optional ReLU:
/// y = xhat·scale + shift, then max(y, 0) when `relu`, with xhat standardized per channel by the
/// batch's statistics (biased variance; written into `stats` for the running averages) and scale
/// and shift N×C (or N×C×1×1; undefined: 1 and 0). BigGAN's conditional BatchNorm with the ReLU
/// that follows it (SPEC §1). One op (backend kernels batch_norm_affine_forward/backward) for
/// tensors and reverse variables, composed from standardize, mul, add and relu for other value
/// types (detail::FusedBatchNormAffine).
template <class V>
V batch_norm_train_affine(const V& x, const V& scale, const V& shift, typename ValueTraits<V>::scalar eps, bool relu,
                          NormStats<typename ValueTraits<V>::scalar, typename ValueTraits<V>::device>* stats = nullptr) {
  if constexpr (detail::FusedBatchNormAffine<V>::value) {
    return detail::batch_norm_affine_fused(x, scale, shift, eps, relu, stats);
  } else {
    V y = standardized(x, detail::batch_layout(x.shape()), eps, stats);
    Shape ps = ones_shape(x.shape());
    ps[0] = x.shape()[0];
    ps[1] = x.shape()[1];
    if (scale.defined()) y = mul(y, reshape(scale, ps));
    if (shift.defined()) y = add(y, reshape(shift, ps));
    return relu ? structgan::relu(y) : y;
  }
}

/// BatchNorm in evaluation mode: (x − running_mean)/√(running_var + eps)·weight + bias.
template <class V, class T = typename ValueTraits<V>::scalar, class D = typename ValueTraits<V>::device>
V batch_norm_eval(const V& x, const Tensor<T, D>& running_mean, const Tensor<T, D>& running_var, const V& weight, const V& bias,
                  typename ValueTraits<V>::scalar eps) {
  const Shape cs = detail::channel_shape(x.shape());
  require(running_mean.numel() == x.shape()[1] && running_var.numel() == x.shape()[1], "batch_norm_eval: running statistics of ",
          running_mean.shape(), " for input ", x.shape());
  Tensor<T, D> scale = reciprocal(sqrt(add_scalar(running_var, eps)));
  Tensor<T, D> shift = neg(mul(running_mean, scale));
  V y = add(mul(x, constant<V>(scale.reshape(cs))), constant<V>(shift.reshape(cs)));
  if (weight.defined()) y = mul(y, reshape(weight, cs));
  if (bias.defined()) y = add(y, reshape(bias, cs));
  return y;
}

}  // namespace structgan
