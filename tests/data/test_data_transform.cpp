#define BOOST_TEST_MODULE test_data_transform
#include <boost/test/unit_test.hpp>

#include "structgan/data/transform.hpp"

#include <cmath>

#include "data_test_util.hpp"

using namespace structgan::data;

namespace {

std::vector<float> run(const Transform& t, const std::vector<std::uint8_t>& src, int c, int h, int w,
                       std::uint64_t seed) {
  const auto [oh, ow] = output_size(t, h, w);
  std::vector<float> out(std::size_t(c) * oh * ow, 99.0f);
  std::mt19937_64 g(seed);
  transform_image(t, src.data(), c, h, w, out.data(), g);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(output_shapes) {
  BOOST_TEST((output_size(train_transform(32), 32, 32) == std::make_pair(32, 32)));
  BOOST_TEST((output_size(train_transform(32), 40, 57) == std::make_pair(32, 32)));
  BOOST_TEST((output_size(train_transform(128), 144, 144) == std::make_pair(128, 128)));
  BOOST_TEST((output_size(cifar_test_transform(), 32, 32) == std::make_pair(32, 32)));
  BOOST_TEST((output_size(imagenet10_test_transform(), 375, 500) == std::make_pair(128, 128)));
  BOOST_TEST((output_size(imagenet10_test_transform(), 144, 144) == std::make_pair(128, 128)));
  Transform crop;
  crop.out_h = crop.out_w = 40;
  BOOST_CHECK_THROW(output_size(crop, 32, 32), structgan::Error);  // a center crop larger than the image
  const auto src = test_util::random_bytes(3 * 40 * 57, 2);
  const auto out = run(train_transform(32), src, 3, 40, 57, 1);
  BOOST_TEST(out.size() == 3u * 32 * 32);
  for (float v : out) BOOST_REQUIRE(v != 99.0f);  // every element written
}

BOOST_AUTO_TEST_CASE(values_in_unit_range) {
  // A checkerboard of 0 and 255 makes bicubic ring as far as it can; the output still stays in [−1, 1].
  const int c = 3, h = 24, w = 24;
  std::vector<std::uint8_t> src(std::size_t(c) * h * w);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = ((i % w + i / w) % 2) ? 255 : 0;
  bool saw_min = false, saw_max = false;
  for (std::uint64_t seed = 0; seed < 50; ++seed)
    for (float v : run(train_transform(32), src, c, h, w, seed)) {
      BOOST_REQUIRE(v >= -1.0f);
      BOOST_REQUIRE(v <= 1.0f);
      saw_min |= v == -1.0f;
      saw_max |= v == 1.0f;
    }
  BOOST_TEST(saw_min);
  BOOST_TEST(saw_max);
  float lo = 0, hi = 0;
  std::vector<std::uint8_t> ends{0, 255, 128, 127};
  std::vector<float> f(4);
  to_signed_unit(ends.data(), 4, f.data());
  BOOST_TEST(f[0] == -1.0f);
  BOOST_TEST(f[1] == 1.0f);
  lo = f[3], hi = f[2];
  BOOST_TEST(lo < 0.0f);
  BOOST_TEST(hi > 0.0f);
}

BOOST_AUTO_TEST_CASE(test_transforms) {
  const int c = 3, h = 32, w = 32;
  const auto src = test_util::random_bytes(std::size_t(c) * h * w, 3);
  const auto out = run(cifar_test_transform(), src, c, h, w, 0);
  for (std::size_t i = 0; i < src.size(); ++i) BOOST_REQUIRE(out[i] == src[i] / 127.5f - 1.0f);
  // ImageNet-10 on a stored 144×144 image: exactly its center 128×128 (offset 8).
  const auto big = test_util::random_bytes(3 * 144 * 144, 4);
  const auto o2 = run(imagenet10_test_transform(), big, 3, 144, 144, 0);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 128; ++y)
      for (int x = 0; x < 128; ++x)
        BOOST_REQUIRE(o2[(std::size_t(k) * 128 + y) * 128 + x] ==
                      big[(std::size_t(k) * 144 + y + 8) * 144 + x + 8] / 127.5f - 1.0f);
  // ... and on a 150×200 image: resize the shorter side to 144 then the center crop.
  const auto odd = test_util::random_bytes(3 * 150 * 200, 5);
  const auto o3 = run(imagenet10_test_transform(), odd, 3, 150, 200, 0);
  std::vector<std::uint8_t> ref(3 * 128 * 128);
  resize_center_crop(odd.data(), 3, 150, 200, 144, 128, 128, ref.data(), {Interpolation::bilinear, -0.75});
  for (std::size_t i = 0; i < ref.size(); ++i) BOOST_REQUIRE(o3[i] == ref[i] / 127.5f - 1.0f);
}

BOOST_AUTO_TEST_CASE(flip_is_an_exact_mirror) {
  const int c = 3, h = 20, w = 28;
  const auto src = test_util::random_bytes(std::size_t(c) * h * w, 6);
  Transform t = train_transform(24);
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    t.flip_p = 0.0;
    const auto a = run(t, src, c, h, w, seed);
    t.flip_p = 1.0;
    const auto b = run(t, src, c, h, w, seed);
    for (int r = 0; r < c * 24; ++r)
      for (int x = 0; x < 24; ++x) BOOST_REQUIRE(a[std::size_t(r) * 24 + x] == b[std::size_t(r) * 24 + 23 - x]);
  }
  // p = 0.5: about half of the draws flip.
  t.flip_p = 0.5;
  int flipped = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    std::mt19937_64 g(seed);
    random_resized_crop_box(h, w, t, g);
    flipped += detail::uniform01(g) < 0.5;
  }
  BOOST_TEST(flipped > 150);
  BOOST_TEST(flipped < 250);
}

