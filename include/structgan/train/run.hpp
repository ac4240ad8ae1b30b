#pragma once
/// \file The training loop around Trainer::step: the output folder (checked before training),
/// the JSON-lines log, the progress bar, sample grids, checkpoints every N iterations and at the
/// end, Ctrl-C (SIGINT: finish the iteration, save, return), --resume, and a clear stop on a
/// non-finite loss that keeps the last good checkpoint.
///
/// Output folder layout (docs/training.md):
///   config.json          the effective configuration
///   log.jsonl            one JSON object per logged iteration (every loss term, σ mean, ‖f̃‖, ‖∇‖;
///                        with fid_every also "fid", "is_mean", "is_std" every fid_every iterations and at the end),
///                        and one per periodic validation (validate_every)
///   fid_stats_train.npz  with fid_every: the training images' FID statistics (train/image_quality.hpp)
///   checkpoint.ckpt   the whole training state (io/checkpoint.hpp)
///   best_validation.ckpt  with eval_checkpoint = best_validation: the state of the periodic
///                        validation with the highest k-means accuracy so far
///   samples/iter_NNNNNNN.png, samples/latest.png
///
/// \code
///   auto t = train::make_image_trainer<float>(config, train::make_train_data(config));
///   train::RunResult r = train::run(t, {/*resume=*/false}, train::image_sample_writer(t));
/// \endcode
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/core/build_info.hpp"
#include "structgan/io/atomic_file.hpp"
#include "structgan/train/progress.hpp"
#include "structgan/train/samples.hpp"
#include "structgan/train/trainer.hpp"

namespace structgan::train {

/// Creates `dir` (and parents) and checks that a file can be written in it; throws
/// structgan::Error naming the folder otherwise. Call it before loading data or training.
inline void prepare_output_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(!ec && fs::is_directory(dir), "output folder '", dir, "' cannot be created: ",
          ec ? ec.message() : std::string("not a folder"));
  const fs::path probe = fs::path(dir) / ".structgan_write_test";
  {
    std::ofstream out(probe);
    out << "ok\n";
    out.flush();
    require(static_cast<bool>(out), "output folder '", dir, "' cannot be written (permission denied or read-only)");
  }
  fs::remove(probe, ec);
  fs::create_directories(fs::path(dir) / "samples", ec);
  require(!ec, "output folder '", dir, "': cannot create samples/: ", ec.message());
}

/// The checkpoint file of an output folder.
inline std::string checkpoint_path(const std::string& dir) { return (std::filesystem::path(dir) / "checkpoint.ckpt").string(); }
/// The checkpoint of the best periodic validation (eval_checkpoint = best_validation).
inline std::string best_validation_checkpoint_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "best_validation.ckpt").string();
}

/// One log line: the iteration, epoch, times, every term of D's and G's losses (prefixed d_, g_)
/// and both gradient norms.
inline nlohmann::json log_record(const StepReport& r, double elapsed) {
  nlohmann::json j;
  j["iteration"] = r.iteration;
  j["epoch"] = r.epoch;
  j["time"] = elapsed;
  j["iter_seconds"] = r.seconds;
  for (const auto& [k, v] : r.d.named()) j["d_" + k] = v;
  j["g_total"] = r.g.total;
  j["g_distance"] = r.g.distance;
  j["g_s_fake"] = r.g.s_fake;
  j["grad_norm_d"] = r.grad_norm_d;
  j["grad_norm_g"] = r.grad_norm_g;
  j["lr_d"] = r.lr_d;
  j["lr_g"] = r.lr_g;
  j["lambda_cluster"] = r.lambda_cluster;
  if (r.collapse_detected) j["collapse_detected"] = true;
  if (r.rolled_back_to >= 0) j["rolled_back_to"] = r.rolled_back_to;
  return j;
}

