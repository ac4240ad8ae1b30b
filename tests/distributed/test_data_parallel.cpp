// The trainer on N processes (train/trainer.hpp, train/data_parallel.hpp) on every rank of the job
// it runs in (CTest runs it alone and under `mpirun -np 2`), with the double spiral's MLPs in
// double at small widths:
//  - N ranks × b/N take the step of one process × b: every loss term, every parameter's gradient
//    and every updated parameter within 1e-10 relative, over several steps, and the banks (the
//    kNN branch over the gathered keys included); the same for tiny images (augmentation draws of
//    each rank's rows, G's synchronized BatchNorm, ResNet D);
//  - after 5 steps every rank's parameters, EMA copies, optimizer moments and bank are bitwise
//    equal;
//  - a checkpoint of the N-rank run resumes bit-exactly on N ranks, and on 1 process with the
//    global batch to 1e-9;
//  - a configuration that differs between ranks fails at start on every rank, naming the key; a
//    batch not divisible by N fails with a clear error;
//  - the gradients are all-reduced in flat buckets (a small cap makes several, same result).
// Alone (one rank) the same checks run with N = 1 (the equivalence is then an identity).
#define BOOST_TEST_MODULE distributed_data_parallel
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "structgan/distributed/world.hpp"
#include "structgan/train/trainer.hpp"
#include "../common/tiny_image_config.hpp"

using namespace structgan;
using distributed::Communicator;
using TD = Tensor<double, Cpu>;
using Tr = train::SpiralTrainer<double, Cpu>;
namespace fs = std::filesystem;

namespace {

/// The job's communicator, made once per process (MPI may be initialized only once).
struct World {
  World() { comm() = distributed::make_communicator(); }
  ~World() { comm().reset(); }
  static std::unique_ptr<Communicator>& comm() {
    static std::unique_ptr<Communicator> c;
    return c;
  }
};
Communicator& world() { return *World::comm(); }

train::TrainConfig tiny(const std::string& dir) {
  train::TrainConfig c = train::preset("double_spiral");
  c.batch_size = 16;  // the global batch
  c.mlp_hidden = 16;
  c.mlp_depth = 1;
  c.embed_dim = 8;
  c.z_dim = 4;
  c.objective.bank_size = 40;
  c.output_dir = dir;
  c.sample_every = 0;
  c.checkpoint_every = 0;
  c.log_every = 1;
  c.seed = 7;
  c.objective.cluster.k = 2;
  return c;
}

/// A folder every rank names alike (rank 0's process id).
std::string shared_dir(const std::string& name) {
  std::vector<std::int64_t> pid{world().rank() == 0 ? static_cast<std::int64_t>(::getpid()) : 0};
  distributed::all_reduce_sum(world(), pid);
  const std::string dir = (fs::temp_directory_path() / ("structgan_dp_" + name + "_" + std::to_string(pid[0]))).string();
  if (world().rank() == 0) fs::create_directories(dir);
  world().barrier();
  return dir;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max({1.0, std::abs(a), std::abs(b)}); }
double rel_diff(const TD& a, const TD& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  if (a.numel() == 0) return 0;
  return (a.array() - b.array()).abs().maxCoeff() / std::max(1.0, std::max(a.array().abs().maxCoeff(), b.array().abs().maxCoeff()));
}

/// Every parameter, buffer, EMA tensor, optimizer moment and the bank of a trainer in one vector.
std::vector<double> flat_state(Tr& t) {
  std::vector<double> v;
  auto add = [&](const TD& x) { v.insert(v.end(), x.data(), x.data() + x.numel()); };
  auto module = [&](auto& m) {
    nn::for_each_parameter(m, [&](const std::string&, auto& p) { add(p.value); });
    nn::for_each_buffer(m, [&](const std::string&, auto& b) { add(b); });
  };
  module(t.discriminator());
  module(t.generator());
  module(t.ema_discriminator());
  module(t.ema_generator());
  for (auto* groups : {&t.optimizer_d().groups(), &t.optimizer_g().groups()})
    for (auto& g : *groups)
      for (auto& s : g.slots) {
        add(s.exp_avg);
        add(s.exp_avg_sq);
        v.push_back(static_cast<double>(s.step));
      }
  add(t.bank().keys());
  add(t.bank().values());
  v.push_back(static_cast<double>(t.bank().pointer()));
  return v;
}

/// Whether every rank's vector is bitwise rank 0's.
bool same_on_every_rank(const std::vector<double>& v) {
  std::vector<double> root = v;
  world().broadcast(root.data(), root.size(), distributed::ScalarType::Float64, 0, distributed::Memory::Host);
  std::vector<std::int64_t> differs{std::memcmp(root.data(), v.data(), v.size() * sizeof(double)) != 0 ? 1 : 0};
  distributed::all_reduce_sum(world(), differs);
  return differs[0] == 0;
}

void check_terms(const objectives::LossTerms& a, const objectives::LossTerms& b, const char* who) {
  const auto na = a.named(), nb = b.named();
  for (std::size_t i = 0; i < na.size(); ++i) {
    BOOST_TEST(rel_diff(na[i].second, nb[i].second) <= 1e-10, who << " " << na[i].first << ": " << na[i].second << " vs "
                                                                    << nb[i].second);
  }
}

/// Each parameter's gradient (D's, then G's) and value of trainer a against b.
template <class Opt>
void check_optimizer(Opt& a, Opt& b, const char* who) {
  auto& ga = a.groups();
  auto& gb = b.groups();
  BOOST_REQUIRE(ga.size() == gb.size());
  for (std::size_t i = 0; i < ga.size(); ++i) {
    BOOST_REQUIRE(ga[i].slots.size() == gb[i].slots.size());
    for (std::size_t j = 0; j < ga[i].slots.size(); ++j) {
      const auto& sa = ga[i].slots[j];
      const auto& sb = gb[i].slots[j];
      BOOST_TEST(rel_diff(sa.grad, sb.grad) <= 1e-10, who << " gradient of " << sa.name << ": " << rel_diff(sa.grad, sb.grad));
      BOOST_TEST(rel_diff(sa.value, sb.value) <= 1e-10, who << " updated " << sa.name << ": " << rel_diff(sa.value, sb.value));
    }
  }
}

}  // namespace

