#pragma once
// The tiny image run of the tests that train: 8×8 gray images, a ResNet-18 of width 4 and a
// BigGAN-deep with 8 channels, batch 8, a bank of 24, SPEC §5's objective options (the
// fashion_mnist preset's λ_c = 6 dropped), nothing held out, evaluated at the training size.
#include <string>

#include "structgan/train/config.hpp"

namespace structgan::testing {

inline train::TrainConfig tiny_image_config(const std::string& output_dir) {
  train::TrainConfig c = train::preset("fashion_mnist");
  c.image_size = 8;
  c.g_bottom_width = 1;
  c.d_width = 4;
  c.d_channels_per_group = 4;
  c.g_ch = 2;
  c.z_dim = 8;
  c.embed_dim = 8;
  c.batch_size = 8;
  c.objective = {};
  c.objective.bank_size = 24;
  c.validation_size = 0;  // the preset's 10,000 held-out images: more than these tests' data sets hold
  c.validate_every = 0;   // so no periodic validation (which needs held-out images) and no choice by it
  c.validate_from = 0;
  c.eval_checkpoint = "last";
  c.eval_image_size = 0;  // the preset's 24×24 test images: these tests evaluate at 8×8
  c.eval_svm_c = 1.0;     // LIBLINEAR's default, which the tests' own SVMs use
  c.output_dir = output_dir;
  c.sample_every = 0;
  c.checkpoint_every = 0;
  c.sample_count = 4;
  c.seed = 3;
  return c;
}

}  // namespace structgan::testing
