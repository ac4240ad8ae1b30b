#define BOOST_TEST_MODULE example_fashion_mnist_train
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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
           " --set sample_count=4 --set checkpoint_every=0 --set sample_every=0 --set validation_size=20"
           " --set validate_every=0 --set validate_from=0 --set eval_checkpoint=last";  // (the preset validates)
  }
  ~Scratch() { fs::remove_all(dir); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(trains_resumes_and_evaluates) {
  Scratch s;
  std::string out;
  BOOST_REQUIRE_EQUAL(run(s.tiny + " --iterations 3 --set validate_every=2 --set validate_svm_train_size=30", out, s.dir), 0);
  const fs::path r = s.dir / "run";
  for (const char* f : {"config.json", "log.jsonl", "checkpoint.ckpt", "eval.json", "tsne.png", "samples/latest.png",
                        "validation.png"})
    BOOST_CHECK_MESSAGE(fs::exists(r / f), "missing " << f);
  // the build record, one per iteration, and the validations at iterations 0, 2 and 3 (the end)
  BOOST_CHECK_EQUAL(lines(r / "log.jsonl"), 1u + 3u + 3u);
  BOOST_CHECK(fs::file_size(r / "validation.png") > 1000);
  BOOST_CHECK(out.find("k-means acc") != std::string::npos);
  BOOST_CHECK(out.find("linear SVM acc") != std::string::npos);
  BOOST_CHECK(out.find("Validation (20 images held out") != std::string::npos);
  {
    std::ifstream log(r / "log.jsonl");
    std::vector<int> at;
    for (std::string l; std::getline(log, l);) {
      const nlohmann::json j = nlohmann::json::parse(l);
      if (!j.contains("validation")) continue;
      at.push_back(j.at("iteration").get<int>());
      const nlohmann::json& v = j["validation"];
      BOOST_CHECK_EQUAL(v.at("validation_images").get<int>(), 20);
      BOOST_CHECK_EQUAL(v.at("svm_train_images").get<int>(), 30);
      for (const char* k : {"kmeans_accuracy_mean", "svm_accuracy"})
        BOOST_CHECK(v.at(k).get<double>() >= 0.0 && v.at(k).get<double>() <= 1.0);
      BOOST_CHECK(j.at("wall_s").get<double>() <= j.at("total_wall_s").get<double>());
    }
    BOOST_CHECK((at == std::vector<int>{0, 2, 3}));
  }

  const nlohmann::json e = nlohmann::json::parse(slurp(r / "eval.json"));
  BOOST_CHECK_EQUAL(e.at("iterations").get<int>(), 3);
  // eval_svm_train_size 0: the whole training part, 80 train images less the 20 held out
  BOOST_CHECK_EQUAL(e.at("svm_train_images").get<int>(), 60);
  BOOST_CHECK_EQUAL(e.at("validation_images").get<int>(), 20);
  BOOST_CHECK_EQUAL(e.at("test_images").get<int>(), 40);
  // On the test split f^b and f~ of the trained EMA D and of the untrained network; "rows" repeats
  // the test rows with f^b first (trained, untrained), as eval.json had them before. On the
  // validation images only the trained network's (the untrained one chooses nothing).
  BOOST_REQUIRE_EQUAL(e.at("rows").size(), 4u);
  BOOST_CHECK(e.at("rows") == e.at("test").at("rows"));
  BOOST_REQUIRE_EQUAL(e.at("validation").at("rows").size(), 2u);
  const char* networks[] = {"trained", "untrained", "trained", "untrained"};
  const char* features[] = {"f_b", "f_b", "f_tilde", "f_tilde"};
  for (const char* split : {"validation", "test"}) {
    const bool test = std::string(split) == "test";
    for (std::size_t k = 0; k < e.at(split).at("rows").size(); ++k) {
      const nlohmann::json& row = e.at(split).at("rows")[k];
      const std::size_t m = test ? k : 2 * k;  // validation: trained f^b, trained f~
      BOOST_CHECK_EQUAL(row.at("network").get<std::string>(), networks[m]);
      BOOST_CHECK_EQUAL(row.at("features").get<std::string>(), features[m]);
      BOOST_CHECK_EQUAL(row.at("split").get<std::string>(), split);
      BOOST_CHECK_EQUAL(row.at("dims").get<int>(), m < 2 ? 32 : 8);  // f^b: 8 × d_width; f~: embed_dim
      BOOST_CHECK_EQUAL(row.at("train_samples").get<int>(), 60);
      BOOST_CHECK_EQUAL(row.at("test_samples").get<int>(), test ? 40 : 20);
      BOOST_CHECK_EQUAL(row.at("kmeans_repeats").get<int>(), 2);
      const double svm = row.at("svm_accuracy").get<double>();
      BOOST_CHECK(svm >= 0.0 && svm <= 1.0);
      const double km = row.at("kmeans_accuracy_mean").get<double>();
      BOOST_CHECK(km >= 0.1 - 1e-12 && km <= 1.0);  // Hungarian matching: never below chance on 10 balanced classes
    }
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
  BOOST_REQUIRE_EQUAL(run(s.tiny + " --iterations 5 --resume --set eval_at_end=false --set validate_every=2 --set "
                              "validate_svm_train_size=30",
                          out, s.dir),
                      0);
  BOOST_CHECK(out.find("iterations 3 → 5") != std::string::npos);
  // a build record at each start; validations at 4 and 5 (none at 3: the resumed run starts there)
  BOOST_CHECK_EQUAL(lines(r / "log.jsonl"), 2u + 5u + 3u + 2u);
  for (const auto& p : fs::directory_iterator(r))  // atomic writes leave no temporary file behind
    BOOST_CHECK_MESSAGE(p.path().string().find(".tmp") == std::string::npos, "left behind: " << p.path());
}

// eval_checkpoint = best_validation: validations from validate_from on, the best one's state kept
// and evaluated at the end (eval.json names its iteration), the last state still the checkpoint.
BOOST_AUTO_TEST_CASE(evaluates_the_state_of_the_best_validation) {
  Scratch s;
  std::string out;
  BOOST_REQUIRE_EQUAL(run(s.tiny + " --iterations 6 --set validate_every=2 --set validate_from=2 --set "
                              "eval_checkpoint=best_validation --set validate_svm_train_size=30 --set "
                              "eval_random_baseline=false",
                          out, s.dir),
                      0);
  const fs::path r = s.dir / "run";
  BOOST_CHECK(fs::exists(r / "best_validation.ckpt"));
  std::vector<int> at;
  int best = -1;
  double best_kmeans = -1;
  std::ifstream log(r / "log.jsonl");
  for (std::string l; std::getline(log, l);) {
    const nlohmann::json j = nlohmann::json::parse(l);
    if (!j.contains("validation")) continue;
    const int it = j.at("iteration").get<int>();
    const double km = j.at("validation").at("kmeans_accuracy_mean").get<double>();
    at.push_back(it);
    BOOST_CHECK_EQUAL(j.value("selected", false), km > best_kmeans);  // each new best is marked, no other
    if (km > best_kmeans) best = it, best_kmeans = km;
  }
  BOOST_CHECK((at == std::vector<int>{2, 4, 6}));
  const nlohmann::json e = nlohmann::json::parse(slurp(r / "eval.json"));
  BOOST_CHECK_EQUAL(e.at("iterations").get<int>(), best);
  BOOST_CHECK_EQUAL(e.at("eval_checkpoint").get<std::string>(), "best_validation");
  BOOST_CHECK(out.find("the best validation k-means") != std::string::npos);
  BOOST_CHECK(out.find("at iteration " + std::to_string(best)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_stops_with_a_message) {
  Scratch s;
  std::string out;
  // --device cuda: where the program has its CUDA path and a GPU is visible, it trains; else
  // (no CUDA backend in this build, or no visible device) exit code 2 and the reason.
#if defined(STRUCTGAN_TEST_EXAMPLE_HAS_CUDA)
  const bool gpu = std::system("nvidia-smi -L > /dev/null 2>&1") == 0;
#else
  const bool gpu = false;
#endif
  if (gpu) {
    BOOST_CHECK_EQUAL(run(s.tiny + " --iterations 2 --set eval_at_end=false --device cuda", out, s.dir), 0);
  } else {
    BOOST_CHECK_EQUAL(run(s.tiny + " --iterations 1 --device cuda", out, s.dir), 2);
    BOOST_CHECK(out.find("--device cuda") != std::string::npos);
  }
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
  // More held-out images than the train split holds, or a negative count: named by key.
  BOOST_CHECK_EQUAL(run(s.tiny + " --iterations 1 --set validation_size=80", out, s.dir), 1);
  BOOST_CHECK_MESSAGE(out.find("'validation_size' = 80 must be less than the 80 images") != std::string::npos, out);
  BOOST_CHECK_EQUAL(run(s.tiny + " --iterations 1 --set validation_size=-1", out, s.dir), 2);
  BOOST_CHECK(out.find("'validation_size' = -1 must be ≥ 0") != std::string::npos);
  // --resume without a checkpoint.
  BOOST_CHECK_EQUAL(run(Scratch::options(s.dir / "data", s.dir / "fresh") + " --iterations 1 --resume", out, s.dir), 1);
  BOOST_CHECK(out.find("no checkpoint") != std::string::npos);
}
