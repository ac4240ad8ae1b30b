#define BOOST_TEST_MODULE reliability_numerical_faults
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "reliability_util.hpp"

// Numerical faults and their documented behaviour (docs/reliability.md):
//  - NaN/Inf in embeddings or in a batch: a clear stop (structgan::Error naming the op; the trainer
//    throws NonFiniteError naming the iteration, before any update, and the last checkpoint loads);
//  - a collapsed generator (all samples equal): guarded values (finite distances and gradients);
//  - a singular covariance: guarded in the logdet form (I + …) and with a ridge; without a usable
//    ridge a clear stop that says to increase it;
//  - a constant discriminator (zero Jacobian): σ = 0, not NaN.

using namespace structgan;
namespace fs = std::filesystem;
using TD = Tensor<double>;
using VD = Var<double>;

namespace {

const double k_nan = std::numeric_limits<double>::quiet_NaN();
const double k_inf = std::numeric_limits<double>::infinity();

TD unit_rows(index_t n, index_t p, Rng& rng) { return row_normalize(randn<double>(Shape{n, p}, rng)); }

/// n copies of one unit row: the embeddings of a collapsed generator.
TD collapsed_rows(index_t n, index_t p, Rng& rng) {
  const TD one = unit_rows(1, p, rng);
  TD out(Shape{n, p});
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < p; ++j) out.at(i, j) = one.at(0, j);
  return out;
}

bool all_finite(const TD& t) { return t.defined() && t.array().allFinite(); }

std::vector<objectives::GaussianOptions> every_distance(double ridge = 1e-4) {
  std::vector<objectives::GaussianOptions> out;
  for (auto k : {objectives::GaussianDistance::Logdet, objectives::GaussianDistance::Jsd,
                 objectives::GaussianDistance::Bhattacharyya}) {
    objectives::GaussianOptions o;
    o.kind = k;
    o.ridge = ridge;
    out.push_back(o);
  }
  return out;
}

/// The distance and its gradients w.r.t. both sets.
struct Evaluated {
  double value;
  TD grad_f, grad_g;
};
Evaluated distance_and_gradients(const TD& f, const TD& g, const objectives::GaussianOptions& o) {
  VD vf(f, true), vg(g, true);
  VD d = objectives::gaussian_distance(vf, vg, o);
  backward(d);
  return {d.value()[0], vf.grad(), vg.grad()};
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// Spiral batches with NaN (or Inf) in sample 3 of batch `bad` (positions counted from 0).
class PoisonedSpiral : public train::RealData {
 public:
  PoisonedSpiral(const train::TrainConfig& c, std::uint64_t bad, float poison)
      : inner_(static_cast<int>(c.batch_size), static_cast<std::uint64_t>(c.seed), c.spiral_noise), bad_(bad), poison_(poison) {}
  void next(train::HostBatch& b) override {
    const bool poison = inner_.position() == bad_;
    inner_.next(b);
    if (poison) b.x[7] = poison_;
  }
  std::uint64_t position() const override { return inner_.position(); }
  void seek(std::uint64_t k) override { inner_.seek(k); }
  index_t classes() const override { return inner_.classes(); }
  std::vector<std::string> class_names() const override { return inner_.class_names(); }
  Shape sample_shape() const override { return inner_.sample_shape(); }
  std::uint64_t batches_per_epoch() const override { return inner_.batches_per_epoch(); }

 private:
  train::SpiralData inner_;
  std::uint64_t bad_;
  float poison_;
};

/// Copies of every parameter of a module.
template <class M>
std::vector<Tensor<float>> parameters_of(M& m) {
  std::vector<Tensor<float>> out;
  nn::for_each_parameter(m, [&](const std::string&, auto& p) { out.push_back(clone(p.value)); });
  return out;
}
bool same(const std::vector<Tensor<float>>& a, const std::vector<Tensor<float>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].shape() != b[i].shape() || std::memcmp(a[i].data(), b[i].data(), sizeof(float) * std::size_t(a[i].numel())) != 0)
      return false;
  return true;
}

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("structgan_reliability_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(nan_or_inf_embeddings_stop_every_distance_with_a_clear_error) {
  Rng rng(1);
  for (const auto& o : every_distance()) {
    for (double bad : {k_nan, k_inf, -k_inf}) {
      TD f = unit_rows(12, 6, rng), g = unit_rows(10, 6, rng);
      f.at(4, 2) = bad;
      const std::string e1 = error_of([&] { objectives::gaussian_distance(f, g, o); });
      BOOST_TEST(contains(e1, "NaN or Inf"), objectives::to_string(o.kind) << ": " << e1);
      BOOST_TEST(contains(e1, "real embeddings"), e1);
      TD f2 = unit_rows(12, 6, rng), g2 = unit_rows(10, 6, rng);
      g2.at(9, 5) = bad;
      const std::string e2 = error_of([&] { objectives::gaussian_distance(VD(f2, true), VD(g2, true), o); });
      BOOST_TEST(contains(e2, "NaN or Inf"), objectives::to_string(o.kind) << ": " << e2);
      BOOST_TEST(contains(e2, "generated embeddings"), e2);
    }
  }
}

