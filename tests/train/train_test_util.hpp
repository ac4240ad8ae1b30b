#pragma once
// Tiny configurations and state comparisons shared by the train tests.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "structgan/train/all.hpp"
#include "../common/tiny_image_config.hpp"

namespace structgan::train_test {

/// A unique, empty temporary folder.
inline std::string fresh_dir(const std::string& name) {
  const auto p = std::filesystem::temp_directory_path() / ("structgan_train_test_" + name);
  std::filesystem::remove_all(p);
  return p.string();
}

/// The double spiral with tiny MLPs (a few milliseconds per iteration).
inline train::TrainConfig tiny_spiral(const std::string& dir) {
  train::TrainConfig c = train::preset("double_spiral");
  c.batch_size = 16;
  c.mlp_hidden = 16;
  c.mlp_depth = 1;
  c.embed_dim = 8;
  c.z_dim = 4;
  c.objective.bank_size = 40;
  c.output_dir = dir;
  c.sample_every = 0;
  c.checkpoint_every = 0;
  c.log_every = 1;
  c.seed = 5;
  return c;
}

/// 8×8 gray images: a ResNet-18 of width 4 and a BigGAN-deep with 8 channels (tests/common/tiny_image_config.hpp).
inline train::TrainConfig tiny_images(const std::string& dir) { return testing::tiny_image_config(dir); }

/// 40 random 1×8×8 images of 3 classes.
inline data::ImageSet random_images(std::uint64_t seed) {
  data::ImageSet s;
  s.channels = 1;
  s.height = s.width = 8;
  s.class_names = {"a", "b", "c"};
  Rng rng(seed);
  for (int i = 0; i < 40; ++i) {
    s.labels.push_back(i % 3);
    for (int p = 0; p < 64; ++p) s.pixels.push_back(static_cast<std::uint8_t>(rng.below(256)));
  }
  return s;
}

inline std::unique_ptr<train::RealData> image_data(const train::TrainConfig& c) {
  const data::ImageSet s = random_images(11);
  return std::make_unique<train::ImageData>(s, train::train_transform_of(c, 8, 8), static_cast<int>(c.batch_size), 77, 1);
}

/// Checks that two checkpoints hold bit-identical tensors (per-blob FNV-1a 64 checksums and
/// shapes), RNG state and integers (iteration, bank pointer, data position, optimizer steps);
/// the configuration may differ in iterations and output folder.
inline void check_same_state(const std::string& a, const std::string& b) {
  const auto ea = io::read_checkpoint_info(a), eb = io::read_checkpoint_info(b);
  BOOST_REQUIRE(ea.size() == eb.size());
  std::size_t tensors = 0;
  for (std::size_t i = 0; i < ea.size(); ++i) {
    BOOST_REQUIRE(ea[i].name == eb[i].name);
    if (ea[i].name == "config") continue;
    BOOST_TEST(ea[i].kind == eb[i].kind);
    BOOST_TEST(ea[i].shape == eb[i].shape, ea[i].name);
    if (ea[i].kind == "integer") BOOST_TEST(ea[i].value == eb[i].value, ea[i].name);
    else BOOST_TEST(ea[i].checksum == eb[i].checksum, ea[i].name << " differs");
    tensors += ea[i].kind == "tensor";
  }
  BOOST_TEST(tensors > 20u);
}

/// Whether any tensor of two checkpoints differs (so that a comparison is not vacuous).
inline bool states_differ(const std::string& a, const std::string& b) {
  const auto ea = io::read_checkpoint_info(a), eb = io::read_checkpoint_info(b);
  for (std::size_t i = 0; i < ea.size() && i < eb.size(); ++i)
    if (ea[i].kind == "tensor" && ea[i].checksum != eb[i].checksum) return true;
  return false;
}

/// |a − b| relative to the larger magnitude (0 when both are 0): how two devices' figures compare.
inline double relative_difference(double a, double b) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-300});
}

/// A checkpoint written by a trainer on device Dev loads into a CPU trainer and back into a Dev
/// trainer, every tensor, the RNG and the counters bit for bit; then the next step of the CPU
/// trainer agrees with the resumed one within `cpu_tol` (relative), and the resumed one with the
/// trainer that never stopped within `resume_tol` (0: exactly). Checkpoints go into `dir`.
template <class Dev>
void check_checkpoint_round_trip(const std::string& dir, double cpu_tol, double resume_tol) {
  std::filesystem::create_directories(dir);  // the checkpoints are written straight into it
  const train::TrainConfig c = tiny_images(dir);
  auto trainer = train::make_image_trainer<double, Dev>(c, image_data(c));
  for (int i = 0; i < 2; ++i) trainer.step(true);
  const std::string saved = dir + "/device.ckpt", saved_on_cpu = dir + "/cpu.ckpt", saved_again = dir + "/device_again.ckpt";
  trainer.save(saved);
  auto cpu = train::make_image_trainer<double, Cpu>(c, image_data(c));
  cpu.load(saved);
  cpu.save(saved_on_cpu);
  check_same_state(saved, saved_on_cpu);
  auto resumed = train::make_image_trainer<double, Dev>(c, image_data(c));
  resumed.load(saved_on_cpu);
  resumed.save(saved_again);
  check_same_state(saved, saved_again);
  const train::StepReport on_cpu = cpu.step(), on_resumed = resumed.step(true), went_on = trainer.step(true);
  const auto a = on_cpu.d.named(), b = on_resumed.d.named(), g = went_on.d.named();
  BOOST_REQUIRE(a.size() == b.size() && b.size() == g.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    BOOST_TEST(relative_difference(a[k].second, b[k].second) <= cpu_tol, "D " << a[k].first << ": cpu " << a[k].second << ", " << Dev::name << " " << b[k].second);
    BOOST_TEST(relative_difference(g[k].second, b[k].second) <= resume_tol, "D " << g[k].first << " after resuming on " << Dev::name);
  }
  BOOST_TEST(relative_difference(on_cpu.g.total, on_resumed.g.total) <= cpu_tol);
}

/// Whether `s` contains `part`.
inline bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// The message of the structgan::Error `f` throws (fails the test when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  BOOST_FAIL("expected structgan::Error");
  return "";
}

}  // namespace structgan::train_test
