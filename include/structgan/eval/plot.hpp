#pragma once
/// \file Scatter plots of 2-D embeddings (t-SNE), coloured by label with a legend, or by a 2-D palette
/// (the paper's Figure 2d), and line charts (accuracy against time), rendered into an Image
/// (core/image.hpp); io::write_png writes them:
/// \code
///   io::write_png("tsne.png", eval::render_label_scatter(eval::tsne(x), labels));
///   io::write_png("curve.png", eval::render_line_chart({{"k-means", {0, 60, 120}, {0.4, 0.55, 0.6}}}));
/// \endcode
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/core/image.hpp"
#include "structgan/eval/detail/common.hpp"
#include "structgan/eval/detail/font5x7.hpp"

namespace structgan::eval {

/// Width in pixels of `text` drawn with draw_text at `scale` (6·scale per character, less the last gap).
inline int text_width(const std::string& text, int scale = 1) {
  return text.empty() ? 0 : static_cast<int>(text.size()) * 6 * scale - scale;
}

/// Draws `text` with the built-in 5×7 font, top-left corner at (x, y), each font pixel a scale×scale square.
inline void draw_text(Image& img, int x, int y, const std::string& text, Rgb color, int scale = 1) {
  for (std::size_t k = 0; k < text.size(); ++k) {
    const std::uint8_t* g = detail::glyph5x7(text[k]);
    const int ox = x + static_cast<int>(k) * 6 * scale;
    for (int row = 0; row < 7; ++row)
      for (int col = 0; col < 5; ++col)
        if (g[row] & (0x10 >> col)) img.fill_rect(ox + col * scale, y + row * scale, scale, scale, color);
  }
}

/// Categorical colour number `i` (Tableau 10, then 10 more, then golden-angle hues).
inline Rgb label_color(int i) {
  static const Rgb table[20] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                                {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
                                {0, 0, 128},    {170, 110, 40},  {0, 128, 128},   {128, 0, 0},    {60, 180, 75},
                                {245, 130, 48}, {145, 30, 180},  {70, 240, 240},  {240, 50, 230}, {128, 128, 0}};
  if (i >= 0 && i < 20) return table[i];
  const double h = std::fmod(std::abs(static_cast<double>(i)) * 137.50776405, 360.0) / 60.0;
  const double s = 0.65, v = 0.85, c = v * s, x = c * (1 - std::abs(std::fmod(h, 2.0) - 1)), m = v - c;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h)) {
    case 0: r = c; g = x; break;
    case 1: r = x; g = c; break;
    case 2: g = c; b = x; break;
    case 3: g = x; b = c; break;
    case 4: r = x; b = c; break;
    default: r = c; b = x; break;
  }
  auto to8 = [&](double t) { return static_cast<std::uint8_t>(std::lround(255.0 * (t + m))); };
  return {to8(r), to8(g), to8(b)};
}

/// The 2-D palette (paper Fig. 2d): bilinear blend of four corner colours over (u, v) ∈ [0,1]²
/// (u left→right, v bottom→top): blue, green (bottom), red, yellow (top). Values are clamped to [0, 1].
inline Rgb palette_color(double u, double v) {
  u = std::clamp(u, 0.0, 1.0);
  v = std::clamp(v, 0.0, 1.0);
  const double c00[3] = {40, 80, 230}, c10[3] = {40, 200, 90}, c01[3] = {230, 40, 40}, c11[3] = {240, 220, 40};
  std::uint8_t out[3];
  for (int k = 0; k < 3; ++k) {
    const double t = (1 - u) * (1 - v) * c00[k] + u * (1 - v) * c10[k] + (1 - u) * v * c01[k] + u * v * c11[k];
    out[k] = static_cast<std::uint8_t>(std::lround(t));
  }
  return {out[0], out[1], out[2]};
}

/// Options of the scatter plots.
struct ScatterOptions {
  int plot_size = 720;                   ///< side of the square plot area in pixels
  int point_radius = 2;                  ///< disc radius in pixels
  std::string title;                     ///< drawn above the plot (5×7 font, upper case)
  std::vector<std::string> class_names;  ///< legend text per distinct label (sorted order); default: the label value
  std::uint64_t seed = 0;                ///< order in which points are drawn (shuffled, so no class hides another)
};

