// The Gaussian objectives' global statistics (objectives/gaussian.hpp, ops/collective.hpp) on every
// rank of the job it runs in (CTest runs it alone and under `mpirun -np 2`): every rank draws the
// same batch from one seed, keeps its own rows, and compares what it computes with the global
// statistics against one process computing on the whole batch, in double:
//  - the loss on every rank equals the one-process loss within 1e-12 relative;
//  - each rank's gradient of its own rows is N × the one-process gradient of those rows (the
//    convention of ops/collective.hpp), so the gathered rows divided by N equal the one-process
//    gradient within 1e-10 relative; a parameter's gradient averaged over the ranks equals the
//    one-process gradient (a data-parallel step equals one process's);
//  - the JVP equals the one-process JVP; per_rank mode equals each rank's local distance.
// For the three distances (logdet, JSD, Bhattacharyya), with even and uneven splits.
#define BOOST_TEST_MODULE distributed_global_stats
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "structgan/autodiff.hpp"
#include "structgan/distributed/world.hpp"
#include "distributed_test_util.hpp"
#include "structgan/objectives/gaussian.hpp"
#include "structgan/objectives/structural_objective.hpp"

using namespace structgan;
using namespace structgan::objectives;
using distributed::Communicator;
using distributed_test::own_rows;
using distributed_test::Rows;
using distributed_test::rows_of;
using distributed_test::World;
using distributed_test::world;
using TD = Tensor<double, Cpu>;
using VD = Var<double, Cpu>;

namespace {


TD unit_rows(index_t n, index_t p, Rng& rng) { return row_normalize(randn<double>(Shape{n, p}, rng)); }

double max_abs(const TD& x) { return x.numel() ? x.array().abs().maxCoeff() : 0.0; }
double max_abs_diff(const TD& a, const TD& b) { return (a.array() - b.array()).abs().maxCoeff(); }

std::vector<GaussianOptions> every_distance() {
  std::vector<GaussianOptions> out;
  for (auto kind : {GaussianDistance::Logdet, GaussianDistance::Jsd, GaussianDistance::Bhattacharyya}) {
    GaussianOptions o;
    o.kind = kind;
    o.ridge = 1e-3;
    out.push_back(o);
  }
  return out;
}

/// The one-process distance of the whole batch and its gradients.
struct Reference {
  double value;
  TD grad_f, grad_g;
};
Reference one_process(const TD& f, const TD& g, const GaussianOptions& o) {
  VD vf(f, true), vg(g, true);
  VD d = gaussian_distance(vf, vg, o);
  backward(d);
  return {d.value()[0], vf.grad(), vg.grad()};
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(World);

BOOST_AUTO_TEST_CASE(global_loss_and_gathered_row_gradients_equal_one_process) {
  Communicator& c = world();
  BOOST_TEST_MESSAGE("rank " << c.rank() << " of " << c.size() << " (" << c.engine() << ")");
  const index_t per_rank_f = 6, per_rank_g = 5, p = 5;
  Rng rng(11);
  const TD f = unit_rows(per_rank_f * c.size(), p, rng), g = unit_rows(per_rank_g * c.size(), p, rng);
  for (const GaussianOptions& o : every_distance()) {
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      const Reference ref = one_process(f, g, o);
      VD vf(own_rows(f, c), true), vg(own_rows(g, c), true);
      VD d = gaussian_distance(vf, vg, o, &c);
      backward(d);
      BOOST_TEST(std::abs(d.value()[0] - ref.value) <= 1e-12 * std::abs(ref.value), d.value()[0] << " vs " << ref.value);
      // Every rank's rows in rank order; each rank's gradient is N × its share (ops/collective.hpp).
      const TD gf = mul_scalar(distributed::all_gather(c, vf.grad()), 1.0 / c.size());
      const TD gg = mul_scalar(distributed::all_gather(c, vg.grad()), 1.0 / c.size());
      BOOST_TEST(max_abs_diff(gf, ref.grad_f) <= 1e-10 * max_abs(ref.grad_f));
      BOOST_TEST(max_abs_diff(gg, ref.grad_g) <= 1e-10 * max_abs(ref.grad_g));
    }
  }
}

BOOST_AUTO_TEST_CASE(uneven_splits_give_the_same_distance_and_row_gradients) {
  Communicator& c = world();
  Rng rng(12);
  const TD f = unit_rows(13, 6, rng), g = unit_rows(8, 6, rng);  // 7 + 6 and 4 + 4 rows on 2 ranks
  for (const GaussianOptions& o : every_distance()) {
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      const Reference ref = one_process(f, g, o);
      VD vf(own_rows(f, c), true), vg(own_rows(g, c), true);
      VD d = gaussian_distance(vf, vg, o, &c);
      backward(d);
      BOOST_TEST(std::abs(d.value()[0] - ref.value) <= 1e-12 * std::abs(ref.value));
      const TD want_f = own_rows(ref.grad_f, c), want_g = own_rows(ref.grad_g, c);
      BOOST_TEST(max_abs_diff(mul_scalar(vf.grad(), 1.0 / c.size()), want_f) <= 1e-10 * max_abs(ref.grad_f));
      BOOST_TEST(max_abs_diff(mul_scalar(vg.grad(), 1.0 / c.size()), want_g) <= 1e-10 * max_abs(ref.grad_g));
    }
  }
}

