#pragma once
/// \file An 8-bit RGB raster with the few drawing primitives of structgan's pictures (sample
/// grids, scatter plots). Here, below every area, so that eval/ can draw what io/ writes
/// (io/png.hpp) without either depending on the other.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan {

/// An 8-bit colour.
struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};
inline bool operator==(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

/// An RGB image, row-major from the top-left corner, 3 bytes per pixel.
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  /// Requires 1 ≤ w, h ≤ 16384; throws structgan::Error otherwise.
  Image(int w, int h, Rgb background = {255, 255, 255}) : width(checked(w, h)), height(h), pixels(std::size_t(w) * h * 3) {
    for (std::size_t i = 0; i < pixels.size(); i += 3) {
      pixels[i] = background.r;
      pixels[i + 1] = background.g;
      pixels[i + 2] = background.b;
    }
  }
  static int checked(int w, int h) {
    require(w > 0 && h > 0 && w <= 16384 && h <= 16384, "Image: size ", w, "x", h, " out of range");
    return w;
  }
  /// Colour of (x, y); x, y inside.
  Rgb at(int x, int y) const {
    const std::size_t o = (std::size_t(y) * width + x) * 3;
    return {pixels[o], pixels[o + 1], pixels[o + 2]};
  }
  /// Sets (x, y); pixels outside the image are ignored.
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const std::size_t o = (std::size_t(y) * width + x) * 3;
    pixels[o] = c.r;
    pixels[o + 1] = c.g;
    pixels[o + 2] = c.b;
  }
  void fill_rect(int x, int y, int w, int h, Rgb c) {
    for (int j = std::max(0, y); j < std::min(height, y + h); ++j)
      for (int i = std::max(0, x); i < std::min(width, x + w); ++i) set(i, j, c);
  }
  void fill_disc(double cx, double cy, int radius, Rgb c) {
    const int x0 = static_cast<int>(std::lround(cx)), y0 = static_cast<int>(std::lround(cy));
    for (int dy = -radius; dy <= radius; ++dy)
      for (int dx = -radius; dx <= radius; ++dx)
        if (dx * dx + dy * dy <= radius * radius + radius) set(x0 + dx, y0 + dy, c);
  }
  void frame(int x, int y, int w, int h, Rgb c) {
    fill_rect(x, y, w, 1, c);
    fill_rect(x, y + h - 1, w, 1, c);
    fill_rect(x, y, 1, h, c);
    fill_rect(x + w - 1, y, 1, h, c);
  }
};

}  // namespace structgan