BOOST_GLOBAL_FIXTURE(World);

BOOST_AUTO_TEST_CASE(n_ranks_take_one_process_step) {
  const train::TrainConfig c = tiny(shared_dir("equal"));
  Tr dist = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
  Tr one = train::make_spiral_trainer<double>(c, train::make_train_data(c));  // this process alone, batch b
  BOOST_TEST(one.communicator().size() == 1);
  for (int step = 0; step < 4; ++step) {
    const train::StepReport rd = dist.step(), ro = one.step();
    check_terms(rd.d, ro.d, "D");
    check_terms(rd.g, ro.g, "G");
    BOOST_TEST(rel_diff(rd.grad_norm_d, ro.grad_norm_d) <= 1e-10);
    BOOST_TEST(rel_diff(rd.grad_norm_g, ro.grad_norm_g) <= 1e-10);
    check_optimizer(dist.optimizer_d(), one.optimizer_d(), "D");
    check_optimizer(dist.optimizer_g(), one.optimizer_g(), "G");
    BOOST_TEST(rel_diff(dist.bank().keys(), one.bank().keys()) <= 1e-10);
    BOOST_TEST(rel_diff(dist.bank().values(), one.bank().values()) <= 1e-10);
    BOOST_TEST(dist.bank().pointer() == one.bank().pointer());
  }
}

