#pragma once
/// \file The networks a training configuration asks for (SPEC §1): the ResNet-18 discriminator
/// (at any base width: 64 is SPEC's, narrower ones are the CPU-sized presets), BigGAN-deep, and
/// the MLPs of the double spiral.
#include <string>

#include "structgan/nn/all.hpp"
#include "structgan/train/config.hpp"

namespace structgan::train {

/// The ResNet-18 discriminator of SPEC §1 with stage widths w, 2w, 4w, 8w (w = 64 is exactly
/// nn::ResNet18Discriminator's constructor, same draws in the same order). f^b then has 8w
/// entries, the head is Linear(8w, 8w) → ELU → Linear(8w, p) and the probe Linear(8w, classes).
template <class T, class D = Cpu>
nn::ResNet18Discriminator<T, D> make_resnet_discriminator(const nn::DiscriminatorOptions& o, index_t width, Rng& rng) {
  require(width >= 1, "make_resnet_discriminator: width must be ≥ 1, got ", width);
  if (width == 64) return nn::ResNet18Discriminator<T, D>(o, rng);
  nn::ResNet18Discriminator<T, D> d;
  auto& bb = d.backbone;
  nn::Conv2dOptions so(o.in_channels, width, 3);
  so.bias = false;
  so.init = nn::WeightInit::KaimingNormalFanOut;
  bb.stem = nn::Conv2d<T, D>(so, rng);
  struct Stage { index_t width, stride; };
  std::vector<Stage> stages;
  if (o.variant == nn::ResNetVariant::Cifar32) stages = {{width, 1}, {2 * width, 2}, {4 * width, 2}, {8 * width, 2}};
  else stages = {{width, 2}, {width, 2}, {2 * width, 2}, {4 * width, 2}, {8 * width, 2}};
  index_t in = width;
  for (std::size_t s = 0; s < stages.size(); ++s)
    for (int b = 0; b < 2; ++b) {
      bb.blocks.emplace_back(in, stages[s].width, b == 0 ? stages[s].stride : 1, o.channels_per_group, rng);
      bb.block_names.push_back("layer" + std::to_string(s + 1) + "." + std::to_string(b));
      in = stages[s].width;
    }
  d.head = nn::ProjectionHead<T, D>(in, in, o.embed_dim, rng);
  d.probe = nn::Linear<T, D>(nn::LinearOptions(in, o.classes), rng);
  return d;
}

/// The image discriminator a configuration describes, for `channels`-channel images and `classes`
/// probe classes (the ImageNet variant at 128×128).
template <class T, class D = Cpu>
nn::ResNet18Discriminator<T, D> make_image_discriminator(const TrainConfig& c, index_t channels, index_t classes, Rng& rng) {
  nn::DiscriminatorOptions o;
  o.variant = c.image_size >= 128 ? nn::ResNetVariant::ImageNet128 : nn::ResNetVariant::Cifar32;
  o.in_channels = channels;
  o.embed_dim = c.embed_dim;
  o.classes = classes;
  o.channels_per_group = c.d_channels_per_group;
  return make_resnet_discriminator<T, D>(o, c.d_width, rng);
}

/// The BigGAN-deep generator a configuration describes (32×32 stages when image_size = 8 ×
/// g_bottom_width, 128×128 stages with attention at 64×64 when image_size = 32 × g_bottom_width).
template <class T, class D = Cpu>
nn::BigGANDeepGenerator<T, D> make_image_generator(const TrainConfig& c, index_t channels, Rng& rng) {
  nn::GeneratorOptions o;
  o.resolution = c.image_size == 8 * c.g_bottom_width ? 32 : 128;
  o.ch = c.g_ch;
  o.z_dim = c.z_dim;
  o.bottom_width = c.g_bottom_width;
  o.out_channels = channels;
  o.attention_resolution = o.resolution == 128 ? 16 * c.g_bottom_width : 0;
  return nn::BigGANDeepGenerator<T, D>(o, rng);
}

/// The 2-D MLP discriminator (double spiral).
template <class T, class D = Cpu>
nn::MlpDiscriminator<T, D> make_mlp_discriminator(const TrainConfig& c, index_t classes, Rng& rng) {
  nn::MlpDiscriminatorOptions o;
  o.in_dim = 2;
  o.hidden = c.mlp_hidden;
  o.depth = c.mlp_depth;
  o.embed_dim = c.embed_dim;
  o.classes = classes;
  o.channels_per_group = c.d_channels_per_group;
  return nn::MlpDiscriminator<T, D>(o, rng);
}

/// The 2-D MLP generator (double spiral).
template <class T, class D = Cpu>
nn::MlpGenerator<T, D> make_mlp_generator(const TrainConfig& c, Rng& rng) {
  nn::MlpGeneratorOptions o;
  o.z_dim = c.z_dim;
  o.hidden = c.mlp_hidden;
  o.depth = c.mlp_depth;
  o.out_dim = 2;
  o.channels_per_group = c.d_channels_per_group;
  return nn::MlpGenerator<T, D>(o, rng);
}

}  // namespace structgan::train
