#define BOOST_TEST_MODULE eval_cli_generator
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "structgan/io/npy.hpp"
#include "structgan/train/all.hpp"
#include "structgan/train/image_quality.hpp"
#include "../common/program_test.hpp"
#include "../common/tiny_image_config.hpp"
#include "../common/tiny_inception.hpp"

// structgan-eval --generator end to end (executable path in argv[1]): a tiny image run (BigGAN-deep with 2
// channels per unit on 8×8 gray Fashion-MNIST IDX files) trains 2 iterations and saves its checkpoint; a
// random-weights Inception at 1/16 width (128-d pool3) stands in for the real weights. The CLI rebuilds the EMA
// generator from the checkpoint, samples it and prints FID, IS and KID; the same numbers come from the library
// on the trainer's own EMA generator, from the saved features through --fid / --inception-score, and again on a
// second run.
namespace sg = structgan;
namespace io = structgan::io;
namespace fs = std::filesystem;

namespace {
namespace st = structgan::testing;
std::string exe() { return st::program_path("eval_cli_generator PATH_TO_structgan-eval"); }
int run(const std::string& args, const fs::path& log) { return st::run_program(exe(), args, log); }
std::string slurp(const fs::path& p) { return st::read_file(p); }
void write_idx(const fs::path& dir, const std::string& prefix, int n, std::uint64_t seed) {
  sg::Rng rng(seed);
  st::write_idx_images(dir, prefix, n, 8, 8, [](int i) { return i % 3; }, [&](int i, int r, int c) {
    const int y = i % 3, r0 = y == 2 ? 4 : 0, c0 = y == 1 ? 4 : 0;
    const bool on = r >= r0 && r < r0 + 4 && c >= c0 && c < c0 + 4;
    return static_cast<int>((on ? 180 : 20) + rng.below(60));
  });
}
// The number after "<name>: " on its line of `out` (and the one after " ± " when `second`); NaN when absent.
double value_of(const std::string& out, const std::string& name, bool second = false) {
  const std::regex re("(^|\n)" + name + ": ([-+0-9.eE]+)( ± ([-+0-9.eE]+))?");
  std::smatch m;
  if (!std::regex_search(out, m, re) || (second && !m[4].matched)) return std::nan("");
  return std::stod(second ? m[4].str() : m[2].str());
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_CASE(fid_is_and_kid_of_a_checkpoints_generator) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_gen_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  write_idx(dir / "data", "train", 40, 1);
  write_idx(dir / "data", "t10k", 10, 2);
  const std::string weights = (dir / "inception_tiny.npz").string();
  st::write_random_inception_weights(weights, 16, 5);

  sg::train::TrainConfig c = st::tiny_image_config((dir / "run").string());  // the 40 images all trained on
  c.data_dir = (dir / "data").string();
  c.iterations = 2;
  const std::string ckpt = (dir / "run" / "checkpoint.ckpt").string();
  fs::create_directories(dir / "run");
  auto t = sg::train::make_image_trainer<float>(c, sg::train::make_train_data(c));
  t.step();
  t.step();
  t.save(ckpt);

  const fs::path log = dir / "log.txt";
  const std::string base = "--generator '" + ckpt + "' --inception-weights '" + weights +
                           "' --samples 20 --seed 4 --batch 6 --threads 1 --is-splits 2";
  const std::string kid = " --kid-subsets 5 --kid-subset-size 10";
  BOOST_REQUIRE_EQUAL(run(base + kid + " --data-dir '" + (dir / "data").string() + "' --json '" + (dir / "a.json").string() +
                              "' --save-fid-stats '" + (dir / "real.npz").string() + "' --save-features '" +
                              (dir / "features").string() + "'",
                          log),
                      0);
  const std::string out = slurp(log);
  BOOST_TEST_MESSAGE(out);
  const double fid = value_of(out, "FID"), is_mean = value_of(out, "IS"), is_std = value_of(out, "IS", true);
  const double kid_mean = value_of(out, "KID"), kid_std = value_of(out, "KID", true);
  BOOST_REQUIRE_MESSAGE(std::isfinite(fid) && std::isfinite(is_mean) && std::isfinite(kid_mean), out);
  BOOST_CHECK_GE(fid, 0.0);
  BOOST_CHECK_GE(is_mean, 1.0 - 1e-12);
  BOOST_CHECK_GE(is_std, 0.0);
  BOOST_CHECK_GE(kid_std, 0.0);
  BOOST_CHECK(has(out, "20 samples, latents from seed 4, generator batch 8"));  // the run's batch_size

  // the JSON holds the printed values (printed as the shortest text that reads back the same double)
  const nlohmann::json j = nlohmann::json::parse(slurp(dir / "a.json"));
  BOOST_CHECK_EQUAL(j.at("fid").at("value").get<double>(), fid);
  BOOST_CHECK_EQUAL(j.at("inception_score").at("mean").get<double>(), is_mean);
  BOOST_CHECK_EQUAL(j.at("inception_score").at("std").get<double>(), is_std);
  BOOST_CHECK_EQUAL(j.at("kid").at("mean").get<double>(), kid_mean);
  BOOST_CHECK_EQUAL(j.at("kid").at("std").get<double>(), kid_std);
  BOOST_CHECK_EQUAL(j.at("iteration").get<int>(), 2);
  BOOST_CHECK_EQUAL(j.at("samples").get<int>(), 20);
  BOOST_CHECK_EQUAL(j.at("fid").at("real").at("images").get<int>(), 40);

  // determinism: a second run prints the same lines
  BOOST_REQUIRE_EQUAL(run(base + kid + " --data-dir '" + (dir / "data").string() + "'", log), 0);
  const std::string again = slurp(log);
  for (const char* k : {"FID", "IS", "KID"}) BOOST_CHECK_EQUAL(value_of(again, k), value_of(out, k));
  for (const char* k : {"IS", "KID"}) BOOST_CHECK_EQUAL(value_of(again, k, true), value_of(out, k, true));

  // the generated features are those of the trainer's own EMA generator (latents of seed 4, batches of 8)
  const auto net = sg::train::load_inception_v3<float>(weights);
  sg::train::InceptionRun ir;
  ir.batch = 20;
  const sg::train::InceptionFeatures mine =
      sg::train::generator_inception_features(t.ema_generator(), 20, 8, 4, net, ir);
  const sg::RowMatrixD saved = io::read_npy_matrix<double>((dir / "features" / "generated_pool3.npy").string());
  BOOST_REQUIRE_EQUAL(saved.rows(), 20);
  BOOST_REQUIRE_EQUAL(saved.cols(), 128);
  BOOST_CHECK_LE((saved - mine.pool3).cwiseAbs().maxCoeff(), 1e-4 * (1 + mine.pool3.cwiseAbs().maxCoeff()));
  // the samples differ, and much more than the comparison's tolerance
  BOOST_CHECK_GT((saved.row(0) - saved.row(1)).norm(), 1e-2 * saved.row(0).norm());
  const sg::RowMatrixD real_saved = io::read_npy_matrix<double>((dir / "features" / "real_pool3.npy").string());
  BOOST_CHECK_EQUAL(real_saved.rows(), 40);
  // ... and the feature-file modes give the same numbers from them
  const fs::path f = dir / "features";
  BOOST_REQUIRE_EQUAL(run("--fid '" + (dir / "real.npz").string() + "' '" + (f / "generated_pool3.npy").string() +
                              "' --inception-score '" + (f / "generated_logits_unbiased.npy").string() +
                              "' --is-splits 2 --kid '" + (f / "real_pool3.npy").string() + "' '" +
                              (f / "generated_pool3.npy").string() + "'" + kid,
                          log),
                      0);
  const std::string files = slurp(log);
  BOOST_CHECK_CLOSE(value_of(files, "FID"), fid, 1e-9);
  BOOST_CHECK_EQUAL(value_of(files, "IS"), is_mean);
  BOOST_CHECK_EQUAL(value_of(files, "KID"), kid_mean);

  // --fid-stats: the saved real statistics give the same FID and IS, and no KID (said so)
  BOOST_REQUIRE_EQUAL(run(base + " --fid-stats '" + (dir / "real.npz").string() + "' --json '" + (dir / "b.json").string() + "'",
                          log),
                      0);
  const std::string stats_out = slurp(log);
  BOOST_CHECK_CLOSE(value_of(stats_out, "FID"), fid, 1e-9);
  BOOST_CHECK_EQUAL(value_of(stats_out, "IS"), is_mean);
  BOOST_CHECK(std::isnan(value_of(stats_out, "KID")));
  BOOST_CHECK_MESSAGE(has(stats_out, "no KID"), stats_out);
  BOOST_CHECK(!nlohmann::json::parse(slurp(dir / "b.json")).contains("kid"));

  // TF1 resize: other features, another FID
  BOOST_REQUIRE_EQUAL(run(base + " --inception-resize tf1 --fid-stats '" + (dir / "real.npz").string() + "'", log), 0);
  BOOST_CHECK_NE(value_of(slurp(log), "FID"), fid);

  // errors
  BOOST_CHECK_EQUAL(run("--generator '" + ckpt + "' --inception-weights '" + (dir / "none.npz").string() +
                            "' --fid-stats '" + (dir / "real.npz").string() + "'",
                        log),
                    1);
  BOOST_CHECK_MESSAGE(has(slurp(log), "--inception-weights: '" + (dir / "none.npz").string() + "' does not exist"), slurp(log));
  BOOST_CHECK_EQUAL(run("--generator '" + ckpt + "' --fid-stats '" + (dir / "real.npz").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(has(slurp(log), "needs --inception-weights"), slurp(log));
  {
    sg::io::Checkpoint other;
    std::string config = sg::train::to_json(c).dump();
    other.string("config", config);
    sg::io::save_checkpoint((dir / "no_generator.ckpt").string(), other);
  }
  BOOST_CHECK_EQUAL(run("--generator '" + (dir / "no_generator.ckpt").string() + "' --inception-weights '" + weights +
                            "' --fid-stats '" + (dir / "real.npz").string() + "'",
                        log),
                    1);
  BOOST_CHECK_MESSAGE(has(slurp(log), "holds no image generator 'G_ema'"), slurp(log));
  io::write_fid_statistics((dir / "other_dim.npz").string(), sg::FidStatistics{Eigen::VectorXd::Zero(2048),
                                                                                Eigen::MatrixXd::Identity(2048, 2048)});
  BOOST_CHECK_EQUAL(run(base + " --fid-stats '" + (dir / "other_dim.npz").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(has(slurp(log), "holds 2048-d statistics but the Inception network") && has(slurp(log), "gives 128-d"),
                      slurp(log));
  BOOST_CHECK_EQUAL(run(base, log), 1);  // neither --fid-stats nor --data-dir
  BOOST_CHECK_MESSAGE(has(slurp(log), "--fid-stats REAL.npz or --data-dir DIR"), slurp(log));
  BOOST_CHECK_EQUAL(run(base + " --data-dir '" + (dir / "data").string() + "'", log), 1);  // KID's 1000 > 20 samples
  BOOST_CHECK_MESSAGE(has(slurp(log), "--kid-subset-size"), slurp(log));
  BOOST_CHECK_NE(run(base + " --checkpoint '" + ckpt + "'", log), 0);
  BOOST_CHECK_NE(run("--inception-weights '" + weights + "'", log), 0);  // CLI11: needs --generator
  fs::remove_all(dir);
}
