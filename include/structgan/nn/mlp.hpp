#pragma once
/// \file MLP generator and discriminator for 2-D data (the double spiral, SPEC §1 and §7): the
/// same normalization, activations and outputs as the image models (ELU; GroupNorm, 16 units per
/// group, on every hidden layer of at least 16 units).
#include <string>
#include <vector>

#include "structgan/nn/discriminator.hpp"
#include "structgan/nn/norm.hpp"

namespace structgan::nn {

/// Linear → [GroupNorm if ≥ 16 units] → ELU: one hidden layer of the MLPs.
template <class T, class D = Cpu>
struct MlpLayer : Module<MlpLayer<T, D>> {
  using value_type = T;
  using device_type = D;

  Linear<T, D> fc;
  bool has_norm = false;
  GroupNorm<T, D> norm;

  MlpLayer() = default;
  MlpLayer(index_t in, index_t out, index_t channels_per_group, Rng& rng) : fc(LinearOptions(in, out), rng) {
    has_norm = out >= 16;
    if (has_norm) norm = GroupNorm<T, D>(GroupNormOptions(out, channels_per_group));
  }
  template <class V>
  V operator()(const V& x) {
    V h = fc(x);
    return elu(has_norm ? norm(h) : h);
  }
  template <class F>
  void members(F&& f) {
    f("fc", fc);
    if (has_norm) f("norm", norm);
  }
};

/// A stack of MlpLayers (in → hidden → … → hidden).
template <class T, class D = Cpu>
struct MlpStack : Module<MlpStack<T, D>> {
  using value_type = T;
  using device_type = D;

  std::vector<MlpLayer<T, D>> layers;

  MlpStack() = default;
  MlpStack(index_t in, index_t hidden, index_t depth, index_t channels_per_group, Rng& rng) {
    require(in >= 1 && hidden >= 1 && depth >= 1, "MlpStack: in ", in, ", hidden ", hidden, ", depth ", depth);
    for (index_t i = 0; i < depth; ++i) layers.emplace_back(i == 0 ? in : hidden, hidden, channels_per_group, rng);
  }
  /// The width of the output (hidden).
  index_t out_features() const { return layers.back().fc.out_features(); }
  template <class V>
  V operator()(const V& x) {
    V h = x;
    for (auto& l : layers) h = l(h);
    return h;
  }
  template <class F>
  void members(F&& f) {
    for (std::size_t i = 0; i < layers.size(); ++i) f(std::to_string(i), layers[i]);
  }
};

/// Options of the 2-D MLP discriminator.
struct MlpDiscriminatorOptions {
  index_t in_dim = 2;
  index_t hidden = 128;  ///< width of the backbone (f^b) and of the head's hidden layer
  index_t depth = 3;     ///< hidden layers of the backbone
  index_t embed_dim = 128;
  index_t classes = 2;
  index_t channels_per_group = 16;
};

/// D's backbone for 2-D data: MlpStack(in → hidden, depth layers), whose output is f^b.
template <class T, class D = Cpu>
struct MlpBackbone : MlpStack<T, D> {
  MlpBackbone() = default;
  MlpBackbone(const MlpDiscriminatorOptions& o, Rng& rng) : MlpStack<T, D>(o.in_dim, o.hidden, o.depth, o.channels_per_group, rng) {}
};

/// The discriminator for 2-D data: MlpBackbone gives f^b; head Linear → ELU → Linear to p; probe
/// Linear on sg(f^b). The same template as ResNet18Discriminator.
template <class T, class D = Cpu>
using MlpDiscriminator = Discriminator<MlpBackbone<T, D>>;

/// Options of the 2-D MLP generator.
struct MlpGeneratorOptions {
  index_t z_dim = 16;
  index_t hidden = 128;
  index_t depth = 3;
  index_t out_dim = 2;
  index_t channels_per_group = 16;
};

/// The generator for 2-D data: MlpStack(z → hidden, depth layers) → Linear(hidden, out_dim).
template <class T, class D = Cpu>
struct MlpGenerator : Module<MlpGenerator<T, D>> {
  using value_type = T;
  using device_type = D;

  MlpGeneratorOptions options;
  MlpStack<T, D> body;
  Linear<T, D> out;

  MlpGenerator() = default;
  MlpGenerator(const MlpGeneratorOptions& o, Rng& rng)
      : options(o), body(o.z_dim, o.hidden, o.depth, o.channels_per_group, rng), out(LinearOptions(o.hidden, o.out_dim), rng) {}

  /// A batch of latent codes z ~ N(0, I), n × z_dim.
  Tensor<T, D> sample_latent(index_t n, Rng& rng) const { return to_device<D>(randn<T>(Shape{n, options.z_dim}, rng)); }
  template <class V>
  V operator()(const V& z) { return out(body(z)); }
  template <class F>
  void members(F&& f) {
    f("body", body);
    f("out", out);
  }
};

}  // namespace structgan::nn
