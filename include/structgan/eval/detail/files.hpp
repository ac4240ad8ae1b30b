#pragma once
/// \file Internal: atomic file writing (temporary file in the same folder, then rename) and .npy encoding.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan::eval::detail {

/// Calls write(FILE*, temp_name) on a fresh temporary file next to `path`, then renames it to `path`.
/// On any failure the temporary file is removed and structgan::Error names `path` and the reason.
template <class Writer>
void write_file_atomically(const std::string& path, const Writer& write) {
  require(!path.empty(), "write: empty output path");
  static std::atomic<unsigned long> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid())) + "." +
                          std::to_string(counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) fail("cannot write '", path, "': ", std::strerror(errno));
  try {
    write(f, tmp);
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  const bool write_error = std::fflush(f) != 0 || std::ferror(f) != 0;
  const int saved = errno;
  if (std::fclose(f) != 0 || write_error) {
    std::remove(tmp.c_str());
    fail("cannot write '", path, "': ", std::strerror(write_error ? saved : errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    fail("cannot write '", path, "': rename failed: ", std::strerror(e));
  }
}

inline void fwrite_all(std::FILE* f, const void* data, std::size_t bytes, const std::string& name) {
  if (bytes != 0 && std::fwrite(data, 1, bytes, f) != bytes) fail("cannot write '", name, "': ", std::strerror(errno));
}

/// Writes a .npy header and `elements` little-endian items of `item_size` bytes (host must be little endian).
inline void write_npy_stream(std::FILE* f, const std::string& name, const std::string& descr,
                             const std::vector<std::uint64_t>& shape, const void* data, std::size_t item_size) {
  const std::uint16_t one = 1;
  unsigned char low;
  std::memcpy(&low, &one, 1);
  require(low == 1, "write_npy: big-endian hosts are not supported");
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  std::uint64_t elements = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    dict += (shape.size() == 1 || i + 1 < shape.size()) ? "," : "";
    if (i + 1 < shape.size()) dict += " ";
    elements *= shape[i];
  }
  dict += "), }";
  int major = 1;
  std::size_t prefix = 10;
  if ((prefix + dict.size() + 1 + 63) / 64 * 64 - prefix > 65535) {
    major = 2;
    prefix = 12;
  }
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  const std::uint64_t hlen = dict.size();
  unsigned char head[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  for (std::size_t b = 0; b < prefix - 8; ++b) head[8 + b] = static_cast<unsigned char>(hlen >> (8 * b));
  fwrite_all(f, head, prefix, name);
  fwrite_all(f, dict.data(), dict.size(), name);
  fwrite_all(f, data, static_cast<std::size_t>(elements) * item_size, name);
}

}  // namespace structgan::eval::detail
