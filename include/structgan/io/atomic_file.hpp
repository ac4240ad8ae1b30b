#pragma once
/// \file Writing a file so that it is always either the old one or the new one, whole: every file
/// structgan writes (checkpoints, .npy, PNG, eval.json, logs) goes through write_file_atomically.
///
/// The bytes go to `<path>.tmp` in the same folder (a rename is atomic only within one file
/// system), which is fsync'ed, renamed over `<path>`, and the folder fsync'ed so that the rename
/// itself survives a power cut. Writes go straight to the file descriptor (no stdio buffer to
/// flush), so an error such as a full disk surfaces in the write that hits it. On any failure the
/// temporary file is removed, `<path>` is untouched and structgan::Error names `<path>` and the
/// reason. The temporary name is fixed, not unique, so that a process killed mid-write leaves one
/// stale `<path>.tmp` that the next write replaces; hence one writer per path at a time.
/// \code
///   io::write_file_atomically("run/eval.json", report.dump(2));
///   io::write_file_atomically("x.bin", [&](io::FileSink& out) { out.write(header, 16); out.write(data, n); });
/// \endcode
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <type_traits>

#include "structgan/core/error.hpp"
#include "structgan/io/detail/file.hpp"

namespace structgan::io {

/// The open temporary file of write_file_atomically.
class FileSink {
 public:
  FileSink(int fd, const std::string& what) : fd_(fd), what_(what) {}
  /// Appends n bytes (retrying partial writes); throws structgan::Error on failure.
  void write(const void* data, std::size_t n) { detail::write_all(fd_, data, n, what_); }
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

 private:
  int fd_;
  const std::string& what_;
};

/// Replaces the file at `path` by what `fill(FileSink&)` writes, atomically and durably (see the
/// file comment). An exception thrown by `fill` propagates after the temporary file is removed.
template <class Fill, class = std::enable_if_t<std::is_invocable_v<Fill&, FileSink&>>>
void write_file_atomically(const std::string& path, Fill&& fill) {
  require(!path.empty(), "write_file_atomically: empty path");
  const std::string what = "cannot write '" + path + "'";
  const std::string tmp = path + ".tmp";
  detail::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (fd.get() < 0) fail(what, ": cannot create ", tmp, ": ", detail::errno_text());
  try {
    FileSink sink(fd.get(), what);
    fill(sink);
    if (::fsync(fd.get()) != 0) fail(what, ": fsync failed: ", detail::errno_text());
    fd.close_checked(what);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail(what, ": cannot rename ", tmp, " over it: ", detail::errno_text());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  detail::fsync_folder(detail::parent_folder(path), what);
}

/// write_file_atomically of the given bytes.
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_file_atomically(path, [bytes](FileSink& out) { out.write(bytes); });
}

}  // namespace structgan::io
