#pragma once
/// \file Writing an Image (core/image.hpp) as a PNG file with stb_image_write (its folder on the
/// include path: the structgan::io target adds it), through io::write_file_atomically.
/// \code
///   io::write_png("samples/latest.png", image);
/// \endcode
#include <cstddef>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/core/image.hpp"
#include "structgan/io/atomic_file.hpp"
#include "structgan/io/detail/stb_write.hpp"

namespace structgan::io {

/// The PNG encoding of img (RGB, 8 bits per channel).
inline std::vector<unsigned char> encode_png(const Image& img) {
  require(img.width > 0 && img.height > 0 && img.pixels.size() == std::size_t(img.width) * img.height * 3,
          "encode_png: malformed image");
  std::vector<unsigned char> png;
  auto sink = [](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(ctx);
    const auto* bytes = static_cast<const unsigned char*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  const int ok = stbi_write_png_to_func(sink, &png, img.width, img.height, 3, img.pixels.data(), img.width * 3);
  require(ok != 0 && !png.empty(), "encode_png: PNG encoding failed");
  return png;
}

/// Writes img as a PNG at `path` (atomically). Throws structgan::Error naming the path when it
/// cannot be written; nothing half-written is left.
inline void write_png(const std::string& path, const Image& img) {
  const std::vector<unsigned char> png = encode_png(img);
  write_file_atomically(path, [&](FileSink& out) { out.write(png.data(), png.size()); });
}

}  // namespace structgan::io
