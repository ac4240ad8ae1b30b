#pragma once
/// \file Resampling of uint8 images the way PIL (and so torchvision on PIL images) does it:
/// separable, antialiased when shrinking (the filter widens by the scale), horizontal pass then
/// vertical pass, each rounded to 8 bits.
///
/// \code
/// // 32×32 RGB → the box (4, 2, 20, 24) of it resized to 32×32, bicubic:
/// structgan::data::resample(src, 3, 32, 32, {4, 2, 20, 24}, 32, 32, dst);
/// \endcode
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan::data {

/// Interpolation filters (PIL's names).
enum class Interpolation { bilinear, bicubic };

/// A region of the source image in pixel units: [left, left + width) × [top, top + height).
struct Box {
  double left = 0, top = 0, width = 0, height = 0;
};

/// Filter settings: which kernel, and the cubic kernel's parameter a. The default −0.5 is PIL's,
/// which is what the released code gets through torchvision on PIL images (SPEC: the released
/// code's choice is the default); −0.75 matches OpenCV and torch's tensor interpolation.
struct ResampleOptions {
  Interpolation interpolation = Interpolation::bicubic;
  double cubic_a = -0.5;
};

namespace detail {

/// The kernel's value at x and its support radius.
inline double filter_value(const ResampleOptions& o, double x) {
  x = std::fabs(x);
  if (o.interpolation == Interpolation::bilinear) return x < 1.0 ? 1.0 - x : 0.0;
  const double a = o.cubic_a;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}
inline double filter_support(const ResampleOptions& o) { return o.interpolation == Interpolation::bilinear ? 1.0 : 2.0; }

/// Normalized weights of each output pixel over a window of input pixels (PIL's precompute_coeffs).
struct Coeffs {
  int ksize = 0;
  std::vector<int> first;    ///< first input index of output i
  std::vector<int> count;    ///< number of input pixels of output i
  std::vector<double> w;     ///< out × ksize weights
};

inline Coeffs resample_coeffs(int in_size, double in0, double in1, int out_size, const ResampleOptions& o) {
  const double scale = (in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support(o) * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<std::size_t>(out_size));
  c.count.resize(static_cast<std::size_t>(out_size));
  c.w.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(c.ksize), 0.0);
  for (int i = 0; i < out_size; ++i) {
    const double center = in0 + (i + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    if (xmax < 0) xmax = 0;
    xmax = std::min(xmax, c.ksize);
    double* k = c.w.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(c.ksize);
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter_value(o, (x + xmin - center + 0.5) / filterscale);
      sum += k[x];
    }
    if (sum != 0.0)
      for (int x = 0; x < xmax; ++x) k[x] /= sum;
    c.first[static_cast<std::size_t>(i)] = xmin;
    c.count[static_cast<std::size_t>(i)] = xmax;
  }
  return c;
}

inline std::uint8_t round_to_u8(double v) {
  if (!(v > 0.0)) return 0;  // also NaN
  if (v >= 254.5) return 255;
  return static_cast<std::uint8_t>(v + 0.5);
}

}  // namespace detail

