// The process the reliability tests kill or starve (see test_kill_training.cpp, test_disk_full.cpp):
//   reliability_worker train DIR ITERATIONS
//       trains tiny_run(DIR, ITERATIONS) with a checkpoint after every iteration, resuming from
//       DIR's checkpoint when there is one; exits 0 when done.
//   reliability_worker disk_full DIR LIMIT_BYTES
//       continues DIR's run (its checkpoint must exist) under RLIMIT_FSIZE = LIMIT_BYTES with
//       SIGXFSZ ignored (so writes fail with EFBIG, as on a full disk); prints the error and exits
//       3 when training stopped with structgan::Error, 0 if it unexpectedly finished.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "reliability_util.hpp"

int main(int argc, char** argv) {
  using namespace structgan;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s train DIR ITERATIONS | disk_full DIR LIMIT_BYTES\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  const long long n = std::atoll(argv[3]);
  try {
    if (mode == "train") {
      const train::TrainConfig c = reliability::tiny_run(dir, n);
      auto t = reliability::tiny_trainer(c);
      train::RunOptions o;
      o.progress = false;
      o.resume = std::filesystem::exists(train::checkpoint_path(dir));
      train::run(t, o);
      return 0;
    }
    if (mode == "disk_full") {
      const train::TrainConfig c = reliability::tiny_run(dir, 1000);
      auto t = reliability::tiny_trainer(c);
      std::signal(SIGXFSZ, SIG_IGN);
      struct rlimit r {};
      r.rlim_cur = r.rlim_max = static_cast<rlim_t>(n);
      if (::setrlimit(RLIMIT_FSIZE, &r) != 0) {
        std::perror("setrlimit");
        return 2;
      }
      train::RunOptions o;
      o.progress = false;
      o.resume = true;
      train::run(t, o);
      return 0;
    }
  } catch (const Error& e) {
    std::printf("structgan::Error: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::printf("other exception: %s\n", e.what());
    return 4;
  }
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
