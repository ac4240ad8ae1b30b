#pragma once
/// \file The discriminator D of SPEC §1 over any backbone: the backbone gives f^b; a projection
/// head gives the embedding f̃ (and f = normalize(f̃)); a linear probe reads sg(f^b). The image
/// discriminator (resnet.hpp: ResNet18Discriminator) and the 2-D one (mlp.hpp: MlpDiscriminator)
/// are this template over their backbones.
#include <string>

#include "structgan/nn/layers.hpp"
#include "structgan/ops/composite.hpp"

namespace structgan::nn {

/// D's outputs for a batch x (SPEC §1).
template <class V>
struct DiscriminatorOutput {
  V f_tilde;  ///< f̃: the unnormalized embedding, N × p
  V f;        ///< normalize(f̃), N × p
  V f_b;      ///< f^b: the backbone feature, N × width
  V logits;   ///< the linear probe on sg(f^b), N × classes (no gradient reaches the backbone)
};

/// Linear(in, hidden) → ELU → Linear(hidden, out), PyTorch's default initialization: D's
/// projection head (512 → 512 → p).
template <class T, class D = Cpu>
struct ProjectionHead : Module<ProjectionHead<T, D>> {
  using value_type = T;
  using device_type = D;

  Linear<T, D> fc1, fc2;

  ProjectionHead() = default;
  ProjectionHead(index_t in, index_t hidden, index_t out, Rng& rng)
      : fc1(LinearOptions(in, hidden), rng), fc2(LinearOptions(hidden, out), rng) {}
  template <class V>
  V operator()(const V& x) { return fc2(elu(fc1(x))); }
  template <class F>
  void members(F&& f) {
    f("fc1", fc1);
    f("fc2", fc2);
  }
};

/// D = backbone → f^b; head Linear(w, w) → ELU → Linear(w, p) → f̃; probe Linear(w, classes) on
/// sg(f^b), where w = backbone.out_features(). Parameters `backbone.*`, `head.fc1.*`,
/// `head.fc2.*`, `probe.*`.
/// \code
///   Rng rng(1);
///   nn::ResNet18Discriminator<float> d(nn::DiscriminatorOptions{}, rng);
///   auto out = d(Var<float>(images));   // out.f_tilde, out.f, out.f_b, out.logits
///   Tensor<float> keys = d.backbone(images);                           // f^b only
///   auto jv = jvp([&](const auto& x) { return d.embed(x); }, x, v);   // J_x f̃ · v
/// \endcode
template <class Backbone>
struct Discriminator : Module<Discriminator<Backbone>> {
  using value_type = typename Backbone::value_type;
  using device_type = typename Backbone::device_type;

  Backbone backbone;
  ProjectionHead<value_type, device_type> head;
  Linear<value_type, device_type> probe;

  Discriminator() = default;
  /// `o`: the backbone's options (Backbone(o, rng)) with embed_dim (p) and classes. The backbone
  /// draws its initial values first, then the head, then the probe (a seed's networks depend on it).
  template <class Options>
  Discriminator(const Options& o, Rng& rng)
      : backbone(o, rng),
        head(backbone.out_features(), backbone.out_features(), o.embed_dim, rng),
        probe(LinearOptions(backbone.out_features(), o.classes), rng) {}

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
  template <class F>
  void members(F&& f) {
    f("backbone", backbone);
    f("head", head);
    f("probe", probe);
  }
};

}  // namespace structgan::nn
