#define BOOST_TEST_MODULE train_spiral
#include <boost/test/unit_test.hpp>

#include "../../examples/common/spiral_eval.hpp"
#include "train_test_util.hpp"

using namespace structgan;

// The paper's Figure 2 claim, measured: after a short run with the MLPs of the double-spiral
// preset, a linear SVM on the EMA discriminator's backbone features separates the two spirals on
// held-out points (trained on one half, tested on the other), where the same network untrained
// and the raw coordinates cannot (the spirals interleave).
BOOST_AUTO_TEST_CASE(short_run_separates_the_spirals) {
  train::TrainConfig c = train::preset("double_spiral");
  c.output_dir = train_test::fresh_dir("spiral");
  c.batch_size = 128;
  c.embed_dim = 64;
  c.iterations = 800;
  c.sample_every = 0;
  c.checkpoint_every = 0;
  auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
  const train::RunResult r = train::run(t, {false, 0, false});
  BOOST_TEST(r.iteration == 800);
  BOOST_TEST(std::isfinite(r.last.d.total));

  const data::PointSet p = examples::heldout_spiral(c, 2000);
  const double trained = examples::split_half_svm_accuracy(
      examples::point_features<float, Cpu>(t.ema_discriminator(), p.points), p.labels);
  Rng rng = train::run_rng(c);
  auto d0 = train::make_mlp_discriminator<float>(c, 2, rng);
  const double untrained = examples::split_half_svm_accuracy(examples::point_features<float, Cpu>(d0, p.points), p.labels);
  const double raw = examples::split_half_svm_accuracy(eval::RowMatrixF(p.points), p.labels);
  BOOST_TEST_MESSAGE("linear SVM on held-out points: trained " << trained << ", untrained " << untrained << ", raw " << raw);
  // 0.85: the 800-step float trajectory is chaotic in rounding, so the figure moves with the compiler's
  // flags, the thread count and any change of rounding (0.949 at -O2 -march=native at 0341cfa; at CI's
  // -O1, 2026-12-08, seeds 0-6: 0.964, 0.940, 0.939, 0.983, 0.836, 0.957, 0.979 at 245fd00 and 0.925,
  // 0.946, 0.971, 0.939, 0.880, 0.934, 0.938 once ELU's curvature took Eigen's exp, 38872f2); the
  // claim is the gap to the untrained network and the raw coordinates (about 0.67).
  BOOST_TEST(trained >= 0.85);
  BOOST_TEST(untrained < 0.8);
  BOOST_TEST(raw < 0.8);
}
