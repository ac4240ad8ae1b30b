#define BOOST_TEST_MODULE nn_layers
#include <boost/test/unit_test.hpp>
#include <array>

#include "module_check.hpp"
#include "structgan/nn/layers.hpp"

using namespace structgan;
using namespace structgan::nntest;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
/// A module without parameters (to check stateless modules with the module checker).
struct Empty {
  using value_type = double;
  using device_type = Cpu;
  template <class Vis>
  void visit(Vis&&, const std::string&) {}
};
}  // namespace

BOOST_AUTO_TEST_CASE(linear_computes_x_wt_plus_b) {
  Rng rng(1);
  nn::Linear<double> fc(nn::LinearOptions(3, 2), rng);
  const TD x = rnd({4, 3}, 2);
  const TD y = fc(x);
  BOOST_REQUIRE(y.shape() == (Shape{4, 2}));
  for (index_t i = 0; i < 4; ++i)
    for (index_t o = 0; o < 2; ++o) {
      double want = fc.bias.value[o];
      for (index_t k = 0; k < 3; ++k) want += x.at(i, k) * fc.weight.value.at(o, k);
      BOOST_TEST(std::abs(y.at(i, o) - want) < 1e-14);
    }
  // PyTorch's default initialization: U(±1/√in) for weight and bias.
  Rng r2(3);
  nn::Linear<double> big(nn::LinearOptions(400, 300), r2);
  const double bound = 1 / std::sqrt(400.0);
  BOOST_TEST(big.weight.value.array().abs().maxCoeff() <= bound);
  BOOST_TEST(big.weight.value.array().abs().maxCoeff() > 0.99 * bound);
  BOOST_TEST(std::abs(big.weight.value.array().square().mean() - bound * bound / 3) < 0.02 * bound * bound / 3);
  BOOST_TEST(big.bias.value.array().abs().maxCoeff() <= bound);
}

BOOST_AUTO_TEST_CASE(kaiming_normal_fan_out_has_the_right_variance) {
  Rng rng(4);
  nn::Conv2dOptions o(64, 128, 3);
  o.bias = false;
  o.init = nn::WeightInit::KaimingNormalFanOut;
  nn::Conv2d<double> conv(o, rng);
  BOOST_TEST(!conv.bias.value.defined());
  const double want = 2.0 / (128 * 9);  // fan_out = out·k²
  const double var = conv.weight.value.array().square().mean();
  BOOST_TEST(std::abs(var - want) < 0.02 * want);
  BOOST_TEST(std::abs(conv.weight.value.array().mean()) < 0.01 * std::sqrt(want));
}

BOOST_AUTO_TEST_CASE(same_seed_same_parameters_and_float_is_the_rounded_double) {
  auto build = [](auto tag, std::uint64_t seed) {
    using T = typename decltype(tag)::type;
    Rng rng(seed);
    nn::Conv2dOptions o(3, 5, 3);
    o.spectral_norm = true;
    return nn::Conv2d<T>(o, rng);
  };
  auto a = build(Type<double>{}, 9), b = build(Type<double>{}, 9), c = build(Type<double>{}, 10);
  auto f = build(Type<float>{}, 9);
  for (index_t i = 0; i < a.weight.value.numel(); ++i) {
    BOOST_TEST(a.weight.value[i] == b.weight.value[i]);
    BOOST_TEST(f.weight.value[i] == static_cast<float>(a.weight.value[i]));
  }
  for (index_t i = 0; i < a.sn.u.numel(); ++i) BOOST_TEST(a.sn.u[i] == b.sn.u[i]);
  BOOST_TEST(a.weight.value[0] != c.weight.value[0]);
  const auto names = nn::named_buffers(a);
  BOOST_REQUIRE(names.size() == 2u);
  BOOST_TEST(names[0].name == "sn.u");
  BOOST_TEST(names[1].name == "sn.v");
}

