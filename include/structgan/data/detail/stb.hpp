#pragma once
/// \file Internal: stb_image (decoding) compiled into every translation unit that includes it, with
/// internal linkage (STB_IMAGE_STATIC), so that a header-only library can use it: several TUs may
/// include this header without duplicate symbols, and a program may also hold its own, separate
/// (non-static) stb_image implementation in another TU.
///
/// Caveat: if a TU includes <stb_image.h> itself *before* this header, stb's include guard keeps
/// this header from compiling the implementation there, and that program must provide one (as stb
/// documents: STB_IMAGE_IMPLEMENTATION in one of its .c/.cpp files).
#include <cstdint>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#endif

#ifndef STBI_INCLUDE_STB_IMAGE_H
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO  // we read files ourselves (for sizes and messages) and decode from memory
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#if __has_include(<stb_image.h>)
#include <stb_image.h>
#elif __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#else
#error "structgan::data needs stb_image.h (Debian: libstb-dev); add its folder to the include path"
#endif
#undef STB_IMAGE_IMPLEMENTATION
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace structgan::data::detail {

/// A decoded image: height×width×channels bytes, interleaved (HWC), as stb_image returns it.
struct DecodedImage {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> hwc;
};

/// Decodes the image file contents `bytes` (JPEG, PNG, BMP, PNM, TGA, GIF's first frame) to
/// `channels` channels (1: gray, 3: RGB). The declared size is checked against the file size
/// before stb allocates (at most 2048 decoded bytes per file byte, plus 16 MiB), and a JPEG
/// without an end-of-image marker is reported as truncated. Throws structgan::Error naming `path`.
inline DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, int channels, const std::string& path) {
  require(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  require(!bytes.empty(), "file '", path, "' is empty");
  require(bytes.size() < (std::size_t(1) << 31), "file '", path, "' is too large to decode (", bytes.size(), " bytes)");
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp))
    fail("file '", path, "': cannot decode the image header (stb_image: ", stbi_failure_reason(), ")");
  const std::uint64_t want = std::uint64_t(w) * std::uint64_t(h) * std::uint64_t(channels);
  require(w > 0 && h > 0 && want <= std::uint64_t(bytes.size()) * 2048u + (std::uint64_t(1) << 24), "file '", path,
          "': the header declares a ", w, "x", h, " image, too large for a file of ", bytes.size(), " bytes (corrupt?)");
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) {  // JPEG: look for the EOI marker FF D9
    bool eoi = false;
    for (std::size_t i = bytes.size() - 1; i >= 2 && !eoi; --i) eoi = bytes[i - 1] == 0xFF && bytes[i] == 0xD9;
    require(eoi, "file '", path, "': truncated JPEG: no end-of-image marker (FF D9); the file ends at byte offset ",
            bytes.size());
  }
  stbi_uc* p = stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, channels);
  if (!p) fail("file '", path, "': cannot decode the image (stb_image: ", stbi_failure_reason(), ")");
  DecodedImage img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.hwc.assign(p, p + std::size_t(w) * std::size_t(h) * std::size_t(channels));
  stbi_image_free(p);
  return img;
}

}  // namespace structgan::data::detail
