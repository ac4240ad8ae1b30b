#define BOOST_TEST_MODULE train_validation
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/program_test.hpp"
#include "train_test_util.hpp"

// The validation split (validation_size, validation_seed): disjoint, stratified, seeded; the
// training data never serves a held-out image; bad sizes fail naming the key. And the periodic
// validation hook of train::run (validate_every): its log records and their times.
using namespace structgan;
using namespace structgan::train_test;
namespace fs = std::filesystem;

namespace {

std::map<int, std::size_t> class_counts(const std::vector<int>& labels, const std::vector<std::size_t>& idx) {
  std::map<int, std::size_t> m;
  for (std::size_t i : idx) ++m[labels[i]];
  return m;
}

/// Checks that h divides 0..n−1 into two ascending, disjoint lists.
void check_partition(const train::HoldoutIndices& h, std::size_t n) {
  BOOST_TEST(std::is_sorted(h.train.begin(), h.train.end()));
  BOOST_TEST(std::is_sorted(h.validation.begin(), h.validation.end()));
  BOOST_TEST(h.train.size() + h.validation.size() == n);
  std::vector<std::size_t> both = h.train;
  both.insert(both.end(), h.validation.begin(), h.validation.end());
  std::sort(both.begin(), both.end());
  for (std::size_t i = 0; i < both.size(); ++i) BOOST_TEST_REQUIRE(both[i] == i);  // each index exactly once
}

}  // namespace

BOOST_AUTO_TEST_CASE(holdout_is_disjoint_stratified_and_seeded) {
  std::vector<int> labels;
  for (int i = 0; i < 1000; ++i) labels.push_back((i * 7) % 10);  // 100 per class, interleaved
  const train::HoldoutIndices a = train::stratified_holdout(labels, 250, 0);
  check_partition(a, labels.size());
  BOOST_TEST(a.validation.size() == 250u);
  for (const auto& [label, n] : class_counts(labels, a.validation)) BOOST_TEST(n == 25u, "class " << label);
  // Deterministic for a seed, another draw for another seed (same shares).
  const train::HoldoutIndices again = train::stratified_holdout(labels, 250, 0);
  BOOST_TEST((again.validation == a.validation));
  const train::HoldoutIndices b = train::stratified_holdout(labels, 250, 1);
  check_partition(b, labels.size());
  BOOST_TEST((b.validation != a.validation));
  for (const auto& [label, n] : class_counts(labels, b.validation)) BOOST_TEST(n == 25u, "class " << label);
  std::vector<std::size_t> common;
  std::set_intersection(a.validation.begin(), a.validation.end(), b.validation.begin(), b.validation.end(),
                        std::back_inserter(common));
  BOOST_TEST(common.size() < 150u);  // about a quarter of 250 by chance, far from all

  // A remainder below the class count: one more image each for some classes, shares within 1.
  const train::HoldoutIndices r = train::stratified_holdout(labels, 13, 5);
  check_partition(r, labels.size());
  const auto rc = class_counts(labels, r.validation);
  BOOST_TEST(rc.size() == 10u);
  std::size_t lo = 1000, hi = 0;
  for (const auto& [label, n] : rc) lo = std::min(lo, n), hi = std::max(hi, n);
  BOOST_TEST(lo == 1u);
  BOOST_TEST(hi == 2u);

  // A small class gives what it has; the others share the rest equally.
  std::vector<int> uneven(5, 0);
  uneven.insert(uneven.end(), 100, 1);
  uneven.insert(uneven.end(), 100, 2);
  const train::HoldoutIndices u = train::stratified_holdout(uneven, 61, 3);
  check_partition(u, uneven.size());
  const auto uc = class_counts(uneven, u.validation);
  BOOST_TEST(uc.at(0) == 5u);
  BOOST_TEST(uc.at(1) == 28u);
  BOOST_TEST(uc.at(2) == 28u);
}

