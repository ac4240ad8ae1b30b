#pragma once
/// \file Augmentation and test transforms of real images (SPEC §5): uint8 C×H×W in, float
/// C×out_h×out_w in [−1, 1] out. All randomness comes from the caller's seeded std::mt19937_64.
///
/// \code
/// using namespace structgan::data;
/// Transform t = train_transform(32);           // RandomResizedCrop(32, 0.5–1, 3/4–4/3, bicubic) + flip 0.5
/// std::mt19937_64 rng(42);
/// std::vector<float> out(3 * 32 * 32);
/// transform_image(t, set.image(0), 3, 32, 32, out.data(), rng);
/// \endcode
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/data/detail/random.hpp"
#include "structgan/data/resize.hpp"

namespace structgan::data {

/// What to do to one image. Train: optional RandomResizedCrop to out_h×out_w, then a horizontal
/// flip with probability flip_p. Test (random_resized_crop false): optional resize of the shorter
/// side to resize_shorter, then a center crop to out_h×out_w. Both end with x/127.5 − 1.
struct Transform {
  int out_h = 0, out_w = 0;  ///< output size; 0: the (resized) input size
  bool random_resized_crop = false;
  double scale_min = 0.5, scale_max = 1.0;              ///< crop area / image area, uniform
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  ///< crop width / height, log-uniform
  int max_tries = 10;                                   ///< then the center-crop fallback
  double flip_p = 0.0;                                  ///< probability of a horizontal flip
  int resize_shorter = 0;                               ///< test: shorter side to this (0: no resize)
  ResampleOptions resample{Interpolation::bicubic, -0.5};  ///< PIL's bicubic, as the released code
};

/// The training augmentation of SPEC §5 for size×size outputs: RandomResizedCrop(size, scale
/// 0.5–1, ratio 3/4–4/3, bicubic as PIL: a = −0.5, antialiased), horizontal flip p = 0.5, map to
/// [−1, 1]. The crop is torchvision's F.resized_crop on a PIL image, byte for byte.
inline Transform train_transform(int size) {
  Transform t;
  t.out_h = t.out_w = size;
  t.random_resized_crop = true;
  t.flip_p = 0.5;
  return t;
}

/// The CIFAR test transform (SPEC §5): the image as is, mapped to [−1, 1].
inline Transform cifar_test_transform() { return Transform{}; }

/// The ImageNet-10 test transform (SPEC §5): shorter side to 144 (bilinear, antialiased, as
/// torchvision's Resize), center crop 128×128, map to [−1, 1].
inline Transform imagenet10_test_transform() {
  Transform t;
  t.out_h = t.out_w = 128;
  t.resize_shorter = 144;
  t.resample.interpolation = Interpolation::bilinear;
  return t;
}

/// torchvision's RandomResizedCrop.get_params for an h×w image: up to max_tries draws of an area
/// fraction U(scale_min, scale_max) and an aspect ratio exp(U(log ratio_min, log ratio_max)),
/// w' = round(√(area·ratio)), h' = round(√(area/ratio)); the first that fits is placed uniformly;
/// else the center crop of the largest box whose ratio is clamped to [ratio_min, ratio_max].
inline CropBox random_resized_crop_box(int h, int w, const Transform& t, std::mt19937_64& g) {
  require(h > 0 && w > 0, "random_resized_crop_box: bad image size ", h, "x", w);
  require(0 < t.scale_min && t.scale_min <= t.scale_max && 0 < t.ratio_min && t.ratio_min <= t.ratio_max,
          "random_resized_crop_box: bad scale [", t.scale_min, ", ", t.scale_max, "] or ratio [", t.ratio_min, ", ",
          t.ratio_max, "]");
  const double area = double(h) * double(w);
  const double log_lo = std::log(t.ratio_min), log_hi = std::log(t.ratio_max);
  for (int k = 0; k < t.max_tries; ++k) {
    const double target = area * detail::uniform(g, t.scale_min, t.scale_max);
    const double ratio = std::exp(detail::uniform(g, log_lo, log_hi));
    const int cw = static_cast<int>(std::nearbyint(std::sqrt(target * ratio)));
    const int chh = static_cast<int>(std::nearbyint(std::sqrt(target / ratio)));
    if (0 < cw && cw <= w && 0 < chh && chh <= h) {
      CropBox b;
      b.height = chh;
      b.width = cw;
      b.top = static_cast<int>(detail::below(g, std::uint64_t(h - chh + 1)));
      b.left = static_cast<int>(detail::below(g, std::uint64_t(w - cw + 1)));
      return b;
    }
  }
  CropBox b;
  const double in_ratio = double(w) / double(h);
  if (in_ratio < t.ratio_min) {
    b.width = w;
    b.height = static_cast<int>(std::nearbyint(w / t.ratio_min));
  } else if (in_ratio > t.ratio_max) {
    b.height = h;
    b.width = static_cast<int>(std::nearbyint(h * t.ratio_max));
  } else {
    b.width = w;
    b.height = h;
  }
  b.top = (h - b.height) / 2;
  b.left = (w - b.width) / 2;
  return b;
}

/// The output {height, width} of `t` for an h×w input. Throws structgan::Error if a center crop
/// does not fit.
inline std::pair<int, int> output_size(const Transform& t, int h, int w) {
  require(h > 0 && w > 0, "output_size: bad image size ", h, "x", w);
  require(t.out_h >= 0 && t.out_w >= 0 && t.resize_shorter >= 0, "Transform: negative sizes");
  if (t.random_resized_crop) return {t.out_h > 0 ? t.out_h : h, t.out_w > 0 ? t.out_w : w};
  int rh = h, rw = w;
  if (t.resize_shorter > 0) std::tie(rh, rw) = shorter_side_size(h, w, t.resize_shorter);
  const int oh = t.out_h > 0 ? t.out_h : rh, ow = t.out_w > 0 ? t.out_w : rw;
  require(oh <= rh && ow <= rw, "Transform: center crop ", oh, "x", ow, " does not fit the ", rh, "x", rw,
          " image (input ", h, "x", w, ")");
  return {oh, ow};
}

/// Maps n bytes to floats x/127.5 − 1 (0 → −1, 255 → 1 exactly; always within [−1, 1]).
inline void to_signed_unit(const std::uint8_t* src, std::size_t n, float* dst) {
  static const auto table = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[std::size_t(v)] = static_cast<float>(v) / 127.5f - 1.0f;
    return t;
  }();
  for (std::size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
}

/// Mirrors each row of a C×H×W float image in place.
inline void flip_horizontal(float* img, int c, int h, int w) {
  for (std::size_t r = 0; r < std::size_t(c) * std::size_t(h); ++r) std::reverse(img + r * w, img + (r + 1) * w);
}

/// Applies `t` to the C×H×W uint8 image `src`, writing C×out_h×out_w floats in [−1, 1] to `dst`
/// (sizes from output_size). Draws from `g`: the crop (when random_resized_crop), then always one
/// uniform for the flip, so that flip_p changes no other draw.
inline void transform_image(const Transform& t, const std::uint8_t* src, int c, int h, int w, float* dst,
                            std::mt19937_64& g) {
  require(c > 0, "transform_image: bad channel count ", c);
  const auto [oh, ow] = output_size(t, h, w);
  const std::size_t n = std::size_t(c) * std::size_t(oh) * std::size_t(ow);
  std::vector<std::uint8_t> tmp;
  const std::uint8_t* img = src;
  if (t.random_resized_crop) {
    const CropBox b = random_resized_crop_box(h, w, t, g);
    tmp.resize(n);
    resized_crop(src, c, h, w, b, oh, ow, tmp.data(), t.resample);
    img = tmp.data();
  } else if (t.resize_shorter > 0 || oh != h || ow != w) {
    tmp.resize(n);
    resize_center_crop(src, c, h, w, t.resize_shorter, oh, ow, tmp.data(), t.resample);
    img = tmp.data();
  }
  to_signed_unit(img, n, dst);
  if (detail::uniform01(g) < t.flip_p) flip_horizontal(dst, c, oh, ow);
}

}  // namespace structgan::data
