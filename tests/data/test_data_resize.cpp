#define BOOST_TEST_MODULE test_data_resize
#include <boost/test/unit_test.hpp>

#include "structgan/data/resize.hpp"

#include "data_test_util.hpp"

using namespace structgan::data;

namespace {
const ResampleOptions bicubic{Interpolation::bicubic, -0.75};
const ResampleOptions bilinear{Interpolation::bilinear, -0.75};
}  // namespace

BOOST_AUTO_TEST_CASE(same_size_is_identity) {
  const int c = 3, h = 11, w = 17;
  const auto src = test_util::random_bytes(std::size_t(c) * h * w, 1);
  for (const auto& o : {bicubic, bilinear, ResampleOptions{Interpolation::bicubic, -0.5}}) {
    std::vector<std::uint8_t> dst(src.size(), 0);
    resample(src.data(), c, h, w, Box{0, 0, double(w), double(h)}, h, w, dst.data(), o);
    BOOST_TEST(dst == src);
    // The same through the computing path: an integer crop box of the same size is a copy of it.
    std::vector<std::uint8_t> crop(std::size_t(c) * 5 * 7);
    resample(src.data(), c, h, w, Box{3, 2, 7, 5}, 5, 7, crop.data(), o);
    for (int k = 0; k < c; ++k)
      for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 7; ++x)
          BOOST_REQUIRE(crop[(std::size_t(k) * 5 + y) * 7 + x] == src[(std::size_t(k) * h + y + 2) * w + x + 3]);
  }
}

BOOST_AUTO_TEST_CASE(constant_image_stays_constant) {
  const int c = 2, h = 13, w = 9;
  std::vector<std::uint8_t> src(std::size_t(c) * h * w, 201);
  for (const auto& o : {bicubic, bilinear})
    for (auto [oh, ow] : {std::pair{32, 32}, std::pair{4, 3}, std::pair{13, 40}}) {
      std::vector<std::uint8_t> dst(std::size_t(c) * oh * ow, 0);
      resample(src.data(), c, h, w, Box{1.5, 0.25, 6.0, 11.5}, oh, ow, dst.data(), o);
      for (auto v : dst) BOOST_REQUIRE(v == 201);
    }
}

