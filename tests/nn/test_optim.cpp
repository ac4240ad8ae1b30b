#define BOOST_TEST_MODULE nn_optim
#include <boost/test/unit_test.hpp>

#include <map>

#include "structgan/autodiff.hpp"
#include "structgan/nn/biggan.hpp"
#include "structgan/nn/ema.hpp"
#include "structgan/nn/optim.hpp"

using namespace structgan;
using TD = Tensor<double, Cpu>;

namespace {
/// A module holding one parameter (enough for optimizer tests).
template <class T>
struct One {
  using value_type = T;
  using device_type = Cpu;
  Parameter<T> p;
  template <class Vis>
  void visit(Vis&& v, const std::string& prefix) { v.parameter(nn::join_name(prefix, "p"), p); }
};

const double p0[4] = {0.5, -1.0, 2.0, 0.0};
const double c0[4] = {1.0, 2.0, -1.0, 0.5};

/// Runs 5 steps with g = 2(p − c) + 0.1·t (as tests/nn/optim_reference.py does with PyTorch).
template <class T, class Opt>
void run(One<T>& m, Opt& opt) {
  for (int t = 1; t <= 5; ++t) {
    opt.zero_grad();
    for (index_t i = 0; i < 4; ++i)
      m.p.grad[i] = static_cast<T>(2 * (static_cast<double>(m.p.value[i]) - c0[i]) + 0.1 * t);
    opt.step();
  }
}
template <class T>
One<T> start() {
  One<T> m;
  m.p.value = Tensor<T>(Shape{4});
  for (index_t i = 0; i < 4; ++i) m.p.value[i] = static_cast<T>(p0[i]);
  return m;
}
}  // namespace

// PyTorch 1.13 (torch.optim.Adam / AdamW, float64), printed by tests/nn/optim_reference.py.
BOOST_AUTO_TEST_CASE(adam_matches_pytorch) {
  struct Case {
    const char* name;
    nn::AdamOptions o;
    bool decoupled;
    double p[4], m[4], v[4];
  };
  const Case cases[] = {
      {"adam", {0.1, 0.5, 0.999, 1e-8, 0.0}, false,
       {0.8241354729721981, -0.5143867184821103, 1.5042586057212841, 0.3241354729721982},
       {-0.06071171853331969, -4.806375067260834, 5.605986317771617, -0.06071171853331955},
       {0.0012859701642364554, 0.141264250848746, 0.17387226077749154, 0.0012859701642364556}},
      {"adam_l2", {0.05, 0.9, 0.99, 1e-6, 0.1}, false,
       {0.7291919040601305, -0.7508500522313213, 1.7500158127248924, 0.23170540421965838},
       {-0.16529414944820117, -2.2716897487017116, 2.575391058106772, -0.18546846108506043},
       {0.013493241358072292, 1.533476513112983, 1.9389783962871099, 0.015769908945716143}},
      {"adamw", {0.1, 0.5, 0.999, 1e-8, 0.1}, true,
       {0.8026168401312039, -0.4760997532025185, 1.4177561287897755, 0.3175635289855498},
       {-0.09160909372376502, -4.754198911257351, 5.493856817602449, -0.06715958529268792},
       {0.0013090100282076326, 0.13949935217936674, 0.16958283090471007, 0.0012857460616493943}},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      One<double> m = start<double>();
      nn::Adam<double> opt = c.decoupled ? nn::AdamW<double>(nn::named_parameters(m), c.o) : nn::Adam<double>(nn::named_parameters(m), c.o);
      BOOST_TEST(opt.decoupled() == c.decoupled);
      run(m, opt);
      const auto& s = opt.groups()[0].slots[0];
      BOOST_TEST(s.step == 5);
      for (index_t i = 0; i < 4; ++i) {
        BOOST_TEST(std::abs(m.p.value[i] - c.p[i]) < 1e-13);
        BOOST_TEST(std::abs(s.exp_avg[i] - c.m[i]) < 1e-13);
        BOOST_TEST(std::abs(s.exp_avg_sq[i] - c.v[i]) < 1e-13);
      }
      // The float version follows the same trajectory to float precision.
      One<float> mf = start<float>();
      nn::Adam<float> of = c.decoupled ? nn::AdamW<float>(nn::named_parameters(mf), c.o) : nn::Adam<float>(nn::named_parameters(mf), c.o);
      run(mf, of);
      for (index_t i = 0; i < 4; ++i) BOOST_TEST(std::abs(mf.p.value[i] - c.p[i]) < 2e-6);
    }
  }
}

