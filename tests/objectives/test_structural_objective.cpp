#define BOOST_TEST_MODULE objectives_structural
#include <boost/test/unit_test.hpp>

// StructuralObjective (SPEC §5) with a tiny discriminator and generator made of ops: every loss
// term against the component functions, the fused and the separate passes agree, gradients
// against central differences, G's step leaves D's gradients alone, JSON options.
#include <string>
#include <utility>

#include "objectives_test_util.hpp"
#include "structgan/objectives/options_json.hpp"
#include "structgan/objectives/structural_objective.hpp"

using namespace structgan;
using namespace structgan::objectives;
using namespace structgan::objtest;

namespace {

using P = Parameter<double>;
P param(Shape s, Rng& rng, double scale) { return P{randn<double>(s, rng, 0.0, scale), {}}; }

template <class V>
struct Out {
  V f_tilde, f, f_b, logits;
};

/// A per-sample discriminator on 1×2×3 "images": backbone elu(linear) (q = 5), head linear
/// (p = 4), probe linear on sg(f^b) (3 classes).
struct TinyD {
  P w1, b1, w2, b2, wp, bp;
  explicit TinyD(Rng& rng)
      : w1(param({5, 6}, rng, 0.8)), b1(param({5}, rng, 0.2)), w2(param({4, 5}, rng, 0.7)), b2(param({4}, rng, 0.2)),
        wp(param({3, 5}, rng, 0.5)), bp(param({3}, rng, 0.1)) {}
  template <class V>
  Out<V> operator()(const V& x) {
    const index_t b = x.shape()[0];
    V fb = elu(linear(reshape(x, Shape{b, 6}), lift<V>(w1), lift<V>(b1)));
    V ft = linear(fb, lift<V>(w2), lift<V>(b2));
    return {ft, row_normalize(ft), fb, linear(constant<V>(value_of(fb)), lift<V>(wp), lift<V>(bp))};
  }
  std::vector<P*> params() { return {&w1, &b1, &w2, &b2, &wp, &bp}; }
  void zero() {
    for (P* p : params()) p->grad = zeros<double>(p->value.shape());
  }
};

/// A generator z (m×3) → tanh(linear) reshaped to m×1×2×3.
struct TinyG {
  P w;
  explicit TinyG(Rng& rng) : w(param({6, 3}, rng, 0.9)) {}
  template <class V>
  V operator()(const V& z) { return reshape(tanh(linear(z, lift<V>(w))), Shape{z.shape()[0], 1, 2, 3}); }
};

struct Setup {
  Rng rng{3};
  TinyD d{rng};
  TinyD ema{rng};
  TinyG g{rng};
  TD x_real = randn<double>(Shape{6, 1, 2, 3}, rng);
  TD z = randn<double>(Shape{5, 3}, rng);
  TD x_fake = g(z);
  std::vector<int> labels{0, 2, 1, 1, 0, 2};
  MemoryBank<double> bank{12, 5, 4, rng};
  TD kr, kf;
  Setup() {
    kr = StructuralObjective<double>::keys(ema, x_real);
    kf = StructuralObjective<double>::keys(ema, x_fake);
  }
};

double scalar(const VD& v) { return v.value()[0]; }

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_are_the_released_code) {
  const ObjectiveOptions o;
  BOOST_TEST(o.lambda_cluster == 3.0);
  BOOST_TEST(o.lambda_smooth == 5.0);
  BOOST_TEST(o.lambda_hinge == 20.0);
  BOOST_TEST(o.lambda_probe == 1.0);
  BOOST_TEST(o.bank_size == 10240);
  BOOST_TEST(o.cluster.k == 1);
  BOOST_TEST(o.cluster.skip_first_fake);
  BOOST_TEST(o.jacobian.steps == 1);
  BOOST_TEST(o.jacobian.lip == 1.0);
  BOOST_TEST((o.jacobian.penalty == JacobianPenalty::Squared));
  BOOST_TEST((o.distance.kind == GaussianDistance::Logdet));
  BOOST_TEST(o.distance.eps == 0.5);
  BOOST_TEST(o.distance.ridge == 1e-4);
}