BOOST_AUTO_TEST_CASE(bad_validation_sizes_fail_naming_the_key) {
  const std::vector<int> labels(40, 0);
  BOOST_TEST(has(error_of([&] { train::stratified_holdout(labels, 40, 0); }),
                 "'validation_size' = 40 must be less than the 40 images"));
  train::TrainConfig c = train::preset("fashion_mnist");
  BOOST_TEST(c.validation_size == 10000);  // 1,000 of each class of the 60,000
  BOOST_TEST(train::preset("cifar10").validation_size == 0);
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "validation_size=-1"); }), "'validation_size' = -1 must be ≥ 0"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "validation_seed=-2"); }), "'validation_seed' = -2 must be ≥ 0"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "validate_every=-1"); }), "'validate_every' = -1 must be ≥ 0"));
  c.validation_size = 0;
  c.validate_every = 10;
  BOOST_TEST(has(error_of([&] { train::validate(c); }), "'validate_every' = 10 needs held-out images"));
  train::TrainConfig s = train::preset("double_spiral");
  s.validation_size = 100;
  BOOST_CHECK_NO_THROW(train::validate(s));  // ignored: the spiral draws fresh points every batch

  data::ImageSet images = random_images(1);  // 40 images of 3 classes
  train::TrainConfig t = tiny_images("unused");
  t.validation_size = 40;
  BOOST_TEST(has(error_of([&] { train::holdout_of(t, images); }),
                 "'validation_size' = 40 must be less than the 40 images of the fashion_mnist train split"));
  t.validation_size = 35;  // leaves 5, under a batch of 8
  BOOST_TEST(has(error_of([&] { train::holdout_of(t, images); }),
                 "'validation_size' = 35 leaves 5 of the 40 training images, fewer than one batch ('batch_size' = 8)"));
  t.validation_size = 0;
  BOOST_TEST(train::holdout_of(t, images).train.size() == 40u);
}

// Every image of a fake Fashion-MNIST train split carries its own index in its first two pixels;
// a full pass over the training data (no augmentation, native size) decodes which images it
// served: every training image, never a held-out one.
BOOST_AUTO_TEST_CASE(training_data_never_serves_a_held_out_image) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_holdout_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int n = 300;
  testing::write_idx_images(dir, "train", n, 8, 8, [](int i) { return (i * 3) % 10; },
                            [](int i, int r, int c) { return r == 0 && c == 0 ? i % 256 : r == 0 && c == 1 ? i / 256 : 77; });
  train::TrainConfig c = tiny_images((dir / "run").string());
  c.data_dir = dir.string();
  c.augment = false;
  c.validation_size = 50;
  c.validation_seed = 4;

  const train::TrainValidationSplit split = train::load_train_validation(c);
  BOOST_TEST(split.validation.size() == 50u);
  BOOST_TEST(split.train.size() == 250u);
  std::map<int, std::size_t> per_class;
  for (int y : split.validation.labels) ++per_class[y];
  BOOST_TEST(per_class.size() == 10u);
  for (const auto& [label, k] : per_class) BOOST_TEST(k == 5u, "class " << label);
  std::set<int> held;
  for (std::size_t i = 0; i < split.validation.size(); ++i) {
    const std::uint8_t* p = split.validation.image(i);
    const int index = p[0] + 256 * p[1];
    BOOST_TEST(index == static_cast<int>(split.indices.validation[i]));  // the pixels of the image it names
    held.insert(index);
  }

  auto data = train::make_train_data(c);
  auto* images = dynamic_cast<train::ImageData*>(data.get());
  BOOST_REQUIRE(images != nullptr);
  BOOST_TEST(images->images().size() == 250u);
  BOOST_TEST((images->source_indices() == split.indices.train));
  std::set<int> served;
  train::HostBatch b;
  const std::uint64_t batches = data->batches_per_epoch();
  BOOST_TEST(batches == 250u / 8u);
  for (std::uint64_t k = 0; k < 2 * batches; ++k) {  // two epochs, two shuffles
    data->next(b);
    const std::size_t per = static_cast<std::size_t>(b.shape.numel() / b.shape[0]);
    for (index_t i = 0; i < b.shape[0]; ++i) {
      const float* x = b.x.data() + static_cast<std::size_t>(i) * per;
      const int p0 = static_cast<int>(std::lround((x[0] + 1.0f) * 127.5f));
      const int p1 = static_cast<int>(std::lround((x[1] + 1.0f) * 127.5f));
      const int index = p0 + 256 * p1;
      BOOST_TEST_REQUIRE(held.count(index) == 0u, "held-out image " << index << " served in batch " << k);
      served.insert(index);
    }
  }
  BOOST_TEST(served.size() >= 248u);  // drop_last leaves out at most 2 of 250 an epoch
  // A different seed holds out other images (the same counts).
  c.validation_seed = 5;
  const train::TrainValidationSplit other = train::load_train_validation(c);
  BOOST_TEST((other.indices.validation != split.indices.validation));
  BOOST_TEST(other.validation.size() == 50u);
  fs::remove_all(dir);
}