BOOST_AUTO_TEST_CASE(kernels) {
  BOOST_TEST(detail::filter_value(bicubic, 0.0) == 1.0);
  BOOST_TEST(detail::filter_value(bicubic, 1.0) == 0.0);
  BOOST_TEST(detail::filter_value(bicubic, 2.0) == 0.0);
  // Keys' kernel with a = −0.75 at 0.5: (a+2)/8 − (a+3)/4 + 1 = 0.59375
  BOOST_TEST(detail::filter_value(bicubic, 0.5) == 0.59375, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(detail::filter_value(bicubic, 1.5) == -0.09375, boost::test_tools::tolerance(1e-12));
  // partition of unity: shifts sum to one
  for (double x : {0.1, 0.37, 0.5, 0.93}) {
    double s = 0;
    for (int k = -2; k <= 2; ++k) s += detail::filter_value(bicubic, x + k);
    BOOST_TEST(s == 1.0, boost::test_tools::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(antialiased_downscale_matches_hand_computed_pil_values) {
  // One row [0, 100, 200, 255] halved with PIL's antialiased bilinear: the triangle widens to
  // support 2; output 0 weights (.75, .75, .25) on x = 0..2, output 1 (.25, .75, .75) on x = 1..3.
  const std::vector<std::uint8_t> src{0, 100, 200, 255};
  std::vector<std::uint8_t> dst(2);
  resample(src.data(), 1, 1, 4, Box{0, 0, 4, 1}, 1, 2, dst.data(), bilinear);
  BOOST_TEST(int(dst[0]) == 71);   // (75 + 50) / 1.75 = 71.43
  BOOST_TEST(int(dst[1]) == 209);  // (25 + 150 + 191.25) / 1.75 = 209.29
  // Upscaling by 2 with bilinear: output centers at 0.25, 0.75, …; interior values interpolate.
  std::vector<std::uint8_t> up(8);
  resample(src.data(), 1, 1, 4, Box{0, 0, 4, 1}, 1, 8, up.data(), bilinear);
  BOOST_TEST(int(up[0]) == 0);    // clamped edge: weights (1) on x=0 after normalization
  BOOST_TEST(int(up[1]) == 25);   // 0.75·0 + 0.25·100
  BOOST_TEST(int(up[2]) == 75);   // 0.25·0 + 0.75·100
  BOOST_TEST(int(up[7]) == 255);
}

BOOST_AUTO_TEST_CASE(bicubic_overshoot_is_clamped) {
  // A hard edge 0|255 upscaled with bicubic rings past 0 and 255: values are clamped to 8 bits.
  std::vector<std::uint8_t> src{0, 0, 0, 255, 255, 255};
  std::vector<std::uint8_t> up(24);
  resample(src.data(), 1, 1, 6, Box{0, 0, 6, 1}, 1, 24, up.data(), bicubic);
  BOOST_TEST(int(up.front()) == 0);
  BOOST_TEST(int(up.back()) == 255);
  BOOST_TEST(std::is_sorted(up.begin(), up.end()));  // monotone after clamping
}

BOOST_AUTO_TEST_CASE(resize_center_crop_equals_resize_then_crop) {
  const int c = 3, h = 37, w = 50;
  const auto src = test_util::random_bytes(std::size_t(c) * h * w, 9);
  const int s = 20;
  const auto [rh, rw] = shorter_side_size(h, w, s);
  BOOST_TEST(rh == 20);
  BOOST_TEST(rw == 27);  // int(20·50/37) = 27
  std::vector<std::uint8_t> full(std::size_t(c) * rh * rw);
  resample(src.data(), c, h, w, Box{0, 0, double(w), double(h)}, rh, rw, full.data(), bilinear);
  std::vector<std::uint8_t> crop(std::size_t(c) * 16 * 16);
  resize_center_crop(src.data(), c, h, w, s, 16, 16, crop.data(), bilinear);
  const int top = center_offset(rh, 16), left = center_offset(rw, 16);
  BOOST_TEST(top == 2);
  BOOST_TEST(left == 6);  // round(5.5) = 6 (ties to even)
  int worst = 0;
  for (int k = 0; k < c; ++k)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x)
        worst = std::max(worst, std::abs(int(crop[(std::size_t(k) * 16 + y) * 16 + x]) -
                                         int(full[(std::size_t(k) * rh + y + top) * rw + x + left])));
  BOOST_TEST(worst == 0);
}

BOOST_AUTO_TEST_CASE(torchvision_sizes) {
  BOOST_TEST(shorter_side_size(375, 500, 144).first == 144);
  BOOST_TEST(shorter_side_size(375, 500, 144).second == 192);
  BOOST_TEST(shorter_side_size(500, 333, 144).first == 216);  // int(144·500/333) = 216
  BOOST_TEST(shorter_side_size(500, 333, 144).second == 144);
  BOOST_TEST(center_offset(144, 128) == 8);
  BOOST_TEST(center_offset(145, 128) == 8);  // round(8.5) = 8, as Python's round
  BOOST_TEST(center_offset(147, 128) == 10);  // round(9.5) = 10
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
  std::vector<std::uint8_t> src(12), dst(12);
  BOOST_CHECK_THROW(resample(src.data(), 1, 3, 4, Box{0, 0, 5, 3}, 3, 4, dst.data()), structgan::Error);
  BOOST_CHECK_THROW(resample(src.data(), 1, 3, 4, Box{0, 0, 0, 3}, 3, 4, dst.data()), structgan::Error);
  BOOST_CHECK_THROW(resize_center_crop(src.data(), 1, 3, 4, 0, 4, 4, dst.data()), structgan::Error);
}
