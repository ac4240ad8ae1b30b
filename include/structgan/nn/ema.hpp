#pragma once
/// \file The momentum (EMA) copy of a network (SPEC §5): after every iteration
/// ema ← m·ema + (1 − m)·param for each parameter (m = 0.99), and every buffer (BatchNorm
/// statistics, spectral-norm vectors) copied from the live network. SPEC §3 takes the kNN keys
/// from the EMA discriminator's backbone; SPEC §6 evaluates the EMA discriminator.
#include <string>
#include <type_traits>
#include <vector>

#include "structgan/nn/module.hpp"

namespace structgan::nn {

/// An independent copy of a network that follows it by exponential moving average.
/// \code
///   nn::Ema<nn::ResNet18Discriminator<float>> d_ema(d);      // starts as a copy of d
///   ...  // after the D and G steps of an iteration:
///   d_ema.update(d);
///   Tensor<float> keys;
///   { NoGradGuard ng; keys = d_ema.model().backbone(images); }
/// \endcode
namespace detail {
/// ema ← m·ema + w·param, element by element (a backend `map` functor; at namespace scope because
/// nvcc rejects a private nested type as a kernel's template argument).
template <class T>
struct EmaStep {
  T m, w;
  STRUCTGAN_HOST_DEVICE void operator()(T& e, const T& p) const { e = e * m + p * w; }
};
}  // namespace detail

template <class Net>
class Ema : public Module<Ema<Net>> {
 public:
  using value_type = typename Net::value_type;
  using device_type = typename Net::device_type;

  Ema() = default;
  /// Starts as an independent copy of `live`.
  explicit Ema(const Net& live, double momentum = 0.99) : model_(clone_module(live)), momentum_(momentum) {
    require(momentum >= 0 && momentum <= 1, "Ema: momentum ", momentum, " outside [0, 1]");
  }

  Net& model() { return model_; }
  const Net& model() const { return model_; }
  double momentum() const { return momentum_; }

  /// ema ← m·ema + (1 − m)·live for every parameter; buffers copied. `live` must have the same
  /// architecture (names and shapes), else structgan::Error and nothing changes.
  void update(Net& live) {
    using T = value_type;
    using D = device_type;
    auto pe = named_parameters(model_), pl = named_parameters(live);
    auto be = named_buffers(model_), bl = named_buffers(live);
    require(pe.size() == pl.size() && be.size() == bl.size(), "Ema::update: the live network differs in structure");
    for (std::size_t i = 0; i < pe.size(); ++i)
      require(pe[i].name == pl[i].name && pe[i].param->value.shape() == pl[i].param->value.shape(), "Ema::update: parameter ",
              pl[i].name, " ", pl[i].param->value.shape(), " does not match ", pe[i].name, " ", pe[i].param->value.shape());
    for (std::size_t i = 0; i < be.size(); ++i)
      require(be[i].name == bl[i].name && be[i].buffer->shape() == bl[i].buffer->shape(), "Ema::update: buffer ", bl[i].name,
              " does not match ", be[i].name);
    const T m = static_cast<T>(momentum_), w = static_cast<T>(1.0 - momentum_);
    for (std::size_t i = 0; i < pe.size(); ++i) {
      Tensor<T, D>& e = pe[i].param->value;
      map(D{}, e.numel(), detail::EmaStep<T>{m, w}, e.data(), pl[i].param->value.data());
    }
    for (std::size_t i = 0; i < be.size(); ++i) assign(*be[i].buffer, *bl[i].buffer);
  }

  /// The EMA network's parameters and buffers (for checkpoints).
  /// The averaged network's names, unprefixed: an Ema checkpoints as the network it averages.
  template <class F>
  void members(F&& f) { f("", model_); }

 private:
  Net model_;
  double momentum_ = 0.99;
};

}  // namespace structgan::nn
