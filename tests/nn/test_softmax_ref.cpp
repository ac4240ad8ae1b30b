// The softmax cross-entropy, the probe's accuracy and self-attention on the reference device
// (backend/ref.hpp): the same values and gradients as on the CPU, and no device→host transfer
// (issue #24: on a GPU every read synchronizes). The cross-entropy's finiteness check is a device
// check (backend/device_readout.hpp): queued inside a DeferredReads scope, as a training step queues
// it, and read at once outside one.
#define BOOST_TEST_MODULE nn_softmax_ref
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "structgan/backend/ref.hpp"
#include "structgan/nn/attention.hpp"
#include "structgan/objectives/structural_objective.hpp"

using namespace structgan;

namespace {

using TD = Tensor<double, Cpu>;
using TR = Tensor<double, Ref>;

TD rnd(const Shape& s, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  TD t = randn<double>(s, rng);
  t.array() *= scale;
  return t;
}

/// max |a − b| over the entries (the same shape required).
double max_difference(const TD& a, const TD& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  return a.numel() ? (a.array() - b.array()).abs().maxCoeff() : 0.0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cross_entropy_softmax_and_accuracy_read_nothing_back) {
  const TD z = rnd({9, 7}, 1, 3.0);
  const std::vector<int> labels = {0, 6, 3, 3, 1, 2, 5, 4, 0};
  // On the CPU: the loss, its gradient, the softmax VJP, the accuracy and a JVP.
  Var<double> xc(z, true);
  const Var<double> lc = softmax_cross_entropy(xc, labels);
  backward(lc);
  const TD w = rnd({9, 7}, 2), v = rnd({9, 7}, 3);
  Var<double> sc(z, true);
  backward(sum_all(mul(softmax_rows(sc), Var<double>(w))));
  Var<double> qc(z, true);
  backward(sum_all(mul(log_softmax_rows(qc), Var<double>(w))));
  const DualTensor<TD> jc = softmax_cross_entropy(DualTensor<TD>(z, v), labels);
  const TD ac = argmax_accuracy(z, labels);

  // On Ref, inside a DeferredReads scope (as the training step runs): no transfer until read().
  auto& counters = backend::counters(Ref{});
  const TR zr = to_device<Ref>(z), wr = to_device<Ref>(w), vr = to_device<Ref>(v);
  DeviceReadout<double, Ref> readout;
  double loss = 0, accuracy = 0, jvp = 0;
  Var<double, Ref> xr(zr, true), sr(zr, true), qr(zr, true);
  counters.reset();
  {
    DeferredReads<double, Ref> deferred(readout);
    const Var<double, Ref> l = softmax_cross_entropy(xr, labels);
    backward(l);
    backward(sum_all(mul(softmax_rows(sr), Var<double, Ref>(wr))));
    backward(sum_all(mul(log_softmax_rows(qr), Var<double, Ref>(wr))));
    const DualTensor<TR> j = softmax_cross_entropy(DualTensor<TR>(zr, vr), labels);
    const TR a = objectives::detail::probe_accuracy(zr, labels);
    readout.add(&loss, l.value());
    readout.add(&accuracy, a);
    readout.add(&jvp, j.tangent);
  }
  BOOST_TEST_MESSAGE("cross-entropy, softmax, log-softmax (forward and backward), a JVP and the accuracy on Ref: "
                     << counters.to_host << " device→host transfers, " << counters.from_host << " host→device");
  BOOST_TEST(counters.to_host == 0u);
  BOOST_TEST(readout.checks() >= 1u);  // the finiteness checks of the logits, queued
  BOOST_TEST(!readout.read().has_value());
  BOOST_TEST(counters.to_host == 1u);  // everything in one read
  BOOST_TEST(std::abs(loss - lc.value()[0]) < 1e-12);
  BOOST_TEST(accuracy == ac[0]);
  BOOST_TEST(std::abs(jvp - jc.tangent[0]) < 1e-12);
  BOOST_TEST(max_difference(to_host(xr.grad()), xc.grad()) < 1e-14);
  BOOST_TEST(max_difference(to_host(sr.grad()), sc.grad()) < 1e-14);
  BOOST_TEST(max_difference(to_host(qr.grad()), qc.grad()) < 1e-14);
}

BOOST_AUTO_TEST_CASE(non_finite_logits_fail_at_the_read_or_at_once) {
  TD z = rnd({3, 4}, 4);
  z.at(1, 2) = std::numeric_limits<double>::infinity();
  const std::vector<int> labels = {0, 1, 2};
  const TR zr = to_device<Ref>(z);
  DeviceReadout<double, Ref> readout;
  {
    DeferredReads<double, Ref> deferred(readout);
    softmax_cross_entropy(zr, labels);  // queued, not thrown
  }
  const auto failed = readout.read();
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(failed->find("not finite") != std::string::npos, *failed);
  // Without a scope the check reads its indicator at once: that is the only transfer.
  auto& counters = backend::counters(Ref{});
  counters.reset();
  BOOST_CHECK_THROW(softmax_cross_entropy(zr, labels), Error);
  BOOST_TEST(counters.to_host == 1u);
  z.at(1, 2) = 0.5;
  counters.reset();
  softmax_cross_entropy(to_device<Ref>(z), labels);
  BOOST_TEST(counters.to_host == 1u);
}

BOOST_AUTO_TEST_CASE(self_attention_reads_nothing_back) {
  // BigGAN-deep's self-attention (the 128×128 generator): its softmax runs on the device.
  auto make = [](auto device) {
    Rng rng(5);
    nn::SelfAttention<double, decltype(device)> a(nn::SelfAttentionOptions(16), rng);
    a.gamma.value = to_device<decltype(device)>(from_vector<double>(Shape{1}, {0.7}));
    return a;
  };
  auto ac = make(Cpu{});
  auto ar = make(Ref{});
  const TD x = rnd({2, 16, 4, 6}, 6), w = rnd({2, 16, 4, 6}, 7);
  for (bool training : {false, true}) {
    ac.train(training);
    ar.train(training);
    Var<double> xc(x, true);
    backward(sum_all(mul(ac(xc), Var<double>(w))));
    const TR xd = to_device<Ref>(x), wd = to_device<Ref>(w);
    Var<double, Ref> xr(xd, true);
    auto& counters = backend::counters(Ref{});
    counters.reset();
    const Var<double, Ref> y = ar(xr);
    backward(sum_all(mul(y, Var<double, Ref>(wd))));
    BOOST_TEST_MESSAGE("self-attention forward and backward on Ref (" << (training ? "training" : "eval")
                                                                       << "): " << counters.to_host << " device→host transfers");
    BOOST_TEST(counters.to_host == 0u, (training ? "training" : "eval") << ": " << counters.to_host << " transfers");
    BOOST_TEST(max_difference(to_host(xr.grad()), xc.grad()) < 1e-12);
    BOOST_TEST(max_difference(to_host(ar.gamma.grad), ac.gamma.grad) < 1e-11);
  }
}
