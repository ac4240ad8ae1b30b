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

#include "../common/temp_dir.hpp"
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
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

extern "C" int fsync(int fd) {
  struct stat st {};
  const bool dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  if (!g_watch.empty()) g_syncs.push_back({dir, slurp(g_watch)});
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
// A scratch folder that also resets the fsync recorder.
struct Scratch : structgan::testing::TempDir {
  using TempDir::TempDir;
  ~Scratch() {
    g_watch.clear();
    g_syncs.clear();
    g_fail_file_syncs = 0;
  }
};
std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}
// A predicate for BOOST_CHECK_EXCEPTION: the error's message contains every one of `parts`.
auto mentions(std::vector<std::string> parts) {
  return [parts](const Error& e) {
    for (const auto& p : parts)
      if (std::string(e.what()).find(p) == std::string::npos) {
        BOOST_TEST_MESSAGE("'" << e.what() << "' lacks '" << p << "'");
        return false;
      }
    return true;
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(fsyncs_the_data_before_the_rename_and_the_folder_after) {
  Scratch dir("order");
  const std::string path = dir.file("f.txt");
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

// Every way a write can fail leaves the previous file whole and no temporary file behind.
BOOST_AUTO_TEST_CASE(failed_writes_keep_the_old_file_and_remove_the_temporary) {
  Scratch dir("fail");
  const std::string path = dir.file("f.bin");
  io::write_file_atomically(path, "previous");
  auto unchanged = [&] {
    BOOST_TEST(slurp(path) == "previous");
    BOOST_TEST(entries(dir.path) == 1u, "a temporary file was left behind");
  };
  // fsync of the data fails (as on a failing disk), for any kind of file.
  g_fail_file_syncs = 1;
  BOOST_CHECK_EXCEPTION(io::write_file_atomically(path, "replacement"), Error,
                        mentions({path, "fsync failed", std::strerror(EIO)}));
  unchanged();
  g_fail_file_syncs = 1;
  BOOST_CHECK_EXCEPTION(io::write_png(path, Image(4, 3)), Error, mentions({path}));
  unchanged();
  // The writer throws halfway through.
  auto half_then_throw = [](io::FileSink& out) {
    out.write(std::string(100000, 'x'));
    throw std::runtime_error("generator failed");
  };
  BOOST_CHECK_THROW(io::write_file_atomically(path, half_then_throw), std::runtime_error);
  unchanged();
  // The temporary file cannot be created (a folder is in its way).
  fs::create_directory(path + ".tmp");
  BOOST_CHECK_EXCEPTION(io::write_file_atomically(path, "new"), Error, mentions({path, "cannot create"}));
  fs::remove(path + ".tmp");
  unchanged();
}

BOOST_AUTO_TEST_CASE(unwritable_places_fail_by_name_and_stale_temporaries_are_replaced) {
  Scratch dir("place");
  // The rename fails (the destination is a non-empty folder): the temporary file is removed.
  const fs::path folder = dir.path / "taken";
  fs::create_directories(folder / "inside");
  BOOST_CHECK_EXCEPTION(io::write_file_atomically(folder.string(), "new"), Error, mentions({folder.string(), "rename"}));
  BOOST_TEST(!fs::exists(folder.string() + ".tmp"));
  BOOST_TEST(fs::is_directory(folder / "inside"));
  // A folder that does not exist.
  BOOST_CHECK_EXCEPTION(io::write_file_atomically(dir.file("no/such.bin"), "new"), Error, mentions({"no/such.bin"}));
  // A stale temporary file (a process killed mid-write) is replaced, and the write succeeds.
  const std::string path = dir.file("f.bin");
  std::ofstream(path + ".tmp") << "half written by a killed process";
  io::write_file_atomically(path, "fresh");
  BOOST_TEST(slurp(path) == "fresh");
  BOOST_TEST(!fs::exists(path + ".tmp"));
}
