#pragma once
/// \file The generator G of SPEC §1: BigGAN-deep, unconditional, as the released code builds it
/// (hierarchical: the conditioning vector of every BatchNorm is z' = SNLinear(z)).
#include <string>
#include <vector>

#include "structgan/nn/attention.hpp"
#include "structgan/nn/norm.hpp"

namespace structgan::nn {

/// Options of the BigGAN-deep generator.
struct GeneratorOptions {
  index_t resolution = 32;    ///< 32, 64 or 128
  index_t ch = 128;           ///< channel multiplier
  index_t z_dim = 128;
  index_t bottom_width = 4;
  index_t out_channels = 3;
  index_t attention_resolution = 64;  ///< self-attention after the stage reaching it (0: none)
  double bn_eps = 1e-5;
  double sn_eps = 1e-6;
};

/// BigGAN-deep's GBlock (SPEC §1): h = conv1×1(ReLU(cbn1(x, y))) to in/4 channels;
/// h = ReLU(cbn2(h, y)); skip = x[:, :out]; if up, upsample h and skip by 2 (nearest);
/// h = conv3×3(h); h = conv3×3(ReLU(cbn3(h, y))); h = conv1×1(ReLU(cbn4(h, y))) to out; h + skip.
/// Every convolution spectrally normalized, with bias.
template <class T, class D = Cpu>
struct GBlock : Module<GBlock<T, D>> {
  using value_type = T;
  using device_type = D;

  index_t in = 0, out = 0;
  bool upsample = false;
  ConditionalBatchNorm<T, D> bn1, bn2, bn3, bn4;
  Conv2d<T, D> conv1, conv2, conv3, conv4;

  GBlock() = default;
  GBlock(index_t in_, index_t out_, bool up, index_t cond_dim, const GeneratorOptions& o, Rng& rng)
      : in(in_), out(out_), upsample(up) {
    require(in >= 4 && in % 4 == 0 && out >= 1 && out <= in, "GBlock: ", in, " → ", out, " channels");
    const index_t hidden = in / 4;
    auto conv = [&](index_t ci, index_t co, index_t k) {
      Conv2dOptions c(ci, co, k);
      c.spectral_norm = true;
      c.sn_eps = o.sn_eps;
      c.init = WeightInit::KaimingNormalFanOut;
      return Conv2d<T, D>(c, rng);
    };
    auto cbn = [&](index_t c) {
      ConditionalBatchNormOptions b(c, cond_dim);
      b.eps = o.bn_eps;
      b.sn_eps = o.sn_eps;
      return ConditionalBatchNorm<T, D>(b, rng);
    };
    conv1 = conv(in, hidden, 1);
    conv2 = conv(hidden, hidden, 3);
    conv3 = conv(hidden, hidden, 3);
    conv4 = conv(hidden, out, 1);
    bn1 = cbn(in);
    bn2 = cbn(hidden);
    bn3 = cbn(hidden);
    bn4 = cbn(hidden);
  }
  template <class V>
  V operator()(const V& x, const V& y) {
    V h = conv1(bn1.with_relu(x, y));
    h = bn2.with_relu(h, y);
    V skip = in != out ? slice(x, 1, 0, out) : x;
    if (upsample) {
      h = upsample_nearest2x(h);
      skip = upsample_nearest2x(skip);
    }
    h = conv2(h);
    h = conv3(bn3.with_relu(h, y));
    h = conv4(bn4.with_relu(h, y));
    return add(h, skip);
  }
  template <class F>
  void members(F&& f) {
    f("conv1", conv1);
    f("conv2", conv2);
    f("conv3", conv3);
    f("conv4", conv4);
    f("bn1", bn1);
    f("bn2", bn2);
    f("bn3", bn3);
    f("bn4", bn4);
  }
};

/// The generator of SPEC §1 (BigGAN-deep). z (N × z_dim) → images N × out_channels × R × R in
/// (−1, 1). z' = SNLinear(z) conditions every BatchNorm; SNLinear(z') → ch_0 × 4 × 4; stages of
/// [GBlock(in, in), GBlock(in, out, up)]; BatchNorm → ReLU → SNConv3×3 → tanh.
/// 32×32: three stages of 4ch → 4ch, 5,025,667 parameters (ch = 128). 128×128: 16,16,8,4,2 →
/// 16,8,4,2,1 (× ch), self-attention at 64×64.
/// Initialization: every weight Kaiming normal (fan_out), biases PyTorch's default (the released
/// code's G_init = 'kaiming').
/// \code
///   Rng rng(2);
///   nn::BigGANDeepGenerator<float> g(nn::GeneratorOptions{}, rng);
///   Tensor<float> z = randn<float>(Shape{64, 128}, rng);
///   Var<float> images = g(Var<float>(z));   // 64×3×32×32, training mode: BN batch statistics
/// \endcode
template <class T, class D = Cpu>
struct BigGANDeepGenerator : Module<BigGANDeepGenerator<T, D>> {
  using value_type = T;
  using device_type = D;

