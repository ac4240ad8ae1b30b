#pragma once
// Shared by the reliability tests and their worker process: the tiny double-spiral run they kill,
// starve of disk space and resume.
#include <string>

#include "structgan/train/all.hpp"

namespace structgan::reliability {

/// The double spiral with tiny MLPs (a few milliseconds per iteration), a checkpoint after every
/// iteration, a log line for every iteration.
inline train::TrainConfig tiny_run(const std::string& dir, std::int64_t iterations) {
  train::TrainConfig c = train::preset("double_spiral");
  c.batch_size = 16;
  c.mlp_hidden = 16;
  c.mlp_depth = 1;
  c.embed_dim = 8;
  c.z_dim = 4;
  c.objective.bank_size = 40;
  c.output_dir = dir;
  c.iterations = iterations;
  c.sample_every = 0;
  c.checkpoint_every = 1;
  c.log_every = 1;
  c.seed = 9;
  return c;
}

/// The trainer of tiny_run.
inline train::SpiralTrainer<float> tiny_trainer(const train::TrainConfig& c) {
  return train::make_spiral_trainer<float>(c, train::make_train_data(c));
}

}  // namespace structgan::reliability
