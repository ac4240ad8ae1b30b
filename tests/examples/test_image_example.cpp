#define BOOST_TEST_MODULE example_fashion_mnist_train
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/program_test.hpp"

// The fashion_mnist_train program end to end (its path in argv[1]; every image example shares its
// main, examples/common/image_main.cpp): a tiny run on 8×8 IDX files trains, checkpoints, resumes and
// evaluates; bad devices, data folders and options stop with a clear message and their exit code.
namespace fs = std::filesystem;

namespace {
namespace st = structgan::testing;
std::string exe() { return st::program_path("example_fashion_mnist_train PATH_TO_fashion_mnist_train"); }
std::string slurp(const fs::path& p) { return st::read_file(p); }
/// Runs the program with `args`; its stdout and stderr go to `out`. Returns the exit status.
int run(const std::string& args, std::string& out, const fs::path& dir) {
  const fs::path log = dir / "program.log";
  const int status = st::run_program(exe(), args, log);
  out = slurp(log);
  BOOST_TEST_MESSAGE(out);
  return status;
}
/// n 8×8 gray images of 10 classes (class y: a bright bar at row y % 8 over noise), Fashion-MNIST's IDX layout.
void write_idx(const fs::path& dir, const std::string& prefix, int n, std::uint32_t seed) {
  std::uint32_t state = seed;
  st::write_idx_images(dir, prefix, n, 8, 8, [](int i) { return i % 10; }, [&](int i, int r, int c) {
    const int y = i % 10;
    state = state * 1664525u + 1013904223u;
    const int noise = static_cast<int>(state >> 26);  // 0..63
    return (r == y % 8 && (y < 8 || c < 4) ? 170 : 20) + noise;
  });
}
std::size_t lines(const fs::path& p) {
  std::ifstream f(p);
  std::size_t n = 0;
  for (std::string l; std::getline(f, l);) n += !l.empty();
  return n;
}

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("structgan_example_" + std::to_string(::getpid()));
  std::string tiny;  // options of a tiny network on the scratch data, output in dir/run
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir / "data");
    write_idx(dir / "data", "train", 80, 1);
    write_idx(dir / "data", "t10k", 40, 2);
    tiny = options(dir / "data", dir / "run");
  }
  /// The tiny network's options with data in `data` and output in `out`.
  static std::string options(const fs::path& data, const fs::path& out) {
    return "--data-dir '" + data.string() + "' --output '" + out.string() +
           "' --batch-size 8 --progress lines --set image_size=8 --set g_bottom_width=1 --set d_width=4"
           " --set d_channels_per_group=4 --set g_ch=2 --set z_dim=8 --set embed_dim=8"
           " --set 'objective={\"bank_size\":24}' --set eval_kmeans_repeats=2 --set eval_tsne_points=20"
           " --set sample_count=4 --set checkpoint_every=0 --set sample_every=0";
  }
  ~Scratch() { fs::remove_all(dir); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(trains_resumes_and_evaluates) {
  Scratch s;
  std::string out;
  BOOST_REQUIRE_EQUAL(run(s.tiny + " --iterations 3", out, s.dir), 0);
  const fs::path r = s.dir / "run";
  for (const char* f : {"config.json", "log.jsonl", "checkpoint.ckpt", "eval.json", "tsne.png", "samples/latest.png"})
    BOOST_CHECK_MESSAGE(fs::exists(r / f), "missing " << f);
  BOOST_CHECK_EQUAL(lines(r / "log.jsonl"), 1u + 3u);  // the build record, then one per iteration
  BOOST_CHECK(out.find("k-means acc") != std::string::npos);
  BOOST_CHECK(out.find("linear SVM acc") != std::string::npos);

  const nlohmann::json e = nlohmann::json::parse(slurp(r / "eval.json"));
  BOOST_CHECK_EQUAL(e.at("iterations").get<int>(), 3);
  BOOST_CHECK_EQUAL(e.at("svm_train_images").get<int>(), 80);  // eval_svm_train_size 0: the whole train split
  BOOST_CHECK_EQUAL(e.at("test_images").get<int>(), 40);
  BOOST_REQUIRE_EQUAL(e.at("rows").size(), 2u);  // the trained EMA D and the untrained network
  for (const auto& row : e["rows"]) {
    BOOST_CHECK_EQUAL(row.at("dims").get<int>(), 32);  // f^b: 8 × d_width
    BOOST_CHECK_EQUAL(row.at("kmeans_repeats").get<int>(), 2);
    const double svm = row.at("svm_accuracy").get<double>();
    BOOST_CHECK(svm >= 0.0 && svm <= 1.0);
    const double km = row.at("kmeans_accuracy_mean").get<double>();
    BOOST_CHECK(km >= 0.1 - 1e-12 && km <= 1.0);  // Hungarian matching: never below chance on 10 balanced classes
  }
  const nlohmann::json cfg = nlohmann::json::parse(slurp(r / "config.json"));
  BOOST_CHECK_EQUAL(cfg.at("preset").get<std::string>(), "fashion_mnist");
  BOOST_CHECK_EQUAL(cfg.at("d_width").get<int>(), 4);

  // The run's first line and eval.json name the build, as --version prints it.
  const std::string first_line = out.substr(0, out.find('\n'));
  std::string version;
  BOOST_REQUIRE_EQUAL(run("--version", version, s.dir), 0);
  BOOST_CHECK(version.rfind("structgan ", 0) == 0);
  BOOST_CHECK(version.find("backends cpu") != std::string::npos);
  BOOST_CHECK_EQUAL(version, first_line + "\n");
  BOOST_CHECK_EQUAL(e.at("build").get<std::string>(), first_line);
  const std::string log_text = slurp(r / "log.jsonl");
  const nlohmann::json head = nlohmann::json::parse(log_text.substr(0, log_text.find('\n')));
  BOOST_CHECK_EQUAL(head.at("build").get<std::string>(), first_line);
  BOOST_CHECK_EQUAL(head.at("start_iteration").get<int>(), 0);

  // --resume continues from the checkpoint to the new iteration count and appends to the log.
  BOOST_REQUIRE_EQUAL(run(s.tiny + " --iterations 5 --resume --set eval_at_end=false", out, s.dir), 0);
  BOOST_CHECK(out.find("iterations 3 → 5") != std::string::npos);
  BOOST_CHECK_EQUAL(lines(r / "log.jsonl"), 2u + 5u);  // a build record at each start
  for (const auto& p : fs::directory_iterator(r))  // atomic writes leave no temporary file behind
    BOOST_CHECK_MESSAGE(p.path().string().find(".tmp") == std::string::npos, "left behind: " << p.path());
}

BOOST_AUTO_TEST_CASE(bad_input_stops_with_a_message) {
  Scratch s;
  std::string out;
  // No CUDA backend in this build, or no visible device: exit code 2 and the reason.
  BOOST_CHECK_EQUAL(run(s.tiny + " --iterations 1 --device cuda", out, s.dir), 2);
  BOOST_CHECK(out.find("--device cuda") != std::string::npos);
  // A device that does not exist.
  BOOST_CHECK_EQUAL(run(s.tiny + " --iterations 1 --device tpu", out, s.dir), 2);
  BOOST_CHECK(out.find("tpu") != std::string::npos);
  // A data folder without the data set: the reader names where it looked.
  const fs::path empty = s.dir / "no-data";
  fs::create_directories(empty);
  BOOST_CHECK_EQUAL(run(Scratch::options(empty, s.dir / "run") + " --iterations 1", out, s.dir), 1);
  BOOST_CHECK(out.find(empty.string()) != std::string::npos);
  // A data set this program does not train on, an unknown key, a bad value.
  BOOST_CHECK_EQUAL(run(s.tiny + " --dataset cifar10", out, s.dir), 2);
  BOOST_CHECK_EQUAL(run(s.tiny + " --set no_such_key=1", out, s.dir), 2);
  BOOST_CHECK(out.find("no_such_key") != std::string::npos);
  BOOST_CHECK_EQUAL(run(s.tiny + " --set batch_size=-4", out, s.dir), 2);
  BOOST_CHECK(out.find("batch_size") != std::string::npos);
  // --resume without a checkpoint.
  BOOST_CHECK_EQUAL(run(Scratch::options(s.dir / "data", s.dir / "fresh") + " --iterations 1 --resume", out, s.dir), 1);
  BOOST_CHECK(out.find("no checkpoint") != std::string::npos);
}
