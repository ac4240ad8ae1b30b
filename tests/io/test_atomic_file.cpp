#define BOOST_TEST_MODULE io_atomic_file
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "structgan/io/atomic_file.hpp"
#include "structgan/io/png.hpp"

// io::write_file_atomically: the file at the path is the old one or the new one, whole; the
// temporary file never survives a failure; the data and then the rename are fsync'ed.

using namespace structgan;
namespace fs = std::filesystem;

// This executable's own fsync, which the library's calls resolve to (the program's definition comes
// before libc's): it records what is synced and can fail on demand, then forwards to libc.
namespace {
struct SyncRecord {
  bool directory = false;
  std::string target_contents;  ///< what the destination held at the moment of the call
};
std::vector<SyncRecord> g_syncs;
std::string g_watch;            ///< the destination whose contents each call records
int g_fail_file_syncs = 0;      ///< > 0: the next file (not folder) fsync fails with EIO
}  // namespace

extern "C" int fsync(int fd) {
  struct stat st {};
  const bool dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  if (!g_watch.empty()) {
    std::ifstream in(g_watch, std::ios::binary);
    g_syncs.push_back({dir, std::string(std::istreambuf_iterator<char>(in), {})});
  }
  if (!dir && g_fail_file_syncs > 0) {
    --g_fail_file_syncs;
    errno = EIO;
    return -1;
  }
  using Fn = int (*)(int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "fsync"));
  return real(fd);
}

namespace {
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("structgan_atomic_file_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
    g_watch.clear();
    g_syncs.clear();
    g_fail_file_syncs = 0;
  }
};
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  BOOST_ERROR("no structgan::Error thrown");
  return {};
}
}  // namespace

BOOST_AUTO_TEST_CASE(fsyncs_the_data_before_the_rename_and_the_folder_after) {
  TempDir dir("order");
  const std::string path = (dir.path / "f.txt").string();
  io::write_file_atomically(path, "old");
  g_watch = path;
  io::write_file_atomically(path, [](io::FileSink& out) {
    out.write("new ", 4);
    out.write(std::string("contents"));
  });
  BOOST_TEST(slurp(path) == "new contents");
  // Two calls: the temporary file while the destination still held the old bytes (so the data is
  // durable before it becomes visible), then the folder once the rename had happened.
  BOOST_REQUIRE_EQUAL(g_syncs.size(), 2u);
  BOOST_TEST(!g_syncs[0].directory);
  BOOST_TEST(g_syncs[0].target_contents == "old");
  BOOST_TEST(g_syncs[1].directory);
  BOOST_TEST(g_syncs[1].target_contents == "new contents");
  BOOST_TEST(entries(dir.path) == 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_fsync_keeps_the_old_file_and_removes_the_temporary) {
  TempDir dir("fsync");
  const std::string path = (dir.path / "f.bin").string();
  io::write_file_atomically(path, "previous");
  g_fail_file_syncs = 1;
  const std::string msg = error_of([&] { io::write_file_atomically(path, "replacement"); });
  BOOST_TEST(msg.find(path) != std::string::npos, msg);
  BOOST_TEST(msg.find("fsync failed") != std::string::npos, msg);
  BOOST_TEST(msg.find(std::strerror(EIO)) != std::string::npos, msg);
  BOOST_TEST(slurp(path) == "previous");
  BOOST_TEST(entries(dir.path) == 1u, "the temporary file was left behind");
  // PNGs go through the same path.
  g_fail_file_syncs = 1;
  BOOST_CHECK_THROW(io::write_png(path, Image(4, 3)), Error);
  BOOST_TEST(slurp(path) == "previous");
  BOOST_TEST(entries(dir.path) == 1u);
}

BOOST_AUTO_TEST_CASE(a_writer_that_throws_midway_keeps_the_old_file) {
  TempDir dir("throw");
  const std::string path = (dir.path / "f.bin").string();
  io::write_file_atomically(path, "previous");
  BOOST_CHECK_THROW(io::write_file_atomically(path,
                                              [](io::FileSink& out) {
                                                out.write(std::string(100000, 'x'));
                                                throw std::runtime_error("generator failed");
                                              }),
                    std::runtime_error);
  BOOST_TEST(slurp(path) == "previous");
  BOOST_TEST(entries(dir.path) == 1u);
}

BOOST_AUTO_TEST_CASE(unwritable_places_fail_by_name_and_leave_nothing) {
  TempDir dir("place");
  const std::string path = (dir.path / "f.bin").string();
  io::write_file_atomically(path, "previous");
  // The temporary file cannot be created (a folder is in its way).
  fs::create_directory(path + ".tmp");
  std::string msg = error_of([&] { io::write_file_atomically(path, "new"); });
  BOOST_TEST(msg.find(path) != std::string::npos, msg);
  BOOST_TEST(slurp(path) == "previous");
  fs::remove(path + ".tmp");
  // The rename fails (the destination is a non-empty folder): the temporary file is removed.
  const fs::path folder = dir.path / "taken";
  fs::create_directories(folder / "inside");
  msg = error_of([&] { io::write_file_atomically(folder.string(), "new"); });
  BOOST_TEST(msg.find("rename") != std::string::npos, msg);
  BOOST_TEST(!fs::exists(folder.string() + ".tmp"));
  BOOST_TEST(fs::is_directory(folder / "inside"));
  // A folder that does not exist.
  msg = error_of([&] { io::write_file_atomically((dir.path / "no" / "such.bin").string(), "new"); });
  BOOST_TEST(msg.find("no/such.bin") != std::string::npos, msg);
  // A stale temporary file (a process killed mid-write) is replaced, and the write succeeds.
  std::ofstream(path + ".tmp") << "half written by a killed process";
  io::write_file_atomically(path, "fresh");
  BOOST_TEST(slurp(path) == "fresh");
  BOOST_TEST(!fs::exists(path + ".tmp"));
}