BOOST_AUTO_TEST_CASE(adamw_decay_is_decoupled) {
  // Zero gradient: Adam's update is 0/(0 + eps) = 0, so AdamW only scales by (1 − lr·λ) and
  // Adam with L2 moves by lr·sign(λ p) (the first step's m̂/√v̂ = ±1).
  One<double> a = start<double>(), b = start<double>();
  nn::AdamW<double> w(nn::named_parameters(a), {0.01, 0.9, 0.999, 1e-8, 0.5});
  nn::Adam<double> l2(nn::named_parameters(b), {0.01, 0.9, 0.999, 1e-8, 0.5});
  w.zero_grad();
  l2.zero_grad();
  w.step();
  l2.step();
  for (index_t i = 0; i < 4; ++i) {
    BOOST_TEST(std::abs(a.p.value[i] - p0[i] * (1 - 0.01 * 0.5)) < 1e-15);
    const double sign = p0[i] > 0 ? 1 : (p0[i] < 0 ? -1 : 0);
    BOOST_TEST(std::abs(b.p.value[i] - (p0[i] - 0.01 * sign)) < 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(groups_have_their_own_hyperparameters_and_state_is_enumerable) {
  One<double> a = start<double>(), b = start<double>();
  nn::AdamW<double> opt(nn::named_parameters(a, "a"), {0.1, 0.5, 0.999, 1e-8, 0.0});
  opt.add_param_group(nn::named_parameters(b, "b"), {0.0, 0.5, 0.999, 1e-8, 0.0});  // lr 0: frozen
  BOOST_CHECK_THROW(opt.add_param_group(nn::named_parameters(b, "b"), {}), Error);  // twice
  BOOST_CHECK_THROW(nn::Adam<double>(nn::named_parameters(a), {-1.0}), Error);
  for (index_t i = 0; i < 4; ++i) {
    a.p.grad[i] = 1.0;
    b.p.grad[i] = 1.0;
  }
  opt.step();
  for (index_t i = 0; i < 4; ++i) {
    BOOST_TEST(std::abs(a.p.value[i] - (p0[i] - 0.1)) < 1e-7);  // first step moves by lr·sign(g)
    BOOST_TEST(b.p.value[i] == p0[i]);
  }
  opt.zero_grad();
  BOOST_TEST(a.p.grad.array().abs().maxCoeff() == 0.0);
  std::map<std::string, index_t> buffers;
  std::map<std::string, std::int64_t> counters;
  struct Collect {
    std::map<std::string, index_t>& b;
    std::map<std::string, std::int64_t>& c;
    void buffer(const std::string& n, TD& t) { b[n] = t.numel(); }
    void counter(const std::string& n, std::int64_t& s) { c[n] = s; }
  } collect{buffers, counters};
  opt.visit_state(collect, "opt");
  BOOST_TEST(buffers.size() == 4u);
  BOOST_TEST(buffers.count("opt.a.p.exp_avg") == 1u);
  BOOST_TEST(buffers.count("opt.b.p.exp_avg_sq") == 1u);
  BOOST_TEST(counters.at("opt.a.p.step") == 1);
  BOOST_TEST(counters.at("opt.b.p.step") == 1);
}

BOOST_AUTO_TEST_CASE(optimizer_follows_moved_module) {
  auto m = std::make_unique<One<double>>(start<double>());
  nn::Adam<double> opt(nn::named_parameters(*m), {0.1});
  One<double> moved = std::move(*m);
  m.reset();
  moved.p.grad[0] = 1.0;
  opt.step();
  BOOST_TEST(std::abs(moved.p.value[0] - (p0[0] - 0.1)) < 1e-7);
}

BOOST_AUTO_TEST_CASE(ema_averages_parameters_and_copies_buffers) {
  Rng rng(1);
  nn::GeneratorOptions go;
  go.ch = 8;
  go.z_dim = 8;
  nn::BigGANDeepGenerator<double> g(go, rng);
  nn::Ema<nn::BigGANDeepGenerator<double>> ema(g, 0.99);
  // An independent copy: changing g does not change the EMA.
  auto pg = nn::named_parameters(g);
  auto pe = nn::named_parameters(ema.model());
  BOOST_REQUIRE(pg.size() == pe.size());
  const double before = pe[3].param->value[0];
  pg[3].param->value[0] += 1.0;
  BOOST_TEST(pe[3].param->value[0] == before);
  BOOST_TEST(pe[3].param->value.data() != pg[3].param->value.data());
  // A training pass changes g's buffers (BN statistics, SN vectors); update copies them and
  // averages the parameters.
  std::vector<TD> old_e, live;
  for (auto& p : pe) old_e.push_back(clone(p.param->value));
  g(g.sample_latent(4, rng));
  for (auto& p : pg) live.push_back(clone(p.param->value));
  ema.update(g);
  for (std::size_t k = 0; k < pe.size(); ++k)
    for (index_t i = 0; i < pe[k].param->value.numel(); i += 97)
      BOOST_TEST(std::abs(pe[k].param->value[i] - (0.99 * old_e[k][i] + 0.01 * live[k][i])) < 1e-15);
  auto bg = nn::named_buffers(g), be = nn::named_buffers(ema.model());
  BOOST_REQUIRE(bg.size() == be.size());
  for (std::size_t k = 0; k < bg.size(); ++k) {
    BOOST_TEST(bg[k].name == be[k].name);
    for (index_t i = 0; i < bg[k].buffer->numel(); ++i) BOOST_TEST((*be[k].buffer)[i] == (*bg[k].buffer)[i]);
    BOOST_TEST(be[k].buffer->data() != bg[k].buffer->data());
  }
  // Repeated updates with a fixed live network converge to it geometrically.
  for (int i = 0; i < 2000; ++i) ema.update(g);
  for (std::size_t k = 0; k < pe.size(); ++k) BOOST_TEST((pe[k].param->value.array() - pg[k].param->value.array()).abs().maxCoeff() < 1e-6);
  // A different architecture is rejected.
  nn::GeneratorOptions other = go;
  other.ch = 4;
  nn::BigGANDeepGenerator<double> g2(other, rng);
  BOOST_CHECK_THROW(ema.update(g2), Error);
}
