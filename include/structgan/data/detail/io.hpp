#pragma once
/// \file Internal: reading whole files (plain or gzip, told apart by their magic bytes) with
/// messages that name the file and the byte offset of what went wrong.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan::data::detail {

/// The bytes of a file, decompressed when the file was gzip.
struct FileBytes {
  std::string path;
  bool gzip = false;
  std::vector<std::uint8_t> data;

  /// "file 'p', byte offset k" (of the decompressed data when gzip): the start of an error message.
  std::string at(std::uint64_t offset) const {
    return "file '" + path + "', byte offset " + std::to_string(offset) + (gzip ? " of the decompressed data" : "");
  }
};

/// Whether `path` names an existing regular file (no exception).
inline bool is_file(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

/// Whether `path` names an existing directory (no exception).
inline bool is_dir(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

/// The raw bytes of the file `path`. Throws structgan::Error naming the file if it cannot be read.
inline std::vector<std::uint8_t> read_raw(const std::filesystem::path& path) {
  std::error_code ec;
  require(std::filesystem::exists(path, ec), "file '", path.string(), "' does not exist");
  require(std::filesystem::is_regular_file(path, ec), "'", path.string(), "' is not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  require(!ec, "cannot get the size of file '", path.string(), "': ", ec.message());
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open file '", path.string(), "' for reading");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));  // the real file size, not a header field
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  const auto got = static_cast<std::uintmax_t>(in.gcount());
  require(got == size, "file '", path.string(), "': read error at byte offset ", got, " of ", size);
  return bytes;
}

/// Whether `bytes` start with the gzip magic (1f 8b).
inline bool has_gzip_magic(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

/// Inflates gzip data (one or more members) read from `path`. The output grows with the data
/// actually decompressed and is capped at deflate's largest ratio (1032:1) of the input size.
inline std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in, const std::string& path) {
  const std::uint64_t cap = static_cast<std::uint64_t>(in.size()) * 1032u + (1u << 20);
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(cap, std::uint64_t(in.size()) * 4 + 4096)));
  std::size_t consumed = 0;  // input bytes of finished members
  while (consumed < in.size()) {
    if (consumed > 0 && !(in.size() - consumed >= 2 && in[consumed] == 0x1f && in[consumed + 1] == 0x8b))
      break;  // trailing bytes after the last member are ignored, as gzip does
    z_stream zs{};
    require(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "file '", path, "': zlib inflateInit2 failed");
    struct End {
      z_stream& z;
      ~End() { inflateEnd(&z); }
    } end{zs};
    std::size_t pos = consumed;  // the next input byte not yet handed to zlib
    int rc = Z_OK;
    while (true) {
      if (zs.avail_in == 0 && pos < in.size()) {
        const std::size_t k = std::min<std::size_t>(in.size() - pos, 1u << 30);
        zs.next_in = const_cast<Bytef*>(in.data() + pos);
        zs.avail_in = static_cast<uInt>(k);
        pos += k;
      }
      if (out.size() == out.capacity()) {
        require(out.size() < cap, "file '", path, "': decompressed data exceeds ", cap,
                " bytes, more than gzip can produce from a file of ", in.size(), " bytes (corrupt?)");
        out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(cap, std::uint64_t(out.capacity()) * 2 + 65536)));
      }
      const std::size_t before = out.size();
      const std::size_t room = out.capacity() - before;
      out.resize(out.capacity());
      zs.next_out = out.data() + before;
      zs.avail_out = static_cast<uInt>(std::min<std::size_t>(room, 1u << 30));
      rc = inflate(&zs, Z_NO_FLUSH);
      out.resize(before + (std::min<std::size_t>(room, 1u << 30) - zs.avail_out));
      if (rc == Z_STREAM_END) break;
      if (rc == Z_OK) continue;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && pos == in.size()) {
        const std::uint64_t end = consumed + zs.total_in;
        fail("file '", path, "': truncated gzip stream: the compressed data ends at byte offset ", end,
             " before the end of the stream (", out.size(), " bytes decompressed so far)");
      }
      const std::uint64_t where = consumed + zs.total_in;
      const std::string msg = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
      fail("file '", path, "': corrupt gzip data near compressed byte offset ", where, " (zlib: ", msg, ")");
    }
    consumed += zs.total_in;
  }
  out.shrink_to_fit();
  return out;
}

/// The contents of `path`, gunzipped when it starts with the gzip magic bytes.
inline FileBytes read_maybe_gzip(const std::filesystem::path& path) {
  FileBytes f;
  f.path = path.string();
  f.data = read_raw(path);
  if (has_gzip_magic(f.data)) {
    f.gzip = true;
    f.data = gunzip(f.data, f.path);
  }
  return f;
}

/// Big-endian 32-bit unsigned integer at p.
inline std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}

/// "a, b, c" from a list of names.
inline std::string join(const std::vector<std::string>& names, const std::string& sep = ", ") {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += (i ? sep : std::string()) + names[i];
  return s;
}

}  // namespace structgan::data::detail