namespace detail {
struct PlotFrame {
  int x0, y0, size;
  double minx, miny, scale;
  double px(double x) const { return x0 + (x - minx) * scale; }
  double py(double y) const { return y0 + size - (y - miny) * scale; }
};
template <class Derived>
PlotFrame plot_frame(const Eigen::MatrixBase<Derived>& xy, int x0, int y0, int size, int pad) {
  const double minx = xy.col(0).minCoeff(), maxx = xy.col(0).maxCoeff();
  const double miny = xy.col(1).minCoeff(), maxy = xy.col(1).maxCoeff();
  const double span = std::max({maxx - minx, maxy - miny, 1e-12});
  PlotFrame f{x0, y0, size, 0, 0, (size - 2.0 * pad) / span};
  // centre the data in the square with equal scales on both axes
  f.minx = minx - (span - (maxx - minx)) / 2 - pad / f.scale;
  f.miny = miny - (span - (maxy - miny)) / 2 - pad / f.scale;
  return f;
}
template <class Derived>
void check_xy(const Eigen::MatrixBase<Derived>& xy, const char* where) {
  require(xy.rows() > 0 && xy.cols() == 2, where, ": expected an N×2 embedding, got ", xy.rows(), "x", xy.cols());
  require(xy.allFinite(), where, ": embedding contains NaN or Inf");
}
inline std::vector<Eigen::Index> draw_order(Eigen::Index n, std::uint64_t seed) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  Rng rng(seed);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}
}  // namespace detail

/// Scatter plot of xy (N×2) coloured by label, with a legend (colour square + name per class) on the right.
/// Requires: xy N×2 finite, labels.size() == N, class_names empty or one per distinct label. Throws structgan::Error.
template <class Derived>
Image render_label_scatter(const Eigen::MatrixBase<Derived>& xy, const std::vector<int>& labels,
                           const ScatterOptions& options = {}) {
  detail::check_xy(xy, "render_label_scatter");
  detail::require_labels(labels, xy.rows(), "render_label_scatter", "labels");
  require(options.plot_size >= 32 && options.point_radius >= 0, "render_label_scatter: bad plot_size/point_radius");
  const detail::CompactLabels cl = detail::compact_labels(labels);
  const std::size_t classes = cl.classes.size();
  require(options.class_names.empty() || options.class_names.size() == classes, "render_label_scatter: ",
          options.class_names.size(), " class names for ", classes, " classes");
  std::vector<std::string> names(classes);
  int name_w = 0;
  for (std::size_t c = 0; c < classes; ++c) {
    names[c] = options.class_names.empty() ? std::to_string(cl.classes[c]) : options.class_names[c];
    name_w = std::max(name_w, text_width(names[c], 2));
  }
  const int margin = 16, title_h = options.title.empty() ? 0 : 30, row_h = 22;
  const int legend_w = 16 + 14 + 8 + name_w + margin;
  const int height = std::max(options.plot_size + 2 * margin + title_h, title_h + margin + row_h * int(classes) + margin);
  Image img(margin + options.plot_size + legend_w, height);
  if (!options.title.empty()) draw_text(img, margin, margin - 4, options.title, {0, 0, 0}, 2);
  const int top = margin + title_h;
  img.frame(margin - 1, top - 1, options.plot_size + 2, options.plot_size + 2, {160, 160, 160});
  const detail::PlotFrame f = detail::plot_frame(xy, margin, top, options.plot_size, 8);
  for (Eigen::Index i : detail::draw_order(xy.rows(), options.seed))
    img.fill_disc(f.px(xy(i, 0)), f.py(xy(i, 1)), options.point_radius, label_color(cl.index[std::size_t(i)]));
  const int lx = margin + options.plot_size + 16;
  for (std::size_t c = 0; c < classes; ++c) {
    const int y = top + int(c) * row_h;
    img.fill_rect(lx, y, 14, 14, label_color(int(c)));
    draw_text(img, lx + 14 + 8, y, names[c], {0, 0, 0}, 2);
  }
  return img;
}

