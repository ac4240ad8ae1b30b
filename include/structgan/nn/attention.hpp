#pragma once
/// \file BigGAN's self-attention block (SA-GAN's non-local block as BigGAN releases it; SPEC §1,
/// the 128×128 generator after its 64×64 stage).
#include <string>
#include <vector>

#include "structgan/nn/layers.hpp"
#include "structgan/ops/softmax.hpp"

namespace structgan::nn {

/// Options of SelfAttention.
struct SelfAttentionOptions {
  index_t channels = 0;  ///< C (a multiple of 8)
  bool spectral_norm = true;
  double sn_eps = 1e-6;
  WeightInit init = WeightInit::KaimingNormalFanOut;
  SelfAttentionOptions() = default;
  explicit SelfAttentionOptions(index_t c) : channels(c) {}
};

/// out = x + γ·o(g·softmax(θᵀφ)ᵀ) with 1×1 convolutions without bias θ, φ: C → C/8, g: C → C/2,
/// o: C/2 → C, a 2×2 max-pool on φ and g, and a learned gain γ initialized to 0.
/// x: N×C×H×W with even H and W; per sample θ is C/8 × HW, φ is C/8 × HW/4, g is C/2 × HW/4.
template <class T, class D = Cpu>
struct SelfAttention : Module<SelfAttention<T, D>> {
  using value_type = T;
  using device_type = D;

  Conv2d<T, D> theta, phi, g, o;
  Parameter<T, D> gamma;

  SelfAttention() = default;
  SelfAttention(const SelfAttentionOptions& opt, Rng& rng) {
    const index_t c = opt.channels;
    require(c >= 8 && c % 8 == 0, "SelfAttention: channels must be a positive multiple of 8, got ", c);
    auto conv = [&](index_t in, index_t out) {
      Conv2dOptions co(in, out, 1);
      co.bias = false;
      co.spectral_norm = opt.spectral_norm;
      co.sn_eps = opt.sn_eps;
      co.init = opt.init;
      return Conv2d<T, D>(co, rng);
    };
    theta = conv(c, c / 8);
    phi = conv(c, c / 8);
    g = conv(c, c / 2);
    o = conv(c / 2, c);
    gamma.value = filled<T, D>(Shape{1}, T(0));
  }
  index_t channels() const { return theta.in_channels(); }

  template <class V>
  V operator()(const V& x) {
    const Shape s = x.shape();
    require(s.rank() == 4 && s[1] == channels() && s[2] % 2 == 0 && s[3] % 2 == 0, "SelfAttention: input ", s, " for ",
            channels(), " channels (needs even height and width)");
    const index_t n = s[0], c = s[1], hw = s[2] * s[3];
    V th = theta(x);
    V ph = max_pool2d(phi(x), 2);
    V gg = max_pool2d(g(x), 2);
    std::vector<V> outs;
    outs.reserve(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) {
      V ti = reshape(slice(th, 0, i, 1), Shape{c / 8, hw});
      V pi = reshape(slice(ph, 0, i, 1), Shape{c / 8, hw / 4});
      V gi = reshape(slice(gg, 0, i, 1), Shape{c / 2, hw / 4});
      V beta = softmax_rows(matmul(ti, pi, true, false));  // HW × HW/4, on the device (ops/softmax.hpp)
      outs.push_back(reshape(matmul(gi, beta, false, true), Shape{1, c / 2, s[2], s[3]}));
    }
    V att = n == 1 ? outs[0] : concat(outs, 0);
    return add(mul(o(att), lift<V>(gamma)), x);
  }
  template <class F>
  void members(F&& f) {
    f("theta", theta);
    f("phi", phi);
    f("g", g);
    f("o", o);
    f("gamma", gamma);
  }
};

}  // namespace structgan::nn