// validate_every: run() calls the hook at iteration 0, every N iterations and at the end, and logs
// each result with its time, leaving that time out of wall_s.
BOOST_AUTO_TEST_CASE(periodic_validation_records_in_the_log) {
  const std::string dir = fresh_dir("validate_every");
  train::TrainConfig c = tiny_images(dir);
  c.iterations = 5;
  c.validation_size = 4;  // (the data below is given directly; validate_every needs a split to exist)
  c.validate_every = 2;
  auto t = train::make_image_trainer<float>(c, image_data(c));
  using Tr = decltype(t);
  std::vector<std::int64_t> seen;
  const std::function<nlohmann::json(Tr&)> validate = [&](Tr& tr) {
    seen.push_back(tr.iteration());
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    return nlohmann::json{{"kmeans_accuracy_mean", 0.5}, {"kmeans_accuracy_std", 0.01}, {"svm_accuracy", 0.75}};
  };
  train::RunOptions ro;
  ro.progress = false;
  const train::RunResult result = train::run<Tr>(t, ro, {}, validate);
  BOOST_TEST((seen == std::vector<std::int64_t>{0, 2, 4, 5}));
  BOOST_TEST(result.validation_seconds >= 4 * 0.06);  // the part of result.seconds the rate leaves out
  BOOST_TEST(result.validation_seconds < result.seconds);
  std::ifstream log(dir + "/log.jsonl");
  std::vector<nlohmann::json> records;
  std::size_t steps = 0;
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("validation")) records.push_back(j);
    steps += j.contains("d_total");
  }
  BOOST_TEST(steps == 5u);  // the step records are as before
  BOOST_REQUIRE(records.size() == 4u);
  double previous_wall = -1;
  for (std::size_t k = 0; k < records.size(); ++k) {
    const nlohmann::json& r = records[k];
    BOOST_TEST(r.at("iteration").get<std::int64_t>() == seen[k]);
    BOOST_TEST(r.at("validation").at("svm_accuracy").get<double>() == 0.75);
    const double wall = r.at("wall_s").get<double>(), total = r.at("total_wall_s").get<double>();
    BOOST_TEST(r.at("validation_seconds").get<double>() >= 0.06);
    // total_wall_s includes this and every earlier validation; wall_s none of them
    BOOST_TEST(total - wall >= 0.06 * static_cast<double>(k + 1) - 1e-9);
    BOOST_TEST(wall >= previous_wall);
    previous_wall = wall;
  }
  // Without validate_every the hook is never called.
  const std::string dir2 = fresh_dir("validate_every_off");
  train::TrainConfig off = tiny_images(dir2);
  off.iterations = 2;
  auto t2 = train::make_image_trainer<float>(off, image_data(off));
  seen.clear();
  train::run<Tr>(t2, ro, {}, validate);
  BOOST_TEST(seen.empty());
  fs::remove_all(dir);
  fs::remove_all(dir2);
}

