#pragma once
/// \file Smoothness (SPEC §4): the Jacobian spectral-norm regularizer of Algorithm 1 for any
/// network written with the library, and the norm hinge on the real embeddings.
///
/// `f` is a callable generic over the value type returning the unnormalized embedding f̃
/// (b×p) of a batch x (b×…), e.g. `[&](const auto& x) { return net(x).f_tilde; }`. The power
/// iteration's VJPs leave the parameters' gradients alone; σ is one recorded dual pass (forward
/// mode inside reverse mode, never a double backward) whose primal values are the last VJP's
/// forward pass, replayed (autodiff/primal_tape.hpp), so
/// `backward(jacobian_penalty(est.sigma, ...))` adds the penalty's gradient to every parameter
/// f lifts.
///
/// \code
///   auto f = [&](const auto& x) { using V = std::decay_t<decltype(x)>; return linear(elu(linear(x, lift<V>(w1), lift<V>(b1))), lift<V>(w2)); };
///   Rng rng(0);
///   auto est = objectives::jacobian_sigma(f, x, rng);         // u0 ~ N(0, I), S = 1
///   Var<double> jac = objectives::jacobian_penalty(est.sigma); // mean((σ − 1)²)
///   backward(jac);                                             // w1.grad, b1.grad, w2.grad
/// \endcode
#include <string>
#include <type_traits>

#include "structgan/backend/device_readout.hpp"
#include "structgan/ops/composite.hpp"
#include "structgan/ops/functional.hpp"

