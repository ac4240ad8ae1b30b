#define BOOST_TEST_MODULE eval_cli
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "structgan/io/npy.hpp"
#include "../../examples/common/validation_curve.hpp"
#include "../common/program_test.hpp"
#include "synthetic.hpp"

// Runs the structgan-eval executable (path in argv[1]) end to end on small generated files.
namespace ev = structgan::eval;
namespace io = structgan::io;
namespace fs = std::filesystem;

namespace {
namespace st = structgan::testing;
std::string exe() { return st::program_path("eval_cli PATH_TO_structgan-eval"); }
int run(const std::string& args, const fs::path& log) { return st::run_program(exe(), args, log); }
std::string slurp(const fs::path& p) { return st::read_file(p); }
}  // namespace

BOOST_AUTO_TEST_CASE(table_json_and_plots_from_files) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const evtest::Clusters all = evtest::sphere_clusters(3, 120, 16, 0.05f, 51);
  io::write_npy((dir / "train.npy").string(), all.x.topRows(180));
  io::write_npy((dir / "test.npy").string(), all.x.bottomRows(180).cast<double>().eval());
  io::write_npy_labels((dir / "train_y.npy").string(), std::vector<int>(all.labels.begin(), all.labels.begin() + 180));
  {
    std::ofstream t(dir / "test_y.txt");
    for (std::size_t i = 180; i < all.labels.size(); ++i) t << all.labels[i] << "\n";
  }
  const std::string files = "--train-features '" + (dir / "train.npy").string() + "' --train-labels '" +
                            (dir / "train_y.npy").string() + "' --test-features '" + (dir / "test.npy").string() +
                            "' --test-labels '" + (dir / "test_y.txt").string() + "'";
  const fs::path log = dir / "log.txt";
  BOOST_REQUIRE_EQUAL(run(files + " --json '" + (dir / "row.json").string() + "' --plots '" + (dir / "plots").string() +
                              "' --repeats 2 --tsne-iterations 100 --name toy",
                          log),
                      0);
  const std::string out = slurp(log);
  BOOST_TEST_MESSAGE(out);
  BOOST_CHECK(out.find("| toy ") != std::string::npos);
  BOOST_CHECK(out.find("100.00 (0.00)") != std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(slurp(dir / "row.json"));
  BOOST_CHECK_EQUAL(j.at("svm_accuracy").get<double>(), 1.0);
  BOOST_CHECK_EQUAL(j.at("kmeans_accuracy_mean").get<double>(), 1.0);
  BOOST_CHECK_EQUAL(j.at("knn_accuracy").get<double>(), 1.0);
  BOOST_CHECK_EQUAL(j.at("kmeans_repeats").get<int>(), 2);
  BOOST_CHECK(fs::file_size(dir / "plots" / "tsne_labels.png") > 1000);
  BOOST_CHECK_EQUAL(io::read_npy_matrix<double>((dir / "plots" / "tsne.npy").string()).rows(), 180);
  // either LIBLINEAR solver on request (the same classifier); an unknown one is refused, naming the option
  for (const char* solver : {"dual", "primal"}) {
    BOOST_REQUIRE_EQUAL(run(files + " --no-kmeans --no-knn --svm-c 10 --svm-solver " + solver + " --json '" +
                                (dir / "solver.json").string() + "'",
                            log),
                        0);
    BOOST_CHECK_EQUAL(nlohmann::json::parse(slurp(dir / "solver.json")).at("svm_accuracy").get<double>(), 1.0);
  }
  BOOST_CHECK_NE(run(files + " --svm-solver newton", log), 0);
  BOOST_CHECK(slurp(log).find("--svm-solver") != std::string::npos);
  // a truncated feature file: non-zero exit, the message names the file
  {
    const std::string bytes = slurp(dir / "test.npy");
    std::ofstream((dir / "cut.npy"), std::ios::binary) << bytes.substr(0, bytes.size() - 9);
  }
  std::string cut = files;
  cut.replace(cut.find("test.npy"), 8, "cut.npy");
  BOOST_CHECK_EQUAL(run(cut, log), 1);
  BOOST_CHECK(slurp(log).find("cut.npy: truncated data") != std::string::npos);
  // missing required option
  BOOST_CHECK_NE(run("--train-features x.npy", log), 0);
  fs::remove_all(dir);
}

namespace {
// The value after "<label>: " on its line of the program's output, and, for "mean ± std" lines, the std.
std::pair<double, double> printed(const std::string& output, const std::string& label) {
  const std::string out = "\n" + output, start = "\n" + label + ": ";
  const std::size_t at = out.find(start);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no '" << label << ": ' line in:" << out);
  const std::string line = out.substr(at + start.size(), out.find('\n', at + 1) - at - start.size());
  const std::size_t pm = line.find(" ± ");
  return {std::stod(line.substr(0, pm)), pm == std::string::npos ? 0.0 : std::stod(line.substr(pm + 4))};
}
double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }
}  // namespace