/// Resamples `box` of the C×H×W uint8 image `src` to C×out_h×out_w into `dst` (PIL's
/// Image.resize(size, filter, box)): antialiased when shrinking, rounded to 8 bits after each pass.
/// Resampling the whole image to its own size is the identity.
/// Requires c, h, w, out_h, out_w > 0, box inside [0, w]×[0, h] with positive size, dst not
/// overlapping src. Throws structgan::Error otherwise.
inline void resample(const std::uint8_t* src, int c, int h, int w, const Box& box, int out_h, int out_w,
                     std::uint8_t* dst, const ResampleOptions& options = {}) {
  require(c > 0 && h > 0 && w > 0 && out_h > 0 && out_w > 0, "resample: bad sizes ", c, "x", h, "x", w, " -> ", out_h,
          "x", out_w);
  require(box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0 && box.left + box.width <= w + 1e-9 &&
              box.top + box.height <= h + 1e-9,
          "resample: box (", box.left, ", ", box.top, ", ", box.width, ", ", box.height, ") is not inside the ", w, "x",
          h, " image");
  const bool horizontal = out_w != w || box.left != 0 || box.width != w;
  const bool vertical = out_h != h || box.top != 0 || box.height != h;
  const std::size_t plane = std::size_t(h) * std::size_t(w);
  const std::size_t out_plane = std::size_t(out_h) * std::size_t(out_w);
  if (!horizontal && !vertical) {
    std::copy(src, src + std::size_t(c) * plane, dst);
    return;
  }
  const detail::Coeffs cv = detail::resample_coeffs(h, box.top, box.top + box.height, out_h, options);
  const detail::Coeffs ch = detail::resample_coeffs(w, box.left, box.left + box.width, out_w, options);
  // Rows the vertical pass reads.
  int y0 = 0, y1 = h;
  if (vertical) {
    y0 = h;
    y1 = 0;
    for (int i = 0; i < out_h; ++i) {
      y0 = std::min(y0, cv.first[std::size_t(i)]);
      y1 = std::max(y1, cv.first[std::size_t(i)] + cv.count[std::size_t(i)]);
    }
    if (y1 < y0) y1 = y0;
  } else {
    y0 = static_cast<int>(box.top);
    y1 = y0 + out_h;
  }
  const int rows = y1 - y0;
  const int mid_w = horizontal ? out_w : w;
  std::vector<std::uint8_t> mid;
  if (horizontal) mid.resize(std::size_t(rows) * std::size_t(mid_w));
  for (int ch_i = 0; ch_i < c; ++ch_i) {
    const std::uint8_t* s = src + std::size_t(ch_i) * plane;
    std::uint8_t* d = dst + std::size_t(ch_i) * out_plane;
    // The image the vertical pass reads: `rows` rows of `mid_w` columns, row 0 = source row y0.
    const std::uint8_t* m = s + std::size_t(y0) * std::size_t(w);
    if (horizontal) {
      std::uint8_t* out = vertical ? mid.data() : d;
      for (int y = 0; y < rows; ++y) {
        const std::uint8_t* row = s + std::size_t(y0 + y) * std::size_t(w);
        for (int x = 0; x < out_w; ++x) {
          const double* k = ch.w.data() + std::size_t(x) * std::size_t(ch.ksize);
          const std::uint8_t* p = row + ch.first[std::size_t(x)];
          double acc = 0.0;
          for (int t = 0; t < ch.count[std::size_t(x)]; ++t) acc += k[t] * p[t];
          out[std::size_t(y) * std::size_t(out_w) + std::size_t(x)] = detail::round_to_u8(acc);
        }
      }
      if (!vertical) continue;
      m = mid.data();
    }
    for (int y = 0; y < out_h; ++y) {
      const double* k = cv.w.data() + std::size_t(y) * std::size_t(cv.ksize);
      const int first = cv.first[std::size_t(y)] - y0;
      for (int x = 0; x < out_w; ++x) {
        double acc = 0.0;
        for (int t = 0; t < cv.count[std::size_t(y)]; ++t)
          acc += k[t] * m[std::size_t(first + t) * std::size_t(mid_w) + std::size_t(x)];
        d[std::size_t(y) * std::size_t(out_w) + std::size_t(x)] = detail::round_to_u8(acc);
      }
    }
  }
}

/// The size torchvision's Resize(s) gives an h×w image: the shorter side becomes s, the longer
/// one int(s·long/short). Returns {height, width}.
inline std::pair<int, int> shorter_side_size(int h, int w, int s) {
  require(h > 0 && w > 0 && s > 0, "shorter_side_size: bad sizes ", h, "x", w, " -> ", s);
  if (h <= w) return {s, static_cast<int>(static_cast<long long>(s) * w / h)};
  return {static_cast<int>(static_cast<long long>(s) * h / w), s};
}

/// torchvision's center-crop offset of `crop` in `size`: round((size − crop)/2), ties to even.
inline int center_offset(int size, int crop) { return static_cast<int>(std::nearbyint((size - crop) / 2.0)); }

/// Resizes the shorter side of a C×H×W image to `resize` and center-crops crop_h×crop_w of the
/// result (torchvision Resize(resize) then CenterCrop), in one resampling pass of the matching
/// source box: the same values as resizing the whole image and cropping. `resize` ≤ 0 skips the
/// resize. Requires the crop to fit. Throws structgan::Error otherwise.
inline void resize_center_crop(const std::uint8_t* src, int c, int h, int w, int resize, int crop_h, int crop_w,
                               std::uint8_t* dst, const ResampleOptions& options = {}) {
  int rh = h, rw = w;
  if (resize > 0) std::tie(rh, rw) = shorter_side_size(h, w, resize);
  require(crop_h > 0 && crop_w > 0 && crop_h <= rh && crop_w <= rw, "resize_center_crop: crop ", crop_h, "x", crop_w,
          " does not fit the resized ", rh, "x", rw, " image");
  const int top = center_offset(rh, crop_h), left = center_offset(rw, crop_w);
  const double sy = double(h) / rh, sx = double(w) / rw;
  const Box box{left * sx, top * sy, crop_w * sx, crop_h * sy};
  if (rh == h && rw == w) {  // crop only: copy rows
    for (int k = 0; k < c; ++k)
      for (int y = 0; y < crop_h; ++y) {
        const std::uint8_t* s = src + (std::size_t(k) * h + std::size_t(top + y)) * std::size_t(w) + std::size_t(left);
        std::copy(s, s + crop_w, dst + (std::size_t(k) * crop_h + std::size_t(y)) * std::size_t(crop_w));
      }
    return;
  }
  resample(src, c, h, w, box, crop_h, crop_w, dst, options);
}

}  // namespace structgan::data