BOOST_AUTO_TEST_CASE(keys_are_normalized_backbone_features) {
  Setup s;
  const TD fb = s.ema(s.x_real).f_b;
  for (index_t i = 0; i < 6; ++i) {
    BOOST_TEST(close(s.kr.matrix().row(i).norm(), 1.0, 1e-14, 0));
    BOOST_TEST(close(s.kr.matrix().row(i).dot(fb.matrix().row(i)), fb.matrix().row(i).norm(), 1e-13, 1e-15));
  }
}

BOOST_AUTO_TEST_CASE(discriminator_loss_is_the_sum_of_its_terms) {
  Setup s;
  for (bool fuse : {true, false}) {
    BOOST_TEST_CONTEXT("fuse " << fuse) {
      ObjectiveOptions o;
      o.fuse_jacobian_pass = fuse;
      StructuralObjective<double> obj(o);
      Rng r(9), r_copy = r;
      const auto step = obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r, s.labels);
      // Each term from the component functions.
      const auto real = s.d(s.x_real), fake = s.d(s.x_fake);
      const double dist = logdet_distance(real.f, fake.f)[0];
      const auto c = cluster_similarities(real.f, fake.f, s.kr, s.kf, s.bank);
      auto embed = [&](const auto& x) { return s.d(x).f_tilde; };
      const auto est = jacobian_sigma(embed, concat(std::vector<TD>{s.x_real, s.x_fake}, 0), r_copy, 1);
      const double jac = jacobian_penalty(est.sigma.value())[0];
      const double hinge = norm_hinge(real.f_tilde)[0];
      const double ce = softmax_cross_entropy(real.logits, s.labels)[0];
      const LossTerms& t = step.terms;
      BOOST_TEST(close(t.distance, dist, 1e-10, 1e-12));
      BOOST_TEST(close(t.s_real, c.s_real[0], 1e-10, 1e-12));
      BOOST_TEST(close(t.s_fake, c.s_fake[0], 1e-10, 1e-12));
      BOOST_TEST(close(t.jacobian, jac, 1e-10, 1e-12));
      BOOST_TEST(close(t.sigma_mean, est.sigma.value().array().mean(), 1e-10, 1e-12));
      BOOST_TEST(close(t.hinge, hinge, 1e-10, 1e-12));
      BOOST_TEST(close(t.probe, ce, 1e-10, 1e-12));
      BOOST_TEST(close(t.embed_norm, row_norm(real.f_tilde).array().mean(), 1e-10, 1e-12));
      const double total = -dist + 3 * (-c.s_real[0] + c.s_fake[0]) + 5 * jac + 20 * hinge + ce;
      BOOST_TEST(close(t.total, total, 1e-10, 1e-12));
      BOOST_TEST(close(scalar(step.loss), total, 1e-10, 1e-12));
      BOOST_TEST(t.probe_accuracy >= 0.0);
      BOOST_TEST(t.probe_accuracy <= 1.0);
      // The values to enqueue are the real f.
      for (index_t i = 0; i < real.f.numel(); ++i) BOOST_TEST(close(step.real_values[i], real.f[i], 1e-13, 1e-15));
      BOOST_TEST(t.named().size() == 10u);
      BOOST_TEST(t.named()[0].first == "total");
    }
  }
}

BOOST_AUTO_TEST_CASE(fused_and_separate_passes_give_the_same_gradients) {
  Setup s;
  std::vector<TD> grads[2];
  double totals[2];
  for (int fuse = 0; fuse < 2; ++fuse) {
    ObjectiveOptions o;
    o.fuse_jacobian_pass = fuse == 1;
    s.d.zero();
    Rng r(21);
    const auto step = StructuralObjective<double>(o).discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r, s.labels);
    backward(step.loss);
    totals[fuse] = step.terms.total;
    for (P* p : s.d.params()) grads[fuse].push_back(clone(p->grad));
  }
  BOOST_TEST(close(totals[0], totals[1], 1e-12, 1e-14));
  for (std::size_t j = 0; j < grads[0].size(); ++j) {
    const double scale = 1e-12 * (1 + grads[0][j].array().abs().maxCoeff());
    BOOST_TEST(((grads[0][j].array() - grads[1][j].array()).abs() <= scale).all(), "parameter " << j);
  }
}

