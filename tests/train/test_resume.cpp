#define BOOST_TEST_MODULE train_resume
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "train_test_util.hpp"

using namespace structgan;
using namespace structgan::train_test;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_CASE(spiral_k_steps_equal_half_save_load_half) {
  const std::string dir = fresh_dir("resume_api");
  fs::create_directories(dir);
  const train::TrainConfig c = tiny_spiral(dir);
  const int k = 8;
  auto a = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < k; ++i) a.step();
  a.save(dir + "/a.ckpt");

  auto b = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < k / 2; ++i) b.step();
  b.save(dir + "/half.ckpt");
  auto c2 = train::make_spiral_trainer<float>(c, train::make_train_data(c));  // a new process, in effect
  c2.load(dir + "/half.ckpt");
  BOOST_TEST(c2.iteration() == k / 2);
  for (int i = 0; i < k / 2; ++i) c2.step();
  c2.save(dir + "/b.ckpt");

  check_same_state(dir + "/a.ckpt", dir + "/b.ckpt");
  BOOST_TEST(states_differ(dir + "/a.ckpt", dir + "/half.ckpt"));
  // The step after the resumed run matches too (no hidden state outside the file).
  const auto ra = a.step(), rc = c2.step();
  BOOST_TEST(ra.d.total == rc.d.total);
  BOOST_TEST(ra.g.total == rc.g.total);
}

BOOST_AUTO_TEST_CASE(cosine_schedule_resumes_exactly_and_changes_the_trajectory) {
  const std::string dir = fresh_dir("resume_cosine");
  fs::create_directories(dir);
  train::TrainConfig c = tiny_spiral(dir);
  c.lr_d = c.lr_g = 1e-2;  // large enough that the decayed rates move the parameters visibly
  c.lr_schedule = "cosine";
  c.lr_schedule_iterations = 8;
  const int k = 8;
  auto a = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < k; ++i) a.step();
  a.save(dir + "/a.ckpt");
  // The rates of the last step: factor ½(1 + cos(7π/8)) of the base rates.
  const double f = 0.5 * (1.0 + std::cos(3.14159265358979323846 * 7.0 / 8.0));
  BOOST_TEST(a.lr_d() == 1e-2 * f, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(a.lr_g() == 1e-2 * f, boost::test_tools::tolerance(1e-12));

  auto b = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < k / 2; ++i) b.step();
  b.save(dir + "/half.ckpt");
  auto b2 = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  b2.load(dir + "/half.ckpt");
  for (int i = 0; i < k / 2; ++i) b2.step();
  b2.save(dir + "/b.ckpt");
  check_same_state(dir + "/a.ckpt", dir + "/b.ckpt");

  // The same run at constant rates: same first step (factor 1), different state after k.
  train::TrainConfig cc = c;
  cc.lr_schedule = "constant";
  auto u = train::make_spiral_trainer<float>(cc, train::make_train_data(cc));
  auto v = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  BOOST_TEST(u.step().d.total == v.step().d.total);
  for (int i = 1; i < k; ++i) u.step();
  u.save(dir + "/constant.ckpt");
  BOOST_TEST(states_differ(dir + "/a.ckpt", dir + "/constant.ckpt"));
  BOOST_TEST(u.lr_d() == 1e-2);

  // A cosine run spanning `iterations` may not resume with other `iterations` (the schedule
  // would change), and a run of another schedule is refused by name.
  train::TrainConfig s = tiny_spiral(fresh_dir("resume_cosine_span"));
  s.lr_schedule = "cosine";
  s.iterations = 2;
  {
    auto t = train::make_spiral_trainer<float>(s, train::make_train_data(s));
    train::run(t, {false, 0, false});
  }
  train::TrainConfig longer = s;
  longer.iterations = 4;
  auto t = train::make_spiral_trainer<float>(longer, train::make_train_data(longer));
  BOOST_TEST(has(error_of([&] { train::run(t, {true, 0, false}); }), "iterations: saved 2, now 4"));
  train::TrainConfig flat = s;
  flat.lr_schedule = "constant";
  auto w = train::make_spiral_trainer<float>(flat, train::make_train_data(flat));
  BOOST_TEST(has(error_of([&] { train::run(w, {true, 0, false}); }), "lr_schedule"));
}

