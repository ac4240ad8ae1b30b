#define BOOST_TEST_MODULE train_errors
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "train_test_util.hpp"

using namespace structgan;
using namespace structgan::train_test;
namespace fs = std::filesystem;

namespace {

/// The double spiral, except that batch `poison` holds one point at (1e30·x, NaN).
class PoisonedSpiral : public train::SpiralData {
 public:
  PoisonedSpiral(int batch, std::uint64_t seed, std::uint64_t poison) : SpiralData(batch, seed, 0.1), poison_(poison) {}
  void next(train::HostBatch& b) override {
    const bool bad = position() == poison_;
    SpiralData::next(b);
    if (bad) {
      b.x[0] = std::numeric_limits<float>::quiet_NaN();
      b.x[1] = 1e30f;
    }
  }

 private:
  std::uint64_t poison_;
};

template <class T>
bool all_finite_params(T& trainer) {
  bool ok = true;
  nn::for_each_parameter(trainer.discriminator(), [&](const std::string&, auto& p) { ok = ok && p.value.array().allFinite(); });
  nn::for_each_parameter(trainer.generator(), [&](const std::string&, auto& p) { ok = ok && p.value.array().allFinite(); });
  return ok;
}
}  // namespace

BOOST_AUTO_TEST_CASE(non_finite_loss_stops_with_a_clear_error_and_the_last_checkpoint_loads) {
  const std::string dir = fresh_dir("nonfinite");
  train::TrainConfig c = tiny_spiral(dir);
  c.iterations = 20;
  c.checkpoint_every = 2;
  // Batch 4 (the fifth) is poisoned: iteration 5 fails; the checkpoint of iteration 4 stays.
  auto t = train::make_spiral_trainer<float>(c, std::make_unique<PoisonedSpiral>(16, 5, 4));
  std::string message;
  try {
    train::run(t, {false, 0, false});
    BOOST_FAIL("expected train::NonFiniteError");
  } catch (const train::NonFiniteError& e) {
    message = e.what();
  }
  BOOST_TEST_MESSAGE(message);
  BOOST_TEST(has(message, "non-finite"));
  BOOST_TEST(has(message, "iteration 5"));
  BOOST_TEST(has(message, train::checkpoint_path(dir)));
  BOOST_TEST(t.iteration() == 4);
  // The checkpoint holds iteration 4 and loads into a fresh trainer, with finite parameters,
  // and training goes on from it (the data at batch 4 is clean in a fresh run).
  auto u = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  u.load(train::checkpoint_path(dir));
  BOOST_TEST(u.iteration() == 4);
  BOOST_TEST(all_finite_params(u));
  const train::StepReport r = u.step();
  BOOST_TEST(std::isfinite(r.d.total));
  // The log ends at the last good iteration.
  std::ifstream log(dir + "/log.jsonl");
  std::string line, last;
  while (std::getline(log, line)) last = line;
  BOOST_TEST(nlohmann::json::parse(last)["iteration"].get<int>() == 4);
}

BOOST_AUTO_TEST_CASE(exploding_learning_rate_stops_with_a_non_finite_error) {
  const std::string dir = fresh_dir("explode");
  train::TrainConfig c = tiny_spiral(dir);
  c.iterations = 30;
  c.lr_d = 1e37;
  c.weight_decay_d = 0;
  auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  try {
    train::run(t, {false, 0, false});
    BOOST_FAIL("expected train::NonFiniteError");
  } catch (const train::NonFiniteError& e) {
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST(has(e.what(), "non-finite"));
    BOOST_TEST(has(e.what(), "No checkpoint was written"));
  }
  BOOST_TEST(t.iteration() < 30);
  BOOST_TEST(!fs::exists(train::checkpoint_path(dir)));
}

BOOST_AUTO_TEST_CASE(an_unwritable_output_folder_fails_before_training) {
  // A regular file where a folder should be (permission bits do not stop root, this does).
  const std::string base = fresh_dir("unwritable");
  fs::create_directories(base);
  std::ofstream(base + "/file") << "x";
  const std::string dir = base + "/file/run";
  train::TrainConfig c = tiny_spiral(dir);
  c.iterations = 3;
  auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  try {
    train::run(t, {false, 0, false});
    BOOST_FAIL("expected structgan::Error");
  } catch (const train::NonFiniteError&) {
    BOOST_FAIL("wrong error");
  } catch (const Error& e) {
    BOOST_TEST_MESSAGE(e.what());
    BOOST_TEST(has(e.what(), "output folder '" + dir + "'"));
  }
  BOOST_TEST(t.iteration() == 0);
  BOOST_CHECK_THROW(train::prepare_output_dir(dir), Error);
  BOOST_CHECK_NO_THROW(train::prepare_output_dir(base + "/ok"));
}

BOOST_AUTO_TEST_CASE(corrupt_or_foreign_checkpoints_are_refused_by_name) {
  const std::string dir = fresh_dir("corrupt");
  fs::create_directories(dir);
  train::TrainConfig c = tiny_spiral(dir);
  auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  t.step();
  t.save(dir + "/good.ckpt");
  std::ofstream(dir + "/junk.ckpt") << "not a checkpoint";
  try {
    t.load(dir + "/junk.ckpt");
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(has(e.what(), "junk.ckpt"));
  }
  // Truncated: the first 200 bytes of a good file.
  {
    std::ifstream in(dir + "/good.ckpt", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/short.ckpt", std::ios::binary) << bytes.substr(0, 200);
  }
  BOOST_CHECK_THROW(t.load(dir + "/short.ckpt"), Error);
  // A state of other networks (wider MLP): the tensor shapes are named.
  train::TrainConfig wide = c;
  wide.mlp_hidden = 32;
  auto w = train::make_spiral_trainer<float>(wide, train::make_train_data(wide));
  try {
    w.load(dir + "/good.ckpt");
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(has(e.what(), "mlp_hidden"));
  }
}
