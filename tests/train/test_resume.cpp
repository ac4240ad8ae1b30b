#define BOOST_TEST_MODULE train_resume
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

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
