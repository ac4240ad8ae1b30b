#pragma once
/// \file MLP generator and discriminator for 2-D data (the double spiral, SPEC §1 and §7): the
/// same normalization, activations and outputs as the image models (ELU; GroupNorm, 16 units per
/// group, on every hidden layer of at least 16 units).
#include <string>
#include <vector>

#include "structgan/nn/norm.hpp"
#include "structgan/nn/resnet.hpp"

namespace structgan::nn {

/// Linear → [GroupNorm if ≥ 16 units] → ELU: one hidden layer of the MLPs.
template <class T, class D = Cpu>
struct MlpLayer {
  using value_type = T;
  using device_type = D;

  Linear<T, D> fc;
  bool has_norm = false;
  GroupNorm<T, D> norm;
  bool training = true;

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
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    fc.visit(v, join_name(prefix, "fc"));
    if (has_norm) norm.visit(v, join_name(prefix, "norm"));
  }
  void train(bool on = true) { training = on; }
};

/// A stack of MlpLayers (in → hidden → … → hidden).
template <class T, class D = Cpu>
struct MlpStack {
  using value_type = T;
  using device_type = D;

  std::vector<MlpLayer<T, D>> layers;
  bool training = true;

  MlpStack() = default;
  MlpStack(index_t in, index_t hidden, index_t depth, index_t channels_per_group, Rng& rng) {
    require(in >= 1 && hidden >= 1 && depth >= 1, "MlpStack: in ", in, ", hidden ", hidden, ", depth ", depth);
    for (index_t i = 0; i < depth; ++i) layers.emplace_back(i == 0 ? in : hidden, hidden, channels_per_group, rng);
  }
  template <class V>
  V operator()(const V& x) {
    V h = x;
    for (auto& l : layers) h = l(h);
    return h;
  }
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    for (std::size_t i = 0; i < layers.size(); ++i) layers[i].visit(v, join_name(prefix, std::to_string(i)));
  }
  void train(bool on = true) {
    training = on;
    for (auto& l : layers) l.train(on);
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

/// The discriminator for 2-D data: backbone MlpStack(in → hidden, depth layers) gives f^b;
/// head Linear → ELU → Linear to p; probe Linear on sg(f^b). Same interface as ResNet18Discriminator.
template <class T, class D = Cpu>
struct MlpDiscriminator {
  using value_type = T;
  using device_type = D;

  MlpStack<T, D> backbone;
  ProjectionHead<T, D> head;
  Linear<T, D> probe;
  bool training = true;

  MlpDiscriminator() = default;
  MlpDiscriminator(const MlpDiscriminatorOptions& o, Rng& rng)
      : backbone(o.in_dim, o.hidden, o.depth, o.channels_per_group, rng),
        head(o.hidden, o.hidden, o.embed_dim, rng),
        probe(LinearOptions(o.hidden, o.classes), rng) {}

  template <class V>
  V embed(const V& x) { return head(backbone(x)); }
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
struct MlpGenerator {
  using value_type = T;
  using device_type = D;

  MlpGeneratorOptions options;
  MlpStack<T, D> body;
  Linear<T, D> out;
  bool training = true;

  MlpGenerator() = default;
  MlpGenerator(const MlpGeneratorOptions& o, Rng& rng)
      : options(o), body(o.z_dim, o.hidden, o.depth, o.channels_per_group, rng), out(LinearOptions(o.hidden, o.out_dim), rng) {}

  /// A batch of latent codes z ~ N(0, I), n × z_dim.
  Tensor<T, D> sample_latent(index_t n, Rng& rng) const { return to_device<D>(randn<T>(Shape{n, options.z_dim}, rng)); }
  template <class V>
  V operator()(const V& z) { return out(body(z)); }
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) {
    body.visit(v, join_name(prefix, "body"));
    out.visit(v, join_name(prefix, "out"));
  }
  void train(bool on = true) {
    training = on;
    body.train(on);
    out.train(on);
  }
};

}  // namespace structgan::nn