BOOST_AUTO_TEST_CASE(discriminator_gradient_against_central_differences) {
  Setup s;
  // Without the Jacobian term the loss is a deterministic function of D's parameters (the
  // neighbours depend on the EMA keys only), so finite differences apply. The probe reads
  // sg(f^b): its cross-entropy moves with the backbone's value but sends it no gradient, so the
  // backbone and head are checked without the probe term and the probe with it.
  Rng r(1);
  const double h = 1e-6;
  for (const bool probe : {false, true}) {
    ObjectiveOptions o;
    o.lambda_smooth = 0;
    o.lambda_probe = probe ? 1.0 : 0.0;
    StructuralObjective<double> obj(o);
    s.d.zero();
    backward(obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r, s.labels).loss);
    auto loss_at = [&]() {
      NoGradGuard ng;
      return obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r, s.labels).terms.total;
    };
    const auto params = s.d.params();
    for (std::size_t k = probe ? 4 : 0; k < params.size(); ++k) {
      P* p = params[k];
      if (!probe && k >= 4) {
        BOOST_TEST((p->grad.array() == 0).all(), "probe parameter " << k << " without the probe term");
        continue;
      }
      for (index_t e = 0; e < p->value.numel(); e += 2) {
        const double keep = p->value[e];
        p->value[e] = keep + h;
        const double up = loss_at();
        p->value[e] = keep - h;
        const double down = loss_at();
        p->value[e] = keep;
        BOOST_TEST(close(p->grad[e], (up - down) / (2 * h), 1e-5, 1e-8), "probe " << probe << " parameter " << k << " entry " << e);
      }
    }
  }
  ObjectiveOptions no_jac;
  no_jac.lambda_smooth = 0;
  s.d.zero();
  Rng r0(1);
  backward(StructuralObjective<double>(no_jac).discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r0, s.labels).loss);
  int k = 0;
  // With the Jacobian term the gradient adds λ_s·∇penalty (u, v stopped), drawn from the same rng.
  std::vector<TD> base;
  for (P* p : s.d.params()) base.push_back(clone(p->grad));
  ObjectiveOptions oj;
  StructuralObjective<double> full(oj);
  Rng ra(5), rb(5);
  s.d.zero();
  backward(full.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, ra, s.labels).loss);
  std::vector<TD> with;
  for (P* p : s.d.params()) with.push_back(clone(p->grad));
  s.d.zero();
  auto embed = [&](const auto& x) { return s.d(x).f_tilde; };
  const auto reg = jacobian_regularizer(embed, concat(std::vector<TD>{s.x_real, s.x_fake}, 0), rb);
  backward(mul_scalar(reg.penalty, 5.0));
  k = 0;
  for (P* p : s.d.params()) {
    const auto want = (base[static_cast<std::size_t>(k)].array() + p->grad.array()).eval();
    const double scale = 1e-10 * (1 + want.abs().maxCoeff());
    BOOST_TEST(((with[static_cast<std::size_t>(k)].array() - want).abs() <= scale).all(), "parameter " << k);
    ++k;
  }
}

