#define BOOST_TEST_MODULE train_fid
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/tiny_inception.hpp"
#include "structgan/train/image_quality.hpp"
#include "train_test_util.hpp"

// fid_every (train/run.hpp, train/image_quality.hpp): FID and IS of the EMA generator in log.jsonl, the
// training images' statistics cached as fid_stats_train.npz, and the configuration errors. A random-weights
// Inception at 1/16 width (128-d pool3) on 8×8 gray images; no real weights.
using namespace structgan;
using namespace structgan::train_test;
namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> log_records(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "log.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

train::TrainConfig fid_config(const std::string& dir, const std::string& weights) {
  train::TrainConfig c = tiny_images(dir);
  c.iterations = 2;
  c.fid_every = 1;
  c.fid_inception_weights = weights;
  c.fid_samples = 12;
  c.fid_batch = 5;  // Inception batches that cut across generator batches of 8
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(fid_every_logs_fid_and_inception_score_of_the_ema_generator) {
  const std::string dir = fresh_dir("fid"), weights = fresh_dir("fid_weights") + ".npz";
  testing::write_random_inception_weights(weights, 16, 9);
  const train::TrainConfig c = fid_config(dir, weights);
  auto t = train::make_image_trainer<float>(c, image_data(c));
  train::RunOptions ro;
  ro.progress = false;
  using Tr = decltype(t);
  const train::RunResult r = train::run<Tr>(t, ro, {}, {}, train::fid_measurement(t, true, false));
  BOOST_REQUIRE_EQUAL(r.iteration, 2);

  const std::vector<nlohmann::json> log = log_records(dir);
  BOOST_REQUIRE_EQUAL(log.size(), 3u);  // the build record, iterations 1 and 2 (one record each)
  for (int i = 1; i <= 2; ++i) {
    const nlohmann::json& j = log[static_cast<std::size_t>(i)];
    BOOST_CHECK_EQUAL(j.at("iteration").get<int>(), i);
    BOOST_REQUIRE(j.contains("fid") && j.contains("is_mean") && j.contains("is_std"));
    BOOST_CHECK(j.contains("d_total"));  // the iteration's losses in the same record
    const double fid = j["fid"].get<double>(), is = j["is_mean"].get<double>();
    BOOST_CHECK_MESSAGE(std::isfinite(fid) && fid >= 0, "fid = " << fid);
    BOOST_CHECK_MESSAGE(is >= 1.0 - 1e-12 && is <= 1008.0, "is_mean = " << is);  // exp(KL) ≥ 1, ≤ classes
    BOOST_CHECK(j["is_std"].get<double>() >= 0);
    BOOST_CHECK_EQUAL(j.at("fid_samples").get<int>(), 12);
  }
  // the generator changed between the two measurements (same latents, other weights)
  BOOST_CHECK_NE(log[1]["fid"].get<double>(), log[2]["fid"].get<double>());

  // the cached real statistics: 128-d, those of 12 training images at 8×8 through the same network
  const std::string cache = (fs::path(dir) / "fid_stats_train.npz").string();
  BOOST_REQUIRE(fs::exists(cache));
  const FidStatistics cached = io::read_fid_statistics(cache);
  BOOST_CHECK_EQUAL(cached.mu.size(), 128);
  const auto net = train::load_inception_v3<float>(weights);
  train::InceptionRun run;
  run.batch = 7;  // another batching: per-image results do not depend on it
  const data::ImageSet& set = dynamic_cast<const train::ImageData&>(t.data()).images();
  const train::InceptionFeatures real = train::image_set_inception_features(
      set, train::real_image_transform(c, 8, 8), 12, static_cast<std::uint64_t>(c.seed) + 3, net, run);
  const FidStatistics recomputed = train::pool3_statistics(real);
  BOOST_CHECK_LE((recomputed.mu - cached.mu).norm(), 1e-5 * (1 + cached.mu.norm()));
  BOOST_CHECK_LE((recomputed.sigma - cached.sigma).norm(), 1e-5 * (1 + cached.sigma.norm()));

  // the last record is the trained EMA generator's FID: the same latents (seed + 2) and batches now give it again
  const train::InceptionFeatures fake = train::generator_inception_features(
      t.ema_generator(), 12, c.batch_size, static_cast<std::uint64_t>(c.seed) + 2, net, run);
  const train::GeneratorQuality q = train::generator_quality(cached, fake);
  BOOST_CHECK_CLOSE(q.fid, log[2]["fid"].get<double>(), 1e-4);
  BOOST_CHECK_CLOSE(q.inception_score.mean, log[2]["is_mean"].get<double>(), 1e-6);

  // a resumed run reads the cached statistics back (a changed cache would change the FID)
  train::TrainConfig c3 = c;
  c3.iterations = 3;
  auto t3 = train::make_image_trainer<float>(c3, image_data(c3));
  ro.resume = true;
  BOOST_REQUIRE_EQUAL(train::run<Tr>(t3, ro, {}, {}, train::fid_measurement(t3, false, false)).iteration, 3);
  const std::vector<nlohmann::json> log3 = log_records(dir);
  BOOST_REQUIRE_EQUAL(log3.size(), 5u);  // + the resumption's build record and iteration 3
  BOOST_CHECK(log3[4].contains("fid"));
  BOOST_CHECK(io::read_fid_statistics(cache).mu == cached.mu);
  fs::remove_all(dir);
  fs::remove(weights);
}

BOOST_AUTO_TEST_CASE(fid_every_fails_at_the_start_naming_the_key) {
  const std::string dir = fresh_dir("fid_errors");
  train::TrainConfig c = tiny_images(dir);
  c.fid_every = 1;
  std::string e = error_of([&] { train::validate(c); });
  BOOST_CHECK_MESSAGE(has(e, "'fid_inception_weights'") && has(e, "'fid_every' = 1"), e);
  c.fid_inception_weights = dir + "/missing.npz";
  e = error_of([&] { train::validate(c); });
  BOOST_CHECK_MESSAGE(has(e, "'fid_inception_weights' = '" + dir + "/missing.npz' is not a file"), e);
  // the trainer validates its configuration: no run starts with it
  e = error_of([&] { auto t = train::make_image_trainer<float>(c, image_data(c)); });
  BOOST_CHECK_MESSAGE(has(e, "fid_inception_weights"), e);
  // --set style
  train::TrainConfig s = tiny_spiral(dir);
  train::apply_override(s, "fid_every=10");
  train::apply_override(s, "fid_inception_weights=" + std::string(STRUCTGAN_SOURCE_DIR) + "/LICENSE");
  e = error_of([&] { train::validate(s); });
  BOOST_CHECK_MESSAGE(has(e, "'fid_every' = 10 needs an image data set"), e);
  e = error_of([&] { train::apply_override(s, "fid_samples=1"); train::validate(s); });
  BOOST_CHECK_MESSAGE(has(e, "fid_samples"), e);
  // a file that is not Inception weights fails when the run starts, before the first iteration
  c.fid_inception_weights = std::string(STRUCTGAN_SOURCE_DIR) + "/LICENSE";
  c.iterations = 1;
  auto t = train::make_image_trainer<float>(c, image_data(c));
  train::RunOptions ro;
  ro.progress = false;
  e = error_of([&] { train::run(t, ro, {}, {}, train::fid_measurement(t, true, false)); });
  BOOST_CHECK_MESSAGE(has(e, "LICENSE"), e);
  BOOST_CHECK_EQUAL(t.iteration(), 0);
  // a program that asks for fid_every but gives train::run no measurement is refused before it starts
  e = error_of([&] { train::run(t, ro); });
  BOOST_CHECK_MESSAGE(has(e, "'fid_every' = 1") && has(e, "fid_measurement"), e);
  BOOST_CHECK_EQUAL(t.iteration(), 0);
  fs::remove_all(dir);
}
