#pragma once
/// \file The networks a training configuration asks for (SPEC §1): the ResNet-18 discriminator
/// (at any base width: 64 is SPEC's, narrower ones are the CPU-sized presets), BigGAN-deep, and
/// the MLPs of the double spiral.
#include <string>

#include "structgan/nn/all.hpp"
#include "structgan/train/config.hpp"

namespace structgan::train {

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
  o.width = c.d_width;
  return nn::ResNet18Discriminator<T, D>(o, rng);
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
