#define BOOST_TEST_MODULE reliability_disk_full
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "reliability_util.hpp"
#include "structgan/io/npy.hpp"

// A full disk (simulated with RLIMIT_FSIZE in a child process, SIGXFSZ ignored, so that writes
// fail with EFBIG as they do with ENOSPC) while a checkpoint is written: the write fails with
// structgan::Error saying why, the previous checkpoint stays intact and loadable, and no
// temporary file is left behind.

using namespace structgan;
namespace fs = std::filesystem;
// environ: declared by <unistd.h> (g++ defines _GNU_SOURCE)

namespace {

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("structgan_reliability_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

/// Runs `body` in a child process whose files may not grow past `limit` bytes; returns what the
/// child wrote to its pipe (the error message, or "no error").
template <class F>
std::string in_child_with_file_limit(std::uint64_t limit, F&& body) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit r {};
    r.rlim_cur = r.rlim_max = static_cast<rlim_t>(limit);
    std::string message = "setrlimit failed";
    if (::setrlimit(RLIMIT_FSIZE, &r) == 0) {
      try {
        body();
        message = "no error";
      } catch (const Error& e) {
        message = std::string("structgan::Error: ") + e.what();
      } catch (const std::exception& e) {
        message = std::string("other exception: ") + e.what();
      }
    }
    const ssize_t w = ::write(fds[1], message.data(), message.size());
    ::_exit(w == static_cast<ssize_t>(message.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  return out;
}

/// A checkpoint of one 256 KiB tensor filled with `v` and the integer `v`.
struct Payload {
  Tensor<float> big = zeros<float>(Shape{1 << 16});
  std::int64_t v = 0;
  io::Checkpoint checkpoint() {
    io::Checkpoint ck;
    ck.tensor("big", big).integer("v", v);
    return ck;
  }
  void set(std::int64_t x) {
    v = x;
    std::fill(big.data(), big.data() + big.numel(), static_cast<float>(x));
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(io_checkpoint_on_a_full_disk_keeps_the_previous_one) {
  const std::string dir = fresh_dir("full_io"), path = dir + "/last.ckpt";
  Payload p;
  p.set(1);
  io::save_checkpoint(path, p.checkpoint());
  const auto before = bytes_of(path);
  for (std::uint64_t limit : {0ull, 40ull, 1000ull, 200000ull}) {  // inside the header, manifest and data
    const std::string msg = in_child_with_file_limit(limit, [&] {
      Payload q;
      q.set(2);
      io::save_checkpoint(path, q.checkpoint());
    });
    BOOST_TEST(msg.find("structgan::Error") == 0, "limit " << limit << ": " << msg);
    BOOST_TEST(msg.find("File too large") != std::string::npos, "limit " << limit << ": the error must say why: " << msg);
    BOOST_TEST(msg.find(path) != std::string::npos, "limit " << limit << ": the error must name the file: " << msg);
    BOOST_TEST((bytes_of(path) == before), "limit " << limit << ": the previous checkpoint changed");
    BOOST_TEST(!fs::exists(path + ".tmp"), "limit " << limit << ": temporary file left behind");
    Payload r;
    io::load_checkpoint(path, r.checkpoint());
    BOOST_TEST(r.v == 1);
    BOOST_TEST(r.big[4321] == 1.0f);
  }
  // With room again, the next save succeeds.
  Payload q;
  q.set(3);
  io::save_checkpoint(path, q.checkpoint());
  Payload r;
  io::load_checkpoint(path, r.checkpoint());
  BOOST_TEST(r.v == 3);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(npy_writer_on_a_full_disk_keeps_the_previous_file) {
  const std::string dir = fresh_dir("full_npy"), path = dir + "/features.npy";
  RowMatrix<float> x = RowMatrix<float>::Constant(300, 64, 1.5f);
  io::write_npy(path, x);
  const auto before = bytes_of(path);
  const std::string msg = in_child_with_file_limit(4096, [&] {
    RowMatrix<float> y = RowMatrix<float>::Constant(300, 64, -2.0f);
    io::write_npy(path, y);
  });
  BOOST_TEST(msg.find("structgan::Error") == 0, msg);
  BOOST_TEST(msg.find("File too large") != std::string::npos, "the error must say why: " << msg);
  BOOST_TEST((bytes_of(path) == before));
  std::size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(dir)) leftovers += e.path().filename() != "features.npy";
  BOOST_TEST(leftovers == 0u, "temporary files left behind");
  BOOST_TEST(io::read_npy_matrix<float>(path)(299, 63) == 1.5f);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(training_on_a_full_disk_stops_and_the_last_checkpoint_resumes) {
  const std::string dir = fresh_dir("full_train");
  // Three iterations with room to spare: a checkpoint at iteration 3.
  {
    auto t = reliability::tiny_trainer(reliability::tiny_run(dir, 3));
    train::RunOptions o;
    o.progress = false;
    train::run(t, o);
  }
  const std::string ckpt = train::checkpoint_path(dir);
  const auto before = bytes_of(ckpt);
  BOOST_REQUIRE(before.size() > 1000u);
  // The worker continues the run, but no file may grow past half a checkpoint.
  std::vector<std::string> args{STRUCTGAN_RELIABILITY_WORKER, "disk_full", dir, std::to_string(before.size() / 2)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid = -1;
  BOOST_REQUIRE(::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST_MESSAGE("worker: " << out);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 3), "the run must stop with structgan::Error: " << out);
  BOOST_TEST(out.find("File too large") != std::string::npos, "the error must say why: " << out);
  BOOST_TEST(out.find(ckpt) != std::string::npos, "the error must name the checkpoint: " << out);
  BOOST_TEST((bytes_of(ckpt) == before), "the previous checkpoint changed");
  BOOST_TEST(!fs::exists(ckpt + ".tmp"));
  // Room again: resuming from the kept checkpoint continues from iteration 3.
  auto t = reliability::tiny_trainer(reliability::tiny_run(dir, 5));
  train::RunOptions o;
  o.progress = false;
  o.resume = true;
  const train::RunResult r = train::run(t, o);
  BOOST_TEST(r.start_iteration == 3);
  BOOST_TEST(r.iteration == 5);
  fs::remove_all(dir);
}
