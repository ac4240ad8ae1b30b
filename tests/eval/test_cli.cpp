#define BOOST_TEST_MODULE eval_cli
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "structgan/io/npy.hpp"
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
