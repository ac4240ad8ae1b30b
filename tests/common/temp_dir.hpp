#pragma once
/// \file A scratch folder for tests that write files.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace structgan::testing {

/// A fresh, empty folder under the system's temporary folder (its name holds `tag`, the process id
/// and a counter, so that tests running at once never share one), removed with its contents at
/// the end of the scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "tmp") {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("structgan_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace structgan::testing