/// Scatter plot of xy (N×2) where point i takes palette_color of its position in `reference` (N×2, e.g. the
/// input 2-D data or another embedding), scaled to [0,1]² (paper Fig. 2d); the palette with the reference points
/// is drawn in the bottom-right corner. Requires both N×2 finite with the same N. Throws structgan::Error.
template <class D1, class D2>
Image render_palette_scatter(const Eigen::MatrixBase<D1>& xy, const Eigen::MatrixBase<D2>& reference,
                             const ScatterOptions& options = {}) {
  detail::check_xy(xy, "render_palette_scatter");
  detail::check_xy(reference, "render_palette_scatter (reference)");
  require(xy.rows() == reference.rows(), "render_palette_scatter: ", xy.rows(), " points but ", reference.rows(),
          " reference points");
  require(options.plot_size >= 64 && options.point_radius >= 0, "render_palette_scatter: bad plot_size/point_radius");
  const int margin = 16, title_h = options.title.empty() ? 0 : 30;
  const int inset = options.plot_size / 4;
  Image img(options.plot_size + 2 * margin + inset + margin, options.plot_size + 2 * margin + title_h);
  if (!options.title.empty()) draw_text(img, margin, margin - 4, options.title, {0, 0, 0}, 2);
  const int top = margin + title_h;
  img.frame(margin - 1, top - 1, options.plot_size + 2, options.plot_size + 2, {160, 160, 160});
  const double rx0 = reference.col(0).minCoeff(), rx1 = reference.col(0).maxCoeff();
  const double ry0 = reference.col(1).minCoeff(), ry1 = reference.col(1).maxCoeff();
  auto uv = [&](Eigen::Index i, double& u, double& v) {
    u = rx1 > rx0 ? (reference(i, 0) - rx0) / (rx1 - rx0) : 0.5;
    v = ry1 > ry0 ? (reference(i, 1) - ry0) / (ry1 - ry0) : 0.5;
  };
  const detail::PlotFrame f = detail::plot_frame(xy, margin, top, options.plot_size, 8);
  for (Eigen::Index i : detail::draw_order(xy.rows(), options.seed)) {
    double u, v;
    uv(i, u, v);
    img.fill_disc(f.px(xy(i, 0)), f.py(xy(i, 1)), options.point_radius, palette_color(u, v));
  }
  // the palette, bottom right, with the reference points as dark dots
  const int px0 = margin + options.plot_size + margin, py0 = top + options.plot_size - inset;
  for (int j = 0; j < inset; ++j)
    for (int i = 0; i < inset; ++i)
      img.set(px0 + i, py0 + j, palette_color(double(i) / (inset - 1), 1.0 - double(j) / (inset - 1)));
  for (Eigen::Index i = 0; i < reference.rows(); ++i) {
    double u, v;
    uv(i, u, v);
    img.set(px0 + int(std::lround(u * (inset - 1))), py0 + int(std::lround((1 - v) * (inset - 1))), {30, 30, 30});
  }
  img.frame(px0 - 1, py0 - 1, inset + 2, inset + 2, {160, 160, 160});
  return img;
}

/// One line of a line chart: points (x[i], y[i]) joined in order, drawn in label_color(index).
struct LineSeries {
  std::string name;       ///< legend text
  std::vector<double> x, y;
};

/// Options of render_line_chart. The axes span the data, widened to round tick steps, unless given
/// (x_min < x_max, y_min < y_max: then exactly that range, in `ticks` equal steps).
struct LineChartOptions {
  int plot_width = 640, plot_height = 400;  ///< the plot area in pixels
  std::string title, x_label, y_label;      ///< 5×7 font, upper case
  double x_min = 0, x_max = 0;              ///< x range (x_min ≥ x_max: the data's)
  double y_min = 0, y_max = 0;              ///< y range (y_min ≥ y_max: the data's)
  int ticks = 5;                            ///< about this many tick labels per axis (at least 2)
};

namespace detail {
/// A tick label: at most 4 significant digits, no trailing noise.
inline std::string tick_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", std::abs(v) < 1e-12 ? 0.0 : v);
  return b;
}
/// Tick values over [lo, hi]: with `fixed`, `ticks` equal steps of exactly that range; else a
/// step of 1, 2 or 5 × 10^k giving about `ticks` values, lo and hi widened to multiples of it.
inline std::vector<double> axis_ticks(double& lo, double& hi, int ticks, bool fixed) {
  std::vector<double> out;
  if (fixed) {
    for (int k = 0; k < ticks; ++k) out.push_back(lo + (hi - lo) * k / (ticks - 1));
    return out;
  }
  const double raw = (hi - lo) / (ticks - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;  // the nearest on a log scale
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  for (int k = 0; lo + k * step <= hi + step * 1e-6; ++k) out.push_back(lo + k * step);
  return out;
}
}  // namespace detail

