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
#include <cstring>
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

/// Whether every IDAT chunk of the PNG `b` fits in the file. stb_image grows its buffer to an
/// IDAT chunk's declared length before reading it, so a tiny file declaring a 2 GiB chunk would
/// make it allocate 2 GiB. Chunks are walked as stb walks them (length, type, data, CRC), up to IEND.
inline bool png_chunks_fit(const std::vector<std::uint8_t>& b) {
  const std::uint64_t n = b.size();
  std::uint64_t pos = 8;  // after the signature
  while (pos + 8 <= n) {
    const std::uint8_t* c = b.data() + pos;
    const std::uint64_t len = (std::uint64_t(c[0]) << 24) | (std::uint64_t(c[1]) << 16) | (std::uint64_t(c[2]) << 8) | c[3];
    if (c[4] == 'I' && c[5] == 'E' && c[6] == 'N' && c[7] == 'D') break;
    if (c[4] == 'I' && c[5] == 'D' && c[6] == 'A' && c[7] == 'T' && len > n - pos - 8) return false;
    pos += 12 + len;
  }
  return true;
}

/// The offset just after the JPEG start-of-image marker of `b`, or 0 if `b` is not what stb_image
/// takes for a JPEG: FF, any number of FF fill bytes, D8 (stb skips the fill bytes too).
inline std::size_t jpeg_soi_end(const std::vector<std::uint8_t>& b) {
  if (b.empty() || b[0] != 0xFF) return 0;
  std::size_t m = 1;
  while (m < b.size() && b[m] == 0xFF) ++m;
  return m < b.size() && b[m] == 0xD8 ? m + 1 : 0;
}

/// What in the Huffman tables of the JPEG `b` (starting FF D8) stb_image 2.27 (Debian 12's
/// libstb-dev) would turn into memory errors, or "" when nothing. Two cases, both fixed or
/// guarded upstream after 2.27:
/// - a DHT segment declaring more than 256 codes: stb writes past its 257-entry code-size and
///   256-entry value tables;
/// - a scan decoding with a table that no earlier DHT segment defined: stb's tables live in
///   uninitialized heap memory, so it decodes with garbage and indexes its tables out of bounds.
///   A scan uses its components' DC table unless it is progressive and not a first DC scan, and
///   their AC table unless it is a progressive DC scan (what stb reads, no more, so that valid
///   files, whose unused selectors are often 0, pass).
/// Segments are walked as stb reads them: by their lengths, skipping bytes between segments up to
/// the next FF, and after a scan header over the entropy-coded data up to the next marker that is
/// not stuffing (FF 00) or a restart (FF D0-D7). Linear in the file size; bytes past the end read
/// as 0, as in stb.
inline std::string jpeg_huffman_problem(const std::vector<std::uint8_t>& b) {
  const std::size_t n = b.size();
  auto at = [&](std::size_t i) -> unsigned { return i < n ? b[i] : 0u; };
  bool defined[2][4] = {};    // [DC, AC][table id]
  bool progressive = false;
  std::size_t i = jpeg_soi_end(b);  // after SOI
  bool in_scan = false;       // inside entropy-coded data
  while (i < n) {
    if (b[i] != 0xFF) {       // padding between segments, or entropy-coded data
      ++i;
      continue;
    }
    std::size_t m = i + 1;    // the marker byte, after any FF fill bytes
    while (m < n && b[m] == 0xFF) ++m;
    if (m >= n) break;
    const unsigned marker = b[m];
    if (in_scan && (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7))) {  // stuffing or restart
      i = m + 1;
      continue;
    }
    if (marker == 0xD9) break;  // EOI
    const std::size_t len = (at(m + 1) << 8) | at(m + 2);  // includes its own two bytes
    if (marker == 0xC0 || marker == 0xC1 || marker == 0xC2) progressive = marker == 0xC2;  // SOF (stb's test)
    if (marker == 0xC4) {       // DHT: tables of 1 + 16 + (sum of the 16 counts) bytes
      long left = static_cast<long>(len) - 2;
      std::size_t q = m + 3;
      while (left > 0) {
        const unsigned tc_th = at(q++);
        if ((tc_th >> 4) > 1 || (tc_th & 15) > 3) break;  // stb rejects the segment here
        unsigned codes = 0;
        for (int k = 0; k < 16; ++k) codes += at(q++);
        if (codes > 256) return "a Huffman table (DHT segment at byte offset " + std::to_string(m - 1) + ") declares more than 256 codes";
        defined[tc_th >> 4][tc_th & 15] = true;
        q += codes;
        left -= 17 + static_cast<long>(codes);
      }
    }
    if (marker == 0xDA) {       // SOS: Ns, Ns × (component, Td·16 + Ta), Ss, Se, Ah·16 + Al
      const unsigned ns = at(m + 3);
      const unsigned ss = at(m + 4 + 2 * ns), ah = at(m + 6 + 2 * ns) >> 4;
      const bool uses_dc = !progressive || (ss == 0 && ah == 0), uses_ac = !progressive || ss != 0;
      auto undefined = [&](const char* kind, unsigned id) {
        return "the scan at byte offset " + std::to_string(m - 1) + " decodes with Huffman table " + kind + " " +
               std::to_string(id) + ", which no earlier DHT segment defines";
      };
      for (unsigned k = 0; k < ns && k < 4; ++k) {  // stb rejects more than 4 components
        const unsigned td = at(m + 5 + 2 * k) >> 4, ta = at(m + 5 + 2 * k) & 15;
        if (td > 3 || ta > 3) break;  // stb rejects the scan here
        if (uses_dc && !defined[0][td]) return undefined("DC", td);
        if (uses_ac && !defined[1][ta]) return undefined("AC", ta);
      }
    }
    in_scan = marker == 0xDA;   // SOS: its header, then entropy-coded data
    i = m + 1 + len;
  }
  return "";
}