BOOST_AUTO_TEST_CASE(generator_loss_and_its_gradient) {
  Setup s;
  StructuralObjective<double> obj;
  s.d.zero();
  s.g.w.grad = zeros<double>(s.g.w.value.shape());
  const VD xg = s.g(VD(s.z));
  const auto step = obj.generator_loss(s.d, s.x_real, xg, s.kr, s.kf, s.bank);
  // The terms: +d − 3·s_fake with the real f recomputed by D.
  const auto real = s.d(s.x_real), fake = s.d(s.x_fake);
  const double dist = logdet_distance(real.f, fake.f)[0];
  const double sf = fake_cluster_similarity(fake.f, real.f, s.kf, s.kr, s.bank.keys(), s.bank.values())[0];
  BOOST_TEST(close(step.terms.distance, dist, 1e-10, 1e-12));
  BOOST_TEST(close(step.terms.s_fake, sf, 1e-10, 1e-12));
  BOOST_TEST(close(step.terms.total, dist - 3 * sf, 1e-10, 1e-12));
  BOOST_TEST(step.terms.s_real == 0.0);
  backward(step.loss);
  // D's gradients are untouched; G's match central differences (keys held fixed).
  for (P* p : s.d.params()) BOOST_TEST((p->grad.array() == 0).all());
  auto loss_at = [&]() {
    const TD x = s.g(s.z);
    return obj.generator_loss(s.d, s.x_real, VD(x), s.kr, s.kf, s.bank).terms.total;
  };
  const double h = 1e-6;
  for (index_t e = 0; e < s.g.w.value.numel(); ++e) {
    const double keep = s.g.w.value[e];
    s.g.w.value[e] = keep + h;
    const double up = loss_at();
    s.g.w.value[e] = keep - h;
    const double down = loss_at();
    s.g.w.value[e] = keep;
    BOOST_TEST(close(s.g.w.grad[e], (up - down) / (2 * h), 1e-5, 1e-8), "entry " << e);
  }
}

BOOST_AUTO_TEST_CASE(no_labels_means_no_probe_term) {
  Setup s;
  StructuralObjective<double> obj;
  Rng r1(4), r2(4);
  const auto with = obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r1, s.labels);
  const auto without = obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r2);
  BOOST_TEST(without.terms.probe == 0.0);
  BOOST_TEST(close(with.terms.total - without.terms.total, with.terms.probe, 1e-10, 1e-12));
  // The probe's gradient reaches only the probe (sg(f^b)).
  s.d.zero();
  ObjectiveOptions only_probe;
  only_probe.lambda_cluster = only_probe.lambda_smooth = only_probe.lambda_hinge = 0;
  Rng r3(4);
  const auto step = StructuralObjective<double>(only_probe).discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r3,
                                                                                s.labels);
  // The backbone gets exactly ∇(−d): the cross-entropy stops at sg(f^b); the probe gets ∇CE.
  backward(step.loss);
  const TD w1_grad = clone(s.d.w1.grad), wp_grad = clone(s.d.wp.grad);
  s.d.zero();
  backward(neg(logdet_distance(s.d(VD(s.x_real)).f, s.d(VD(s.x_fake)).f)));
  BOOST_TEST(((w1_grad.array() - s.d.w1.grad.array()).abs() < 1e-12).all());
  BOOST_TEST((s.d.wp.grad.array() == 0).all());
  s.d.zero();
  backward(softmax_cross_entropy(s.d(VD(s.x_real)).logits, s.labels));
  BOOST_TEST(wp_grad.array().abs().maxCoeff() > 0);
  BOOST_TEST(((wp_grad.array() - s.d.wp.grad.array()).abs() < 1e-12).all());
}

BOOST_AUTO_TEST_CASE(other_distances_and_options) {
  Setup s;
  ObjectiveOptions o;
  o.distance.kind = GaussianDistance::Bhattacharyya;
  o.distance.ridge = 1e-2;
  o.cluster.k = 2;
  o.cluster.skip_first_fake = false;
  o.jacobian.steps = 2;
  o.jacobian.penalty = JacobianPenalty::Absolute;
  Rng r(2);
  const auto step = StructuralObjective<double>(o).discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r, s.labels);
  const auto real = s.d(s.x_real), fake = s.d(s.x_fake);
  BOOST_TEST(close(step.terms.distance, bhattacharyya_distance(real.f, fake.f, 1e-2)[0], 1e-10, 1e-12));
  ClusterOptions c;
  c.k = 2;
  c.skip_first_fake = false;
  BOOST_TEST(close(step.terms.s_fake, fake_cluster_similarity(fake.f, real.f, s.kf, s.kr, s.bank.keys(), s.bank.values(), c)[0],
                   1e-10, 1e-12));
}