/// 8×8 gray images (48 random images of 3 classes, augmented): a ResNet-18 of width 4 and a
/// BigGAN-deep generator (BatchNorm) with 8 channels, global batch 8 (tests/common/tiny_image_config.hpp),
/// with the preset's λ_c = 6.
train::TrainConfig tiny_images(const std::string& dir) {
  train::TrainConfig c = testing::tiny_image_config(dir);
  c.objective.lambda_cluster = 6;
  // The convolution biases of G that feed a BatchNorm have a gradient of exactly 0 analytically:
  // what backward computes for them is rounding noise (~1e-14), which Adam divides by ε. With
  // ε = 1e-8 that noise alone moves them by ~1e-10 and differently on 1 and 2 processes (the sums
  // are grouped differently); ε = 1e-4 leaves the step of every other parameter as it is while the
  // noise no longer moves anything, so the comparison checks the data-parallel step itself.
  c.adam_eps = 1e-4;
  return c;
}
std::unique_ptr<train::RealData> random_images(const train::TrainConfig& c) {
  data::ImageSet s;
  s.channels = 1;
  s.height = s.width = 8;
  s.class_names = {"a", "b", "c"};
  Rng rng(11);
  for (int i = 0; i < 48; ++i) {
    s.labels.push_back(i % 3);
    for (int p = 0; p < 64; ++p) s.pixels.push_back(static_cast<std::uint8_t>(rng.below(256)));
  }
  return std::make_unique<train::ImageData>(s, train::train_transform_of(c, 8, 8), static_cast<int>(c.batch_size), 77, 1);
}

BOOST_AUTO_TEST_CASE(images_n_ranks_take_one_process_step) {
  const train::TrainConfig c = tiny_images(shared_dir("images"));
  train::ImageTrainer<double> dist = train::make_image_trainer<double>(c, random_images(c), &world());
  train::ImageTrainer<double> one = train::make_image_trainer<double>(c, random_images(c));
  for (int step = 0; step < 2; ++step) {
    const train::StepReport rd = dist.step(), ro = one.step();
    check_terms(rd.d, ro.d, "D");
    check_terms(rd.g, ro.g, "G");
    check_optimizer(dist.optimizer_d(), one.optimizer_d(), "D");
    check_optimizer(dist.optimizer_g(), one.optimizer_g(), "G");
    BOOST_TEST(rel_diff(dist.bank().values(), one.bank().values()) <= 1e-10);
  }
  // G's BatchNorm running statistics (updated with the global batch's statistics).
  std::vector<TD> bd, bo;
  nn::for_each_buffer(dist.generator(), [&](const std::string&, auto& b) { bd.push_back(b); });
  nn::for_each_buffer(one.generator(), [&](const std::string&, auto& b) { bo.push_back(b); });
  BOOST_REQUIRE(bd.size() == bo.size());
  BOOST_REQUIRE(!bd.empty());
  for (std::size_t i = 0; i < bd.size(); ++i) BOOST_TEST(rel_diff(bd[i], bo[i]) <= 1e-10);
}

BOOST_AUTO_TEST_CASE(the_jacobian_draws_and_global_statistics_are_those_of_one_process) {
  // The default objective (λ_s, Gaussian distance over the global batch) with the probe: the
  // losses of the first step (before any gradient) equal one process's.
  train::TrainConfig c = tiny(shared_dir("draws"));
  c.objective.lambda_smooth = 1.0;
  Tr dist = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
  Tr one = train::make_spiral_trainer<double>(c, train::make_train_data(c));
  const train::StepReport rd = dist.step(), ro = one.step();
  BOOST_TEST(rd.d.jacobian != 0.0);
  check_terms(rd.d, ro.d, "D");
  check_optimizer(dist.optimizer_d(), one.optimizer_d(), "D");
}

BOOST_AUTO_TEST_CASE(every_rank_holds_the_same_state_after_5_steps) {
  const train::TrainConfig c = tiny(shared_dir("same"));
  Tr t = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
  BOOST_TEST(same_on_every_rank(flat_state(t)));  // broadcast at start
  for (int i = 0; i < 5; ++i) t.step();
  BOOST_TEST(same_on_every_rank(flat_state(t)));
  // The gradients went through flat buckets (one per network at the default 25 MB cap).
  BOOST_TEST(t.gradient_bytes() > 0u);
}

