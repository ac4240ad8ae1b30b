#pragma once
/// \file Helpers of the tests that run one of our programs end to end (structgan-eval, the training
/// examples): the program's path from the test's command line, running it with its output in a
/// log, reading files back, and writing small IDX image files in Fashion-MNIST's layout.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace structgan::testing {

/// The program under test: the last argument of the test's command line (CTest passes it).
inline std::string program_path(const std::string& usage) {
  const auto& m = boost::unit_test::framework::master_test_suite();
  BOOST_REQUIRE_MESSAGE(m.argc >= 2, "usage: " << usage);
  return m.argv[m.argc - 1];
}

/// Runs `program args` through the shell with stdout and stderr in `log`; returns the exit status
/// (-1 when the program did not exit normally).
inline int run_program(const std::string& program, const std::string& args, const std::filesystem::path& log) {
  const std::string cmd = "'" + program + "' " + args + " > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The whole content of a file ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

/// Writes `n` gray rows×cols images as PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte in
/// `dir`: label(i) gives image i's label, pixel(i, r, c) its bytes, called in that order.
template <class Label, class Pixel>
void write_idx_images(const std::filesystem::path& dir, const std::string& prefix, int n, int rows, int cols,
                      Label label, Pixel pixel) {
  auto put_be32 = [](std::string& s, std::uint32_t v) {
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  };
  std::string img, lab;
  put_be32(img, 0x00000803);
  put_be32(img, static_cast<std::uint32_t>(n));
  put_be32(img, static_cast<std::uint32_t>(rows));
  put_be32(img, static_cast<std::uint32_t>(cols));
  put_be32(lab, 0x00000801);
  put_be32(lab, static_cast<std::uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    lab.push_back(static_cast<char>(label(i)));
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) img.push_back(static_cast<char>(pixel(i, r, c)));
  }
  std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary) << img;
  std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary) << lab;
}

}  // namespace structgan::testing