namespace detail {
inline volatile std::sig_atomic_t& stop_requested() {
  static volatile std::sig_atomic_t flag = 0;
  return flag;
}
extern "C" inline void on_sigint(int) { stop_requested() = 1; }

/// Installs the SIGINT handler for its lifetime (a second Ctrl-C ends the program at once).
class SigintGuard {
 public:
  SigintGuard() {
    stop_requested() = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    installed_ = ::sigaction(SIGINT, &sa, &previous_) == 0;
  }
  ~SigintGuard() {
    if (installed_) ::sigaction(SIGINT, &previous_, nullptr);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

/// Cuts log.jsonl back to the state of a checkpoint at iteration `upto` (a resumed run rewrites the
/// rest). Where a step record ends at `upto` — its iteration, or the iteration it rolled back to
/// (rollback_every: iterations then repeat in the log) — everything after the last such record is
/// dropped but the validation record of that iteration; otherwise (a checkpoint of an iteration
/// that was not logged) the records of iterations ≤ `upto` are kept. Build records that head each
/// (re)start are kept where they come before the cut.
inline void truncate_log(const std::string& path, std::int64_t upto) {
  std::ifstream in(path);
  if (!in) return;
  std::vector<std::string> lines;
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    records.push_back(nlohmann::json::parse(line, nullptr, false));
  }
  in.close();
  auto integer = [](const nlohmann::json& j, const char* key, std::int64_t& v) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return false;
    v = j[key].get<std::int64_t>();
    return true;
  };
  auto is_step = [](const nlohmann::json& j) { return j.is_object() && j.contains("iteration") && !j.contains("validation"); };
  std::ptrdiff_t last = -1;  // the last step record that ends at upto
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::int64_t it = 0, end = 0;
    if (is_step(records[i]) && integer(records[i], "iteration", it))
      if ((integer(records[i], "rolled_back_to", end) ? end : it) == upto) last = static_cast<std::ptrdiff_t>(i);
  }
  std::string kept;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& j = records[i];
    std::int64_t it = 0, start = 0;
    bool keep;
    if (last >= 0) {
      keep = static_cast<std::ptrdiff_t>(i) <= last;
      if (!keep && i == static_cast<std::size_t>(last) + 1 && !is_step(j) && integer(j, "iteration", it) && it == upto) {
        keep = true;  // the validation record of that iteration
        ++last;
      }
    } else {
      keep = (integer(j, "start_iteration", start) && j.contains("build") && start <= upto) ||
             (integer(j, "iteration", it) && it <= upto);
    }
    if (keep) kept += lines[i] + "\n";
  }
  // Atomically, so that a process killed here keeps the old log (truncating in place lost every
  // record when a kill landed between truncation and write).
  io::write_file_atomically(path, kept);
}

/// The selected validation of a (truncated) log: the last validation record marked "selected",
/// as {iteration, k-means accuracy}; iteration -1 when there is none.
inline std::pair<std::int64_t, double> selected_validation(const std::string& path) {
  std::pair<std::int64_t, double> best{-1, 0.0};
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    // contains() before operator[]: a const json's [] on a missing key is undefined behaviour.
    if (j.is_object() && j.value("selected", false) && j.contains("validation") && j["validation"].is_object() &&
        j.contains("iteration") && j["iteration"].is_number_integer())
      best = {j["iteration"].get<std::int64_t>(), j["validation"].value("kmeans_accuracy_mean", 0.0)};
  }
  return best;
}
}  // namespace detail

/// Asks a running train::run to stop after its current iteration (as Ctrl-C does).
inline void request_stop() { detail::stop_requested() = 1; }

/// Options of train::run.
struct RunOptions {
  bool resume = false;      ///< continue from the output folder's checkpoint (error if there is none)
  int progress_tty = -1;    ///< −1: detect; 0: plain lines; 1: the bar
  bool progress = true;     ///< show progress on stderr
};

/// What a run did.
struct RunResult {
  std::int64_t start_iteration = 0;  ///< where this session began (≠ 0 when resumed)
  std::int64_t iteration = 0;        ///< where it ended
  bool interrupted = false;          ///< stopped by SIGINT (or request_stop)
  double seconds = 0;                ///< wall time of this session's iterations
  double validation_seconds = 0;     ///< the part of `seconds` spent in periodic validations
  std::string checkpoint;            ///< the checkpoint written last
  StepReport last;                   ///< the last iteration's report
  /// eval_checkpoint = best_validation: the iteration of the periodic validation with the highest
  /// k-means accuracy (over the whole run, resumed sessions included; -1: none), that accuracy,
  /// and its state's checkpoint (best_validation_checkpoint_path).
  std::int64_t selected_iteration = -1;
  double selected_kmeans = 0;
  std::string selected_checkpoint;
};