BOOST_AUTO_TEST_CASE(json_options) {
  const auto o = options_from_json(nlohmann::json::parse(R"({
      "distance": "jsd", "ridge": 0.001, "logdet_eps": 0.25, "lambda_cluster": 2, "lambda_smooth": 1.5,
      "lambda_hinge": 4, "lambda_probe": 0, "knn_k": 3, "skip_first_fake": false, "knn_block_elements": 4096,
      "bank_size": 2048, "power_steps": 2, "lip": 0.5, "jacobian_penalty": "absolute", "fuse_jacobian_pass": false,
      "gaussian_stats": "per_rank"})"));
  // The values above, member by member: read from that text, and read back from what o writes.
  auto check = [](const ObjectiveOptions& x) {
    BOOST_TEST((x.distance.kind == GaussianDistance::Jsd));
    BOOST_TEST(x.distance.ridge == 1e-3);
    BOOST_TEST(x.distance.eps == 0.25);
    BOOST_TEST(x.lambda_cluster == 2.0);
    BOOST_TEST(x.lambda_smooth == 1.5);
    BOOST_TEST(x.lambda_hinge == 4.0);
    BOOST_TEST(x.lambda_probe == 0.0);
    BOOST_TEST(x.cluster.k == 3);
    BOOST_TEST(!x.cluster.skip_first_fake);
    BOOST_TEST(x.cluster.block_elements == 4096);
    BOOST_TEST(x.bank_size == 2048);
    BOOST_TEST(x.jacobian.steps == 2);
    BOOST_TEST(x.jacobian.lip == 0.5);
    BOOST_TEST((x.jacobian.penalty == JacobianPenalty::Absolute));
    BOOST_TEST(!x.fuse_jacobian_pass);
    BOOST_TEST((x.distance.stats == GaussianStats::PerRank));
  };
  check(o);
  check(options_from_json(nlohmann::json::parse(options_to_json(o).dump())));
  BOOST_TEST(options_to_json(o).size() == 16u);
  BOOST_TEST(options_to_json(ObjectiveOptions{})["gaussian_stats"] == "global");
  BOOST_CHECK_THROW(options_from_json(nlohmann::json::parse(R"({"gaussian_stats": "per-rank"})")), Error);
  BOOST_TEST(options_to_json(o)["distance"] == "jsd");
  BOOST_TEST(options_to_json(o)["jacobian_penalty"] == "absolute");
  // An empty object gives the defaults (SPEC §5).
  const ObjectiveOptions d = options_from_json(nlohmann::json::object());
  BOOST_TEST((d.distance.kind == GaussianDistance::Logdet));
  BOOST_TEST(d.lambda_cluster == 3.0);
  BOOST_TEST(d.lambda_hinge == 20.0);
  BOOST_TEST(d.bank_size == 10240);
  BOOST_TEST(d.jacobian.steps == 1);
  // Every enumerator is written by its to_string name and read back.
  for (auto k : {GaussianDistance::Logdet, GaussianDistance::Jsd, GaussianDistance::Bhattacharyya}) {
    ObjectiveOptions x;
    x.distance.kind = k;
    BOOST_TEST(options_to_json(x)["distance"] == to_string(k));
    BOOST_TEST((options_from_json(options_to_json(x)).distance.kind == k));
  }
  for (auto p : {JacobianPenalty::Squared, JacobianPenalty::Absolute}) {
    ObjectiveOptions x;
    x.jacobian.penalty = p;
    BOOST_TEST(options_to_json(x)["jacobian_penalty"] == to_string(p));
    BOOST_TEST((options_from_json(options_to_json(x)).jacobian.penalty == p));
  }
  // Errors name the key and what it allows.
  const std::pair<const char*, const char*> bad[] = {
      {R"({"lambda_hing": 4})", "unknown key 'lambda_hing'"},
      {R"({"knn_k": 0})", "'knn_k' = 0 must be ≥ 1"},
      {R"({"knn_k": 1.5})", "'knn_k' must be an integer, got 1.5"},
      {R"({"distance": "kl"})", "'distance' must be one of logdet, jsd, bhattacharyya, got 'kl'"},
      {R"({"skip_first_fake": 1})", "'skip_first_fake' must be true or false"},
      {R"({"ridge": -1})", "'ridge' = -1 must be ≥ 0"},
      {R"({"lip": "one"})", "'lip' must be a number"},
      {R"({"lip": 0})", "'lip' = 0 must be > 0"},
      {R"({"logdet_eps": 0})", "'logdet_eps' = 0 must be > 0"},
      {R"({"lambda_cluster": -3})", "'lambda_cluster' = -3 must be ≥ 0"},
      {R"({"lambda_smooth": -1})", "'lambda_smooth' = -1 must be ≥ 0"},
      {R"({"lambda_hinge": -0.5})", "'lambda_hinge' = -0.5 must be ≥ 0"},
      {R"({"lambda_probe": -1})", "'lambda_probe' = -1 must be ≥ 0"},
      {R"({"power_steps": 0})", "'power_steps' = 0 must be ≥ 1"},
      {R"({"power_steps": 4294967297})", "'power_steps' = 4294967297 must be ≤ 2147483647"},
      {R"({"bank_size": 0})", "'bank_size' = 0 must be ≥ 1"},
      {R"({"knn_block_elements": -1})", "'knn_block_elements' = -1 must be ≥ 1"},
      {R"({"jacobian_penalty": "cubic"})", "'jacobian_penalty' must be one of squared, absolute, got 'cubic'"},
      {R"([1, 2])", "expected a JSON object"},
  };
  for (const auto& kase : bad) {
    try {
      options_from_json(nlohmann::json::parse(kase.first));
      BOOST_ERROR("accepted " << kase.first);
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find(kase.second) != std::string::npos, e.what());
    }
  }
  // validate() holds options set in code to the same ranges.
  ObjectiveOptions negative;
  negative.lambda_smooth = -5;
  BOOST_CHECK_NO_THROW(validate(ObjectiveOptions{}));
  try {
    validate(negative);
    BOOST_ERROR("validate accepted λ_s = -5");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("'lambda_smooth' = -5 must be ≥ 0") != std::string::npos, e.what());
  }
  // The table lists every key with its range.
  const std::string table = describe_options();
  const nlohmann::json keys = options_to_json(ObjectiveOptions{});
  for (const auto& item : keys.items())
    BOOST_TEST(table.find("| " + item.key() + " |") != std::string::npos, item.key());
  BOOST_TEST(table.find("| lambda_hinge | number | 20.0 | ≥ 0 |") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
  Setup s;
  StructuralObjective<double> obj;
  Rng r(1);
  const TD other = randn<double>(Shape{5, 1, 3, 2}, r);
  BOOST_CHECK_THROW(obj.discriminator_loss(s.d, s.x_real, other, s.kr, s.kf, s.bank, r), Error);
  BOOST_CHECK_THROW(obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r, std::vector<int>{0, 1}), Error);
  BOOST_CHECK_THROW(obj.discriminator_loss(s.d, s.x_real, s.x_fake, s.kf, s.kr, s.bank, r), Error);  // keys swapped: rows
  BOOST_CHECK_THROW(obj.generator_loss(s.d, s.x_real, VD(other), s.kr, s.kf, s.bank), Error);
  ObjectiveOptions o;
  o.jacobian.steps = 0;
  BOOST_CHECK_THROW(StructuralObjective<double>{o}, Error);
}

BOOST_AUTO_TEST_CASE(a_communicator_of_one_rank_changes_nothing) {
  // The communicator a trainer hands over on one process: the same losses and gradients, bit for
  // bit, for either gaussian_stats mode (tests/distributed/test_global_stats.cpp covers 2 ranks).
  distributed::SingleProcess one;
  for (auto stats : {GaussianStats::Global, GaussianStats::PerRank}) {
    ObjectiveOptions o;
    o.distance.stats = stats;
    Setup s;
    Rng r1(5), r2(5);
    const auto alone = StructuralObjective<double>(o).discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r1, s.labels);
    backward(alone.loss);
    const TD g_alone = clone(s.d.w2.grad);
    s.d.zero();
    const auto with = StructuralObjective<double>(o, &one).discriminator_loss(s.d, s.x_real, s.x_fake, s.kr, s.kf, s.bank, r2, s.labels);
    backward(with.loss);
    BOOST_TEST(with.terms.total == alone.terms.total);
    BOOST_TEST(with.terms.distance == alone.terms.distance);
    BOOST_TEST((s.d.w2.grad.array() == g_alone.array()).all());
  }
}
