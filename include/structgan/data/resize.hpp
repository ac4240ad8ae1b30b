#pragma once
/// \file Resampling of uint8 images the way PIL 9 (and so torchvision 0.14 on PIL images, the
/// released code's pipeline) does it, bit for bit: PIL's kernels (bicubic a = −0.5, bilinear),
/// antialiased when shrinking (the support widens by the scale), horizontal pass then vertical
/// pass, each in PIL's 22-bit fixed point and rounded to 8 bits (libImaging/Resample.c).
/// tests/data/test_data_pil_reference.cpp compares it with torchvision's output.
///
/// \code
/// // 32×32 RGB → the crop (top 2, left 4, 24×20) of it resized to 32×32, bicubic
/// // (torchvision's F.resized_crop(img, 2, 4, 24, 20, [32, 32], BICUBIC)):
/// structgan::data::resized_crop(src, 3, 32, 32, {2, 4, 24, 20}, 32, 32, dst);
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

/// A crop rectangle in whole pixels (torchvision's i, j, h, w).
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

/// Filter settings: which kernel, and the cubic kernel's parameter a. The default −0.5 is PIL's,
/// which is what the released code gets through torchvision on PIL images (SPEC: the released
/// code's choice is the default); −0.75 matches OpenCV and torch's tensor interpolation.
struct ResampleOptions {
  Interpolation interpolation = Interpolation::bicubic;
  double cubic_a = -0.5;
};

namespace detail {

/// The kernel's value at x (PIL's bilinear_filter and bicubic_filter).
inline double filter_value(const ResampleOptions& o, double x) {
  if (x < 0.0) x = -x;
  if (o.interpolation == Interpolation::bilinear) return x < 1.0 ? 1.0 - x : 0.0;
  const double a = o.cubic_a;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}
inline double filter_support(const ResampleOptions& o) { return o.interpolation == Interpolation::bilinear ? 1.0 : 2.0; }

/// PIL's PRECISION_BITS for 8-bit images: weights are integers scaled by 2^22.
constexpr int kPrecisionBits = 32 - 8 - 2;

/// Weights of each output pixel over a window of input pixels (PIL's precompute_coeffs, then
/// normalize_coeffs_8bpc). `first` indexes the full input axis.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first;         ///< first input index of output i
  std::vector<int> count;         ///< number of input pixels of output i
  std::vector<std::int32_t> w;    ///< out × ksize fixed-point weights
};

/// Coefficients of outputs [out0, out0 + n) of resampling [in0, in1) of an axis of in_size pixels
/// to out_size pixels, the input window starting at input index `offset` of the full axis (a crop).
/// The double arithmetic follows Resample.c operation for operation, so the integer weights agree.
inline Coeffs resample_coeffs(int in_size, double in0, double in1, int out_size, const ResampleOptions& o,
                              int offset = 0, int out0 = 0, int n = -1) {
  if (n < 0) n = out_size;
  const double scale = (in1 - in0) / out_size;
  double filterscale = scale;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = filter_support(o) * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<std::size_t>(n));
  c.count.resize(static_cast<std::size_t>(n));
  c.w.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(c.ksize), 0);
  std::vector<double> k(static_cast<std::size_t>(c.ksize));
  for (int i = 0; i < n; ++i) {
    const double center = in0 + (out0 + i + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    xmax = std::clamp(xmax, 0, c.ksize);
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[std::size_t(x)] = filter_value(o, (x + xmin - center + 0.5) * ss);
      ww += k[std::size_t(x)];
    }
    std::int32_t* kk = c.w.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(c.ksize);
    for (int x = 0; x < xmax; ++x) {
      double v = k[std::size_t(x)];
      if (ww != 0.0) v /= ww;
      // normalize_coeffs_8bpc: round half away from zero.
      kk[x] = static_cast<std::int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[static_cast<std::size_t>(i)] = xmin + offset;
    c.count[static_cast<std::size_t>(i)] = xmax;
  }
  return c;
}

/// PIL's clip8: the fixed-point sum (with its rounding half already added) to 0..255.
inline std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