BOOST_AUTO_TEST_CASE(nan_in_an_image_batch_stops_the_objective_with_a_clear_error) {
  Rng rng(2);
  nn::MlpDiscriminatorOptions dopt;
  dopt.hidden = 16;
  dopt.depth = 1;
  dopt.embed_dim = 8;
  nn::MlpDiscriminator<double> d(dopt, rng);
  TD x_real = randn<double>(Shape{8, 2}, rng), x_fake = randn<double>(Shape{8, 2}, rng);
  x_real.at(3, 1) = k_nan;
  const TD kr = objectives::StructuralObjective<double>::keys(d, randn<double>(Shape{8, 2}, rng));
  const TD kf = objectives::StructuralObjective<double>::keys(d, x_fake);
  objectives::MemoryBank<double> bank(32, 16, 8, rng);
  for (double lambda_smooth : {5.0, 0.0}) {  // with and without the Jacobian term
    objectives::ObjectiveOptions o;
    o.lambda_smooth = lambda_smooth;
    const objectives::StructuralObjective<double> obj(o);
    const std::string e = error_of([&] { obj.discriminator_loss(d, x_real, x_fake, kr, kf, bank, rng); });
    BOOST_TEST(contains(e, "NaN or Inf"), "λ_s = " << lambda_smooth << ": " << e);
  }
}

BOOST_AUTO_TEST_CASE(nan_or_inf_in_a_training_batch_stops_before_any_update_and_the_last_checkpoint_loads) {
  for (float poison : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const std::string dir = fresh_dir("poison");
    train::TrainConfig c = reliability::tiny_run(dir, 10);
    // Direct steps: batches 0, 1, 2 are clean, batch 3 (iteration 4) is poisoned.
    {
      auto t = train::make_spiral_trainer<float>(c, std::make_unique<PoisonedSpiral>(c, 3, poison));
      for (int i = 0; i < 3; ++i) t.step();
      const auto d_before = parameters_of(t.discriminator()), g_before = parameters_of(t.generator());
      std::string what;
      try {
        t.step();
      } catch (const train::NonFiniteError& e) {
        what = e.what();
      }
      BOOST_TEST(contains(what, "iteration 4"), what);
      BOOST_TEST(contains(what, "real batch holds NaN or Inf"), what);
      BOOST_TEST(same(parameters_of(t.discriminator()), d_before), "D was updated by the failing step");
      BOOST_TEST(same(parameters_of(t.generator()), g_before), "G was updated by the failing step");
      BOOST_TEST(t.iteration() == 3);
    }
    // Through train::run with a checkpoint every iteration: the error names the kept checkpoint,
    // which loads at iteration 3 and resumes (clean data) to the end.
    {
      auto t = train::make_spiral_trainer<float>(c, std::make_unique<PoisonedSpiral>(c, 3, poison));
      train::RunOptions o;
      o.progress = false;
      std::string what;
      try {
        train::run(t, o);
      } catch (const train::NonFiniteError& e) {
        what = e.what();
      }
      BOOST_TEST(contains(what, "last good checkpoint"), what);
      BOOST_TEST(contains(what, train::checkpoint_path(dir)), what);
      auto r = reliability::tiny_trainer(c);
      r.load(train::checkpoint_path(dir));
      BOOST_TEST(r.iteration() == 3);
      train::RunOptions ro;
      ro.progress = false;
      ro.resume = true;
      BOOST_TEST(train::run(r, ro).iteration == 10);
    }
    fs::remove_all(dir);
  }
}

BOOST_AUTO_TEST_CASE(a_collapsed_generator_gives_finite_distances_and_gradients) {
  Rng rng(3);
  const TD f = unit_rows(16, 8, rng), g = collapsed_rows(16, 8, rng);
  for (const auto& o : every_distance()) {
    const Evaluated e = distance_and_gradients(f, g, o);
    BOOST_TEST(std::isfinite(e.value), objectives::to_string(o.kind));
    BOOST_TEST(e.value > 0, objectives::to_string(o.kind) << ": a collapsed set is far from a spread one: " << e.value);
    BOOST_TEST(all_finite(e.grad_f), objectives::to_string(o.kind));
    BOOST_TEST(all_finite(e.grad_g), objectives::to_string(o.kind));
  }
  // Without a ridge, JSD and Bhattacharyya cannot factor the collapsed covariance: a clear stop.
  for (const auto& o : every_distance(0.0)) {
    if (o.kind == objectives::GaussianDistance::Logdet) continue;
    const std::string e = error_of([&] { objectives::gaussian_distance(f, g, o); });
    BOOST_TEST(contains(e, "singular"), objectives::to_string(o.kind) << ": " << e);
    BOOST_TEST(contains(e, "increase the ridge"), e);
  }
}

