#define BOOST_TEST_MODULE nn_network_grads
#include <boost/test/unit_test.hpp>

#include "module_check.hpp"
#include "structgan/nn/biggan.hpp"
#include "structgan/nn/mlp.hpp"
#include "structgan/nn/resnet.hpp"

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
/// Random values in [0.5, 1.5) for the GroupNorm/BatchNorm affine parameters (1 and 0 at init).
template <class M>
void randomize_norms(M& m, std::uint64_t seed) {
  Rng rng(seed);
  nn::for_each_parameter(m, [&](const std::string& n, auto& p) {
    if (n.find("gn") != std::string::npos || n.find("norm") != std::string::npos || n.find("output_bn") != std::string::npos)
      for (index_t i = 0; i < p.value.numel(); ++i) p.value[i] = static_cast<typename M::value_type>(rng.uniform(0.5, 1.5));
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(resnet_blocks) {
  for (index_t stride : {1, 2}) {
    auto make = [stride](auto tag) {
      Rng rng(1);
      nn::ResNetBlock<typename decltype(tag)::type> b(16, stride == 1 ? 16 : 32, stride, 16, rng);
      randomize_norms(b, 2);
      return b;
    };
    check_module("ResNetBlock stride " + std::to_string(stride), make, [](auto& m, const auto& x) { return m(x); },
                 rnd({2, 16, 4, 4}, 3));
  }
}

BOOST_AUTO_TEST_CASE(resnet_discriminator_embedding_small_input) {
  // The whole discriminator (11M parameters) on 2×3×8×8: a few entries of every parameter.
  auto make = [](auto tag) {
    Rng rng(4);
    auto d = nn::ResNet18Discriminator<typename decltype(tag)::type>(nn::DiscriminatorOptions{}, rng);
    randomize_norms(d, 5);
    return d;
  };
  ModuleCheckOptions o;
  o.max_entries = 2;
  check_module("ResNet18Discriminator::embed", make, [](auto& m, const auto& x) { return m.embed(x); }, rnd({2, 3, 8, 8}, 6), o);
}

BOOST_AUTO_TEST_CASE(gblock_batch_norm_training) {
  // BatchNorm in training, spectral norm frozen (evaluation) so the function is deterministic.
  const TD y = rnd({3, 5}, 7);
  auto make = [](auto tag) {
    Rng rng(8);
    nn::GeneratorOptions go;
    return nn::GBlock<typename decltype(tag)::type>(16, 8, true, 5, go, rng);
  };
  auto prepare = [](auto& b) {
    b.train(true);
    for (auto* c : {&b.conv1, &b.conv2, &b.conv3, &b.conv4}) {
      for (int i = 0; i < 5; ++i) c->sn.power_iteration(c->weight.value);
      c->train(false);
    }
    for (auto* n : {&b.bn1, &b.bn2, &b.bn3, &b.bn4}) {
      n->gain.train(false);
      n->bias.train(false);
    }
  };
  ModuleCheckOptions o;
  o.max_entries = 4;
  check_module("GBlock 16 → 8, up", make,
               [y](auto& m, const auto& x) {
                 using V = std::decay_t<decltype(x)>;
                 return m(x, constant<V>(cast<typename ValueTraits<V>::scalar>(y)));
               },
               prepare, rnd({3, 16, 2, 2}, 9), o);
}

BOOST_AUTO_TEST_CASE(biggan_generators_in_evaluation) {
  // Small widths at 32×32, without and with self-attention (after the 16×16 stage here; the
  // 128×128 generator's attention at 64×64 is the same module). A few training passes first
  // give non-trivial BN statistics and SN vectors.
  for (index_t attention_at : {0, 16}) {
    auto make = [attention_at](auto tag) {
      using T = typename decltype(tag)::type;
      Rng rng(10);
      nn::GeneratorOptions go;
      go.ch = 4;
      go.z_dim = 6;
      go.attention_resolution = attention_at;
      nn::BigGANDeepGenerator<T> g(go, rng);
      randomize_norms(g, 11);
      for (int i = 0; i < 3; ++i) g(cast<T>(rnd({4, 6}, 12 + i)));
      for (auto& a : g.attention) a.gamma.value[0] = T(0.5);
      return g;
    };
    ModuleCheckOptions o;
    o.max_entries = 3;
    o.float_rtol = 1e-3;
    o.float_atol = 1e-4;
    check_module("BigGANDeepGenerator 32, attention at " + std::to_string(attention_at), make,
                 [](auto& m, const auto& z) { return m(z); }, [](auto& m) { m.train(false); }, rnd({2, 6}, 20), o);
  }
  Rng rng(30);
  nn::GeneratorOptions go;
  go.ch = 4;
  go.attention_resolution = 16;
  BOOST_TEST(nn::BigGANDeepGenerator<float>(go, rng).attention_after == std::vector<std::size_t>{3});
}

BOOST_AUTO_TEST_CASE(mlp_networks) {
  auto make_d = [](auto tag) {
    Rng rng(21);
    nn::MlpDiscriminatorOptions o;
    o.hidden = 32;
    o.embed_dim = 8;
    auto d = nn::MlpDiscriminator<typename decltype(tag)::type>(o, rng);
    randomize_norms(d, 22);
    return d;
  };
  check_module("MlpDiscriminator::embed", make_d, [](auto& m, const auto& x) { return m.embed(x); }, rnd({4, 2}, 23));
  check_module("MlpDiscriminator f", make_d, [](auto& m, const auto& x) { return m(x).f; }, rnd({4, 2}, 24));
  auto make_g = [](auto tag) {
    Rng rng(25);
    nn::MlpGeneratorOptions o;
    o.hidden = 32;
    o.z_dim = 4;
    return nn::MlpGenerator<typename decltype(tag)::type>(o, rng);
  };
  check_module("MlpGenerator", make_g, [](auto& m, const auto& z) { return m(z); }, rnd({4, 4}, 26));
}