BOOST_AUTO_TEST_CASE(linear_all_modes) {
  auto make = [](auto tag) {
    Rng rng(11);
    return nn::Linear<typename decltype(tag)::type>(nn::LinearOptions(5, 4), rng);
  };
  check_module("Linear", make, [](auto& m, const auto& x) { return m(x); }, rnd({3, 5}, 12));
  auto make_nb = [](auto tag) {
    Rng rng(13);
    nn::LinearOptions o(5, 4);
    o.bias = false;
    return nn::Linear<typename decltype(tag)::type>(o, rng);
  };
  // Nonlinear around it so the reverse-over-forward check sees second derivatives.
  check_module("Linear without bias, tanh", make_nb, [](auto& m, const auto& x) { return tanh(m(x)); }, rnd({3, 5}, 14));
}

BOOST_AUTO_TEST_CASE(spectral_linear_all_modes_in_evaluation) {
  auto make = [](auto tag) {
    Rng rng(15);
    nn::LinearOptions o(5, 4);
    o.spectral_norm = true;
    nn::Linear<typename decltype(tag)::type> fc(o, rng);
    for (int i = 0; i < 3; ++i) fc.sn.power_iteration(fc.weight.value);
    return fc;
  };
  // In evaluation the stored u, v are constants: the function is W/σ(W) with σ = uᵀWv.
  check_module("SNLinear (eval)", make, [](auto& m, const auto& x) { return elu(m(x)); }, [](auto& m) { m.train(false); },
               rnd({3, 5}, 16));
}

BOOST_AUTO_TEST_CASE(conv2d_all_modes) {
  for (index_t k : {1, 3}) {
    for (bool bias : {true, false}) {
      auto make = [k, bias](auto tag) {
        Rng rng(17);
        nn::Conv2dOptions o(3, 4, k);
        o.bias = bias;
        return nn::Conv2d<typename decltype(tag)::type>(o, rng);
      };
      check_module("Conv2d k" + std::to_string(k) + (bias ? " bias" : ""), make, [](auto& m, const auto& x) { return elu(m(x)); },
                   rnd({2, 3, 5, 5}, 18));
    }
  }
  auto make_sn = [](auto tag) {
    Rng rng(19);
    nn::Conv2dOptions o(3, 4, 3);
    o.spectral_norm = true;
    return nn::Conv2d<typename decltype(tag)::type>(o, rng);
  };
  check_module("SNConv2d (eval)", make_sn, [](auto& m, const auto& x) { return tanh(m(x)); }, [](auto& m) { m.train(false); },
               rnd({2, 3, 4, 4}, 20));
  auto make_s2 = [](auto tag) {
    Rng rng(21);
    nn::Conv2dOptions o(2, 3, 3);
    o.stride = 2;
    return nn::Conv2d<typename decltype(tag)::type>(o, rng);
  };
  check_module("Conv2d stride 2", make_s2, [](auto& m, const auto& x) { return m(x); }, rnd({2, 2, 6, 6}, 22));
  // Inception-v3's rectangular kernels: "same" padding per side by default, or stated.
  for (const std::array<index_t, 2> k : {std::array<index_t, 2>{1, 7}, std::array<index_t, 2>{7, 1}, std::array<index_t, 2>{3, 1}}) {
    auto make_rect = [k](auto tag) {
      Rng rng(25);
      nn::Conv2dOptions o(3, 4);
      o.kernel_h = k[0], o.kernel_w = k[1];
      return nn::Conv2d<typename decltype(tag)::type>(o, rng);
    };
    check_module("Conv2d " + std::to_string(k[0]) + "x" + std::to_string(k[1]), make_rect,
                 [](auto& m, const auto& x) { return elu(m(x)); }, rnd({2, 3, 5, 6}, 26));
  }
  auto make_sn_rect = [](auto tag) {
    Rng rng(27);
    nn::Conv2dOptions o(3, 4);
    o.kernel_h = 1, o.kernel_w = 3, o.padding_h = 0, o.padding_w = 1, o.spectral_norm = true;
    return nn::Conv2d<typename decltype(tag)::type>(o, rng);
  };
  check_module("SNConv2d 1x3 (eval)", make_sn_rect, [](auto& m, const auto& x) { return tanh(m(x)); },
               [](auto& m) { m.train(false); }, rnd({2, 3, 4, 5}, 28));
}

