#pragma once
/// \file Whether reverse-mode operations record themselves (per thread), and a no-grad scope.

namespace structgan {

namespace detail {
inline bool& grad_enabled_flag() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

/// True when operations on Var record a backward rule (the default).
inline bool grad_enabled() { return detail::grad_enabled_flag(); }

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
