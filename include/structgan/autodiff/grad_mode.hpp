#pragma once
/// \file Whether reverse-mode operations record themselves (per thread), and a no-grad scope.

namespace structgan {

namespace detail {
inline bool& grad_enabled_flag() {
  thread_local bool enabled = true;
  return enabled;
}
inline bool& parameter_grad_flag() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

/// True when operations on Var record a backward rule (the default).
inline bool grad_enabled() { return detail::grad_enabled_flag(); }

/// True when lift<Var>(parameter) binds the parameter's gradient (the default).
inline bool parameter_grad_enabled() { return detail::parameter_grad_flag(); }

/// While alive, parameters lifted to Var are constants: operations still record, so a backward
/// pass reaches the inputs (a VJP w.r.t. x, or G's gradient through D), but no parameter's
/// gradient is touched (PyTorch's torch.autograd.grad(y, x) leaves .grad alone the same way).
class FrozenParametersGuard {
 public:
  FrozenParametersGuard() : previous_(detail::parameter_grad_flag()) { detail::parameter_grad_flag() = false; }
  ~FrozenParametersGuard() { detail::parameter_grad_flag() = previous_; }
  FrozenParametersGuard(const FrozenParametersGuard&) = delete;
  FrozenParametersGuard& operator=(const FrozenParametersGuard&) = delete;

 private:
  bool previous_;
};

/// While alive, operations on Var record nothing: results are constants (PyTorch's no_grad).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(detail::grad_enabled_flag()) { detail::grad_enabled_flag() = false; }
  ~NoGradGuard() { detail::grad_enabled_flag() = previous_; }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace structgan