BOOST_AUTO_TEST_CASE(warmup_ramps_the_rates_resumes_exactly_and_is_part_of_the_trajectory) {
  const std::string dir = fresh_dir("resume_warmup");
  fs::create_directories(dir);
  train::TrainConfig c = tiny_spiral(dir);
  c.lr_d = c.lr_g = 1e-2;
  c.lr_warmup_iterations = 4;
  const int k = 6;
  auto a = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < k; ++i) {
    a.step();
    // The step after i iterations took min(i + 1, 4)/4 of the rates.
    const double f = std::min(i + 1, 4) / 4.0;
    BOOST_TEST(a.lr_d() == 1e-2 * f, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(a.lr_g() == 1e-2 * f, boost::test_tools::tolerance(1e-15));
  }
  a.save(dir + "/a.ckpt");
  // Saved inside the warm-up, resumed: the same state as the uninterrupted run.
  auto b = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < 2; ++i) b.step();
  b.save(dir + "/half.ckpt");
  auto b2 = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  b2.load(dir + "/half.ckpt");
  for (int i = 2; i < k; ++i) b2.step();
  b2.save(dir + "/b.ckpt");
  check_same_state(dir + "/a.ckpt", dir + "/b.ckpt");
  // Without the warm-up the first step differs, and a checkpoint of one may not resume the other.
  train::TrainConfig flat = c;
  flat.lr_warmup_iterations = 0;
  auto u = train::make_spiral_trainer<float>(flat, train::make_train_data(flat));
  auto v = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  u.step();
  v.step();
  u.save(dir + "/flat1.ckpt");
  v.save(dir + "/warm1.ckpt");
  BOOST_TEST(states_differ(dir + "/flat1.ckpt", dir + "/warm1.ckpt"));
  auto w = train::make_spiral_trainer<float>(flat, train::make_train_data(flat));
  BOOST_TEST(has(error_of([&] { w.load(dir + "/half.ckpt"); }), "lr_warmup_iterations: saved 4, now 0"));
}

BOOST_AUTO_TEST_CASE(images_run_equals_run_then_resume_through_the_output_folder) {
  // The image path: BatchLoader seeking, augmentation draws, BigGAN's BatchNorm and
  // spectral-norm buffers, the ResNet's GroupNorm, the checkpoint file of run().
  const int k = 6;
  const std::string da = fresh_dir("resume_img_a"), db = fresh_dir("resume_img_b");
  train::TrainConfig ca = tiny_images(da);
  ca.iterations = k;
  {
    auto t = train::make_image_trainer<float>(ca, image_data(ca));
    const train::RunResult r = train::run(t, {false, 0, false});
    BOOST_TEST(r.iteration == k);
    BOOST_TEST(!r.interrupted);
  }
  train::TrainConfig cb = tiny_images(db);
  cb.iterations = k / 2;
  {
    auto t = train::make_image_trainer<float>(cb, image_data(cb));
    BOOST_TEST(train::run(t, {false, 0, false}).iteration == k / 2);
  }
  fs::copy_file(train::checkpoint_path(db), db + "/half.ckpt");
  cb.iterations = k;
  {
    auto t = train::make_image_trainer<float>(cb, image_data(cb));
    const train::RunResult r = train::run(t, {true, 0, false});
    BOOST_TEST(r.start_iteration == k / 2);
    BOOST_TEST(r.iteration == k);
  }
  check_same_state(train::checkpoint_path(da), train::checkpoint_path(db));
  BOOST_TEST(states_differ(train::checkpoint_path(db), db + "/half.ckpt"));
  // One log line per iteration, none repeated after the resume; a build record heads each start.
  std::ifstream log(db + "/log.jsonl");
  std::string line;
  int n = 0, starts = 0;
  while (std::getline(log, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("build")) {
      BOOST_TEST(j["start_iteration"].get<int>() == (starts++ == 0 ? 0 : k / 2));
      continue;
    }
    BOOST_TEST(j["iteration"].get<int>() == ++n);
  }
  BOOST_TEST(n == k);
  BOOST_TEST(starts == 2);
}

