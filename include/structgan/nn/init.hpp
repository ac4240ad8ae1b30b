#pragma once
/// \file Weight initializations (SPEC §1), drawn on the host from a seeded Rng and copied to the
/// device. Draws are made in double and rounded to T, so a float and a double module built from
/// the same seed hold the same values up to rounding, and the same seed gives bit-identical
/// parameters.
#include <cmath>

#include "structgan/core/random.hpp"
#include "structgan/core/tensor.hpp"
#include "structgan/ops/linalg.hpp"

namespace structgan::nn {

/// How a linear or convolution weight is initialized.
enum class WeightInit {
  PyTorchDefault,      ///< kaiming_uniform(a = √5): U(±1/√fan_in) (nn.Linear's and nn.Conv2d's default)
  KaimingNormalFanOut  ///< N(0, 2/fan_out) (kaiming_normal, mode fan_out, ReLU gain): D's convs, all of G
};

/// fan_in = shape[1]·(receptive field), fan_out = shape[0]·(receptive field) of a weight
/// (out × in [× kh × kw]), as torch.nn.init computes them.
inline index_t fan_in(const Shape& w) { return w.numel() / std::max<index_t>(1, w[0]); }
inline index_t fan_out(const Shape& w) { return w.rank() < 2 ? w[0] : w.numel() / std::max<index_t>(1, w[1]); }

/// A weight of shape `s` drawn by `init` from rng.
template <class T, class D = Cpu>
Tensor<T, D> init_weight(const Shape& s, WeightInit init, Rng& rng) {
  require(s.rank() >= 2 && s.numel() > 0, "init_weight: needs an out × in [× kh × kw] shape, got ", s);
  if (init == WeightInit::KaimingNormalFanOut)
    return to_device<D>(randn<T>(s, rng, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out(s)))));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(s)));
  return to_device<D>(rand_uniform<T>(s, rng, -bound, bound));
}

/// A bias of n entries drawn U(±1/√fan_in) (PyTorch's default for Linear and Conv2d biases).
template <class T, class D = Cpu>
Tensor<T, D> init_bias(index_t n, index_t fan_in_count, Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<index_t>(1, fan_in_count)));
  return to_device<D>(rand_uniform<T>(Shape{n}, rng, -bound, bound));
}

}  // namespace structgan::nn
