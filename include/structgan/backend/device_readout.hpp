#pragma once
/// \file What the host needs from a device during training — logged scalars, and the outcome of
/// checks (NaN or Inf in a tensor, a failed factorization) — gathered and read in one transfer.
///
/// On a device whose memory is not the host's (Cuda, Ref; `D::host_memory` is false) each read is
/// a synchronizing round trip, so a check that reads its tensor stalls the device. A check here
/// turns its tensor into a one-value *indicator* on the device (0 when it passes) and either reads
/// it at once (the behaviour of a host check: `structgan::Error` with the check's message) or,
/// while a `DeferredReads` scope is installed on this thread, queues it into that scope's
/// `DeviceReadout`, which the owner (the trainer's step) reads with its logged scalars at a log
/// step (issue #24: no host round trip between log steps). Checks are reported in the order they
/// were queued, so the first failed one names the cause, not its consequences.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "structgan/backend/tensor_util.hpp"
#include "structgan/core/error.hpp"

namespace structgan {

/// Device scalars and checks, read together: each add() names a one-element tensor and where its
/// value goes; each check() a one-element indicator (0 passes; any other value, NaN included,
/// fails) and its message. read() packs everything into one device vector and makes a single
/// device→host transfer.
template <class T, class D>
class DeviceReadout {
 public:
  void add(double* into, const Tensor<T, D>& scalar) {
    require(scalar.numel() == 1, "DeviceReadout::add: a scalar is one value, got shape ", scalar.shape());
    targets_.push_back(into);
    scalars_.push_back(scalar);
  }
  void check(const Tensor<T, D>& indicator, const std::string& message) {
    require(indicator.numel() == 1, "DeviceReadout::check: an indicator is one value, got shape ", indicator.shape());
    checks_.push_back(indicator);
    messages_.push_back(context_ + message);
  }
  /// Text put before the message of every check added from now on (e.g. "iteration 7: ").
  void set_context(std::string context) { context_ = std::move(context); }
  std::size_t scalars() const { return scalars_.size(); }
  std::size_t checks() const { return checks_.size(); }
  bool empty() const { return scalars_.empty() && checks_.empty(); }

  /// Writes every added scalar to its target and returns the message of the first failed check
  /// (none: nullopt), then forgets everything added. Reads nothing when empty.
  std::optional<std::string> read();

 private:
  std::vector<double*> targets_;
  std::vector<Tensor<T, D>> scalars_, checks_;
  std::vector<std::string> messages_;
  std::string context_;
};

template <class T, class D>
std::optional<std::string> DeviceReadout<T, D>::read() {
  const std::size_t ns = scalars_.size(), n = ns + checks_.size();
  std::optional<std::string> failed;
  if (n > 0) {
    Tensor<T, D> packed(Shape{static_cast<index_t>(n)});
    for (std::size_t i = 0; i < n; ++i)
      copy(D{}, 1, (i < ns ? scalars_[i] : checks_[i - ns]).data(), packed.data() + static_cast<index_t>(i));
    const Tensor<T, Cpu> host = to_host(packed);
    for (std::size_t i = 0; i < ns; ++i) *targets_[i] = static_cast<double>(host[static_cast<index_t>(i)]);
    for (std::size_t i = ns; i < n && !failed; ++i)
      if (host[static_cast<index_t>(i)] != T(0)) failed = messages_[i - ns];
  }
  targets_.clear();
  scalars_.clear();
  checks_.clear();
  messages_.clear();
  return failed;
}

/// While alive, checks and term readouts of (T, D) on this thread are queued into `readout`
/// instead of read at once. Scopes nest (the innermost wins) and must be destroyed in reverse
/// order of construction, as guards are.
template <class T, class D>
class DeferredReads {
 public:
  explicit DeferredReads(DeviceReadout<T, D>& readout) : previous_(slot()) { slot() = &readout; }
  ~DeferredReads() { slot() = previous_; }
  DeferredReads(const DeferredReads&) = delete;
  DeferredReads& operator=(const DeferredReads&) = delete;
  /// The readout of the innermost scope on this thread, or null.
  static DeviceReadout<T, D>* current() { return slot(); }

 private:
  static DeviceReadout<T, D>*& slot() {
    thread_local DeviceReadout<T, D>* s = nullptr;
    return s;
  }
  DeviceReadout<T, D>* previous_;
};

/// 0 when every entry of x is finite, NaN otherwise (one value on x's device): Σᵢ 0·xᵢ, since
/// 0·(±Inf) and 0·NaN are NaN while 0·x is 0 for every finite x (a plain Σ xᵢ could overflow).
/// An empty or undefined x gives 0.
template <class T, class D>
Tensor<T, D> nonfinite_indicator(const Tensor<T, D>& x) {
  Tensor<T, D> out(Shape{1});
  if (!x.defined() || x.numel() == 0) {
    fill(D{}, 1, T(0), out.data());
    return out;
  }
  Tensor<T, D> zeroed(x.shape());
  unary(D{}, UnaryOp::MulScalar, T(0), x.numel(), x.data(), zeroed.data());
  reduce_sum(D{}, zeroed.data(), std::array<index_t, 4>{1, 1, 1, x.numel()}, out.data(), std::array<index_t, 4>{1, 1, 1, 1});
  return out;
}

/// Requires `indicator` (one value on the device) to be 0: queued into the current DeferredReads
/// scope of (T, D) if one is installed, else read at once (structgan::Error when not 0). The
/// message is built from `parts` as require() builds it.
template <class T, class D, class... Parts>
void require_zero_on_device(const Tensor<T, D>& indicator, const Parts&... parts) {
  if (auto* r = DeferredReads<T, D>::current()) {
    r->check(indicator, format_message(parts...));
    return;
  }
  require(indicator.numel() == 1, "require_zero_on_device: an indicator is one value, got shape ", indicator.shape());
  require(to_host(indicator)[0] == T(0), parts...);
}

/// Requires each indicator (one value on the device; 0 passes), in order, each with its message:
/// queued into the current DeferredReads scope of (T, D) if one is installed, else read together
/// in one transfer (structgan::Error with the first failed check's message): several checks at
/// the price of one read.
template <class T, class D>
void require_all_zero_on_device(std::vector<std::pair<Tensor<T, D>, std::string>> checks) {
  DeviceReadout<T, D> local;
  DeviceReadout<T, D>* const deferred = DeferredReads<T, D>::current();
  for (auto& c : checks) (deferred ? *deferred : local).check(c.first, std::move(c.second));
  if (deferred == nullptr)
    if (const auto failed = local.read()) throw Error(*failed);
}

/// Requires every entry of x to be finite, as require_zero_on_device does; the message's `parts`
/// name what x is. Where the host reads x's memory directly and no scope is installed, no kernel
/// runs.
template <class T, class D, class... Parts>
void require_finite(const Tensor<T, D>& x, const Parts&... parts) {
  if (!x.defined() || x.numel() == 0) return;
  if (D::host_memory && DeferredReads<T, D>::current() == nullptr) {
    require(to_host(x).array().allFinite(), parts...);
    return;
  }
  require_zero_on_device(nonfinite_indicator(x), parts...);
}

}  // namespace structgan