BOOST_AUTO_TEST_CASE(sigint_saves_and_resume_continues_exactly) {
  const std::string da = fresh_dir("sigint_a"), db = fresh_dir("sigint_b");
  train::TrainConfig ca = tiny_spiral(da), cb = tiny_spiral(db);
  ca.iterations = cb.iterations = 10;
  ca.sample_every = cb.sample_every = 4;
  using Tr = train::SpiralTrainer<float>;
  {
    auto t = train::make_spiral_trainer<float>(ca, train::make_train_data(ca));
    train::run<Tr>(t, {false, 0, false}, [](Tr&, const std::string&) {});
  }
  {
    // Ctrl-C arrives while iteration 4 finishes (the sample writer runs then).
    auto t = train::make_spiral_trainer<float>(cb, train::make_train_data(cb));
    int raised = 0;
    const train::RunResult r = train::run<Tr>(t, {false, 0, false}, [&raised](Tr&, const std::string&) {
      if (raised++ == 0) std::raise(SIGINT);
    });
    BOOST_TEST(r.interrupted);
    BOOST_TEST(r.iteration == 4);
    BOOST_TEST(fs::exists(train::checkpoint_path(db)));
  }
  {
    auto t = train::make_spiral_trainer<float>(cb, train::make_train_data(cb));
    const train::RunResult r = train::run<Tr>(t, {true, 0, false}, [](Tr&, const std::string&) {});
    BOOST_TEST(!r.interrupted);
    BOOST_TEST(r.start_iteration == 4);
    BOOST_TEST(r.iteration == 10);
  }
  check_same_state(train::checkpoint_path(da), train::checkpoint_path(db));
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_different_trajectory_or_a_missing_checkpoint) {
  const std::string dir = fresh_dir("resume_mismatch");
  train::TrainConfig c = tiny_spiral(dir);
  c.iterations = 2;
  {
    auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
    train::run(t, {false, 0, false});
  }
  train::TrainConfig d = c;
  d.lr_d = 1e-3;
  d.iterations = 4;
  auto t = train::make_spiral_trainer<float>(d, train::make_train_data(d));
  const std::string mismatch = error_of([&] { train::run(t, {true, 0, false}); });
  BOOST_TEST(has(mismatch, "different configuration"));
  BOOST_TEST(has(mismatch, "lr_d"));
  BOOST_TEST(t.iteration() == 0);

  const std::string empty = fresh_dir("resume_nothing");
  train::TrainConfig e = tiny_spiral(empty);
  auto u = train::make_spiral_trainer<float>(e, train::make_train_data(e));
  BOOST_TEST(has(error_of([&] { train::run(u, {true, 0, false}); }), "no checkpoint"));
}