BOOST_AUTO_TEST_CASE(a_trainer_whose_generator_collapsed_keeps_finite_losses) {
  const std::string dir = fresh_dir("collapsed");
  const train::TrainConfig c = reliability::tiny_run(dir, 5);
  auto t = reliability::tiny_trainer(c);
  // Every weight of G (and of its EMA copy, which generate() uses) zero: every generated point is the same.
  const auto zero = [](const std::string&, auto& p) { std::fill(p.value.data(), p.value.data() + p.value.numel(), 0.0f); };
  nn::for_each_parameter(t.generator(), zero);
  nn::for_each_parameter(t.ema_generator(), zero);
  Rng rng(4);
  const Tensor<float> points = t.generate(randn<float>(Shape{6, c.z_dim}, rng));
  for (index_t i = 1; i < 6; ++i) BOOST_TEST((points.at(i, 0) == points.at(0, 0) && points.at(i, 1) == points.at(0, 1)));
  for (int i = 0; i < 3; ++i) {
    const train::StepReport r = t.step();
    for (const auto& [name, v] : r.d.named()) BOOST_TEST(std::isfinite(v), "D's " << name << " at iteration " << r.iteration);
    for (const auto& [name, v] : r.g.named()) BOOST_TEST(std::isfinite(v), "G's " << name << " at iteration " << r.iteration);
    BOOST_TEST(std::isfinite(r.grad_norm_d));
    BOOST_TEST(std::isfinite(r.grad_norm_g));
  }
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(singular_covariances_are_guarded_or_stop_with_advice) {
  Rng rng(5);
  // 3 real samples in 8 dimensions: the sample covariance has rank ≤ 2.
  const TD f = unit_rows(3, 8, rng), g = unit_rows(20, 8, rng);
  for (const auto& o : every_distance()) {
    const Evaluated e = distance_and_gradients(f, g, o);
    BOOST_TEST(std::isfinite(e.value), objectives::to_string(o.kind));
    BOOST_TEST(all_finite(e.grad_f), objectives::to_string(o.kind));
    BOOST_TEST(all_finite(e.grad_g), objectives::to_string(o.kind));
  }
  for (const auto& o : every_distance(0.0)) {
    if (o.kind == objectives::GaussianDistance::Logdet) continue;
    const std::string e = error_of([&] { objectives::gaussian_distance(f, g, o); });
    BOOST_TEST(contains(e, "singular"), e);
    BOOST_TEST(contains(e, "increase the ridge"), e);
  }
  // In float, a ridge below float's resolution is as good as none.
  const Tensor<float> ff = row_normalize(randn<float>(Shape{3, 8}, rng)), gf = row_normalize(randn<float>(Shape{20, 8}, rng));
  objectives::GaussianOptions tiny;
  tiny.kind = objectives::GaussianDistance::Jsd;
  tiny.ridge = 1e-12;
  const std::string e = error_of([&] { objectives::gaussian_distance(ff, gf, tiny); });
  BOOST_TEST(contains(e, "singular to working precision"), e);
  // The op itself refuses a matrix that is not positive definite.
  TD s = zeros<double>(Shape{3, 3});
  s.at(0, 0) = 1;
  const std::string e2 = error_of([&] { logdet_spd(s); });
  BOOST_TEST(contains(e2, "not positive definite"), e2);
}

BOOST_AUTO_TEST_CASE(a_constant_discriminator_gives_sigma_zero_not_nan) {
  Rng rng(6);
  const TD x = randn<double>(Shape{5, 4}, rng);
  auto constant_net = [](const auto& v) { return v * 0.0; };  // zero Jacobian everywhere
  const auto est = objectives::jacobian_sigma(constant_net, x, rng, 2);
  const TD sigma = est.sigma.value();
  BOOST_TEST(all_finite(sigma));
  for (index_t i = 0; i < sigma.numel(); ++i) BOOST_TEST(sigma[i] == 0.0);
  const VD penalty = objectives::jacobian_penalty(est.sigma);
  BOOST_TEST(penalty.value()[0] == 1.0);  // mean((0 − 1)²)
  backward(penalty);
}
