#pragma once
/// \file Internal: POSIX file helpers of io/ (checked writes and reads, fsync of a folder) and
/// the FNV-1a 64 checksum of checkpoints. Not meant to be included directly.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "structgan/core/error.hpp"

namespace structgan::io::detail {

/// FNV-1a, 64 bits, continued from `h` (start with fnv1a64_offset).
inline constexpr std::uint64_t fnv1a64_offset = 14695981039346656037ull;
inline std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h = fnv1a64_offset) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

/// Whether this host stores integers little-endian (the byte order of every format io/ writes).
inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

inline std::string errno_text() { return std::strerror(errno); }

/// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  /// Closes now, reporting errors (a failed close can mean lost data).
  void close_checked(const std::string& what) {
    const int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) fail(what, ": close failed: ", errno_text());
  }

 private:
  int fd_ = -1;
};

/// Writes all n bytes (retrying partial writes and interrupts).
inline void write_all(int fd, const void* data, std::size_t n, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(what, ": write failed: ", errno_text());
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Reads exactly n bytes at `offset`; throws if the file ends first.
inline void read_at(int fd, void* data, std::size_t n, std::uint64_t offset, const std::string& what) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(what, ": read failed: ", errno_text());
    }
    if (r == 0) fail(what, ": unexpected end of file (truncated)");
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
}

/// The folder holding `path` ("." for a bare file name).
inline std::string parent_folder(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// fsync of a folder, so that a rename inside it is durable.
inline void fsync_folder(const std::string& folder, const std::string& what) {
  Fd d(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0) fail(what, ": cannot open folder ", folder, " to sync it: ", errno_text());
  if (::fsync(d.get()) != 0 && errno != EINVAL) fail(what, ": fsync of folder ", folder, " failed: ", errno_text());
  d.close_checked(what);
}

}  // namespace structgan::io::detail