/// A line chart of `series` (each with x and y of one length ≥ 1, finite): a framed plot area with
/// grid lines and tick labels on both axes, a line and a dot per point in each series' colour, and
/// a legend below the plot. Throws structgan::Error for empty, mismatched or non-finite input.
inline Image render_line_chart(const std::vector<LineSeries>& series, const LineChartOptions& options = {}) {
  require(!series.empty(), "render_line_chart: no series");
  require(options.plot_width >= 64 && options.plot_height >= 64 && options.ticks >= 2,
          "render_line_chart: bad plot size or tick count");
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  bool any = false;
  for (const LineSeries& s : series) {
    require(s.x.size() == s.y.size() && !s.x.empty(), "render_line_chart: series '", s.name, "' has ", s.x.size(),
            " x and ", s.y.size(), " y values (one each per point, at least one point)");
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      require(std::isfinite(s.x[i]) && std::isfinite(s.y[i]), "render_line_chart: series '", s.name,
              "' has a non-finite point ", i);
      if (!any) {
        x0 = x1 = s.x[i];
        y0 = y1 = s.y[i];
        any = true;
      }
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  }
  const bool x_fixed = options.x_min < options.x_max, y_fixed = options.y_min < options.y_max;
  if (x_fixed) x0 = options.x_min, x1 = options.x_max;
  if (y_fixed) y0 = options.y_min, y1 = options.y_max;
  if (x1 <= x0) x0 -= 0.5, x1 += 0.5;  // one point, or every value equal
  if (y1 <= y0) y0 -= 0.05, y1 += 0.05;
  const std::vector<double> xt = detail::axis_ticks(x0, x1, options.ticks, x_fixed);
  const std::vector<double> yt = detail::axis_ticks(y0, y1, options.ticks, y_fixed);
  int ytw = 0;
  for (double v : yt) ytw = std::max(ytw, text_width(detail::tick_text(v), 2));
  const int margin = 16, title_h = options.title.empty() ? 0 : 30, row_h = 22;
  // above the plot: the title, then the y label; below it: x tick labels, the x label, the legend
  const int left = margin + ytw + 8, top = margin + title_h + (options.y_label.empty() ? 0 : 28);
  const int below = 8 + 14 + (options.x_label.empty() ? 0 : 22) + 12;
  const int right_pad = std::max(margin, text_width(detail::tick_text(x1), 2) / 2 + 4);
  std::vector<int> entry_w(series.size());
  int legend_w = 0;
  for (std::size_t k = 0; k < series.size(); ++k) {
    entry_w[k] = 14 + 8 + text_width(series[k].name, 2);
    legend_w += entry_w[k] + (k + 1 < series.size() ? 24 : 0);
  }
  const int width = std::max(left + options.plot_width + right_pad, margin + legend_w + margin);
  Image img(width, top + options.plot_height + below + row_h + margin);
  const Rgb black{0, 0, 0}, grey{160, 160, 160}, light{230, 230, 230};
  if (!options.title.empty()) draw_text(img, margin, margin - 4, options.title, black, 2);
  if (!options.y_label.empty()) draw_text(img, margin, top - 28, options.y_label, black, 2);
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (options.plot_width - 1); };
  auto py = [&](double y) { return top + (options.plot_height - 1) - (y - y0) / (y1 - y0) * (options.plot_height - 1); };
  for (double v : yt) {  // grid lines and tick labels
    const int gy = static_cast<int>(std::lround(py(v)));
    img.fill_rect(left, gy, options.plot_width, 1, light);
    const std::string t = detail::tick_text(v);
    draw_text(img, left - 8 - text_width(t, 2), gy - 7, t, black, 2);
  }
  for (double v : xt) {
    const int gx = static_cast<int>(std::lround(px(v)));
    img.fill_rect(gx, top, 1, options.plot_height, light);
    const std::string t = detail::tick_text(v);
    draw_text(img, gx - text_width(t, 2) / 2, top + options.plot_height + 8, t, black, 2);
  }
  if (!options.x_label.empty())
    draw_text(img, left + (options.plot_width - text_width(options.x_label, 2)) / 2, top + options.plot_height + 30,
              options.x_label, black, 2);
  img.frame(left - 1, top - 1, options.plot_width + 2, options.plot_height + 2, grey);
  // Lines: dense steps along each segment (a 3-pixel pen), clipped to the plot area.
  auto inside = [&](double x, double y) {
    return x >= left && x <= left + options.plot_width - 1 && y >= top && y <= top + options.plot_height - 1;
  };
  for (std::size_t k = 0; k < series.size(); ++k) {
    const LineSeries& s = series[k];
    const Rgb col = label_color(static_cast<int>(k));
    for (std::size_t i = 0; i + 1 < s.x.size(); ++i) {
      const double ax = px(s.x[i]), ay = py(s.y[i]), bx = px(s.x[i + 1]), by = py(s.y[i + 1]);
      const int steps = std::max(1, static_cast<int>(std::ceil(std::max(std::abs(bx - ax), std::abs(by - ay)))));
      for (int t = 0; t <= steps; ++t) {
        const double x = ax + (bx - ax) * t / steps, y = ay + (by - ay) * t / steps;
        if (inside(x, y)) img.fill_disc(x, y, 1, col);
      }
    }
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (inside(px(s.x[i]), py(s.y[i]))) img.fill_disc(px(s.x[i]), py(s.y[i]), 3, col);
  }
  // Legend: one row below the plot, a colour square and the name per series.
  int lx = margin;
  const int ly = top + options.plot_height + below;
  for (std::size_t k = 0; k < series.size(); ++k) {
    img.fill_rect(lx, ly, 14, 14, label_color(static_cast<int>(k)));
    draw_text(img, lx + 14 + 8, ly, series[k].name, black, 2);
    lx += entry_w[k] + 24;
  }
  return img;
}

}  // namespace structgan::eval
