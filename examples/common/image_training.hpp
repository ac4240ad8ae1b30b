#pragma once
/// \file One image training run on device Dev: output folder check → data → trainer → run
/// (progress, log, samples, checkpoints, Ctrl-C, --resume) → evaluation of the EMA discriminator
/// beside the untrained one. Instantiated for Cpu in image_main.cpp and for Cuda in cuda_entry.cu,
/// once for all image examples.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "evaluate.hpp"
#include "program.hpp"
#include "structgan/train/all.hpp"
#include "structgan/train/image_quality.hpp"

namespace structgan::examples {

/// Trains (and evaluates) the configured image run on device Dev. Returns the exit code.
template <class Dev>
int run_image_training(const train::CommandLine& cl) {
  using T = float;
  const train::TrainConfig& c = cl.config;
  const auto t0 = std::chrono::steady_clock::now();
  distributed::Communicator& comm = world<Dev>();  // mpirun/srun: N processes, batch_size the global batch
  const bool root = comm.rank() == 0;
  train::require_divisible_batch(c, comm.size());
  if (root) train::prepare_output_dir(c.output_dir);  // fails before any data is read
  if (root)
    std::fprintf(stderr, "structgan: %s on %s, %lld iterations of batch %lld, output in %s\n", c.dataset.c_str(), Dev::name,
                 static_cast<long long>(c.iterations), static_cast<long long>(c.batch_size), c.output_dir.c_str());
  if (root && comm.size() > 1)
    std::fprintf(stderr, "structgan: %d processes (%s), %lld rows of the batch each\n", comm.size(), comm.engine().c_str(),
                 static_cast<long long>(c.batch_size / comm.size()));
  auto trainer = train::make_image_trainer<T, Dev>(c, train::make_train_data(c), &comm);
  if (root)
    std::fprintf(stderr, "structgan: D %lld parameters, G %lld parameters, %llu batches per epoch\n",
               static_cast<long long>(nn::parameter_count(trainer.discriminator())),
               static_cast<long long>(nn::parameter_count(trainer.generator())),
               static_cast<unsigned long long>(trainer.data().batches_per_epoch()));
  train::RunOptions ro;
  ro.resume = cl.resume;
  ro.progress_tty = cl.progress_tty;
  using Tr = std::decay_t<decltype(trainer)>;
  std::function<nlohmann::json(Tr&)> validate;  // validate_every: k-means and SVM on the held-out images (rank 0)
  std::shared_ptr<PeriodicValidation> periodic;
  if (c.validate_every > 0 && root) {
    periodic = std::make_shared<PeriodicValidation>(c);
    validate = [periodic](Tr& t) { return periodic->measure<T, Dev>(t.ema_discriminator()); };
  }
  // fid_every: FID and IS of the EMA generator (rank 0); Inception is read now, before any iteration.
  std::function<nlohmann::json(Tr&)> image_quality;
  if (c.fid_every > 0 && root) image_quality = train::fid_measurement(trainer, !ro.resume, ro.progress);
  comm.reset_stats();
  const train::RunResult r = train::run<Tr>(trainer, ro, train::image_sample_writer(trainer), validate, image_quality);
  if (comm.size() > 1 && r.iteration > r.start_iteration) {
    const double steps = static_cast<double>(r.iteration - r.start_iteration);
    const distributed::CommunicatorStats& s = comm.stats();
    std::fprintf(stderr,
                 "structgan: rank %d: collectives %.1f%% of the time (%.3f s/step), %.2f MB/step in %.1f calls/step "
                 "(gradients %.2f MB)\n",
                 comm.rank(), r.seconds > 0 ? 100.0 * s.seconds / r.seconds : 0.0, s.seconds / steps,
                 static_cast<double>(s.bytes) / steps / 1e6, static_cast<double>(s.calls) / steps,
                 static_cast<double>(trainer.gradient_bytes()) / 1e6);
  }
  if (!root) return r.interrupted ? 130 : 0;
  const double train_s = r.seconds - r.validation_seconds;  // the rate of training alone
  char validation_note[64] = "";
  if (r.validation_seconds > 0)
    std::snprintf(validation_note, sizeof validation_note, ", without %.1f s of validation", r.validation_seconds);
  std::fprintf(stderr, "structgan: iterations %lld → %lld in %.1f s (%.2f it/s%s)%s; checkpoint %s\n",
               static_cast<long long>(r.start_iteration), static_cast<long long>(r.iteration), r.seconds,
               train_s > 0 ? static_cast<double>(r.iteration - r.start_iteration) / train_s : 0.0, validation_note,
               r.interrupted ? " — interrupted" : "", r.checkpoint.c_str());
  if (r.interrupted) {
    std::fprintf(stderr, "structgan: stopped by Ctrl-C; continue with the same command and --resume\n");
    return 130;
  }
  if (periodic) {
    const std::string log = (std::filesystem::path(c.output_dir) / "log.jsonl").string();
    const std::string png = (std::filesystem::path(c.output_dir) / "validation.png").string();
    const std::size_t n = write_validation_curve(log, png, c.dataset + " validation, seed " + std::to_string(c.seed));
    std::fprintf(stderr, "structgan: validation curve of %zu points in %s\n", n, png.c_str());
  }
  if (c.eval_checkpoint == "best_validation") {
    // Stopping chosen on the validation split: the evaluation reads the state of the best periodic
    // validation (its own validation rows are then the figures it was chosen by).
    require(r.selected_iteration >= 0, "eval_checkpoint = best_validation: no periodic validation gave a finite "
            "k-means accuracy, so there is no state to evaluate");
    std::fprintf(stderr, "structgan: the best validation k-means, %.4f, was at iteration %lld (%s)%s\n",
                 r.selected_kmeans, static_cast<long long>(r.selected_iteration), r.selected_checkpoint.c_str(),
                 c.eval_at_end ? ": evaluating that state" : "");
    if (c.eval_at_end && r.selected_iteration != trainer.iteration()) trainer.load(r.selected_checkpoint);
  }
  if (c.eval_at_end) evaluate_run<T, Dev>(trainer, std::cout);
  std::fprintf(stderr, "structgan: total wall time %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

/// Defined in cuda_entry.cu (compiled by nvcc) when the examples are built with CUDA.
int run_image_training_cuda(const train::CommandLine& cl);

}  // namespace structgan::examples