BOOST_AUTO_TEST_CASE(gradient_buckets_average_over_ranks_with_any_cap) {
  const train::TrainConfig c = tiny(shared_dir("buckets"));
  Tr t = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
  auto& opt = t.optimizer_d();
  // Rank r's gradient entry i = (r + 1)·(i + 1): the mean is (N + 1)/2·(i + 1).
  std::vector<TD> expected;
  index_t i = 0;
  for (auto& g : opt.groups())
    for (auto& s : g.slots) {
      TD e(s.grad.shape());
      for (index_t k = 0; k < s.grad.numel(); ++k, ++i) {
        s.grad[k] = (world().rank() + 1.0) * (i + 1.0);
        e[k] = (world().size() + 1.0) / 2.0 * (i + 1.0);
      }
      expected.push_back(e);
    }
  train::GradientBuckets<double, Cpu> small(opt, 100);  // 100 bytes: a bucket every few tensors
  BOOST_TEST(small.buckets() > 1u);
  BOOST_TEST(small.bytes() == static_cast<std::size_t>(i) * sizeof(double));
  world().reset_stats();
  small.average(world());
  if (world().size() > 1) BOOST_TEST(world().stats().calls == small.buckets());
  std::size_t k = 0;
  for (auto& g : opt.groups())
    for (auto& s : g.slots) BOOST_TEST(rel_diff(s.grad, expected[k++]) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_resumes_on_n_ranks_and_on_one) {
  const std::string dir = shared_dir("resume");
  const train::TrainConfig c = tiny(dir);
  const std::string ckpt = dir + "/half.ckpt";
  Tr a = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
  for (int i = 0; i < 3; ++i) a.step();
  if (world().rank() == 0) a.save(ckpt);
  world().barrier();
  for (int i = 0; i < 3; ++i) a.step();
  const std::vector<double> after = flat_state(a);

  Tr b = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
  b.load(ckpt);
  BOOST_TEST(b.iteration() == 3);
  for (int i = 0; i < 3; ++i) b.step();
  const std::vector<double> resumed = flat_state(b);
  BOOST_REQUIRE(resumed.size() == after.size());
  BOOST_TEST(std::memcmp(resumed.data(), after.data(), after.size() * sizeof(double)) == 0, "resumed on the same ranks: bit-exact");

  Tr one = train::make_spiral_trainer<double>(c, train::make_train_data(c));  // one process, the global batch
  one.load(ckpt);
  for (int i = 0; i < 3; ++i) one.step();
  const std::vector<double> alone = flat_state(one);
  double worst = 0;
  for (std::size_t k = 0; k < after.size(); ++k) worst = std::max(worst, rel_diff(after[k], alone[k]));
  BOOST_TEST(worst <= 1e-9, "resumed by one process: largest relative difference " << worst);
  world().barrier();
  if (world().rank() == 0) fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_configuration_that_differs_between_ranks_fails_naming_the_key) {
  train::TrainConfig c = tiny(shared_dir("differ"));
  if (world().size() == 1) {
    train::require_same_config(world(), c);  // nothing to compare
    return;
  }
  if (world().rank() == world().size() - 1) c.lr_d = 1e-3;
  try {
    Tr t = train::make_spiral_trainer<double>(c, train::make_train_data(c), &world());
    BOOST_FAIL("a differing lr_d was accepted");
  } catch (const Error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("'lr_d'") != std::string::npos, what);
    BOOST_TEST(what.find("differs between ranks") != std::string::npos, what);
  }
  // Every rank is still in step afterwards (all failed together).
  world().barrier();
}

BOOST_AUTO_TEST_CASE(a_batch_not_divisible_by_the_ranks_fails) {
  train::TrainConfig c = tiny(shared_dir("divisible"));
  c.batch_size = 15;
  BOOST_CHECK_EXCEPTION(train::require_divisible_batch(c, 2), Error, [](const Error& e) {
    return std::string(e.what()).find("not divisible by the 2 processes") != std::string::npos;
  });
  if (world().size() > 1 && 16 % world().size() == 0) {
    // Through the trainer: the data serves 16 rows, the configuration says 15.
    train::TrainConfig data_config = c;
    data_config.batch_size = 16;
    BOOST_CHECK_THROW(train::make_spiral_trainer<double>(c, train::make_train_data(data_config), &world()), Error);
  }
}