BOOST_AUTO_TEST_CASE(image_metrics_from_files) {
  const fs::path ref = STRUCTGAN_EVAL_REFERENCE_DIR;
  const nlohmann::json want = nlohmann::json::parse(slurp(ref / "image_metrics_reference.json"));
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_cli_metrics_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path log = dir / "log.txt";
  auto q = [](const fs::path& p) { return "'" + p.string() + "'"; };
  const std::string a = q(ref / "fid_a.npy"), b = q(ref / "fid_b.npy");
  BOOST_REQUIRE_EQUAL(run("--fid " + a + " " + b + " --kid " + a + " " + b + " --kid-subsets 10 --kid-subset-size 50" +
                              " --inception-score " + q(ref / "logits.npy") + " --save-fid-stats " + b + " " +
                              q(dir / "b.npz") + " --json " + q(dir / "metrics.json"),
                          log),
                      0);
  const std::string out = slurp(log);
  BOOST_TEST_MESSAGE(out);
  const auto fid = printed(out, "FID"), kid = printed(out, "KID"), is = printed(out, "IS");
  BOOST_CHECK_LT(rel(fid.first, want.at("fid").at("pytorch_fid").get<double>()), 1e-6);
  BOOST_CHECK_LT(rel(kid.first, want.at("kid")[0].at("mean").get<double>()), 1e-12);
  BOOST_CHECK_LT(rel(kid.second, want.at("kid")[0].at("std").get<double>()), 1e-10);
  BOOST_CHECK_LT(rel(is.first, want.at("inception_score")[0].at("mean").get<double>()), 1e-12);
  BOOST_CHECK_LT(rel(is.second, want.at("inception_score")[0].at("std").get<double>()), 1e-10);
  // the JSON holds the printed values (printed as the shortest text that reads back exactly)
  const nlohmann::json j = nlohmann::json::parse(slurp(dir / "metrics.json"));
  BOOST_CHECK_EQUAL(j.at("fid").at("value").get<double>(), fid.first);
  BOOST_CHECK_EQUAL(j.at("kid").at("mean").get<double>(), kid.first);
  BOOST_CHECK_EQUAL(j.at("kid").at("std").get<double>(), kid.second);
  BOOST_CHECK_EQUAL(j.at("kid").at("subsets").get<int>(), 10);
  BOOST_CHECK_EQUAL(j.at("kid").at("subset_size").get<int>(), 50);
  BOOST_CHECK_EQUAL(j.at("inception_score").at("mean").get<double>(), is.first);
  BOOST_CHECK_EQUAL(j.at("inception_score").at("splits").get<int>(), 10);
  // statistics files: the saved one and numpy's compressed one give the FID of the features
  BOOST_CHECK(out.find("wrote " + (dir / "b.npz").string()) != std::string::npos);
  BOOST_REQUIRE_EQUAL(run("--fid " + q(ref / "stats_a_compressed.npz") + " " + q(dir / "b.npz"), log), 0);
  BOOST_CHECK_LT(rel(printed(slurp(log), "FID").first, fid.first), 1e-10);
  // options
  BOOST_REQUIRE_EQUAL(run("--inception-score " + q(ref / "logits.npy") + " --is-splits 7", log), 0);
  BOOST_CHECK_LT(rel(printed(slurp(log), "IS").first, want.at("inception_score")[1].at("mean").get<double>()), 1e-12);
  // errors: non-zero exit and a message naming the problem
  BOOST_CHECK_EQUAL(run("--kid " + a + " " + b, log), 1);  // default subsets of 1000 rows, files of 200
  BOOST_CHECK(slurp(log).find("subset size 1000 is larger than the number of samples") != std::string::npos);
  BOOST_CHECK_EQUAL(run("--fid " + a + " " + q(ref / "singular_a.npy"), log), 1);
  BOOST_CHECK(slurp(log).find("dimensions differ (16 vs 32)") != std::string::npos);
  {
    const std::string bytes = slurp(dir / "b.npz");
    std::ofstream(dir / "cut.npz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  BOOST_CHECK_EQUAL(run("--fid " + a + " " + q(dir / "cut.npz"), log), 1);
  BOOST_CHECK(slurp(log).find("cut.npz: not a zip archive or truncated") != std::string::npos);
  BOOST_CHECK_NE(run("--kid-subsets 3", log), 0);
  BOOST_CHECK_NE(run("--fid " + a, log), 0);
  BOOST_CHECK_EQUAL(run("--fid " + a + " " + b + " --train-features " + a, log), 1);
  BOOST_CHECK(slurp(log).find("cannot be combined") != std::string::npos);
  // nothing but the outputs left in the folder (the JSON and the .npz were renamed into place)
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  BOOST_CHECK((names == std::set<std::string>{"b.npz", "cut.npz", "log.txt", "metrics.json"}));
  fs::remove_all(dir);
}

// --plot-log: a run's periodic validation records (validate_every) drawn as a PNG; the records of
// a resumed session continue the curve; other lines are skipped; a log without any, or a line
// that is not JSON, stops with a message.
BOOST_AUTO_TEST_CASE(validation_curve_from_a_log) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_cli_curve_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path log = dir / "out.txt";
  {
    std::ofstream f(dir / "log.jsonl");
    f << R"({"build": "structgan test", "start_iteration": 0})" << "\n";
    f << R"({"iteration": 0, "validation": {"kmeans_accuracy_mean": 0.45, "kmeans_accuracy_std": 0.02, "svm_accuracy": 0.80}, "validation_seconds": 3.0, "wall_s": 0.0, "total_wall_s": 3.0})" << "\n";
    f << R"({"iteration": 1, "d_total": -1.5, "time": 4.0})" << "\n";
    f << R"({"iteration": 100, "validation": {"kmeans_accuracy_mean": 0.55, "kmeans_accuracy_std": 0.01, "svm_accuracy": 0.84}, "validation_seconds": 3.0, "wall_s": 120.0, "total_wall_s": 126.0})" << "\n";
    f << R"({"build": "structgan test", "start_iteration": 100})" << "\n";
    f << R"({"iteration": 200, "validation": {"kmeans_accuracy_mean": 0.60, "kmeans_accuracy_std": 0.01, "svm_accuracy": 0.85}, "validation_seconds": 3.0, "wall_s": 118.0, "total_wall_s": 121.0})" << "\n";
  }
  // the points as read: the resumed session's times continue from the first session's last record
  const auto points = structgan::examples::read_validation_log((dir / "log.jsonl").string());
  BOOST_REQUIRE_EQUAL(points.size(), 3u);
  BOOST_CHECK_EQUAL(points[1].iteration, 100);
  BOOST_CHECK_EQUAL(points[1].wall_s, 120.0);
  BOOST_CHECK_EQUAL(points[2].wall_s, 238.0);
  BOOST_CHECK_EQUAL(points[2].total_wall_s, 247.0);
  BOOST_CHECK_EQUAL(points[2].kmeans, 0.60);
  BOOST_CHECK_EQUAL(points[2].svm, 0.85);
  const std::string png = (dir / "curve.png").string();
  BOOST_REQUIRE_EQUAL(run("--plot-log '" + (dir / "log.jsonl").string() + "' --output '" + png + "'", log), 0);
  BOOST_CHECK_MESSAGE(slurp(log).find("(3 validation points)") != std::string::npos, slurp(log));
  const std::string bytes = slurp(png);
  BOOST_REQUIRE_GT(bytes.size(), 1000u);
  BOOST_CHECK_EQUAL(bytes.substr(1, 3), "PNG");
  // without --output: validation.png beside the log
  BOOST_REQUIRE_EQUAL(run("--plot-log '" + (dir / "log.jsonl").string() + "'", log), 0);
  BOOST_CHECK(fs::file_size(dir / "validation.png") > 1000);
  // a log without validation records, a broken line, a missing file, a conflicting option
  std::ofstream(dir / "plain.jsonl") << R"({"iteration": 1, "d_total": 0.5})" << "\n";
  BOOST_CHECK_EQUAL(run("--plot-log '" + (dir / "plain.jsonl").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("holds no validation records") != std::string::npos, slurp(log));
  std::ofstream(dir / "broken.jsonl") << R"({"iteration": 1})" << "\n" << "{not json\n";
  BOOST_CHECK_EQUAL(run("--plot-log '" + (dir / "broken.jsonl").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("line 2 is not a JSON object") != std::string::npos, slurp(log));
  std::ofstream(dir / "partial.jsonl") << R"({"iteration": 1, "validation": {"svm_accuracy": 0.5}, "wall_s": 1, "total_wall_s": 1})" << "\n";
  BOOST_CHECK_EQUAL(run("--plot-log '" + (dir / "partial.jsonl").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("no number 'kmeans_accuracy_mean'") != std::string::npos, slurp(log));
  BOOST_CHECK_EQUAL(run("--plot-log '" + (dir / "none.jsonl").string() + "'", log), 1);
  BOOST_CHECK(slurp(log).find("cannot open") != std::string::npos);
  BOOST_CHECK_EQUAL(run("--plot-log '" + (dir / "log.jsonl").string() + "' --json x.json", log), 1);
  BOOST_CHECK(slurp(log).find("--plot-log takes only --output") != std::string::npos);
  BOOST_CHECK_NE(run("--output x.png", log), 0);  // --output needs --plot-log
  fs::remove_all(dir);
}