BOOST_AUTO_TEST_CASE(conv2d_rectangular_options) {
  Rng rng(29);
  nn::Conv2dOptions o(6, 4);
  o.kernel_h = 1, o.kernel_w = 7;
  nn::Conv2d<double> conv(o, rng);
  BOOST_TEST(conv.weight.value.shape() == (Shape{4, 6, 1, 7}));
  BOOST_TEST(conv.pad_h == 0);
  BOOST_TEST(conv.pad_w == 3);
  BOOST_TEST(conv(zeros<double>({2, 6, 9, 8})).shape() == (Shape{2, 4, 9, 8}));  // "same"
  // The bias bound is 1/√(in·kh·kw), as PyTorch's.
  const double bound = 1.0 / std::sqrt(6.0 * 7.0);
  BOOST_TEST(conv.bias.value.array().abs().maxCoeff() <= bound);
  // `padding` applies to both sides unless one is stated; stated sides win.
  nn::Conv2dOptions p(6, 4);
  p.kernel_h = 3, p.kernel_w = 1, p.padding = 0, p.padding_w = 2;
  nn::Conv2d<double> c2(p, rng);
  BOOST_TEST(c2.pad_h == 0);
  BOOST_TEST(c2.pad_w == 2);
  BOOST_TEST(c2(zeros<double>({1, 6, 9, 8})).shape() == (Shape{1, 4, 7, 12}));
  // The square form draws exactly what kernel_h = kernel_w = kernel draws.
  Rng r1(30), r2(30);
  nn::Conv2dOptions sq(3, 5, 3), rect(3, 5, 5);
  rect.kernel_h = 3, rect.kernel_w = 3;
  const nn::Conv2d<double> a(sq, r1), b(rect, r2);
  BOOST_TEST(a.pad_h == 1);
  BOOST_TEST(a.pad_w == 1);
  BOOST_TEST(b.pad_h == 1);
  BOOST_TEST(b.pad_w == 1);
  BOOST_TEST((a.weight.value.array() == b.weight.value.array()).all());
  BOOST_TEST((a.bias.value.array() == b.bias.value.array()).all());
}

BOOST_AUTO_TEST_CASE(stateless_modules_all_modes) {
  auto make = [](auto) { return Empty{}; };
  const TD x = rnd({2, 3, 4, 4}, 23);
  check_module("Elu", make, [](auto&, const auto& v) { return nn::Elu{}(v); }, x);
  check_module("Relu (squared input)", make, [](auto&, const auto& v) { return nn::Relu{}(v * v - 0.25); }, x);
  check_module("Tanh", make, [](auto&, const auto& v) { return nn::Tanh{}(v); }, x);
  check_module("AvgPool2d", make, [](auto&, const auto& v) { return nn::AvgPool2d{2}(square(v)); }, x);
  check_module("MaxPool2d", make, [](auto&, const auto& v) { return nn::MaxPool2d{2}(square(v)); }, x);
  check_module("UpsampleNearest2x", make, [](auto&, const auto& v) { return nn::UpsampleNearest2x{}(tanh(v)); }, x);
  const TD y = nn::AvgPool2d{1}(x);
  BOOST_TEST(y.data() == x.data());  // AvgPool2d(1) is the identity
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
  Rng rng(24);
  nn::Linear<double> fc(nn::LinearOptions(3, 2), rng);
  BOOST_CHECK_THROW(fc(zeros<double>({2, 4})), Error);
  BOOST_CHECK_THROW(nn::Linear<double>(nn::LinearOptions(0, 2), rng), Error);
  nn::Conv2d<double> conv(nn::Conv2dOptions(3, 2, 3), rng);
  BOOST_CHECK_THROW(conv(zeros<double>({1, 2, 5, 5})), Error);
}
