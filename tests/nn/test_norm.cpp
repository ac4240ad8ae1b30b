#define BOOST_TEST_MODULE nn_norm
#include <utility>

#include <boost/test/unit_test.hpp>

#include "module_check.hpp"
#include "structgan/nn/attention.hpp"
#include "structgan/nn/norm.hpp"

using namespace structgan;
using namespace structgan::nntest;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
template <class T>
Tensor<T> cast(const TD& x) {
  Tensor<T> y(x.shape());
  y.array() = x.array().cast<T>();
  return y;
}
/// Random values into every parameter (so affine parts are not the identity in the checks).
template <class M>
void randomize(M& m, std::uint64_t seed) {
  Rng rng(seed);
  nn::for_each_parameter(m, [&](const std::string&, auto& p) {
    for (index_t i = 0; i < p.value.numel(); ++i) p.value[i] = static_cast<typename M::value_type>(rng.uniform(0.5, 1.5));
  });
}
// The per-sample affine map of ConditionalBatchNorm by hand: 1 + gain(y) and bias(y) of sample n and
// channel c, each linear's weight divided by its spectral norm.
std::pair<double, double> cbn_gain_bias(const nn::ConditionalBatchNorm<double>& m, const TD& y, index_t n, index_t c) {
  const TD& wg = m.gain.weight.value;
  const TD& wb = m.bias.weight.value;
  const double sg = m.gain.sn.sigma(wg), sb = m.bias.sn.sigma(wb);
  double g = 1, b = 0;
  for (index_t k = 0; k < y.dim(1); ++k) {
    g += wg.at(c, k) / sg * y.at(n, k);
    b += wb.at(c, k) / sb * y.at(n, k);
  }
  return {g, b};
}
}  // namespace