// eval_checkpoint = best_validation with validate_from: the validations start at validate_from,
// the state of the one with the highest k-means accuracy is kept in best_validation.ckpt (bit for
// bit the state validated), the log marks each new best, a resumed run takes the best so far from
// its log, a non-finite accuracy is never chosen, and the configurations it cannot honour fail.
BOOST_AUTO_TEST_CASE(best_validation_keeps_the_state_of_the_best_k_means) {
  const std::string dir = fresh_dir("best_validation");
  train::TrainConfig c = tiny_images(dir);
  c.iterations = 8;
  c.validation_size = 4;
  c.validate_every = 2;
  c.validate_from = 3;  // validations at 4, 6 and 8 (the end); none at 0 or 2
  c.eval_checkpoint = "best_validation";
  train::validate(c);
  using Tr = decltype(train::make_image_trainer<float>(c, image_data(c)));
  std::map<std::int64_t, double> score;
  std::vector<std::int64_t> seen;
  const std::function<nlohmann::json(Tr&)> validate = [&](Tr& tr) {
    seen.push_back(tr.iteration());
    tr.save(dir + "/at_" + std::to_string(tr.iteration()) + ".ckpt");  // the state each validation saw
    return nlohmann::json{{"kmeans_accuracy_mean", score.at(tr.iteration())}, {"svm_accuracy", 0.5}};
  };
  auto selected_in_log = [&] {
    std::vector<std::int64_t> marked;
    std::ifstream log(dir + "/log.jsonl");
    for (std::string line; std::getline(log, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.value("selected", false)) marked.push_back(j.at("iteration").get<std::int64_t>());
    }
    return marked;
  };
  train::RunOptions ro;
  ro.progress = false;
  const std::string best = train::best_validation_checkpoint_path(dir);

  score = {{4, 0.6}, {6, 0.7}, {8, 0.65}};
  {
    auto t = train::make_image_trainer<float>(c, image_data(c));
    const train::RunResult r = train::run<Tr>(t, ro, {}, validate);
    BOOST_TEST((seen == std::vector<std::int64_t>{4, 6, 8}));
    BOOST_TEST(r.selected_iteration == 6);
    BOOST_TEST(r.selected_kmeans == 0.7);
    BOOST_TEST(r.selected_checkpoint == best);
    BOOST_TEST(t.iteration() == 8);  // the trainer itself ends at the last iteration
  }
  check_same_state(best, dir + "/at_6.ckpt");
  BOOST_TEST(states_differ(best, dir + "/at_8.ckpt"));
  BOOST_TEST((selected_in_log() == std::vector<std::int64_t>{4, 6}));
  {
    auto loaded = train::make_image_trainer<float>(c, image_data(c));
    loaded.load(best);
    BOOST_TEST(loaded.iteration() == 6);
  }

  // Resumed: the first session's best (iteration 6) stands against the second session's lower 0.65.
  seen.clear();
  {
    train::TrainConfig first = c;
    first.iterations = 6;
    auto t = train::make_image_trainer<float>(first, image_data(first));
    const train::RunResult r = train::run<Tr>(t, ro, {}, validate);
    BOOST_TEST(r.selected_iteration == 6);
  }
  {
    auto t = train::make_image_trainer<float>(c, image_data(c));
    train::RunOptions resume = ro;
    resume.resume = true;
    const train::RunResult r = train::run<Tr>(t, resume, {}, validate);
    BOOST_TEST((seen == std::vector<std::int64_t>{4, 6, 8}));
    BOOST_TEST(r.selected_iteration == 6);
    BOOST_TEST(r.selected_kmeans == 0.7);
    check_same_state(best, dir + "/at_6.ckpt");
    BOOST_TEST((selected_in_log() == std::vector<std::int64_t>{4, 6}));
    // The best state's file gone, a resumed run stops naming it.
    fs::remove(best);
    train::TrainConfig longer = c;
    longer.iterations = 10;
    score[10] = 0.1;
    auto t2 = train::make_image_trainer<float>(longer, image_data(longer));
    BOOST_TEST(has(error_of([&] { train::run<Tr>(t2, resume, {}, validate); }),
                   "marks the validation of iteration 6 as the best so far, but '" + best + "' is missing"));
  }

  // validate_from past the run's end: the last iteration is still validated, and chosen.
  seen.clear();
  {
    train::TrainConfig past = c;
    past.validate_from = 9;
    score = {{8, 0.3}};
    auto t = train::make_image_trainer<float>(past, image_data(past));
    const train::RunResult r = train::run<Tr>(t, ro, {}, validate);
    BOOST_TEST((seen == std::vector<std::int64_t>{8}));
    BOOST_TEST(r.selected_iteration == 8);
  }

  // A fresh run removes an older run's best state; NaN is never chosen.
  fs::copy_file(dir + "/at_6.ckpt", best, fs::copy_options::overwrite_existing);  // an older state
  score = {{4, std::nan("")}, {6, std::nan("")}, {8, std::nan("")}};
  {
    auto t = train::make_image_trainer<float>(c, image_data(c));
    const train::RunResult r = train::run<Tr>(t, ro, {}, validate);
    BOOST_TEST(r.selected_iteration == -1);
    BOOST_TEST(!fs::exists(best));
    BOOST_TEST(selected_in_log().empty());
  }
  score = {{4, std::nan("")}, {6, 0.5}, {8, 0.5}};  // a tie keeps the earlier state
  {
    auto t = train::make_image_trainer<float>(c, image_data(c));
    const train::RunResult r = train::run<Tr>(t, ro, {}, validate);
    BOOST_TEST(r.selected_iteration == 6);
    BOOST_TEST(r.selected_kmeans == 0.5);
    BOOST_TEST((selected_in_log() == std::vector<std::int64_t>{6}));
  }

  // What it cannot honour fails, naming the key.
  train::TrainConfig bad = c;
  bad.validate_every = 0;
  BOOST_TEST(has(error_of([&] { train::validate(bad); }), "'eval_checkpoint' = best_validation needs periodic validations"));
  BOOST_TEST(has(error_of([&] { train::apply_override(bad, "eval_checkpoint=best"); }),
                 "must be one of last, best_validation, got 'best'"));
  {
    auto t = train::make_image_trainer<float>(c, image_data(c));
    BOOST_TEST(has(error_of([&] { train::run<Tr>(t, ro, {}, {}); }), "gives train::run no periodic validation"));
  }
  fs::remove_all(dir);
}