BOOST_AUTO_TEST_CASE(averaged_parameter_gradients_equal_one_process) {
  // f = normalize(x·W) for real rows x and generated rows z: the gradient of W that a
  // data-parallel trainer gets by averaging the ranks' gradients is the one-process gradient.
  Communicator& c = world();
  Rng rng(13);
  const TD x = randn<double>(Shape{10, 4}, rng), z = randn<double>(Shape{9, 4}, rng), w0 = randn<double>(Shape{4, 5}, rng);
  for (const GaussianOptions& o : every_distance()) {
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      auto loss = [&](const TD& xs, const TD& zs, Parameter<double>& w, Communicator* comm) {
        VD vw = lift<VD>(w);
        VD f = row_normalize(matmul(VD(xs), vw)), g = row_normalize(matmul(VD(zs), vw));
        VD d = gaussian_distance(f, g, o, comm);
        backward(d);
        return d.value()[0];
      };
      Parameter<double> w_ref{clone(w0)}, w_rank{clone(w0)};
      const double want = loss(x, z, w_ref, nullptr);
      const double got = loss(own_rows(x, c), own_rows(z, c), w_rank, &c);
      TD averaged = clone(w_rank.grad);
      distributed::all_reduce_sum(c, averaged);
      averaged = mul_scalar(averaged, 1.0 / c.size());
      BOOST_TEST(std::abs(got - want) <= 1e-12 * std::abs(want));
      BOOST_TEST(max_abs_diff(averaged, w_ref.grad) <= 1e-10 * max_abs(w_ref.grad));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_jvp_of_the_global_distance_is_the_one_process_jvp) {
  Communicator& c = world();
  Rng rng(14);
  const TD f = unit_rows(8, 4, rng), g = unit_rows(7, 4, rng);
  const TD tf = randn<double>(f.shape(), rng), tg = randn<double>(g.shape(), rng);
  using DT = DualTensor<TD>;
  for (const GaussianOptions& o : every_distance()) {
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      const DT want = gaussian_distance(DT(f, tf), DT(g, tg), o);
      const DT got = gaussian_distance(DT(own_rows(f, c), own_rows(tf, c)), DT(own_rows(g, c), own_rows(tg, c)), o, &c);
      BOOST_TEST(std::abs(got.primal[0] - want.primal[0]) <= 1e-12 * std::abs(want.primal[0]));
      BOOST_TEST(std::abs(got.tangent[0] - want.tangent[0]) <= 1e-10 * std::abs(want.tangent[0]));
    }
  }
}

BOOST_AUTO_TEST_CASE(per_rank_statistics_are_each_ranks_own) {
  Communicator& c = world();
  Rng rng(15);
  const TD f = unit_rows(12, 5, rng), g = unit_rows(10, 5, rng);
  for (GaussianOptions o : every_distance()) {
    o.stats = GaussianStats::PerRank;
    BOOST_TEST_CONTEXT(to_string(o.kind)) {
      const TD lf = own_rows(f, c), lg = own_rows(g, c);
      const Reference local = one_process(lf, lg, o);
      VD vf(lf, true), vg(lg, true);
      VD d = gaussian_distance(vf, vg, o, &c);
      backward(d);
      BOOST_TEST(d.value()[0] == local.value);
      BOOST_TEST(max_abs_diff(vf.grad(), local.grad_f) == 0.0);
      BOOST_TEST(max_abs_diff(vg.grad(), local.grad_g) == 0.0);
      if (c.size() > 1) {  // the ranks' batches differ, so do their distances
        std::vector<double> values{c.rank() == 0 ? local.value : 0.0, c.rank() == 1 ? local.value : 0.0};
        distributed::all_reduce_sum(c, values);
        BOOST_TEST(values[0] != values[1]);
      }
    }
  }
}

namespace {
template <class V>
struct Out {
  V f_tilde, f, f_b, logits;
};
/// A per-sample discriminator on n×4 "images": f̃ = x·W, f = normalize(f̃), f^b = x.
struct LinearD {
  Parameter<double> w;
  template <class V>
  Out<V> operator()(const V& x) {
    V ft = matmul(x, lift<V>(w));
    return {ft, row_normalize(ft), x, V()};
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(the_structural_objective_passes_its_communicator_to_the_distance) {
  Communicator& c = world();
  Rng rng(16);
  const TD x_real = randn<double>(Shape{8, 4}, rng), x_fake = randn<double>(Shape{6, 4}, rng);
  LinearD d{Parameter<double>{randn<double>(Shape{4, 3}, rng)}};
  ObjectiveOptions o;
  o.bank_size = 16;
  const StructuralObjective<double> global(o, &c);
  const MemoryBank<double> bank = global.make_bank(4, 3, rng);
  const TD xr = own_rows(x_real, c), xf = own_rows(x_fake, c);
  const TD kr = StructuralObjective<double>::keys(d, xr), kf = StructuralObjective<double>::keys(d, xf);
  const GeneratorStep<double> step = global.generator_loss(d, xr, VD(xf, true), kr, kf, bank);
  const double want = gaussian_distance(row_normalize(matmul(x_real, d.w.value)), row_normalize(matmul(x_fake, d.w.value)), o.distance)[0];
  BOOST_TEST(std::abs(step.terms.distance - want) <= 1e-12 * std::abs(want));
  BOOST_TEST(global.communicator() == &c);
}