BOOST_AUTO_TEST_CASE(group_norm_groups_and_values) {
  BOOST_TEST(nn::GroupNorm<double>(nn::GroupNormOptions(64)).groups == 4);
  BOOST_TEST(nn::GroupNorm<double>(nn::GroupNormOptions(16)).groups == 1);
  BOOST_TEST(nn::GroupNorm<double>(nn::GroupNormOptions(8)).groups == 1);  // at least one group
  BOOST_TEST(nn::GroupNorm<double>(nn::GroupNormOptions(512)).groups == 32);
  nn::GroupNorm<double> gn(nn::GroupNormOptions(32));
  BOOST_TEST(gn.weight.value[5] == 1.0);
  BOOST_TEST(gn.bias.value[5] == 0.0);
  const TD x = rnd({2, 32, 3, 3}, 1, -2, 3);
  const TD y = gn(x);
  // Sample 1, group 1 (channels 16..31): mean 0, biased variance var/(var + eps).
  double m = 0, s = 0;
  for (index_t c = 16; c < 32; ++c)
    for (index_t i = 0; i < 9; ++i) m += x[(32 + c) * 9 + i];
  m /= 144;
  for (index_t c = 16; c < 32; ++c)
    for (index_t i = 0; i < 9; ++i) s += std::pow(x[(32 + c) * 9 + i] - m, 2);
  s /= 144;
  BOOST_TEST(std::abs(y.at(1, 20, 2, 1) - (x.at(1, 20, 2, 1) - m) / std::sqrt(s + 1e-5)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(group_norm_all_modes) {
  auto make = [](auto tag) {
    nn::GroupNorm<typename decltype(tag)::type> gn(nn::GroupNormOptions(32));
    randomize(gn, 2);
    return gn;
  };
  check_module("GroupNorm 32 (2 groups)", make, [](auto& m, const auto& x) { return elu(m(x)); }, rnd({2, 32, 2, 2}, 3));
  auto make2 = [](auto tag) { return nn::GroupNorm<typename decltype(tag)::type>(nn::GroupNormOptions(20)); };
  check_module("GroupNorm on N×C", make2, [](auto& m, const auto& x) { return tanh(m(x)); }, rnd({3, 20}, 4));
}

BOOST_AUTO_TEST_CASE(batch_norm_train_then_eval) {
  nn::BatchNorm2d<double> bn(nn::BatchNormOptions(3));
  randomize(bn, 5);
  const TD x = rnd({4, 3, 2, 2}, 6, -1, 3);
  const TD y = bn(x);  // training: batch statistics
  for (index_t c = 0; c < 3; ++c) {
    double m = 0, s = 0;
    for (index_t n = 0; n < 4; ++n)
      for (index_t i = 0; i < 4; ++i) m += x.at(n, c, i / 2, i % 2);
    m /= 16;
    for (index_t n = 0; n < 4; ++n)
      for (index_t i = 0; i < 4; ++i) s += std::pow(x.at(n, c, i / 2, i % 2) - m, 2);
    const double biased = s / 16, unbiased = s / 15;
    BOOST_TEST(std::abs(y.at(2, c, 1, 0) - ((x.at(2, c, 1, 0) - m) / std::sqrt(biased + 1e-5) * bn.weight.value[c] + bn.bias.value[c])) <
               1e-12);
    // running = 0.9·initial + 0.1·batch, with the unbiased variance (PyTorch)
    BOOST_TEST(std::abs(bn.running_mean[c] - 0.1 * m) < 1e-12);
    BOOST_TEST(std::abs(bn.running_var[c] - (0.9 + 0.1 * unbiased)) < 1e-12);
  }
  // Evaluation uses the running statistics, not the batch's.
  bn.train(false);
  const TD ye = bn(x);
  for (index_t c = 0; c < 3; ++c) {
    const double want =
        (x.at(3, c, 0, 1) - bn.running_mean[c]) / std::sqrt(bn.running_var[c] + 1e-5) * bn.weight.value[c] + bn.bias.value[c];
    BOOST_TEST(std::abs(ye.at(3, c, 0, 1) - want) < 1e-12);
  }
  BOOST_TEST(std::abs(ye.at(3, 1, 0, 1) - y.at(3, 1, 0, 1)) > 1e-3);
  const double rm = bn.running_mean[0];
  bn(x);
  BOOST_TEST(bn.running_mean[0] == rm);  // evaluation does not update the statistics
  // Many training passes on the same batch: the running statistics converge to it.
  bn.train(true);
  for (int i = 0; i < 300; ++i) bn(x);
  bn.train(false);
  const TD yc = bn(x);
  // Not equal: running var is unbiased (×16/15), the batch normalization biased.
  for (index_t i = 0; i < x.numel(); ++i) BOOST_TEST(std::abs(yc[i] - y[i]) < 0.1 * (1 + std::abs(y[i])));
  BOOST_CHECK_THROW(bn(rnd({4, 2, 2, 2}, 7)), Error);
  bn.train(true);
  BOOST_CHECK_THROW(bn(rnd({1, 3, 1, 1}, 8)), Error);  // one value per channel
}

BOOST_AUTO_TEST_CASE(batch_norm_all_modes) {
  auto make = [](auto tag) {
    nn::BatchNorm2d<typename decltype(tag)::type> bn(nn::BatchNormOptions(3));
    randomize(bn, 9);
    return bn;
  };
  const TD x = rnd({4, 3, 2, 2}, 10);
  check_module("BatchNorm2d (train)", make, [](auto& m, const auto& x) { return elu(m(x)); }, x);
  auto make_eval = [](auto tag) {
    using T = typename decltype(tag)::type;
    auto bn = nn::BatchNorm2d<T>(nn::BatchNormOptions(3));
    randomize(bn, 11);
    bn(cast<T>(rnd({4, 3, 2, 2}, 12, -1, 3)));  // some non-trivial running statistics
    return bn;
  };
  check_module("BatchNorm2d (eval)", make_eval, [](auto& m, const auto& x) { return tanh(m(x)); }, [](auto& m) { m.train(false); }, x,
               {});
  auto make_plain = [](auto tag) { return nn::BatchNorm2d<typename decltype(tag)::type>(nn::BatchNormOptions(5, false)); };
  check_module("BatchNorm on N×C, no affine", make_plain, [](auto& m, const auto& x) { return tanh(m(x)); }, rnd({6, 5}, 13));
  // with_relu: the fused op in training, the composed one in evaluation; both ReLU(BatchNorm(x))
  check_module("BatchNorm2d::with_relu (train)", make, [](auto& m, const auto& x) { return tanh(m.with_relu(x)); }, x);
  check_module("BatchNorm2d::with_relu (eval)", make_eval, [](auto& m, const auto& x) { return tanh(m.with_relu(x)); },
               [](auto& m) { m.train(false); }, x, {});
  check_module("BatchNorm2d::with_relu, no affine", make_plain, [](auto& m, const auto& x) { return tanh(m.with_relu(x)); },
               rnd({6, 5}, 13));
  auto a = make(Type<double>{}), b = make(Type<double>{});
  const TD fused = a.with_relu(x), composed = relu(b(x));
  for (index_t i = 0; i < x.numel(); ++i) BOOST_TEST(std::abs(fused[i] - composed[i]) < 1e-13);
  for (index_t c = 0; c < 3; ++c) {
    BOOST_TEST(a.running_mean[c] == b.running_mean[c]);
    BOOST_TEST(std::abs(a.running_var[c] - b.running_var[c]) < 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(conditional_batch_norm) {
  using CBN = nn::ConditionalBatchNorm<double>;
  Rng rng(14);
  CBN cbn(nn::ConditionalBatchNormOptions(4, 3), rng);
  const auto names = nn::named_parameters(cbn);
  BOOST_REQUIRE(names.size() == 2u);  // gain and bias linears, no bias vectors
  BOOST_TEST(names[0].name == "gain.weight");
  BOOST_TEST(names[1].name == "bias.weight");
  BOOST_TEST(nn::named_buffers(cbn).size() == 6u);  // gain.sn.{u,v}, bias.sn.{u,v}, running mean and var
  const TD x = rnd({3, 4, 2, 2}, 15), y = rnd({3, 3}, 16);
  cbn.train(false);  // running stats 0/1 and fixed SN vectors: out = x/√(1+eps)·(1 + G y) + B y
  const TD out = cbn(x, y);
  for (index_t n = 0; n < 3; ++n)
    for (index_t c = 0; c < 4; ++c) {
      const auto [g, b] = cbn_gain_bias(cbn, y, n, c);
      BOOST_TEST(std::abs(out.at(n, c, 1, 1) - (x.at(n, c, 1, 1) / std::sqrt(1 + 1e-5) * g + b)) < 1e-12);
    }
  // Gradient checks: with respect to x (y fixed) and to y (x fixed), BatchNorm in training, SN frozen.
  auto make = [](auto tag) {
    Rng r(17);
    return nn::ConditionalBatchNorm<typename decltype(tag)::type>(nn::ConditionalBatchNormOptions(4, 3), r);
  };
  auto prepare = [](auto& m) {
    m.train(true);
    m.gain.train(false);
    m.bias.train(false);
  };
  check_module("ConditionalBatchNorm wrt x", make,
               [y](auto& m, const auto& xx) {
                 using V = std::decay_t<decltype(xx)>;
                 return tanh(m(xx, constant<V>(cast<typename ValueTraits<V>::scalar>(y))));
               },
               prepare, x);
  check_module("ConditionalBatchNorm wrt y", make,
               [x](auto& m, const auto& yy) {
                 using V = std::decay_t<decltype(yy)>;
                 return tanh(m(constant<V>(cast<typename ValueTraits<V>::scalar>(x)), yy));
               },
               prepare, y);
  // with_relu, the fused op in training: gradients, and the definition ReLU(BN(x)·(1 + G y) + B y)
  check_module("ConditionalBatchNorm::with_relu wrt x", make,
               [y](auto& m, const auto& xx) {
                 using V = std::decay_t<decltype(xx)>;
                 return tanh(m.with_relu(xx, constant<V>(cast<typename ValueTraits<V>::scalar>(y))));
               },
               prepare, x);
  check_module("ConditionalBatchNorm::with_relu wrt y", make,
               [x](auto& m, const auto& yy) {
                 using V = std::decay_t<decltype(yy)>;
                 return tanh(m.with_relu(constant<V>(cast<typename ValueTraits<V>::scalar>(x)), yy));
               },
               prepare, y);
  for (const bool relu : {false, true}) {
    CBN fused(nn::ConditionalBatchNormOptions(4, 3), rng);
    fused.train(true);
    const TD got = relu ? fused.with_relu(x, y) : fused(x, y);
    nn::BatchNorm2d<double> plain(nn::BatchNormOptions(4, false));
    const TD h = plain(x);  // the batch's statistics, and the running averages they give
    double most = 0;
    for (index_t n = 0; n < 3; ++n)
      for (index_t c = 0; c < 4; ++c) {
        const auto [g, b] = cbn_gain_bias(fused, y, n, c);
        for (index_t i = 0; i < 2; ++i)
          for (index_t j = 0; j < 2; ++j) {
            const double z = h.at(n, c, i, j) * g + b;
            most = std::max(most, std::abs(got.at(n, c, i, j) - (relu ? std::max(z, 0.0) : z)));
          }
      }
    BOOST_TEST(most < 1e-12);
    for (index_t c = 0; c < 4; ++c) {
      BOOST_TEST(std::abs(fused.bn.running_mean[c] - plain.running_mean[c]) < 1e-15);
      BOOST_TEST(std::abs(fused.bn.running_var[c] - plain.running_var[c]) < 1e-13);
    }
  }
}

BOOST_AUTO_TEST_CASE(self_attention) {
  Rng rng(18);
  nn::SelfAttention<double> at(nn::SelfAttentionOptions(16), rng);
  BOOST_TEST(at.gamma.value[0] == 0.0);
  BOOST_TEST(nn::parameter_count(at) == 16 * 2 * 2 + 16 * 8 + 8 * 16 + 1);  // θ, φ: C→C/8; g: C→C/2; o: C/2→C; γ
  const TD x = rnd({2, 16, 4, 4}, 19);
  const TD y0 = at(x);
  for (index_t i = 0; i < x.numel(); ++i) BOOST_TEST(y0[i] == x[i]);  // γ = 0: the identity
  // A direct computation for one sample and one output position.
  at.train(false);
  at.gamma.value[0] = 0.7;
  const TD y = at(x);
  auto weight = [](nn::Conv2d<double>& c) { return mul_scalar(c.weight.value, 1.0 / c.sn.sigma(c.weight.value)).reshape({c.out_channels(), c.in_channels()}); };
  const TD wt = weight(at.theta), wp = weight(at.phi), wg = weight(at.g), wo = weight(at.o);
  const index_t n = 1, py = 2, px = 1;
  // θ at the position, φ and g max-pooled 2×2.
  Eigen::VectorXd th = Eigen::VectorXd::Zero(2);
  for (index_t k = 0; k < 2; ++k)
    for (index_t c = 0; c < 16; ++c) th[k] += wt.at(k, c) * x.at(n, c, py, px);
  Eigen::MatrixXd ph(2, 4), gg(8, 4);
  for (index_t q = 0; q < 4; ++q) {
    const index_t qy = q / 2, qx = q % 2;
    for (index_t k = 0; k < 2; ++k) {
      double best = -1e300;
      for (index_t d = 0; d < 4; ++d) {
        double s = 0;
        for (index_t c = 0; c < 16; ++c) s += wp.at(k, c) * x.at(n, c, 2 * qy + d / 2, 2 * qx + d % 2);
        best = std::max(best, s);
      }
      ph(k, q) = best;
    }
    for (index_t k = 0; k < 8; ++k) {
      double best = -1e300;
      for (index_t d = 0; d < 4; ++d) {
        double s = 0;
        for (index_t c = 0; c < 16; ++c) s += wg.at(k, c) * x.at(n, c, 2 * qy + d / 2, 2 * qx + d % 2);
        best = std::max(best, s);
      }
      gg(k, q) = best;
    }
  }
  Eigen::VectorXd logits = ph.transpose() * th;
  Eigen::VectorXd beta = (logits.array() - logits.maxCoeff()).exp();
  beta /= beta.sum();
  Eigen::VectorXd att = gg * beta;
  for (index_t c = 0; c < 16; ++c) {
    double o = 0;
    for (index_t k = 0; k < 8; ++k) o += wo.at(c, k) * att[k];
    BOOST_TEST(std::abs(y.at(n, c, py, px) - (x.at(n, c, py, px) + 0.7 * o)) < 1e-12);
  }
  auto make = [](auto tag) {
    Rng r(20);
    nn::SelfAttention<typename decltype(tag)::type> a(nn::SelfAttentionOptions(16), r);
    a.gamma.value[0] = 0.8f;
    return a;
  };
  ModuleCheckOptions o;
  o.max_entries = 6;
  check_module("SelfAttention (eval)", make, [](auto& m, const auto& x) { return m(x); }, [](auto& m) { m.train(false); },
               rnd({2, 16, 4, 4}, 21), o);
}
