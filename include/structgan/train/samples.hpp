#pragma once
/// \file Sample grids: a batch of generated images (N×C×H×W in [−1, 1], C = 1 or 3) tiled into
/// one PNG (io/png.hpp); and 2-D generated points drawn over the data (the double spiral, paper
/// Fig. 2b). Nothing here needs the evaluation (eval/, LIBLINEAR).
///
/// \code
///   train::write_image_grid("samples/iter_000100.png", images);   // 8×8 tiles for 64 images
/// \endcode
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "structgan/core/image.hpp"
#include "structgan/core/tensor.hpp"
#include "structgan/io/png.hpp"

namespace structgan::train {

/// The images (N×C×H×W, values in [−1, 1], C = 1 gray or 3 RGB) tiled row by row, `columns` per
/// row (0: ⌈√N⌉), `scale`× enlarged, with a 2-pixel gray gap.
template <class T>
Image render_image_grid(const Tensor<T, Cpu>& images, int columns = 0, int scale = 2) {
  require(images.rank() == 4 && (images.dim(1) == 1 || images.dim(1) == 3) && images.dim(0) >= 1,
          "render_image_grid: needs N×1×H×W or N×3×H×W images, got ", images.shape());
  require(scale >= 1, "render_image_grid: scale must be ≥ 1");
  const int n = static_cast<int>(images.dim(0)), c = static_cast<int>(images.dim(1));
  const int h = static_cast<int>(images.dim(2)), w = static_cast<int>(images.dim(3));
  const int cols = columns > 0 ? columns : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int rows = (n + cols - 1) / cols, gap = 2;
  Image img(cols * (w * scale + gap) + gap, rows * (h * scale + gap) + gap, {128, 128, 128});
  auto byte = [](T v) {
    const double x = std::isfinite(static_cast<double>(v)) ? (static_cast<double>(v) + 1.0) * 127.5 : 0.0;
    return static_cast<std::uint8_t>(std::clamp(std::lround(x), 0L, 255L));
  };
  for (int i = 0; i < n; ++i) {
    const int x0 = gap + (i % cols) * (w * scale + gap), y0 = gap + (i / cols) * (h * scale + gap);
    const T* p = images.data() + static_cast<index_t>(i) * c * h * w;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        Rgb col;
        if (c == 1) col = {byte(p[y * w + x]), byte(p[y * w + x]), byte(p[y * w + x])};
        else col = {byte(p[y * w + x]), byte(p[h * w + y * w + x]), byte(p[2 * h * w + y * w + x])};
        img.fill_rect(x0 + x * scale, y0 + y * scale, scale, scale, col);
      }
  }
  return img;
}

/// render_image_grid then io::write_png.
template <class T>
void write_image_grid(const std::string& path, const Tensor<T, Cpu>& images, int columns = 0, int scale = 2) {
  io::write_png(path, render_image_grid(images, columns, scale));
}

/// Generated 2-D points (N×2, red) over reference points (M×2, gray), both in one frame fitted to
/// the reference: the double spiral's Figure 2b.
template <class T>
Image render_points_over(const Tensor<T, Cpu>& generated, const Eigen::MatrixXf& reference, int size = 640) {
  require(generated.rank() == 2 && generated.dim(1) == 2 && reference.cols() == 2 && reference.rows() >= 1,
          "render_points_over: needs N×2 and M×2 points, got ", generated.shape(), " and ", reference.rows(), "×",
          reference.cols());
  Image img(size, size);
  const float minx = reference.col(0).minCoeff(), maxx = reference.col(0).maxCoeff();
  const float miny = reference.col(1).minCoeff(), maxy = reference.col(1).maxCoeff();
  const double span = std::max<double>({maxx - minx, maxy - miny, 1e-6}) * 1.1;
  const double cx = 0.5 * (minx + maxx), cy = 0.5 * (miny + maxy), s = (size - 20) / span;
  auto px = [&](double x) { return size / 2.0 + (x - cx) * s; };
  auto py = [&](double y) { return size / 2.0 - (y - cy) * s; };
  for (Eigen::Index i = 0; i < reference.rows(); ++i) img.fill_disc(px(reference(i, 0)), py(reference(i, 1)), 1, {190, 190, 190});
  for (index_t i = 0; i < generated.dim(0); ++i) {
    const double x = static_cast<double>(generated.at(i, 0)), y = static_cast<double>(generated.at(i, 1));
    if (std::isfinite(x) && std::isfinite(y)) img.fill_disc(px(x), py(y), 1, {214, 39, 40});
  }
  img.frame(0, 0, size, size, {160, 160, 160});
  return img;
}

}  // namespace structgan::train
