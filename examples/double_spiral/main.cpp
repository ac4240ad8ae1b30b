// The double spiral of the paper's Figure 2: MLP generator and discriminator trained with the
// structural adversarial objectives; then the data, generated samples, and t-SNE plots of the EMA
// discriminator's embedding coloured by class and by a 2-D palette, plus the linear-SVM accuracy
// of held-out points in that embedding.
#include <cstdio>
#include <iostream>

#include "../common/program.hpp"
#include "../common/spiral_eval.hpp"

using namespace structgan;

int main(int argc, char** argv) {
  examples::tune_malloc();
  train::CommandLine cl;
  if (const int rc = train::parse_command_line(argc, argv, "double_spiral", "Train on the double spiral (paper Figure 2)", cl,
                                               {"double_spiral"});
      rc >= 0)
    return rc;
  using T = float;
  const train::TrainConfig& c = cl.config;
  return examples::exit_code_of([&] {
    if (c.device != "cpu") {
      std::cerr << "error: the double-spiral example runs on the CPU only (--device cpu)\n";
      return 2;
    }
    distributed::Communicator& comm = examples::world();  // mpirun -np N: batch_size is the global batch
    train::require_divisible_batch(c, comm.size());
    if (comm.rank() == 0) train::prepare_output_dir(c.output_dir);
    auto trainer = train::make_spiral_trainer<T>(c, train::make_train_data(c), &comm);
    using Tr = decltype(trainer);
    const data::PointSet reference = examples::heldout_spiral(c, 2000);
    auto samples = [&reference](Tr& t, const std::string& path) {
      Rng rng(static_cast<std::uint64_t>(t.config().seed) + 1);
      const Tensor<T, Cpu> z = randn<T>(Shape{t.config().sample_count, t.config().z_dim}, rng);
      io::write_png(path, train::render_points_over(t.generate(z), reference.points));
    };
    train::RunOptions ro;
    ro.resume = cl.resume;
    ro.progress_tty = cl.progress_tty;
    const train::RunResult r = train::run<Tr>(trainer, ro, samples);
    std::fprintf(stderr, "structgan: iterations %lld → %lld in %.1f s%s\n", static_cast<long long>(r.start_iteration),
                 static_cast<long long>(r.iteration), r.seconds, r.interrupted ? " — interrupted (continue with --resume)" : "");
    if (r.interrupted) return 130;
    if (!c.eval_at_end || comm.rank() != 0) return 0;  // rank 0 evaluates
    const eval::RowMatrixF f = examples::point_features<T, Cpu>(trainer.ema_discriminator(), reference.points);
    Rng rng0 = train::run_rng(c);  // the same draws as the trained network's initialization
    auto d0 = train::make_mlp_discriminator<T>(c, 2, rng0);
    const eval::RowMatrixF f0 = examples::point_features<T, Cpu>(d0, reference.points);
    eval::RowMatrixF raw = reference.points;
    std::printf("linear SVM accuracy on held-out points (train on one half, test on the other):\n");
    const eval::RowMatrixF fh = examples::point_features<T, Cpu>(trainer.ema_discriminator(), reference.points, true);
    std::printf("  EMA D backbone f^b (trained)   %.4f\n", examples::split_half_svm_accuracy(f, reference.labels));
    std::printf("  EMA D embedding f~ (trained)   %.4f\n", examples::split_half_svm_accuracy(fh, reference.labels));
    std::printf("  same network untrained         %.4f\n", examples::split_half_svm_accuracy(f0, reference.labels));
    std::printf("  raw 2-D coordinates            %.4f\n", examples::split_half_svm_accuracy(raw, reference.labels));
    examples::write_spiral_figures<T>(trainer, reference, f, c.output_dir);
    std::printf("figures: %s/spiral_{data,samples,tsne_class,tsne_palette}.png\n", c.output_dir.c_str());
    return 0;
  });
}