BOOST_AUTO_TEST_CASE(crop_of_constant_image_is_constant) {
  const int c = 3, h = 32, w = 32;
  std::vector<std::uint8_t> src(std::size_t(c) * h * w, 77);
  for (std::uint64_t seed = 0; seed < 20; ++seed)
    for (float v : run(train_transform(32), src, c, h, w, seed)) BOOST_REQUIRE(v == 77 / 127.5f - 1.0f);
}

BOOST_AUTO_TEST_CASE(full_crop_without_flip_is_identity) {
  const int c = 3, h = 32, w = 32;
  const auto src = test_util::random_bytes(std::size_t(c) * h * w, 7);
  Transform t = train_transform(32);
  t.scale_min = t.scale_max = 1.0;
  t.ratio_min = t.ratio_max = 1.0;
  t.flip_p = 0.0;
  const auto out = run(t, src, c, h, w, 123);
  for (std::size_t i = 0; i < src.size(); ++i) BOOST_REQUIRE(out[i] == src[i] / 127.5f - 1.0f);
}

BOOST_AUTO_TEST_CASE(determinism_and_seeds) {
  const int c = 3, h = 32, w = 32;
  const auto src = test_util::random_bytes(std::size_t(c) * h * w, 8);
  const Transform t = train_transform(32);
  BOOST_TEST(run(t, src, c, h, w, 42) == run(t, src, c, h, w, 42));
  int differ = 0;
  for (std::uint64_t s = 0; s < 10; ++s) differ += run(t, src, c, h, w, s) != run(t, src, c, h, w, s + 100);
  BOOST_TEST(differ == 10);
}

BOOST_AUTO_TEST_CASE(random_resized_crop_box_follows_its_distribution) {
  Transform t = train_transform(32);
  const int h = 64, w = 64;  // square: rejections do not favour either orientation
  double min_scale = 1e9, max_scale = 0, min_ratio = 1e9, max_ratio = 0, mean_log_ratio = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    std::mt19937_64 g(static_cast<std::uint64_t>(i));
    const CropBox b = random_resized_crop_box(h, w, t, g);
    BOOST_REQUIRE(b.top >= 0);
    BOOST_REQUIRE(b.left >= 0);
    BOOST_REQUIRE(b.top + b.height <= h);
    BOOST_REQUIRE(b.left + b.width <= w);
    const double scale = double(b.height) * b.width / (h * w), ratio = double(b.width) / b.height;
    min_scale = std::min(min_scale, scale);
    max_scale = std::max(max_scale, scale);
    min_ratio = std::min(min_ratio, ratio);
    max_ratio = std::max(max_ratio, ratio);
    mean_log_ratio += std::log(ratio) / n;
  }
  // Rounding w', h' to integers moves scale and ratio a little past their bounds.
  BOOST_TEST(min_scale > 0.45);
  BOOST_TEST(min_scale < 0.52);
  BOOST_TEST(max_scale <= 1.0);
  BOOST_TEST(max_scale > 0.95);
  BOOST_TEST(min_ratio > 0.70);
  BOOST_TEST(max_ratio < 1.40);
  BOOST_TEST(std::abs(mean_log_ratio) < 0.02);  // log-uniform on a symmetric interval: mean 0
}

BOOST_AUTO_TEST_CASE(center_crop_fallback) {
  // A 1×100 strip: no crop of area ≥ 50 with ratio in [3/4, 4/3] fits, so after 10 tries the
  // fallback takes the center box of height 1 and width round(1·4/3) = 1.
  Transform t = train_transform(8);
  std::mt19937_64 g(1);
  const CropBox b = random_resized_crop_box(1, 100, t, g);
  BOOST_TEST(b.height == 1);
  BOOST_TEST(b.width == 1);
  BOOST_TEST(b.top == 0);
  BOOST_TEST(b.left == 49);
  // A square image with an impossible scale (never fits) falls back to the whole image.
  t.scale_min = t.scale_max = 1.5;
  const CropBox full = random_resized_crop_box(30, 30, t, g);
  BOOST_TEST(full.height == 30);
  BOOST_TEST(full.width == 30);
  BOOST_TEST(full.top == 0);
  BOOST_TEST(full.left == 0);
}
