#pragma once
/// \file Helpers shared by the fuzz targets: reading bytes off the fuzz input, scratch files for
/// readers that take a path, and a check that aborts (so that libFuzzer records the input).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace structgan::fuzz {

/// Aborts with a message when `cond` is false: a property the reader promises does not hold.
#define STRUCTGAN_FUZZ_CHECK(cond)                                                              \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

/// Consumes the fuzz input from the front: option bytes first, the rest is the payload.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  /// The next byte, or 0 when the input is exhausted.
  std::uint8_t byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  /// The next two bytes, little endian (0 past the end).
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
  const std::uint8_t* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

/// A private folder for this process's scratch files (under $TMPDIR or /tmp), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      const char* base = std::getenv("TMPDIR");
      std::string t = std::string(base && *base ? base : "/tmp") + "/structgan_fuzz_XXXXXX";
      if (::mkdtemp(t.data()) == nullptr) {
        std::perror("structgan fuzz: mkdtemp");
        std::abort();
      }
      path = t;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// Writes `size` bytes to scratch_dir()/name (creating parent folders) and returns the path.
inline std::string write_scratch(const std::string& name, const void* data, std::size_t size) {
  const std::filesystem::path p = scratch_dir() / name;
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (f == nullptr || (size != 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror("structgan fuzz: writing a scratch file");
    std::abort();
  }
  return p.string();
}

}  // namespace structgan::fuzz
