#pragma once
/// \file Adam and AdamW with PyTorch's semantics (SPEC §5: D uses AdamW lr 2e-4, betas (0.5,
/// 0.999), eps 1e-8, weight decay 0.1; G uses Adam with the same lr and betas).
///
/// Per parameter, with t its step count, bc1 = 1 − β₁ᵗ, bc2 = 1 − β₂ᵗ:
///   AdamW: p ← p·(1 − lr·λ)                  Adam: g ← g + λ·p (L2, coupled)
///   m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²
///   p ← p − (lr/bc1) · m / (√v/√bc2 + eps)
/// The optimizer keeps handles to the parameters' storage (values and gradients are updated in
/// place), so it stays valid if the module is moved; replacing a parameter's tensor by another
/// one detaches it from the optimizer.
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "structgan/nn/module.hpp"
#include "structgan/ops/elementwise.hpp"

namespace structgan::nn {

/// One parameter's Adam(W) update, element by element (a backend `map` functor, so the same
/// arithmetic runs on every device). Scalars are formed in double and rounded once by the caller,
/// as PyTorch passes them to its kernels.
template <class T>
struct AdamStep {
  bool decoupled;
  T decay, l2, b1, b2, one_minus_b1, one_minus_b2, step_size, sqrt_bc2, eps;
  STRUCTGAN_HOST_DEVICE void operator()(T& p, const T& grad, T& m, T& v) const {
    if (decoupled) p *= decay;
    const T g = l2 != T(0) ? grad + l2 * p : grad;
    m = m * b1 + one_minus_b1 * g;
    v = v * b2 + one_minus_b2 * g * g;
    p = p + (-step_size) * m / (std::sqrt(v) / sqrt_bc2 + eps);
  }
};

/// Hyperparameters of one parameter group.
struct AdamOptions {
  double lr = 2e-4;
  double beta1 = 0.5, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< L2 for Adam, decoupled for AdamW
};

/// Adam (decoupled = false) or AdamW (decoupled = true) over groups of named parameters.
/// State per parameter: `exp_avg`, `exp_avg_sq` (buffers) and `step` (a counter), enumerated by
/// visit_state for checkpoints as `<prefix>.<parameter name>.exp_avg` etc.
/// \code
///   nn::AdamW<float> opt_d(nn::named_parameters(d), {2e-4, 0.5, 0.999, 1e-8, 0.1});
///   opt_d.zero_grad();
///   backward(loss);
///   opt_d.step();
/// \endcode
template <class T, class D = Cpu>
class Adam {
 public:
  using value_type = T;
  using device_type = D;

  /// One parameter and its state.
  struct Slot {
    std::string name;
    Tensor<T, D> value, grad;  ///< handles sharing the parameter's storage
    Tensor<T, D> exp_avg, exp_avg_sq;
    std::int64_t step = 0;
  };
  struct Group {
    AdamOptions options;
    std::vector<Slot> slots;
  };

  Adam() = default;
  /// An empty optimizer (add groups with add_param_group); decoupled = AdamW.
  explicit Adam(bool decoupled) : decoupled_(decoupled) {}
  /// One group holding `params` (each parameter's gradient is created, zero, if absent).
  explicit Adam(const std::vector<NamedParameter<T, D>>& params, const AdamOptions& o = {}, bool decoupled = false)
      : decoupled_(decoupled) {
    add_param_group(params, o);
  }
  /// Adds a group with its own hyperparameters (names must be unique across groups).
  void add_param_group(const std::vector<NamedParameter<T, D>>& params, const AdamOptions& o) {
    require(o.lr >= 0 && o.eps >= 0 && o.weight_decay >= 0 && o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
            "Adam: invalid hyperparameters lr ", o.lr, " betas (", o.beta1, ", ", o.beta2, ") eps ", o.eps, " weight decay ",
            o.weight_decay);
    Group g;
    g.options = o;
    for (const auto& np : params) {
      require(np.param && np.param->value.defined(), "Adam: parameter ", np.name, " is undefined");
      for (const auto& gr : groups_)
        for (const auto& s : gr.slots) require(s.name != np.name, "Adam: parameter ", np.name, " added twice");
      Slot s;
      s.name = np.name;
      s.value = np.param->value;
      s.grad = np.param->ensure_grad();
      s.exp_avg = filled<T, D>(s.value.shape(), T(0));
      s.exp_avg_sq = filled<T, D>(s.value.shape(), T(0));
      g.slots.push_back(std::move(s));
    }
    groups_.push_back(std::move(g));
  }

  std::vector<Group>& groups() { return groups_; }
  const std::vector<Group>& groups() const { return groups_; }
  bool decoupled() const { return decoupled_; }

  /// Sets every gradient to zero (in place).
  void zero_grad() {
    for (auto& g : groups_)
      for (auto& s : g.slots) fill(D{}, s.grad.numel(), T(0), s.grad.data());
  }
  /// One update of every parameter from its current gradient.
  void step() {
    for (auto& g : groups_)
      for (auto& s : g.slots) update(g.options, s);
  }

  /// Calls v.buffer(name, Tensor&) for the moments and v.counter(name, std::int64_t&) for the
  /// step counts (the state a checkpoint must hold).
  template <class Vis>
  void visit_state(Vis&& v, const std::string& prefix) {
    for (auto& g : groups_)
      for (auto& s : g.slots) {
        const std::string base = join_name(prefix, s.name);
        v.buffer(base + ".exp_avg", s.exp_avg);
        v.buffer(base + ".exp_avg_sq", s.exp_avg_sq);
        v.counter(base + ".step", s.step);
      }
  }

 private:
  void update(const AdamOptions& o, Slot& s) {
    ++s.step;
    const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(s.step));
    const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(s.step));
    const T decay = static_cast<T>(decoupled_ ? 1.0 - o.lr * o.weight_decay : 1.0);
    const T l2 = static_cast<T>(decoupled_ ? 0.0 : o.weight_decay);
    // Scalars are formed in double and rounded once, as PyTorch passes them to its kernels.
    const T b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2);
    const T one_minus_b1 = static_cast<T>(1.0 - o.beta1), one_minus_b2 = static_cast<T>(1.0 - o.beta2);
    const T step_size = static_cast<T>(o.lr / bc1), sqrt_bc2 = static_cast<T>(std::sqrt(bc2));
    const T eps = static_cast<T>(o.eps);
    map(D{}, s.value.numel(), AdamStep<T>{decoupled_, decay, l2, b1, b2, one_minus_b1, one_minus_b2, step_size, sqrt_bc2, eps},
        s.value.data(), s.grad.data(), s.exp_avg.data(), s.exp_avg_sq.data());
  }

  std::vector<Group> groups_;
  bool decoupled_ = false;
};

/// AdamW: Adam with decoupled weight decay (PyTorch's torch.optim.AdamW).
template <class T, class D = Cpu>
class AdamW : public Adam<T, D> {
 public:
  AdamW() : Adam<T, D>(true) {}
  explicit AdamW(const std::vector<NamedParameter<T, D>>& params, const AdamOptions& o = {}) : Adam<T, D>(params, o, true) {}
};

}  // namespace structgan::nn