/// Refuses a header's w×h before anything of that size is allocated: at most 2048 decoded bytes
/// per file byte, plus 16 MiB (deflate and JPEG cannot compress more than that).
inline void check_declared_size(int w, int h, int channels, std::size_t file_bytes, const std::string& path) {
  const std::uint64_t want = std::uint64_t(w) * std::uint64_t(h) * std::uint64_t(channels);
  require(w > 0 && h > 0 && want <= std::uint64_t(file_bytes) * 2048u + (std::uint64_t(1) << 24), "file '", path,
          "': the header declares a ", w, "x", h, " image, too large for a file of ", file_bytes, " bytes (corrupt?)");
}

/// Decodes the image file contents `bytes` (JPEG, PNG, BMP, PNM, TGA, GIF's first frame) to
/// `channels` channels (1: gray, 3: RGB). The declared size is checked against the file size
/// before stb allocates (at most 2048 decoded bytes per file byte, plus 16 MiB), and a JPEG
/// without an end-of-image marker is reported as truncated. Throws structgan::Error naming `path`.
inline DecodedImage decode_image(const std::vector<std::uint8_t>& bytes, int channels, const std::string& path) {
  require(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  require(!bytes.empty(), "file '", path, "' is empty");
  require(bytes.size() < (std::size_t(1) << 31), "file '", path, "' is too large to decode (", bytes.size(), " bytes)");
  const int len = static_cast<int>(bytes.size());
  const bool jpeg = jpeg_soi_end(bytes) != 0;
  if (jpeg) {
    const std::string problem = jpeg_huffman_problem(bytes);
    require(problem.empty(), "file '", path, "': corrupt JPEG: ", problem);
  }
  require(!(bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0) || png_chunks_fit(bytes),
          "file '", path, "': truncated or corrupt PNG: an IDAT chunk declares more bytes than the file holds (",
          bytes.size(), " bytes)");
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp))
    fail("file '", path, "': cannot decode the image header (stb_image: ", stbi_failure_reason(), ")");
  // stb_image 2.27 converts a 16-bit PNM's channels as if it were 8-bit, then reads past that buffer.
  require(!(bytes[0] == 'P' && comp != channels && stbi_is_16_bit_from_memory(bytes.data(), len)), "file '", path,
          "': 16-bit PNM with ", comp, " channel(s) cannot be read as ", channels, " channel(s) (stb_image limitation)");
  check_declared_size(w, h, channels, bytes.size(), path);
  if (jpeg) {  // JPEG: look for the EOI marker FF D9
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
