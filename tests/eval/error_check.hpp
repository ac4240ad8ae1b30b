#pragma once
/// \file Helpers of the eval tests: a scratch folder removed at scope exit, and a check that a call throws a
/// structgan::Error whose message mentions given parts.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"

namespace evtest {

struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& prefix) {
    dir = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
  }
  ~TempDir() { std::filesystem::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

template <class F>
void check_error_mentions(const F& f, const std::vector<std::string>& parts) {
  try {
    f();
    BOOST_ERROR("no structgan::Error thrown; expected one mentioning '" << parts.front() << "'");
  } catch (const structgan::Error& e) {
    for (const auto& part : parts)
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos,
                          "message '" << e.what() << "' does not mention '" << part << "'");
  }
}

}  // namespace evtest
