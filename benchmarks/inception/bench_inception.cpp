// bench_inception: Inception-v3 feature extraction throughput (issue #23; peer: inception_bench.py torch).
//   bench_inception WEIGHTS.npz [--batch 50] [--batches 4] [--size 32] [--resize pytorch|tf1]
// Images: batch × 3 × size × size, uniform in [−1, 1] (seeded), each batch resized to 299×299 and run through the
// network by train::extract_inception_features, as structgan-eval --generator does. One untimed warm-up batch,
// then `batches` timed ones. Prints one JSON line: {"side": "structgan", "images_per_second", "seconds",
// "cpu_seconds", "images", "batch", "threads", "feature_dim", "pool3_mean"}. Threads: OMP_NUM_THREADS.
#include <sys/resource.h>

#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/train/inception.hpp"

namespace sg = structgan;

namespace {
double cpu_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    sg::require(!args.empty() && args[0].rfind("--", 0) != 0,
                "usage: bench_inception WEIGHTS.npz [--batch 50] [--batches 4] [--size 32] [--resize pytorch|tf1]");
    const std::string weights = args[0];
    sg::index_t batch = 50, batches = 4, size = 32;
    std::string resize = "pytorch";
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
      if (args[i] == "--batch") batch = std::stol(args[i + 1]);
      else if (args[i] == "--batches") batches = std::stol(args[i + 1]);
      else if (args[i] == "--size") size = std::stol(args[i + 1]);
      else if (args[i] == "--resize") resize = args[i + 1];
      else sg::fail("bench_inception: unknown option ", args[i]);
    }
    sg::require(batch >= 1 && batches >= 1 && size >= 1, "bench_inception: batch, batches and size must be ≥ 1");
    const auto net = sg::train::load_inception_v3<float>(weights);
    const sg::ResizeKind kind = resize == "tf1" ? sg::ResizeKind::Tf1Bilinear : sg::ResizeKind::PytorchBilinear;
    sg::Rng rng(1);
    auto images = [&](sg::index_t, sg::index_t count) {
      sg::Tensor<float> x(sg::Shape{count, 3, size, size});
      for (sg::index_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
      return x;
    };
    sg::train::extract_inception_features<float>(net, batch, images, batch, kind);  // warm-up
    const sg::index_t n = batch * batches;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_now();
    const sg::train::InceptionFeatures f = sg::train::extract_inception_features<float>(net, n, images, batch, kind);
    const double cpu = cpu_now() - c0;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j;
    j["side"] = "structgan";
    j["images_per_second"] = static_cast<double>(n) / s;
    j["seconds"] = s;
    j["cpu_seconds"] = cpu;
    j["images"] = n;
    j["batch"] = batch;
    j["size"] = size;
    j["resize"] = resize;
    j["threads"] = omp_get_max_threads();
    j["feature_dim"] = f.pool3.cols();
    j["pool3_mean"] = f.pool3.mean();
    std::cout << j.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_inception: " << e.what() << "\n";
    return 1;
  }
}
