#pragma once
/// \file The discriminator D of SPEC §1: a ResNet-18 backbone with ELU and GroupNorm under the
/// shared head and probe of discriminator.hpp.
#include <string>
#include <vector>

#include "structgan/nn/discriminator.hpp"
#include "structgan/nn/norm.hpp"
#include "structgan/ops/composite.hpp"

namespace structgan::nn {

/// ResNet-18's BasicBlock as SPEC §1 changes it:
/// h = GN(conv3×3(ELU(conv3×3(avgpool_s(x))))); skip = x or GN(conv1×1(avgpool_s(x)));
/// out = ELU(h + skip). All convolutions without bias, Kaiming-normal (fan_out) initialized.
template <class T, class D = Cpu>
struct ResNetBlock : Module<ResNetBlock<T, D>> {
  using value_type = T;
  using device_type = D;

  index_t stride = 1;
  Conv2d<T, D> conv1, conv2;
  GroupNorm<T, D> gn2;
  bool has_shortcut = false;  ///< a learned shortcut: when the stride or the width changes
  Conv2d<T, D> shortcut_conv;
  GroupNorm<T, D> shortcut_gn;

  ResNetBlock() = default;
  ResNetBlock(index_t in, index_t out, index_t stride_, index_t channels_per_group, Rng& rng) : stride(stride_) {
    auto conv = [&](index_t ci, index_t co, index_t k) {
      Conv2dOptions o(ci, co, k);
      o.bias = false;
      o.init = WeightInit::KaimingNormalFanOut;
      return Conv2d<T, D>(o, rng);
    };
    conv1 = conv(in, out, 3);
    conv2 = conv(out, out, 3);
    gn2 = GroupNorm<T, D>(GroupNormOptions(out, channels_per_group));
    has_shortcut = stride != 1 || in != out;
    if (has_shortcut) {
      shortcut_conv = conv(in, out, 1);
      shortcut_gn = GroupNorm<T, D>(GroupNormOptions(out, channels_per_group));
    }
  }
  template <class V>
  V operator()(const V& x) {
    const V xp = stride > 1 ? avg_pool2d(x, stride) : x;
    V h = gn2(conv2(elu(conv1(xp))));
    return elu(add(h, has_shortcut ? shortcut_gn(shortcut_conv(xp)) : x));
  }
  template <class F>
  void members(F&& f) {
    f("conv1", conv1);
    f("conv2", conv2);
    f("gn2", gn2);
    if (has_shortcut) {
      f("shortcut.conv", shortcut_conv);
      f("shortcut.gn", shortcut_gn);
    }
  }
};

/// Which ResNet-18 variant (SPEC §1).
enum class ResNetVariant {
  Cifar32,      ///< stages of stride 1, 2, 2, 2 (32 → 4)
  ImageNet128   ///< the first stage duplicated, every stage of stride 2 (128 → 4)
};

/// Options of the ResNet-18 discriminator.
struct DiscriminatorOptions {
  ResNetVariant variant = ResNetVariant::Cifar32;
  index_t width = 64;               ///< of the first stage (w, 2w, 4w, 8w; 64 is SPEC's, narrower ones the CPU presets')
  index_t in_channels = 3;
  index_t embed_dim = 128;          ///< p
  index_t classes = 10;             ///< of the linear probe
  index_t channels_per_group = 16;  ///< GroupNorm
};

/// The backbone: conv3×3 (no bias) → ELU → residual stages (2 blocks each, widths w, 2w, 4w, 8w;
/// w = 64 in SPEC §1) → spatial mean: f^b, N × 8w. Parameters `stem.weight` and `layer<k>.<b>.*`.
template <class T, class D = Cpu>
struct ResNet18Backbone : Module<ResNet18Backbone<T, D>> {
  using value_type = T;
  using device_type = D;

  Conv2d<T, D> stem;
  std::vector<ResNetBlock<T, D>> blocks;
  std::vector<std::string> block_names;

  ResNet18Backbone() = default;
  ResNet18Backbone(const DiscriminatorOptions& o, Rng& rng) {
    const index_t w = o.width;
    require(w >= 1, "ResNet18Backbone: width must be ≥ 1, got ", w);
    Conv2dOptions so(o.in_channels, w, 3);
    so.bias = false;
    so.init = WeightInit::KaimingNormalFanOut;
    stem = Conv2d<T, D>(so, rng);
    struct Stage { index_t width, stride; };
    std::vector<Stage> stages;
    if (o.variant == ResNetVariant::Cifar32) stages = {{w, 1}, {2 * w, 2}, {4 * w, 2}, {8 * w, 2}};
    else stages = {{w, 2}, {w, 2}, {2 * w, 2}, {4 * w, 2}, {8 * w, 2}};
    index_t in = w;
    for (std::size_t s = 0; s < stages.size(); ++s) {
      for (int b = 0; b < 2; ++b) {
        blocks.emplace_back(in, stages[s].width, b == 0 ? stages[s].stride : 1, o.channels_per_group, rng);
        block_names.push_back("layer" + std::to_string(s + 1) + "." + std::to_string(b));
        in = stages[s].width;
      }
    }
  }
  /// The width of f^b (8w).
  index_t out_features() const { return blocks.back().conv2.out_channels(); }
  /// The last stage's feature map, N × 8w × h × w.
  template <class V>
  V features(const V& x) {
    require(x.shape().rank() == 4 && x.shape()[1] == stem.in_channels(), "ResNet18Backbone: input ", x.shape(), " for ",
            stem.in_channels(), " channels");
    V h = elu(stem(x));
    for (auto& b : blocks) h = b(h);
    return h;
  }
  /// f^b = the spatial mean of the last stage, N × 8w.
  template <class V>
  V operator()(const V& x) {
    return mean(features(x), {2, 3});
  }
  template <class F>
  void members(F&& f) {
    f("stem", stem);
    for (std::size_t i = 0; i < blocks.size(); ++i) f(block_names[i], blocks[i]);
  }
};

/// The discriminator of SPEC §1 (ResNet-18 with GroupNorm and ELU, head, linear probe).
/// Parameters: backbone 11,164,864, head 328,320, probe 512·classes + classes (CIFAR variant,
/// w = 64, p = 128).
template <class T, class D = Cpu>
using ResNet18Discriminator = Discriminator<ResNet18Backbone<T, D>>;

}  // namespace structgan::nn
