#pragma once
/// \file The discriminator D of SPEC §1: a ResNet-18 backbone with ELU and GroupNorm, a
/// projection head to the p = 128 embedding, and a linear probe on the detached backbone feature.
#include <string>
#include <vector>

#include "structgan/nn/norm.hpp"
#include "structgan/ops/composite.hpp"

namespace structgan::nn {

/// D's outputs for a batch x (SPEC §1).
template <class V>
struct DiscriminatorOutput {
  V f_tilde;  ///< f̃: the unnormalized embedding, N × p
  V f;        ///< normalize(f̃), N × p
  V f_b;      ///< f^b: the backbone feature, N × 512
  V logits;   ///< the linear probe on sg(f^b), N × classes (no gradient reaches the backbone)
};

/// ResNet-18's BasicBlock as SPEC §1 changes it:
/// h = GN(conv3×3(ELU(conv3×3(avgpool_s(x))))); skip = x or GN(conv1×1(avgpool_s(x)));
/// out = ELU(h + skip). All convolutions without bias, Kaiming-normal (fan_out) initialized.
template <class T, class D = Cpu>
struct ResNetBlock {
  using value_type = T;
  using device_type = D;

  index_t stride = 1;
  Conv2d<T, D> conv1, conv2;
  GroupNorm<T, D> gn2;
  bool has_shortcut = false;  ///< a learned shortcut: when the stride or the width changes
  Conv2d<T, D> shortcut_conv;
  GroupNorm<T, D> shortcut_gn;
  bool training = true;

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
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    conv1.visit(v, join_name(prefix, "conv1"));
    conv2.visit(v, join_name(prefix, "conv2"));
    gn2.visit(v, join_name(prefix, "gn2"));
    if (has_shortcut) {
      shortcut_conv.visit(v, join_name(prefix, "shortcut.conv"));
      shortcut_gn.visit(v, join_name(prefix, "shortcut.gn"));
    }
  }
  void train(bool on = true) { training = on; }
};

/// Which ResNet-18 variant (SPEC §1).
enum class ResNetVariant {
  Cifar32,      ///< stages of stride 1, 2, 2, 2 (32 → 4)
  ImageNet128   ///< the first stage duplicated, every stage of stride 2 (128 → 4)
};

/// Options of the discriminator.
struct DiscriminatorOptions {
  ResNetVariant variant = ResNetVariant::Cifar32;
  index_t in_channels = 3;
  index_t embed_dim = 128;          ///< p
  index_t classes = 10;             ///< of the linear probe
  index_t channels_per_group = 16;  ///< GroupNorm
};

/// The backbone: conv3×3 (no bias) → ELU → residual stages (2 blocks each, widths 64, 128, 256,
/// 512) → spatial mean: f^b, N × 512. Parameters `stem.weight` and `layer<k>.<b>.*`.
template <class T, class D = Cpu>
struct ResNet18Backbone {
  using value_type = T;
  using device_type = D;

  Conv2d<T, D> stem;
  std::vector<ResNetBlock<T, D>> blocks;
  std::vector<std::string> block_names;
  bool training = true;

