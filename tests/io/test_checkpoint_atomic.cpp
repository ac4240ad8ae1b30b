#define BOOST_TEST_MODULE io_checkpoint_atomic
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "../common/temp_dir.hpp"
#include "structgan/io/checkpoint.hpp"

// A crash at any moment of a save leaves a whole checkpoint: the previous one or the new one.

using namespace structgan;
namespace fs = std::filesystem;

using structgan::testing::TempDir;

namespace {

/// A checkpoint of one large tensor filled with `k` and the integer `k`: consistent iff they agree.
struct Payload {
  Tensor<float> big = zeros<float>(Shape{1 << 21});  // 8 MiB
  std::int64_t k = 0;
  io::Checkpoint checkpoint() {
    io::Checkpoint ck;
    ck.tensor("big", big).integer("k", k);
    return ck;
  }
  void set(std::int64_t v) {
    k = v;
    std::fill(big.data(), big.data() + big.numel(), static_cast<float>(v));
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(killing_the_writer_never_leaves_a_broken_checkpoint) {
  TempDir dir("kill");
  const std::string path = (dir.path / "last.ckpt").string();
  Payload p;
  p.set(1);
  io::save_checkpoint(path, p.checkpoint());
  std::int64_t last_seen = 1;
  int saw_new = 0;
  for (int round = 0; round < 12; ++round) {
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
      // The writer: save checkpoints k = last + 1, last + 2, ... until killed.
      Payload w;
      for (std::int64_t v = last_seen + 1; v < last_seen + 1000; ++v) {
        w.set(v);
        io::save_checkpoint(path, w.checkpoint());
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 13 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Whatever moment it died at, the file is a whole checkpoint.
    Payload r;
    r.set(-1);
    io::load_checkpoint(path, r.checkpoint());
    BOOST_TEST(r.k >= last_seen);
    bool consistent = true;
    for (index_t i = 0; i < r.big.numel(); i += 4099) consistent = consistent && r.big[i] == static_cast<float>(r.k);
    consistent = consistent && r.big[r.big.numel() - 1] == static_cast<float>(r.k);
    BOOST_TEST(consistent, "round " << round << ": tensor and integer disagree (k = " << r.k << ")");
    saw_new += r.k > last_seen;
    last_seen = r.k;
  }
  BOOST_TEST_MESSAGE("the writer completed new checkpoints before " << saw_new << " of 12 kills");
}

BOOST_AUTO_TEST_CASE(a_failed_save_leaves_the_previous_checkpoint) {
  TempDir dir("fail");
  const std::string path = (dir.path / "last.ckpt").string();
  Payload p;
  p.set(7);
  io::save_checkpoint(path, p.checkpoint());
  // The temporary file cannot be created (a folder is in its way): the save fails cleanly.
  fs::create_directory(path + ".tmp");
  Payload q;
  q.set(8);
  BOOST_CHECK_THROW(io::save_checkpoint(path, q.checkpoint()), Error);
  Payload r;
  io::load_checkpoint(path, r.checkpoint());
  BOOST_TEST(r.k == 7);
  BOOST_TEST(r.big[12345] == 7.0f);
  fs::remove(path + ".tmp");
  // A folder that does not exist.
  BOOST_CHECK_THROW(io::save_checkpoint((dir.path / "no" / "such" / "folder.ckpt").string(), q.checkpoint()), Error);
  // Saving over it works again, and leaves no temporary file.
  io::save_checkpoint(path, q.checkpoint());
  BOOST_TEST(!fs::exists(path + ".tmp"));
  io::load_checkpoint(path, r.checkpoint());
  BOOST_TEST(r.k == 8);
}
