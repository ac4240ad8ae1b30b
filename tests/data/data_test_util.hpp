#pragma once
// Helpers shared by the tests of structgan::data: temporary folders, writing files, checking
// that an error message mentions what it should.
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include <unistd.h>

#include "structgan/core/error.hpp"

namespace test_util {

namespace fs = std::filesystem;

/// A fresh folder under the system temp folder, removed when the object goes away.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("structgan_data_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

inline void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  BOOST_REQUIRE(out.good());
}

inline std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// gzip-compresses `data` (a real gzip member, as the gzip tool writes).
inline std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& data) {
  z_stream zs{};
  BOOST_REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(data.size())) + 64);
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  BOOST_REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// Random bytes from a seeded generator.
inline std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(g() >> 56);
  return v;
}

/// Runs f, requires it to throw structgan::Error whose message contains every one of `parts`.
inline void require_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const structgan::Error& e) {
    const std::string msg = e.what();
    BOOST_TEST_MESSAGE("error message: " << msg);
    for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "message lacks '" << p << "': " << msg);
    return;
  }
  BOOST_ERROR("no structgan::Error thrown (expected one mentioning '" << (parts.empty() ? "" : parts[0]) << "')");
}

}  // namespace test_util