namespace structgan::objectives {

/// How σ is penalized (SPEC §4).
enum class JacobianPenalty {
  Squared,  ///< mean((σ − Lip)²), the released code (default)
  Absolute  ///< mean|σ − Lip|, the paper's wording
};
inline const char* to_string(JacobianPenalty p) { return p == JacobianPenalty::Squared ? "squared" : "absolute"; }
inline JacobianPenalty jacobian_penalty_from_string(const std::string& s) {
  if (s == "squared") return JacobianPenalty::Squared;
  if (s == "absolute" || s == "abs") return JacobianPenalty::Absolute;
  fail("jacobian penalty: unknown kind '", s, "' (expected squared or absolute)");
}

/// The options of the regularizer (SPEC §4 defaults).
struct JacobianOptions {
  int steps = 1;                                    ///< power-iteration steps S (≥ 1)
  double lip = 1.0;                                 ///< the target Lipschitz constant
  JacobianPenalty penalty = JacobianPenalty::Squared;
};

/// The power iteration's result: unit u (b×p, per sample) and unit v (shaped like x, per sample).
template <class T, class D>
struct PowerIteration {
  Tensor<T, D> u, v;
};

/// σ and what produced it.
template <class T, class D>
struct SpectralEstimate {
  Var<T, D> sigma;      ///< σ_i = u_iᵀ J_i v_i, shape [b], differentiable w.r.t. the parameters
  Var<T, D> embedding;  ///< f̃ = f(x) (the primal of the same recorded pass; differentiable too)
  Tensor<T, D> u, v;    ///< the stopped singular vectors
};

namespace detail {
/// Each sample (row of the first axis) of x divided by max(its L2 norm, 1e-12).
template <class T, class D>
Tensor<T, D> normalize_per_sample(const Tensor<T, D>& x) {
  const index_t b = x.dim(0);
  return row_normalize(x.reshape(Shape{b, x.numel() / b})).reshape(x.shape());
}
template <class T, class D>
void check_batch(const char* op, const Tensor<T, D>& x) {
  require(x.defined() && x.rank() >= 2 && x.dim(0) >= 1 && x.numel() > 0, op, ": x must be a non-empty batch (b×…), got ",
          x.shape());
  require_finite(x, op, ": x of shape ", x.shape(), " has NaN or Inf entries");
}
template <class T, class D>
void check_output(const char* op, const Tensor<T, D>& y, const Tensor<T, D>& x) {
  require(y.rank() == 2 && y.dim(0) == x.dim(0), op, ": f must map the batch ", x.shape(), " to b×p embeddings, got ", y.shape());
  require_finite(y, op, ": f(x) of shape ", y.shape(), " has NaN or Inf entries");
}
}  // namespace detail

namespace detail {
template <class T, class D>
void check_u0(const char* op, const Tensor<T, D>* u0, const Tensor<T, D>& x) {
  if (u0)
    require(u0->defined() && u0->rank() == 2 && u0->dim(0) == x.dim(0), op, ": u0 ", u0->shape(), " must be b×p for x ",
            x.shape());
}
/// `steps` steps of the power iteration from u0, or from u0 ~ N(0, I) drawn from *rng once f(x)'s
/// shape is known (the first VJP's forward pass gives it, so no extra pass is needed).
template <class F, class T, class D>
PowerIteration<T, D> power_iteration(F&& f, const Tensor<T, D>& x, const Tensor<T, D>* u0, Rng* rng, int steps) {
  const char* op = "jacobian_power_iteration";
  check_batch(op, x);
  require(steps >= 1, op, ": needs at least one step, got ", steps);
  check_u0(op, u0, x);
  FrozenParametersGuard frozen;  // no parameter gradient from the VJPs
  Tensor<T, D> u = u0 ? *u0 : Tensor<T, D>(), v;
  for (int s = 0; s < steps; ++s) {
    Var<T, D> xv(x, true);
    Var<T, D> y = f(xv);
    if (s == 0) {
      check_output(op, y.value(), x);
      if (!u0) u = to_device<D>(randn<T>(y.shape(), *rng));
    }
    require(y.shape() == u.shape(), op, ": f(x) has shape ", y.shape(), " but u has ", u.shape());
    backward(y, u);
    v = normalize_per_sample(xv.grad().defined() ? xv.grad() : zeros_like(x));
    u = row_normalize(jvp(f, x, v).jvp);
  }
  return {u, v};
}

/// Algorithm 1 up to σ's recorded pass (SPEC §4), for g mapping a batch to a network output and
/// pick selecting f̃ from it: S − 1 plain power-iteration steps, then the last step and σ's
/// recorded dual pass sharing one primal forward pass. Pass 1 runs g on x with no tangent,
/// recorded with the parameters and with every dual op's primal kept on a PrimalTape; v_S =
/// normalize(u_{S−1}ᵀJ) comes from its graph (input_gradient: parameter gradients untouched, the
/// graph kept); pass 2 runs g on (x, v_S) taking the primals back from the tape, so it computes
/// the tangents only. Returns pass 2's output: pick(out).tangent is J·v_S, and every primal
/// output is recorded (differentiable w.r.t. the parameters) like a plain forward pass's.
/// it.v is set to v_S; it.u to u_S = J·v_S/‖J·v_S‖ by sigma_of_recorded_jv.
template <class G, class Pick, class T, class D>
auto recorded_sigma_pass(G&& g, Pick&& pick, const Tensor<T, D>& x, const Tensor<T, D>* u0, Rng* rng, int steps,
                         PowerIteration<T, D>& it) {
  const char* op = "jacobian_sigma";
  check_batch(op, x);
  require(steps >= 1, op, ": needs at least one step, got ", steps);
  check_u0(op, u0, x);
  auto f = [&](const auto& v) { return pick(g(v)); };
  Tensor<T, D> u = u0 ? *u0 : Tensor<T, D>();
  if (steps > 1) u = power_iteration(f, x, u0, rng, steps - 1).u;
  using VT = Var<T, D>;
  using DV = DualTensor<VT>;
  PrimalTape tape;
  VT xv(x, true);
  VT y;
  {
    PrimalTape::Scope record(tape, PrimalTape::Mode::Record);
    y = pick(g(DV(xv))).primal;
  }
  check_output(op, y.value(), x);
  if (!u.defined()) u = to_device<D>(randn<T>(y.shape(), *rng));
  require(y.shape() == u.shape(), op, ": f(x) has shape ", y.shape(), " but u has ", u.shape());
  it.v = normalize_per_sample(input_gradient(y, u, xv));
  xv.node()->on_path = false;  // x's own gradient is not wanted from σ's backward
  PrimalTape::Scope replay(tape, PrimalTape::Mode::Replay);
  auto out = g(DV(VT(x), VT(it.v)));
  tape.require_replayed(op);
  return out;
}

/// σ_i = u_iᵀ(J v)_i from the recorded J·v_S (b×p), with u_S = J·v_S/‖J·v_S‖ stopped: the last
/// step's JVP and σ's recorded pass are the same computation, so it is done once. Sets u_out.
template <class VT, class T, class D>
VT sigma_of_recorded_jv(const VT& jv, Tensor<T, D>& u_out) {
  u_out = row_normalize(Tensor<T, D>(value_of(jv)));
  return sum(mul(jv, VT(u_out)), {1});
}
/// J·v of a dual output: its tangent, or zeros when f̃ does not depend on x.
template <class VT>
VT tangent_or_zero(const DualTensor<VT>& y) {
  using T = typename VT::value_type;
  using D = typename VT::device_type;
  return y.has_tangent() ? y.tangent : VT(filled<T, D>(y.primal.shape(), T(0)));
}
template <class F, class T, class D>
SpectralEstimate<T, D> sigma_from(F&& f, const Tensor<T, D>& x, const Tensor<T, D>* u0, Rng* rng, int steps) {
  PowerIteration<T, D> it;
  const auto out = recorded_sigma_pass(f, [](const auto& y) { return y; }, x, u0, rng, steps, it);
  Var<T, D> sigma = sigma_of_recorded_jv(tangent_or_zero(out), it.u);
  return {sigma, out.primal, it.u, it.v};
}
}  // namespace detail

/// Algorithm 1's power iteration (SPEC §4), without gradient to the parameters: S times
/// v = uᵀJ (VJP) normalized per sample, then u = Jv (JVP) normalized per sample. u0 is b×p.
/// Requires steps ≥ 1 and f(x) of u0's shape. Parameter gradients are left untouched.
template <class F, class T, class D>
PowerIteration<T, D> jacobian_power_iteration(F&& f, const Tensor<T, D>& x, const Tensor<T, D>& u0, int steps = 1) {
  return detail::power_iteration(f, x, &u0, static_cast<Rng*>(nullptr), steps);
}
/// As above with u0 ~ N(0, I) drawn from rng.
template <class F, class T, class D>
PowerIteration<T, D> jacobian_power_iteration(F&& f, const Tensor<T, D>& x, Rng& rng, int steps = 1) {
  return detail::power_iteration(f, x, static_cast<const Tensor<T, D>*>(nullptr), &rng, steps);
}

/// σ_i = u_iᵀ J_i v_i after `steps` power-iteration steps from u0 (SPEC §4, Algorithm 1), with
/// u, v stopped; σ is recorded through jvp_recorded, so a backward pass from any function of σ
/// reaches the parameters f lifts (forward mode inside reverse mode).
/// Requires: x a finite batch (b×…), u0 b×p with f(x) b×p. Throws structgan::Error otherwise.
template <class F, class T, class D>
SpectralEstimate<T, D> jacobian_sigma(F&& f, const Tensor<T, D>& x, const Tensor<T, D>& u0, int steps = 1) {
  return detail::sigma_from(f, x, &u0, static_cast<Rng*>(nullptr), steps);
}
/// As above with u0 ~ N(0, I) drawn from rng.
template <class F, class T, class D>
SpectralEstimate<T, D> jacobian_sigma(F&& f, const Tensor<T, D>& x, Rng& rng, int steps = 1) {
  return detail::sigma_from(f, x, static_cast<const Tensor<T, D>*>(nullptr), &rng, steps);
}

/// mean((σ − lip)²) (Squared, the released code) or mean|σ − lip| (Absolute), shape [1].
template <class V>
V jacobian_penalty(const V& sigma, double lip = 1.0, JacobianPenalty kind = JacobianPenalty::Squared) {
  using T = typename ValueTraits<V>::scalar;
  V d = add_scalar(sigma, T(-lip));
  return mean_all(kind == JacobianPenalty::Squared ? square(d) : abs(d));
}

/// The norm hinge on the real embeddings (SPEC §4): mean(((‖f̃_i‖ − 1)·[‖f̃_i‖ < 1])²), shape [1].
template <class V>
V norm_hinge(const V& f_tilde) {
  using T = typename ValueTraits<V>::scalar;
  V r = add_scalar(row_norm(f_tilde), T(-1));
  const auto mask = step(neg(value_of(r)), T(0));  // [‖f̃‖ < 1], a constant
  return mean_all(square(mul(r, constant<V>(mask))));
}

/// The regularizer in one call: σ from u0 (or rng) and its penalty, plus the estimate.
template <class T, class D>
struct JacobianRegularizer {
  Var<T, D> penalty;             ///< shape [1]
  SpectralEstimate<T, D> estimate;
};
template <class F, class T, class D>
JacobianRegularizer<T, D> jacobian_regularizer(F&& f, const Tensor<T, D>& x, Rng& rng, const JacobianOptions& o = {}) {
  SpectralEstimate<T, D> e = jacobian_sigma(f, x, rng, o.steps);
  return {jacobian_penalty(e.sigma, o.lip, o.penalty), e};
}
template <class F, class T, class D>
JacobianRegularizer<T, D> jacobian_regularizer(F&& f, const Tensor<T, D>& x, const Tensor<T, D>& u0,
                                               const JacobianOptions& o = {}) {
  SpectralEstimate<T, D> e = jacobian_sigma(f, x, u0, o.steps);
  return {jacobian_penalty(e.sigma, o.lip, o.penalty), e};
}

}  // namespace structgan::objectives