/// The log line of a periodic validation at iteration `it`: what `validate` returned under
/// "validation", its own seconds, and the session's wall time without the validations so far
/// ("wall_s", the training's time: steps, samples, checkpoints) and with them ("total_wall_s").
inline nlohmann::json validation_record(std::int64_t it, nlohmann::json validation, double seconds, double wall,
                                        double total_wall) {
  return {{"iteration", it}, {"validation", std::move(validation)}, {"validation_seconds", seconds},
          {"wall_s", wall}, {"total_wall_s", total_wall}};
}

/// Trains until config().iterations (see the file comment). `write_samples(trainer, path)` writes
/// one sample picture (called every sample_every iterations and at the end). `validate(trainer)`,
/// when given and validate_every > 0, measures the networks (the examples: k-means and SVM
/// accuracy on the validation images) at iteration 0 of a fresh run, every validate_every
/// iterations (those from validate_from on) and at the end; each result goes into log.jsonl as a
/// validation_record, and its time is left out of the records' "wall_s". With eval_checkpoint =
/// best_validation, a validation whose "kmeans_accuracy_mean" is higher than every earlier one of
/// the run (resumed sessions included) saves the state as best_validation.ckpt and is marked
/// "selected" in the log; RunResult names it (stopping chosen on the validation split).
/// `measure_image_quality(trainer)` (fid_every > 0;
/// train::fid_measurement of train/image_quality.hpp: {"fid", "is_mean", "is_std",
/// "fid_seconds", ...}) is called every fid_every iterations and at the end, and its fields join
/// that iteration's log record; a run with fid_every > 0 and no such measurement is refused. The
/// measurements come in as callbacks so that the training loop compiles no evaluation code. Throws NonFiniteError (naming the last good
/// checkpoint, left as it was) when a loss is not finite, and structgan::Error when the output
/// folder cannot be written (before any iteration).
///
/// On N processes (the trainer's communicator) every rank calls run(); only rank 0 writes the
/// output folder (config.json, log, samples, checkpoints) and measures (validate_every, fid_every:
/// the EMA networks take no part in the collectives); every rank reads the checkpoint when
/// resuming (a folder every rank can read), and the ranks stop together (a stop request on any
/// rank is all-reduced each iteration). Logged scalars are the trainer's averages over ranks.
template <class Tr>
RunResult run(Tr& trainer, const RunOptions& options,
              const std::function<void(Tr&, const std::string&)>& write_samples = {},
              const std::function<nlohmann::json(Tr&)>& validate = {},
              const std::function<nlohmann::json(Tr&)>& measure_image_quality = {}) {
  namespace fs = std::filesystem;
  const TrainConfig& c = trainer.config();
  distributed::Communicator& comm = trainer.communicator();
  const bool root = comm.rank() == 0;
  const bool measuring_quality = c.fid_every > 0 && root;
  require(!measuring_quality || static_cast<bool>(measure_image_quality), "train config: 'fid_every' = ", c.fid_every,
          " but this program gives train::run no image-quality measurement (train::fid_measurement, "
          "train/image_quality.hpp)");
  const bool selecting = c.eval_checkpoint == "best_validation";
  require(!selecting || !root || static_cast<bool>(validate), "train config: 'eval_checkpoint' = best_validation but "
          "this program gives train::run no periodic validation to choose by");
  if (root) prepare_output_dir(c.output_dir);
  const std::string ckpt = checkpoint_path(c.output_dir);
  const std::string best_ckpt = best_validation_checkpoint_path(c.output_dir);
  const std::string log_path = (fs::path(c.output_dir) / "log.jsonl").string();
  RunResult result;
  if (options.resume) {
    require(fs::exists(ckpt), "--resume: no checkpoint at '", ckpt, "'");
    trainer.load(ckpt);
    if (root) detail::truncate_log(log_path, trainer.iteration());
    result.checkpoint = ckpt;
  } else if (root) {  // a fresh run never leaves an older run's state behind
    if (fs::exists(ckpt)) fs::remove(ckpt);
    if (fs::exists(best_ckpt)) fs::remove(best_ckpt);
  }
  if (selecting && root && options.resume) {  // the best validation so far, from the log kept
    const auto [it, kmeans] = detail::selected_validation(log_path);
    if (it >= 0) {
      require(fs::exists(best_ckpt), "--resume: log.jsonl marks the validation of iteration ", it,
              " as the best so far, but '", best_ckpt, "' is missing");
      result.selected_iteration = it;
      result.selected_kmeans = kmeans;
      result.selected_checkpoint = best_ckpt;
    }
  }
  std::ofstream log;
  if (root) {
    io::write_file_atomically((fs::path(c.output_dir) / "config.json").string(), to_json(c).dump(2) + "\n");
    log.open(log_path, options.resume ? std::ios::app : std::ios::trunc);
    require(static_cast<bool>(log), "output folder '", c.output_dir, "': cannot write log.jsonl");
    // Each start (and resumption) of a run heads its records with the build that ran them, as
    // --version prints it, so that a log says what produced it.
    nlohmann::json head{{"build", build_info()}, {"start_iteration", trainer.iteration()}};
    if (comm.size() > 1) head["processes"] = comm.size(), head["engine"] = comm.engine();
    log << head.dump() << "\n" << std::flush;
  }

  // fid_every: the measurement's fields join that iteration's log record (rank 0 measures).
  result.start_iteration = result.iteration = trainer.iteration();
  const std::int64_t total = c.iterations;
  const bool progress = options.progress && root;
  ProgressBar bar(total, result.start_iteration, stderr, options.progress_tty);
  detail::SigintGuard sigint;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto samples = [&](std::int64_t it) {
    if (!write_samples || !root) return;
    std::ostringstream name;
    name << "iter_" << std::setw(7) << std::setfill('0') << it << ".png";
    const std::string p = (fs::path(c.output_dir) / "samples" / name.str()).string();
    write_samples(trainer, p);
    std::error_code ec;
    fs::copy_file(p, fs::path(c.output_dir) / "samples" / "latest.png", fs::copy_options::overwrite_existing, ec);
  };
  auto save = [&] {
    if (root) trainer.save(ckpt);
    result.checkpoint = ckpt;
  };
  double validation_seconds = 0;  // this session's time in `validate`, left out of wall_s
  const bool validating = validate && c.validate_every > 0 && root;  // rank 0 measures and logs
  auto validation = [&](std::int64_t it) {
    const auto tv = std::chrono::steady_clock::now();
    nlohmann::json v = validate(trainer);
    bool selected = false;
    if (selecting) {
      require(v.contains("kmeans_accuracy_mean") && v["kmeans_accuracy_mean"].is_number(),
              "eval_checkpoint = best_validation: the validation of iteration ", it, " gave no 'kmeans_accuracy_mean'");
      const double kmeans = v["kmeans_accuracy_mean"].get<double>();
      // A non-finite accuracy is never chosen; ties keep the earlier state.
      if (std::isfinite(kmeans) && (result.selected_iteration < 0 || kmeans > result.selected_kmeans)) {
        trainer.save(best_ckpt);
        result.selected_iteration = it;
        result.selected_kmeans = kmeans;
        result.selected_checkpoint = best_ckpt;
        selected = true;
      }
    }
    const double sv = std::chrono::duration<double>(std::chrono::steady_clock::now() - tv).count();
    validation_seconds += sv;
    const double total_wall = elapsed();
    nlohmann::json record = validation_record(it, std::move(v), sv, total_wall - validation_seconds, total_wall);
    if (selected) record["selected"] = true;
    log << record.dump() << "\n";
    log.flush();
  };
  // The multiples of validate_every from validate_from on (iteration 0 of a fresh run only when
  // validate_from is 0), and always the last iteration: a run shorter than validate_from still
  // has its one validation to choose by.
  auto validates_at = [&](std::int64_t it) {
    return validating && ((it >= c.validate_from && it % c.validate_every == 0) || it == total);
  };
  if (trainer.iteration() == 0 && validates_at(0)) validation(0);

  StepReport last_read;  // the progress bar shows the last values read
  while (trainer.iteration() < total) {
    StepReport r;
    // A step is read (its scalars and queued checks: one transfer on a GPU) where anything uses
    // them or the state: logging, FID, validation, samples, checkpoints, the last iteration. From
    // the configuration alone, so that every rank reads (and averages) at the same steps.
    const std::int64_t next = trainer.iteration() + 1;
    auto every = [next](std::int64_t n) { return n > 0 && next % n == 0; };
    const bool read = next == total || every(c.log_every) || every(c.fid_every) || every(c.validate_every) ||
                      every(c.sample_every) || every(c.checkpoint_every);
    try {
      r = trainer.step(read);
    } catch (const NonFiniteError& e) {
      if (progress) bar.finish();
      std::string where = result.checkpoint.empty() || !fs::exists(result.checkpoint)
                              ? std::string(" No checkpoint was written before it.")
                              : " The last good checkpoint, '" + result.checkpoint + "', is unchanged.";
      throw NonFiniteError(e.what() + where);
    }
    result.last = r;
    const std::int64_t it = trainer.iteration();
    const bool fid_now = measuring_quality && (it % c.fid_every == 0 || it == total);
    if (root && r.collapse_detected) {
      if (progress) bar.finish();
      std::fprintf(stderr, "structgan: iteration %lld: D's distance below %g for %lld steps in a row: %s\n",
                   static_cast<long long>(r.iteration), c.rollback_distance, static_cast<long long>(c.rollback_patience),
                   r.rolled_back_to >= 0 ? ("back to the snapshot of iteration " + std::to_string(r.rolled_back_to)).c_str()
                                         : "no rollback left (rollback_max) or no snapshot before it; training goes on");
      if (progress) bar = ProgressBar(total, it, stderr, options.progress_tty);
    }
    // The record of a step that detected a collapse is always written: it names the rollback.
    if (root && (it % c.log_every == 0 || it == total || fid_now || r.collapse_detected)) {
      nlohmann::json record = log_record(r, elapsed());  // the time before the measurement
      if (fid_now) record.update(measure_image_quality(trainer));
      log << record.dump() << "\n";
      log.flush();
    }
    if (r.read) last_read = r;
    if (progress)
      bar.update(it, {{"d", last_read.d.total}, {"g", last_read.g.total}, {"dist", last_read.d.distance},
                      {"probe", last_read.d.probe_accuracy}});
    if (validates_at(it)) validation(it);
    if (c.sample_every > 0 && it % c.sample_every == 0 && it != total) samples(it);
    if (c.checkpoint_every > 0 && it % c.checkpoint_every == 0 && it != total) save();
    bool stop = detail::stop_requested() != 0;
    if (comm.size() > 1) {  // every rank stops after the same iteration
      std::vector<std::int64_t> any{stop ? 1 : 0};
      distributed::all_reduce_sum(comm, any);
      stop = any[0] > 0;
    }
    if (stop) {
      result.interrupted = true;
      break;
    }
  }
  if (progress) bar.finish();
  result.iteration = trainer.iteration();
  result.seconds = elapsed();
  result.validation_seconds = validation_seconds;
  if (result.iteration > result.start_iteration || (root && !fs::exists(ckpt))) save();
  if (result.iteration > result.start_iteration) samples(result.iteration);
  return result;
}

/// The sample writer of image runs: a grid of sample_count images of the EMA generator for a
/// fixed latent batch (drawn from seed + 1, so it never touches the run's RNG).
template <class Tr>
std::function<void(Tr&, const std::string&)> image_sample_writer(Tr& trainer) {
  using T = typename std::decay_t<decltype(trainer.generator())>::value_type;
  Rng rng(static_cast<std::uint64_t>(trainer.config().seed) + 1);
  const Tensor<T, Cpu> z = randn<T>(Shape{trainer.config().sample_count, trainer.config().z_dim}, rng);
  return [z](Tr& t, const std::string& path) { write_image_grid(path, t.generate(z)); };
}

}  // namespace structgan::train
