// The trainer on the reference device: the same step as on the CPU, and a fixed number of host
// round trips (backend/ref.hpp). Generic code that reads a device value on the host raises the
// count; code that assumes host memory does not compile for Ref.
#define BOOST_TEST_MODULE train_ref_device
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "structgan/backend/ref.hpp"
#include "train_test_util.hpp"

using namespace structgan;
using structgan::train_test::image_data;
using structgan::train_test::tiny_images;

namespace {

/// Every parameter of a network on the host, in visiting order.
template <class Net>
std::vector<Tensor<double, Cpu>> host_parameters(Net& net) {
  std::vector<Tensor<double, Cpu>> out;
  nn::for_each_parameter(net, [&](const std::string&, auto& p) { out.push_back(clone(to_host(p.value))); });
  return out;
}

double relative_difference(double a, double b) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-300}); }

}  // namespace

BOOST_AUTO_TEST_CASE(image_trainer_step_on_ref_equals_the_cpu_step) {
  const train::TrainConfig c = tiny_images(train_test::fresh_dir("ref_step"));
  auto cpu = train::make_image_trainer<double, Cpu>(c, image_data(c));
  auto ref = train::make_image_trainer<double, Ref>(c, image_data(c));
  for (int i = 0; i < 3; ++i) {
    const train::StepReport a = cpu.step(), b = ref.step();
    const auto da = a.d.named(), db = b.d.named();
    BOOST_REQUIRE_EQUAL(da.size(), db.size());
    for (std::size_t k = 0; k < da.size(); ++k)
      BOOST_TEST(relative_difference(da[k].second, db[k].second) < 1e-9, "iteration " << i << " D " << da[k].first << ": cpu "
                                                                              << da[k].second << " ref " << db[k].second);
    BOOST_TEST(relative_difference(a.g.total, b.g.total) < 1e-9, "iteration " << i << " G total");
    BOOST_TEST(relative_difference(a.grad_norm_d, b.grad_norm_d) < 1e-9, "iteration " << i << " ‖∇D‖");
    BOOST_TEST(relative_difference(a.grad_norm_g, b.grad_norm_g) < 1e-9, "iteration " << i << " ‖∇G‖");
  }
  const auto pa = host_parameters(cpu.discriminator()), pb = host_parameters(ref.discriminator());
  BOOST_REQUIRE_EQUAL(pa.size(), pb.size());
  double worst = 0;
  for (std::size_t i = 0; i < pa.size(); ++i)
    for (index_t j = 0; j < pa[i].numel(); ++j) worst = std::max(worst, std::abs(pa[i][j] - pb[i][j]));
  BOOST_TEST(worst < 1e-10, "largest parameter difference after 3 steps: " << worst);
}

BOOST_AUTO_TEST_CASE(host_round_trips_of_a_training_step_on_ref) {
  const train::TrainConfig c = tiny_images(train_test::fresh_dir("ref_transfers"));
  auto ref = train::make_image_trainer<double, Ref>(c, image_data(c));
  ref.step();  // the first step sizes buffers
  auto& counters = backend::counters(Ref{});
  counters.reset();
  ref.step();
  BOOST_TEST_MESSAGE("one step on Ref: " << counters.to_host << " device→host transfers (" << counters.to_host_bytes
                                         << " bytes), " << counters.from_host << " host→device, " << counters.allocations
                                         << " allocations, " << counters.synchronizations << " synchronizations");
  // Where the step stands (2026-12-05: 211 when each gradient norm and each logged term was its
  // own read and the kNN searches read the whole bank back; now each optimizer's norm and each
  // step's terms are one read, and each batch tensor is checked once): the finite checks of the
  // batch's keys and values and of the Jacobian's inputs, the Gaussian objectives' p×p algebra,
  // the kNN merge, the cross-entropy and the probe's accuracy still read the device. The GPU work
  // (issue #24) brings this to at most one transfer at a log step; lower the bound as round trips
  // go. A new host round trip anywhere in the step fails here, without a GPU.
  constexpr std::uint64_t max_transfers = 40;
  BOOST_TEST(counters.to_host <= max_transfers);
  BOOST_TEST(counters.to_host > 0u);  // the logged scalars are read: the count is not vacuous
}
