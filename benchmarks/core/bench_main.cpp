// bench_core's main: strips --quick and --threads N, sets the OpenMP thread count (default 2, or
// OMP_NUM_THREADS), then hands the rest to Google Benchmark.
//   bench_core [--quick] [--threads N] [Google Benchmark flags, e.g. --benchmark_filter=^conv2d_fwd_bwd$]
// Environment: OMP_NUM_THREADS (default 2), STRUCTGAN_BENCH_QUICK=1 (= --quick),
// STRUCTGAN_HOST_CACHE_MB (limit of the host allocator's cache of freed blocks; 0 turns it off).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "structgan/core/build_info.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {
bool g_quick = false;

// Forwards to the console or JSON reporter and counts runs that failed (SkipWithError), so that
// a broken workload makes the process (and the bench-smoke test) fail.
class CheckedReporter : public benchmark::BenchmarkReporter {
 public:
  explicit CheckedReporter(bool json) {
    if (json) inner_ = std::make_unique<benchmark::JSONReporter>();
    else inner_ = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_Tabular);
  }
  bool ReportContext(const Context& c) override { return inner_->ReportContext(c); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.error_occurred) ++errors;
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }
  int errors = 0;

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
};
}  // namespace
bool structgan::bench::quick() { return g_quick; }

int main(int argc, char** argv) {
  int threads = 2;
  if (const char* e = std::getenv("OMP_NUM_THREADS")) threads = std::max(1, std::atoi(e));
  if (const char* e = std::getenv("STRUCTGAN_BENCH_QUICK")) g_quick = std::strcmp(e, "0") != 0;
  // STRUCTGAN_HOST_CACHE_MB: the host allocator's cache of freed blocks (default 2048; 0 = off)
  if (const char* e = std::getenv("STRUCTGAN_HOST_CACHE_MB"))
    structgan::Allocator<structgan::Cpu>::set_cache_limit(static_cast<std::size_t>(std::atoll(e)) << 20);
  if (structgan::version_requested(argc, argv)) {
    std::puts(structgan::build_info().c_str());
    return 0;
  }
  bool json = false;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--benchmark_format=json") == 0) json = true;
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
    else rest.push_back(argv[i]);
  }
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  threads = 1;
#endif
  benchmark::AddCustomContext("structgan_threads", std::to_string(threads));
  benchmark::AddCustomContext("structgan_shapes", g_quick ? "quick" : "full");
  benchmark::AddCustomContext("structgan_build", structgan::build_info());
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  CheckedReporter reporter(json);
  const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (ran == 0) std::fprintf(stderr, "bench_core: no benchmark matched\n");
  return (reporter.errors > 0 || ran == 0) ? 1 : 0;
}