namespace {
/// Whether two checkpoints hold the same learned state: every network, EMA, optimizer and bank
/// entry equal (checksums, integers); the Rng, data position, configuration and the rollback
/// detector's own entries are not compared.
bool same_learned_state(const std::string& a, const std::string& b) {
  const auto ea = io::read_checkpoint_info(a), eb = io::read_checkpoint_info(b);
  std::map<std::string, io::EntryInfo> in_b;
  for (const auto& e : eb) in_b.emplace(e.name, e);
  std::size_t compared = 0;
  for (const auto& e : ea) {
    if (e.name == "config" || e.name == "rng" || e.name == "data_position" || e.name.rfind("rollback.", 0) == 0) continue;
    const auto it = in_b.find(e.name);
    if (it == in_b.end()) return false;
    if (e.kind == "integer" ? e.value != it->second.value : e.checksum != it->second.checksum) return false;
    ++compared;
  }
  BOOST_TEST(compared > 20u);
  return true;
}

/// A tiny spiral whose every step counts as collapsed (the detector armed from the start, the
/// threshold above any distance): rollbacks are forced.
train::TrainConfig always_collapsing(const std::string& dir) {
  train::TrainConfig c = tiny_spiral(dir);
  c.rollback_every = 2;
  c.rollback_arm_distance = 0;
  c.rollback_distance = 1e30;
  c.rollback_patience = 2;
  c.rollback_max = 2;
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(rollback_restores_a_snapshot_and_draws_new_batches) {
  const std::string dir = fresh_dir("rollback");
  fs::create_directories(dir);
  const train::TrainConfig c = always_collapsing(dir);
  auto fresh = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  fresh.save(dir + "/start.ckpt");
  auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  // Iterations 1, 2 collapsed: detected at 2, but no snapshot lies 2·patience = 4 iterations back.
  std::vector<train::StepReport> r;
  for (int i = 0; i < 2; ++i) r.push_back(t.step());
  BOOST_TEST(!r[0].collapse_detected);
  BOOST_TEST(r[1].collapse_detected);
  BOOST_TEST(r[1].rolled_back_to == -1);
  BOOST_TEST(t.iteration() == 2);
  // Iterations 3, 4: detected again; the snapshot of iteration 0 is 4 back: the state returns to it.
  for (int i = 0; i < 2; ++i) r.push_back(t.step());
  BOOST_TEST(r[3].collapse_detected);
  BOOST_TEST(r[3].rolled_back_to == 0);
  BOOST_TEST(t.iteration() == 0);
  t.save(dir + "/rolled.ckpt");
  BOOST_TEST(same_learned_state(dir + "/start.ckpt", dir + "/rolled.ckpt"));
  // ... but the data and latents go on: the repeated first step differs from the first one.
  const train::StepReport again = t.step();
  BOOST_TEST(again.iteration == 1);
  BOOST_TEST(again.d.total != r[0].d.total);
  // rollback_max = 2: one more rollback (at iteration 4 again), then detections only.
  for (int i = 0; i < 3; ++i) r.push_back(t.step());
  BOOST_TEST(r.back().rolled_back_to == 0);
  for (int i = 0; i < 4; ++i) r.push_back(t.step());
  BOOST_TEST(r.back().collapse_detected);
  BOOST_TEST(r.back().rolled_back_to == -1);
  BOOST_TEST(t.iteration() == 4);
}

BOOST_AUTO_TEST_CASE(rollback_that_never_fires_leaves_every_bit_and_is_a_trajectory_key) {
  const std::string dir = fresh_dir("rollback_bits");
  fs::create_directories(dir);
  train::TrainConfig off = tiny_spiral(dir), on = off;
  on.rollback_every = 3;
  on.rollback_arm_distance = 1e30;  // never armed
  auto a = train::make_spiral_trainer<float>(off, train::make_train_data(off));
  auto b = train::make_spiral_trainer<float>(on, train::make_train_data(on));
  for (int i = 0; i < 8; ++i) {
    const auto ra = a.step(), rb = b.step();
    BOOST_TEST(ra.d.total == rb.d.total);
    BOOST_TEST(!rb.collapse_detected);
  }
  a.save(dir + "/off.ckpt");
  b.save(dir + "/on.ckpt");
  BOOST_TEST(same_learned_state(dir + "/off.ckpt", dir + "/on.ckpt"));
  // A checkpoint without rollback may not continue a run with it (the trajectory would differ).
  auto w = train::make_spiral_trainer<float>(on, train::make_train_data(on));
  BOOST_TEST(has(error_of([&] { w.load(dir + "/off.ckpt"); }), "rollback_every: saved 0, now 3"));
}

BOOST_AUTO_TEST_CASE(rollback_resumes_exactly_with_the_snapshots_of_the_checkpoint) {
  // Saved after 3 steps (snapshots of iterations 0 and 2 in the file), resumed: the rollback made
  // after the resumption goes back to a snapshot taken before it, as in the uninterrupted run.
  const std::string dir = fresh_dir("rollback_resume");
  fs::create_directories(dir);
  const train::TrainConfig c = always_collapsing(dir);
  auto a = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  std::vector<std::int64_t> rolled_a;
  for (int i = 0; i < 10; ++i) rolled_a.push_back(a.step().rolled_back_to);
  a.save(dir + "/a.ckpt");
  auto b = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  for (int i = 0; i < 3; ++i) b.step();
  b.save(dir + "/half.ckpt");
  auto b2 = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  b2.load(dir + "/half.ckpt");
  std::vector<std::int64_t> rolled_b{-1, -1, -1};
  for (int i = 3; i < 10; ++i) rolled_b.push_back(b2.step().rolled_back_to);
  b2.save(dir + "/b.ckpt");
  BOOST_TEST(rolled_a == rolled_b, boost::test_tools::per_element());
  BOOST_TEST(std::count(rolled_a.begin(), rolled_a.end(), 0) == 2);  // both rollbacks made
  check_same_state(dir + "/a.ckpt", dir + "/b.ckpt");
}

namespace {
train::SpiralTrainer<float> spiral_trainer(const train::TrainConfig& c) {
  return train::make_spiral_trainer<float>(c, train::make_train_data(c));
}
/// G's loss is d − λ_c·s_fake (SPEC §5): whether a step's terms were combined with this λ_c.
bool generator_loss_used(const train::StepReport& r, double lambda) {
  const double expected = r.g.distance - lambda * r.g.s_fake;
  return std::abs(r.g.total - expected) <= 1e-5 * (1.0 + std::abs(r.g.distance) + std::abs(lambda * r.g.s_fake));
}
}  // namespace

// Take-off (Trainer's file comment): λ_c changes at the step after the first read distance above
// takeoff_distance; whether the run took off is in the checkpoint and in the rollback snapshots;
// a threshold never reached changes no bit.
BOOST_AUTO_TEST_CASE(lambda_cluster_rises_after_takeoff_and_resumes_exactly) {
  const std::string dir = fresh_dir("takeoff");
  fs::create_directories(dir);
  train::TrainConfig off = tiny_spiral(dir), never = off, on = off;
  const double base = off.objective.lambda_cluster, after = 7.0;
  BOOST_TEST(base != after);
  never.lambda_cluster_after_takeoff = on.lambda_cluster_after_takeoff = after;
  never.takeoff_distance = 1e30;
  on.takeoff_distance = 0;  // the first step's distance (positive) is a take-off
  auto a = spiral_trainer(off), b = spiral_trainer(never), t = spiral_trainer(on);
  std::vector<train::StepReport> r;
  for (int i = 0; i < 6; ++i) {
    const auto ra = a.step(), rb = b.step();
    BOOST_TEST(ra.d.total == rb.d.total);
    BOOST_TEST(ra.g.total == rb.g.total);
    BOOST_TEST(rb.lambda_cluster == base);
    r.push_back(t.step());
  }
  BOOST_TEST(r[0].d.distance > 0.0);
  BOOST_TEST(r[0].lambda_cluster == base);
  BOOST_TEST(generator_loss_used(r[0], base));
  BOOST_TEST(!generator_loss_used(r[0], after));
  for (int i = 1; i < 6; ++i) {
    BOOST_TEST(r[i].lambda_cluster == after);
    BOOST_TEST(generator_loss_used(r[i], after));
    BOOST_TEST(!generator_loss_used(r[i], base));
  }

  // Saved after 3 steps and resumed in a new trainer: the take-off comes from the file.
  auto h = spiral_trainer(on);
  for (int i = 0; i < 3; ++i) h.step();
  h.save(dir + "/half.ckpt");
  auto h2 = spiral_trainer(on);
  h2.load(dir + "/half.ckpt");
  for (int i = 3; i < 6; ++i) {
    const auto rh = h2.step();
    BOOST_TEST(rh.lambda_cluster == after);
    BOOST_TEST(rh.d.total == r[i].d.total);
    BOOST_TEST(rh.g.total == r[i].g.total);
  }
  // A trajectory key: a run without it may not continue this one.
  auto w = spiral_trainer(off);
  BOOST_TEST(has(error_of([&] { w.load(dir + "/half.ckpt"); }), "lambda_cluster_after_takeoff: saved 7"));

  // A rollback to a snapshot from before the take-off returns to objective.lambda_cluster.
  train::TrainConfig rb = always_collapsing(dir);
  rb.lambda_cluster_after_takeoff = after;
  rb.takeoff_distance = 0;
  auto c = spiral_trainer(rb);
  std::vector<train::StepReport> rc;
  for (int i = 0; i < 6; ++i) rc.push_back(c.step());
  BOOST_TEST(rc[3].rolled_back_to == 0);  // as in rollback_restores_a_snapshot_and_draws_new_batches
  BOOST_TEST(rc[3].lambda_cluster == after);
  BOOST_TEST(rc[4].lambda_cluster == base);   // iteration 1 again, from the snapshot of iteration 0
  BOOST_TEST(rc[5].lambda_cluster == after);  // taken off again at its first read step
}

// With rollback the log's iterations repeat: a resume cuts it after the last record that ends at
// the checkpoint's iteration (a rolled-back step ends at the iteration it went back to).
BOOST_AUTO_TEST_CASE(truncate_log_cuts_after_the_checkpoints_record_when_iterations_repeat) {
  const std::string dir = fresh_dir("truncate_rollback");
  fs::create_directories(dir);
  const std::string path = dir + "/log.jsonl";
  const std::vector<std::string> log{
      R"({"build":"b","start_iteration":0})", R"({"iteration":1})", R"({"iteration":2})",
      R"({"iteration":2,"validation":{}})",   R"({"iteration":3})", R"({"iteration":4,"rolled_back_to":2})",
      R"({"iteration":2,"validation":{}})",   R"({"iteration":3})", R"({"iteration":4})"};
  auto write = [&] {
    std::ofstream out(path);
    for (const auto& l : log) out << l << "\n";
  };
  auto lines = [&] {
    std::ifstream in(path);
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  };
  // The checkpoint of iteration 2 was written after the rollback: kept up to it and its validation.
  write();
  train::detail::truncate_log(path, 2);
  BOOST_TEST(lines() == std::vector<std::string>(log.begin(), log.begin() + 7), boost::test_tools::per_element());
  // Iteration 3's: the second pass's record.
  write();
  train::detail::truncate_log(path, 3);
  BOOST_TEST(lines() == std::vector<std::string>(log.begin(), log.begin() + 8), boost::test_tools::per_element());
  // A checkpoint of an iteration never logged (log_every > 1): the records up to it.
  const std::vector<std::string> sparse{R"({"build":"b","start_iteration":0})", R"({"iteration":10})",
                                        R"({"iteration":20})"};
  {
    std::ofstream out(path);
    for (const auto& l : sparse) out << l << "\n";
  }
  train::detail::truncate_log(path, 15);
  BOOST_TEST(lines() == std::vector<std::string>(sparse.begin(), sparse.begin() + 2), boost::test_tools::per_element());
}
