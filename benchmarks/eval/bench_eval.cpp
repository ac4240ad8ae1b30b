// bench_eval: times structgan's evaluation protocol pieces on .npy data (peer: benchmarks/peer/eval_sklearn.py).
//   bench_eval gen DIR [--seed S] [--spread 0.3] [--sigma 0.1]   mixture of 10 Gaussians on the sphere
//   bench_eval kmeans X.npy Y.npy [--repeats 20] [--restarts 5] [--threads 2]
//   bench_eval svm TRAIN_X TRAIN_Y TEST_X TEST_Y [--c 1] [--solver auto|dual|primal] [--threads 2]
//   bench_eval knn TRAIN_X TRAIN_Y TEST_X TEST_Y [--threads 2]
// Each timing mode prints one JSON line: {"what", "seconds" (wall), "cpu_seconds" (user+sys), "accuracy", ...}.
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/eval/kmeans.hpp"
#include "structgan/eval/metrics.hpp"
#include "structgan/io/npy.hpp"
#include "structgan/eval/svm.hpp"

namespace ev = structgan::eval;
namespace io = structgan::io;

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// user + system CPU seconds of this process, all threads
double cpu_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
std::string option(std::vector<std::string>& args, const std::string& name, const std::string& fallback) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == name) {
      std::string v = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      return v;
    }
  return fallback;
}

// n points of a mixture of `k` Gaussians on the unit sphere in D dims. Centers share a common direction
// (cos ≈ 1/(1+spread²) between centers), noise sigma per coordinate; rows normalized; labels interleaved.
void mixture(ev::detail::Rng& rng, const ev::RowMatrixF& centers, Eigen::Index n, float sigma, ev::RowMatrixF& x,
             std::vector<int>& y) {
  const Eigen::Index k = centers.rows(), d = centers.cols();
  x.resize(n, d);
  y.resize(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng.below(static_cast<std::uint64_t>(k)));
    y[static_cast<std::size_t>(i)] = c;
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = centers(c, j) + sigma * static_cast<float>(rng.normal());
    x.row(i).normalize();
  }
}

int generate(const std::string& dir, std::uint64_t seed, float spread, float sigma) {
  const int k = 10, d = 512;
  ev::detail::Rng rng(seed);
  ev::RowMatrixF centers(k, d);
  Eigen::RowVectorXf common(d);
  for (int j = 0; j < d; ++j) common[j] = static_cast<float>(rng.normal());
  common.normalize();
  for (int c = 0; c < k; ++c) {
    Eigen::RowVectorXf g(d);
    for (int j = 0; j < d; ++j) g[j] = static_cast<float>(rng.normal());
    centers.row(c) = (common + spread * g.normalized()).normalized();
  }
  ev::RowMatrixF x;
  std::vector<int> y;
  mixture(rng, centers, 10000, sigma, x, y);
  io::write_npy(dir + "/kmeans_x.npy", x);
  io::write_npy_labels(dir + "/kmeans_y.npy", y);
  mixture(rng, centers, 60000, sigma, x, y);
  io::write_npy(dir + "/svm_train_x.npy", x);
  io::write_npy_labels(dir + "/svm_train_y.npy", y);
  mixture(rng, centers, 10000, sigma, x, y);
  io::write_npy(dir + "/svm_test_x.npy", x);
  io::write_npy_labels(dir + "/svm_test_y.npy", y);
  std::cout << "wrote " << dir << "/{kmeans,svm_train,svm_test}_{x,y}.npy\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: bench_eval gen DIR | kmeans X Y | svm TRX TRY TEX TEY | knn TRX TRY TEX TEY [options]\n";
    return 2;
  }
  try {
    const std::string mode = args[0];
    const int threads = std::stoi(option(args, "--threads", "2"));
    nlohmann::json out;
    if (mode == "gen") {
      const std::uint64_t seed = std::stoull(option(args, "--seed", "1"));
      const float spread = std::stof(option(args, "--spread", "0.3"));
      const float sigma = std::stof(option(args, "--sigma", "0.1"));
      if (args.size() != 2) throw std::runtime_error("gen needs DIR");
      return generate(args[1], seed, spread, sigma);
    }
    if (mode == "kmeans") {
      ev::KMeansProtocolOptions o;
      o.repeats = std::stoi(option(args, "--repeats", "20"));
      o.kmeans.restarts = std::stoi(option(args, "--restarts", "5"));
      o.kmeans.threads = threads;
      o.kmeans.seed = std::stoull(option(args, "--seed", "0"));
      if (args.size() != 3) throw std::runtime_error("kmeans needs X.npy Y.npy");
      const ev::RowMatrixF x = io::read_npy_matrix<float>(args[1]);
      const std::vector<int> y = io::read_labels(args[2]);
      const double c0 = cpu_now(), t0 = now();
      const ev::KMeansProtocolResult r = ev::kmeans_protocol(x, y, o);
      const double t1 = now(), c1 = cpu_now();
      long iters = 0;
      for (int it : r.iterations) iters += it;
      out = {{"what", "kmeans_protocol"}, {"side", "structgan"}, {"seconds", t1 - t0}, {"cpu_seconds", c1 - c0},
             {"accuracy", r.accuracy_mean}, {"accuracy_std", r.accuracy_std}, {"nmi", r.nmi_mean},
             {"repeats", o.repeats}, {"restarts", o.kmeans.restarts}, {"kept_iterations", iters}};
    } else if (mode == "svm" || mode == "knn") {
      const double c = std::stod(option(args, "--c", "1.0"));
      const std::string solver = option(args, "--solver", "auto");
      if (args.size() != 5) throw std::runtime_error(mode + " needs TRAIN_X TRAIN_Y TEST_X TEST_Y");
      const ev::RowMatrixF trx = io::read_npy_matrix<float>(args[1]);
      const std::vector<int> tr_y = io::read_labels(args[2]);
      const ev::RowMatrixF tex = io::read_npy_matrix<float>(args[3]);
      const std::vector<int> te_y = io::read_labels(args[4]);
      const double c0 = cpu_now(), t0 = now();
      double acc = 0.0;
      if (mode == "svm") {
        ev::SvmOptions o;
        o.c = c;
        o.threads = threads;
        o.solver = ev::svm_solver_from_string(solver);
        out["solver"] = ev::to_string(ev::resolve_solver(o.solver, trx.rows(), trx.cols()));
        acc = ev::svm_accuracy(trx, tr_y, tex, te_y, o);
      } else {
        ev::KnnOptions o;
        o.threads = threads;
        acc = ev::knn_accuracy(trx, tr_y, tex, te_y, o);
      }
      const double t1 = now(), c1 = cpu_now();
      out = {{"what", mode}, {"side", "structgan"}, {"seconds", t1 - t0}, {"cpu_seconds", c1 - c0}, {"accuracy", acc}};
    } else {
      throw std::runtime_error("unknown mode or arguments: " + mode);
    }
    out["threads"] = threads;
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_eval: " << e.what() << "\n";
    return 1;
  }
}
