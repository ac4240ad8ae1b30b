#define BOOST_TEST_MODULE cuda_trainer_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// The image trainer on the GPU (issue #24): its step in double equals the CPU step from the same
// seeds, and its host round trips are those asserted on the reference device in CI
// (tests/train/test_ref_device.cpp): none in a step that is not read, one in a read step.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../train/train_test_util.hpp"
#include "gpu_test_main.hpp"
#include "structgan/backend/cuda.hpp"

using namespace structgan;
using structgan::train_test::image_data;
using structgan::train_test::relative_difference;
using structgan::train_test::tiny_images;

BOOST_AUTO_TEST_CASE(image_trainer_step_on_the_gpu_equals_the_cpu_step) {
  const train::TrainConfig c = tiny_images(train_test::fresh_dir("cuda_step"));
  auto cpu = train::make_image_trainer<double, Cpu>(c, image_data(c));
  auto gpu = train::make_image_trainer<double, Cuda>(c, image_data(c));
  for (int i = 0; i < 3; ++i) {
    const train::StepReport a = cpu.step(), b = gpu.step(true);
    const auto da = a.d.named(), db = b.d.named();
    BOOST_REQUIRE_EQUAL(da.size(), db.size());
    for (std::size_t k = 0; k < da.size(); ++k)
      BOOST_TEST(relative_difference(da[k].second, db[k].second) < 1e-8,
                 "iteration " << i << " D " << da[k].first << ": cpu " << da[k].second << " gpu " << db[k].second);
    BOOST_TEST(relative_difference(a.g.total, b.g.total) < 1e-8, "iteration " << i << " G total");
    BOOST_TEST(relative_difference(a.grad_norm_d, b.grad_norm_d) < 1e-8, "iteration " << i << " ‖∇D‖");
  }
  // D (AdamW), G (Adam) and both EMA copies after the 3 steps
  auto largest_difference = [](auto& net_cpu, auto& net_gpu) {
    double worst = 0;
    std::vector<Tensor<double, Cpu>> pa, pb;
    nn::for_each_parameter(net_cpu, [&](const std::string&, auto& p) { pa.push_back(clone(p.value)); });
    nn::for_each_parameter(net_gpu, [&](const std::string&, auto& p) { pb.push_back(to_host(p.value)); });
    BOOST_REQUIRE_EQUAL(pa.size(), pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i)
      for (index_t j = 0; j < pa[i].numel(); ++j) worst = std::max(worst, std::abs(pa[i][j] - pb[i][j]));
    return worst;
  };
  const double d = largest_difference(cpu.discriminator(), gpu.discriminator());
  const double g = largest_difference(cpu.generator(), gpu.generator());
  const double d_ema = largest_difference(cpu.ema_discriminator(), gpu.ema_discriminator());
  const double g_ema = largest_difference(cpu.ema_generator(), gpu.ema_generator());
  BOOST_TEST(d < 1e-9, "largest D parameter difference after 3 steps: " << d);
  BOOST_TEST(g < 1e-9, "largest G parameter difference after 3 steps: " << g);
  BOOST_TEST(d_ema < 1e-9, "largest EMA D parameter difference after 3 steps: " << d_ema);
  BOOST_TEST(g_ema < 1e-9, "largest EMA G parameter difference after 3 steps: " << g_ema);
}

BOOST_AUTO_TEST_CASE(a_gpu_step_reads_the_device_once_at_a_log_step_and_never_between) {
  const train::TrainConfig c = tiny_images(train_test::fresh_dir("cuda_transfers"));
  auto gpu = train::make_image_trainer<float, Cuda>(c, image_data(c));
  gpu.step(true);
  auto& counters = backend::counters(Cuda{});
  counters.reset();
  const train::StepReport quiet = gpu.step(false);
  BOOST_TEST_MESSAGE("a step that is not read: " << counters.to_host << " device→host transfers");
  BOOST_TEST(counters.to_host == 0u);
  BOOST_TEST(!quiet.read);
  counters.reset();
  const train::StepReport loud = gpu.step(true);
  BOOST_TEST_MESSAGE("a read step: " << counters.to_host << " device→host transfers");
  BOOST_TEST(counters.to_host == 1u);
  BOOST_TEST(std::isfinite(loud.d.total));
}