  GeneratorOptions options;
  Linear<T, D> first_linear;  ///< z → z' (the conditioning vector)
  Linear<T, D> linear;        ///< z' → ch_0 · bottom²
  std::vector<GBlock<T, D>> blocks;
  std::vector<std::size_t> attention_after;  ///< block index after which attention[i] runs
  std::vector<SelfAttention<T, D>> attention;
  BatchNorm2d<T, D> output_bn;
  Conv2d<T, D> output_conv;

  BigGANDeepGenerator() = default;
  BigGANDeepGenerator(const GeneratorOptions& o, Rng& rng) : options(o) {
    std::vector<index_t> ins, outs;
    switch (o.resolution) {
      case 32: ins = {4, 4, 4}; outs = {4, 4, 4}; break;
      case 64: ins = {16, 16, 8, 4}; outs = {16, 8, 4, 2}; break;
      case 128: ins = {16, 16, 8, 4, 2}; outs = {16, 8, 4, 2, 1}; break;
      default: fail("BigGANDeepGenerator: resolution must be 32, 64 or 128, got ", o.resolution);
    }
    require(o.ch >= 1 && o.z_dim >= 1 && o.bottom_width >= 1 && o.out_channels >= 1, "BigGANDeepGenerator: bad options");
    auto sn_linear = [&](index_t in, index_t out) {
      LinearOptions lo(in, out);
      lo.spectral_norm = true;
      lo.sn_eps = o.sn_eps;
      lo.init = WeightInit::KaimingNormalFanOut;
      return Linear<T, D>(lo, rng);
    };
    first_linear = sn_linear(o.z_dim, o.z_dim);
    linear = sn_linear(o.z_dim, ins[0] * o.ch * o.bottom_width * o.bottom_width);
    index_t res = o.bottom_width;
    for (std::size_t s = 0; s < ins.size(); ++s) {
      blocks.emplace_back(ins[s] * o.ch, ins[s] * o.ch, false, o.z_dim, o, rng);
      blocks.emplace_back(ins[s] * o.ch, outs[s] * o.ch, true, o.z_dim, o, rng);
      res *= 2;
      if (o.attention_resolution > 0 && res == o.attention_resolution) {
        SelfAttentionOptions ao(outs[s] * o.ch);
        ao.sn_eps = o.sn_eps;
        attention.emplace_back(ao, rng);
        attention_after.push_back(blocks.size() - 1);
      }
    }
    BatchNormOptions bo(outs.back() * o.ch);
    bo.eps = o.bn_eps;
    output_bn = BatchNorm2d<T, D>(bo);
    Conv2dOptions co(outs.back() * o.ch, o.out_channels, 3);
    co.spectral_norm = true;
    co.sn_eps = o.sn_eps;
    co.init = WeightInit::KaimingNormalFanOut;
    output_conv = Conv2d<T, D>(co, rng);
  }

  /// A batch of latent codes z ~ N(0, I), n × z_dim.
  Tensor<T, D> sample_latent(index_t n, Rng& rng) const { return to_device<D>(randn<T>(Shape{n, options.z_dim}, rng)); }

  /// Images for latent codes z (n × z_dim), n × out_channels × R × R.
  template <class V>
  V operator()(const V& z) {
    require(z.shape().rank() == 2 && z.shape()[1] == options.z_dim, "BigGANDeepGenerator: latent ", z.shape(), " for z_dim ",
            options.z_dim);
    const index_t n = z.shape()[0];
    V y = first_linear(z);
    V h = reshape(linear(y), Shape{n, blocks.front().in, options.bottom_width, options.bottom_width});
    std::size_t a = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      h = blocks[i](h, y);
      if (a < attention.size() && attention_after[a] == i) h = attention[a++](h);
    }
    return tanh(output_conv(output_bn.with_relu(h)));
  }
  template <class F>
  void members(F&& f) {
    f("first_linear", first_linear);
    f("linear", linear);
    std::size_t a = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      f("blocks." + std::to_string(i), blocks[i]);
      if (a < attention.size() && attention_after[a] == i) f("attention." + std::to_string(i), attention[a++]);
    }
    f("output_bn", output_bn);
    f("output_conv", output_conv);
  }
};

}  // namespace structgan::nn