  ResNet18Backbone() = default;
  ResNet18Backbone(const DiscriminatorOptions& o, Rng& rng) {
    Conv2dOptions so(o.in_channels, 64, 3);
    so.bias = false;
    so.init = WeightInit::KaimingNormalFanOut;
    stem = Conv2d<T, D>(so, rng);
    struct Stage { index_t width, stride; };
    std::vector<Stage> stages;
    if (o.variant == ResNetVariant::Cifar32) stages = {{64, 1}, {128, 2}, {256, 2}, {512, 2}};
    else stages = {{64, 2}, {64, 2}, {128, 2}, {256, 2}, {512, 2}};
    index_t in = 64;
    for (std::size_t s = 0; s < stages.size(); ++s) {
      for (int b = 0; b < 2; ++b) {
        blocks.emplace_back(in, stages[s].width, b == 0 ? stages[s].stride : 1, o.channels_per_group, rng);
        block_names.push_back("layer" + std::to_string(s + 1) + "." + std::to_string(b));
        in = stages[s].width;
      }
    }
  }
  /// The last stage's feature map, N × 512 × h × w.
  template <class V>
  V features(const V& x) {
    require(x.shape().rank() == 4 && x.shape()[1] == stem.in_channels(), "ResNet18Backbone: input ", x.shape(), " for ",
            stem.in_channels(), " channels");
    V h = elu(stem(x));
    for (auto& b : blocks) h = b(h);
    return h;
  }
  /// f^b = the spatial mean of the last stage, N × 512.
  template <class V>
  V operator()(const V& x) {
    return mean(features(x), {2, 3});
  }
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    stem.visit(v, join_name(prefix, "stem"));
    for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i].visit(v, join_name(prefix, block_names[i]));
  }
  void train(bool on = true) {
    training = on;
    for (auto& b : blocks) b.train(on);
  }
};

/// Linear(in, hidden) → ELU → Linear(hidden, out), PyTorch's default initialization: D's
/// projection head (512 → 512 → p).
template <class T, class D = Cpu>
struct ProjectionHead {
  using value_type = T;
  using device_type = D;

  Linear<T, D> fc1, fc2;
  bool training = true;

  ProjectionHead() = default;
  ProjectionHead(index_t in, index_t hidden, index_t out, Rng& rng)
      : fc1(LinearOptions(in, hidden), rng), fc2(LinearOptions(hidden, out), rng) {}
  template <class V>
  V operator()(const V& x) { return fc2(elu(fc1(x))); }
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    fc1.visit(v, join_name(prefix, "fc1"));
    fc2.visit(v, join_name(prefix, "fc2"));
  }
  void train(bool on = true) { training = on; }
};

/// The discriminator of SPEC §1 (ResNet-18 with GroupNorm and ELU, head, linear probe).
/// Parameters: backbone 11,164,864, head 328,320, probe 512·classes + classes (CIFAR variant, p = 128).
/// \code
///   Rng rng(1);
///   nn::ResNet18Discriminator<float> d(nn::DiscriminatorOptions{}, rng);
///   auto out = d(Var<float>(images));   // out.f_tilde, out.f, out.f_b, out.logits
///   Tensor<float> keys = d.backbone(images);                           // f^b only
///   auto jv = jvp([&](const auto& x) { return d.embed(x); }, x, v);   // J_x f̃ · v
/// \endcode
template <class T, class D = Cpu>
struct ResNet18Discriminator {
  using value_type = T;
  using device_type = D;

  ResNet18Backbone<T, D> backbone;
  ProjectionHead<T, D> head;
  Linear<T, D> probe;
  bool training = true;

  ResNet18Discriminator() = default;
  ResNet18Discriminator(const DiscriminatorOptions& o, Rng& rng)
      : backbone(o, rng), head(512, 512, o.embed_dim, rng), probe(LinearOptions(512, o.classes), rng) {}

  /// f̃ = head(f^b): the unnormalized embedding only (what the Jacobian regularizer differentiates).
  template <class V>
  V embed(const V& x) { return head(backbone(x)); }
  /// Every output: f̃, f = normalize(f̃), f^b and the probe's logits on sg(f^b).
  template <class V>
  DiscriminatorOutput<V> operator()(const V& x) {
    DiscriminatorOutput<V> out;
    out.f_b = backbone(x);
    out.f_tilde = head(out.f_b);
    out.f = row_normalize(out.f_tilde);
    out.logits = probe(constant<V>(value_of(out.f_b)));
    return out;
  }
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    backbone.visit(v, join_name(prefix, "backbone"));
    head.visit(v, join_name(prefix, "head"));
    probe.visit(v, join_name(prefix, "probe"));
  }
  void train(bool on = true) {
    training = on;
    backbone.train(on);
    head.train(on);
    probe.train(on);
  }
};

}  // namespace structgan::nn
