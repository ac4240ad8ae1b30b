#define BOOST_TEST_MODULE reliability_kill_training
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "reliability_util.hpp"

// SIGKILL at random moments of a training run that checkpoints after every iteration: after every
// kill the newest complete checkpoint loads, the run resumes from it, and the killed-and-resumed
// run ends bit for bit where an uninterrupted run ends (log values and every checkpointed tensor).
// Rounds: STRUCTGAN_KILL_ROUNDS (default 25).

using namespace structgan;
namespace fs = std::filesystem;
// environ: declared by <unistd.h> (g++ defines _GNU_SOURCE)

namespace {

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("structgan_reliability_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

/// Starts the worker with `args`; returns its pid.
pid_t spawn_worker(const std::vector<std::string>& args) {
  std::vector<std::string> all{STRUCTGAN_RELIABILITY_WORKER};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn " << argv[0] << " failed: " << rc);
  return pid;
}

/// Runs the worker to completion; returns its exit status (or 128 + signal).
int run_worker(const std::vector<std::string>& args) {
  const pid_t pid = spawn_worker(args);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// The log's records without the timings, one per complete line.
std::vector<nlohmann::json> log_records(const std::string& dir) {
  std::ifstream in((fs::path(dir) / "log.jsonl").string());
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.contains("build")) continue;  // a line cut by the kill; a start's build record
    j.erase("time");
    j.erase("iter_seconds");
    out.push_back(std::move(j));
  }
  return out;
}

/// The iteration of the checkpoint in `dir`, loaded into a fresh trainer (throws if it does not load).
std::int64_t load_checkpoint_iteration(const std::string& dir) {
  auto t = reliability::tiny_trainer(reliability::tiny_run(dir, 1));
  t.load(train::checkpoint_path(dir));
  return t.iteration();
}

}  // namespace

BOOST_AUTO_TEST_CASE(killed_runs_resume_from_the_newest_checkpoint_and_end_where_an_uninterrupted_run_ends) {
  int rounds = 25;
  if (const char* env = std::getenv("STRUCTGAN_KILL_ROUNDS")) rounds = std::max(1, std::atoi(env));
  const std::string dir = fresh_dir("killed"), ref = fresh_dir("reference");
  const std::string ckpt = train::checkpoint_path(dir);
  std::mt19937 pick(20261124);
  std::uniform_int_distribution<int> delay_ms(0, 400);

  std::int64_t last = 0;  // the iteration of the newest checkpoint seen so far
  int mid_save = 0, progressed = 0, finished = 0;
  for (int round = 0; round < rounds; ++round) {
    const pid_t pid = spawn_worker({"train", dir, "1000000"});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(pick)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    finished += WIFEXITED(status);
    mid_save += fs::exists(ckpt + ".tmp");  // killed while writing the next checkpoint
    if (!fs::exists(ckpt)) {
      BOOST_TEST(last == 0, "round " << round << ": the checkpoint of iteration " << last << " disappeared");
      continue;
    }
    std::int64_t k = -1;
    BOOST_CHECK_NO_THROW(k = load_checkpoint_iteration(dir));
    BOOST_TEST(k >= last, "round " << round << ": checkpoint went back from iteration " << last << " to " << k);
    progressed += k > last;
    last = k;
    // What the log holds up to the checkpoint's iteration is what was checkpointed.
    const auto records = log_records(dir);
    BOOST_TEST(records.size() >= static_cast<std::size_t>(k), "round " << round);
  }
  BOOST_TEST_MESSAGE(rounds << " kills: the checkpoint advanced in " << progressed << " rounds, " << mid_save
                            << " kills landed inside a save (temporary file left), " << finished
                            << " workers ended before the kill; newest checkpoint at iteration " << last);
  BOOST_TEST(finished == 0);
  BOOST_TEST(progressed > 0);

  // Finish the killed run a few iterations past its checkpoint, and run the same length without
  // interruption: every log record and every checkpointed tensor must agree bit for bit.
  const std::int64_t total = last + 3;
  BOOST_REQUIRE(run_worker({"train", dir, std::to_string(total)}) == 0);
  BOOST_REQUIRE(run_worker({"train", ref, std::to_string(total)}) == 0);
  const auto a = log_records(dir), b = log_records(ref);
  BOOST_REQUIRE(a.size() == static_cast<std::size_t>(total));
  BOOST_REQUIRE(b.size() == static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(a[i] == b[i], "log record " << i + 1 << ": " << a[i] << " vs " << b[i]);
  const auto ea = io::read_checkpoint_info(ckpt), eb = io::read_checkpoint_info(train::checkpoint_path(ref));
  BOOST_REQUIRE(ea.size() == eb.size());
  std::size_t compared = 0;
  for (std::size_t i = 0; i < ea.size(); ++i) {
    BOOST_TEST(ea[i].name == eb[i].name);
    if (ea[i].name == "config") continue;  // names the output folder
    if (ea[i].kind == "integer") BOOST_TEST(ea[i].value == eb[i].value, ea[i].name);
    else BOOST_TEST(ea[i].checksum == eb[i].checksum, ea[i].name << " differs from the uninterrupted run");
    ++compared;
  }
  BOOST_TEST(compared > 20u);
  BOOST_TEST(!fs::exists(ckpt + ".tmp"));
  fs::remove_all(dir);
  fs::remove_all(ref);
}