/// The two passes of PIL's ImagingResampleInner over the coefficients of each axis; a pass that
/// is not needed (nullptr) takes the rows or columns [y_skip, …) / [x_skip, …) unchanged.
inline void resample_passes(const std::uint8_t* src, int c, int h, int w, const Coeffs* cv, int y_skip, int out_h,
                            const Coeffs* ch, int x_skip, int out_w, std::uint8_t* dst) {
  int y0 = y_skip, y1 = y_skip + out_h;  // source rows the vertical pass reads
  if (cv) {
    y0 = h;
    y1 = 0;
    for (int i = 0; i < out_h; ++i) {
      y0 = std::min(y0, cv->first[std::size_t(i)]);
      y1 = std::max(y1, cv->first[std::size_t(i)] + cv->count[std::size_t(i)]);
    }
    if (y1 < y0) y1 = y0;
  }
  const int rows = y1 - y0;
  const std::size_t plane = std::size_t(h) * std::size_t(w), out_plane = std::size_t(out_h) * std::size_t(out_w);
  std::vector<std::uint8_t> mid(ch && cv ? std::size_t(rows) * std::size_t(out_w) : 0);
  constexpr std::int32_t half = 1 << (kPrecisionBits - 1);
  for (int k = 0; k < c; ++k) {
    const std::uint8_t* s = src + std::size_t(k) * plane;
    std::uint8_t* d = dst + std::size_t(k) * out_plane;
    // What the vertical pass reads: `rows` rows, row r = source row y0 + r, columns from m_x0.
    const std::uint8_t* m = s + std::size_t(y0) * std::size_t(w);
    std::size_t m_stride = std::size_t(w);
    int m_x0 = x_skip;
    if (ch) {
      std::uint8_t* out = cv ? mid.data() : d;
      for (int y = 0; y < rows; ++y) {
        const std::uint8_t* row = s + std::size_t(y0 + y) * std::size_t(w);
        for (int x = 0; x < out_w; ++x) {
          const std::int32_t* kk = ch->w.data() + std::size_t(x) * std::size_t(ch->ksize);
          const std::uint8_t* p = row + ch->first[std::size_t(x)];
          std::int32_t acc = half;
          for (int t = 0; t < ch->count[std::size_t(x)]; ++t) acc += std::int32_t(p[t]) * kk[t];
          out[std::size_t(y) * std::size_t(out_w) + std::size_t(x)] = clip8(acc);
        }
      }
      if (!cv) continue;
      m = mid.data();
      m_stride = std::size_t(out_w);
      m_x0 = 0;
    }
    if (!cv) {  // neither pass: a plain crop
      for (int y = 0; y < out_h; ++y)
        std::copy_n(m + std::size_t(y) * m_stride + std::size_t(m_x0), out_w, d + std::size_t(y) * std::size_t(out_w));
      continue;
    }
    for (int y = 0; y < out_h; ++y) {
      const std::int32_t* kk = cv->w.data() + std::size_t(y) * std::size_t(cv->ksize);
      const std::uint8_t* col0 = m + std::size_t(cv->first[std::size_t(y)] - y0) * m_stride + std::size_t(m_x0);
      for (int x = 0; x < out_w; ++x) {
        std::int32_t acc = half;
        for (int t = 0; t < cv->count[std::size_t(y)]; ++t) acc += std::int32_t(col0[std::size_t(t) * m_stride + std::size_t(x)]) * kk[t];
        d[std::size_t(y) * std::size_t(out_w) + std::size_t(x)] = clip8(acc);
      }
    }
  }
}

}  // namespace detail

/// Resamples `box` of the C×H×W uint8 image `src` to C×out_h×out_w into `dst` (PIL's
/// Image.resize(size, filter, box)): the filter may read pixels outside the box (PIL clips only
/// at the image's edges). Resampling the whole image to its own size is the identity.
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
  // Resample.c's need_horizontal / need_vertical (with PIL's box given as x0, y0, x1, y1).
  const bool horizontal = out_w != w || box.left != 0 || box.left + box.width != out_w;
  const bool vertical = out_h != h || box.top != 0 || box.top + box.height != out_h;
  const detail::Coeffs cv = detail::resample_coeffs(h, box.top, box.top + box.height, out_h, options);
  const detail::Coeffs ch = detail::resample_coeffs(w, box.left, box.left + box.width, out_w, options);
  detail::resample_passes(src, c, h, w, vertical ? &cv : nullptr, 0, out_h, horizontal ? &ch : nullptr, 0, out_w, dst);
}

/// Crops `box` of the C×H×W image `src` and resizes the crop to out_h×out_w (torchvision's
/// F.resized_crop on a PIL image: crop, then Image.resize of the crop, so the filter never reads
/// outside the box). Requires the box inside the image. Throws structgan::Error otherwise.
inline void resized_crop(const std::uint8_t* src, int c, int h, int w, const CropBox& box, int out_h, int out_w,
                         std::uint8_t* dst, const ResampleOptions& options = {}) {
  require(c > 0 && h > 0 && w > 0 && out_h > 0 && out_w > 0, "resized_crop: bad sizes ", c, "x", h, "x", w, " -> ",
          out_h, "x", out_w);
  require(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 && box.top + box.height <= h &&
              box.left + box.width <= w,
          "resized_crop: box (top ", box.top, ", left ", box.left, ", ", box.height, "x", box.width,
          ") is not inside the ", h, "x", w, " image");
  const detail::Coeffs cv = detail::resample_coeffs(box.height, 0, box.height, out_h, options, box.top);
  const detail::Coeffs ch = detail::resample_coeffs(box.width, 0, box.width, out_w, options, box.left);
  detail::resample_passes(src, c, h, w, out_h != box.height ? &cv : nullptr, box.top, out_h,
                          out_w != box.width ? &ch : nullptr, box.left, out_w, dst);
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
/// result (torchvision Resize(resize) then CenterCrop), computing only the kept pixels with the
/// full resize's coefficients: the same bytes as resizing the whole image and cropping. `resize`
/// ≤ 0 skips the resize. Requires the crop to fit. Throws structgan::Error otherwise.
inline void resize_center_crop(const std::uint8_t* src, int c, int h, int w, int resize, int crop_h, int crop_w,
                               std::uint8_t* dst, const ResampleOptions& options = {}) {
  require(c > 0 && h > 0 && w > 0, "resize_center_crop: bad sizes ", c, "x", h, "x", w);
  int rh = h, rw = w;
  if (resize > 0) std::tie(rh, rw) = shorter_side_size(h, w, resize);
  require(crop_h > 0 && crop_w > 0 && crop_h <= rh && crop_w <= rw, "resize_center_crop: crop ", crop_h, "x", crop_w,
          " does not fit the resized ", rh, "x", rw, " image");
  const int top = center_offset(rh, crop_h), left = center_offset(rw, crop_w);
  const detail::Coeffs cv = detail::resample_coeffs(h, 0, h, rh, options, 0, top, crop_h);
  const detail::Coeffs ch = detail::resample_coeffs(w, 0, w, rw, options, 0, left, crop_w);
  detail::resample_passes(src, c, h, w, rh != h ? &cv : nullptr, top, crop_h, rw != w ? &ch : nullptr, left, crop_w,
                          dst);
}

}  // namespace structgan::data
