// structgan-eval: the paper's Table 1 protocol (SPEC §6) on feature files, or on a training checkpoint
// plus its data set; or image-quality metrics (FID, KID, Inception Score) on Inception features and logits.
//
//   structgan-eval --train-features a.npy --train-labels a_labels.npy
//                  --test-features b.npy --test-labels b_labels.npy [--json out.json] [--plots DIR]
//   structgan-eval --checkpoint runs/fashion_mnist/checkpoint.ckpt [--data-dir DIR] [--dataset NAME]
//                  [--json out.json] [--plots DIR] [--save-features DIR]
//   structgan-eval --plot-log runs/x/log.jsonl [--output curve.png]
//   structgan-eval [--fid A B] [--kid A.npy B.npy [--kid-subsets S] [--kid-subset-size M]]
//                  [--inception-score LOGITS.npy [--is-splits K]] [--save-fid-stats FEATURES.npy OUT.npz]
//                  [--json out.json]
//   structgan-eval --generator runs/cifar10/checkpoint.ckpt --inception-weights pt_inception.npz [--samples 50000]
//                  [--fid-stats REAL.npz | --data-dir DIR [--train-size N] [--save-fid-stats OUT.npz]]
//                  [--inception-resize pytorch|tf1] [--batch 50] [--generator-batch B] [--seed S] [--json out.json]
//
// Prints the Table 1 row(s) (SVM accuracy, k-means mean (std) over the repeats, NMI, ARI, weighted kNN accuracy),
// writes them as JSON, and with --plots writes t-SNE scatter plots of the test features. From a checkpoint it
// rebuilds the EMA discriminator the trainer saved, extracts f^b and f~ of the train and test splits (test
// transform) and evaluates both. With --generator it samples the checkpoint's EMA generator and prints FID, IS and
// (with the real images) KID of its samples (train/image_quality.hpp). --plot-log draws a run's periodic validation
// (validate_every) from its log.jsonl: validation k-means and SVM accuracy against training wall time, as a PNG.
// One translation unit: the checkpoint path needs only the train headers that
// build networks and read data (not the trainer).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

#include "structgan/core/build_info.hpp"
#include "structgan/eval/eval.hpp"
#include "structgan/io/npy.hpp"
#include "structgan/io/npz.hpp"
#include "structgan/io/png.hpp"
#include "../common/validation_curve.hpp"

#if STRUCTGAN_EVAL_CHECKPOINTS
#include "structgan/io/checkpoint.hpp"
#include "structgan/train/config.hpp"
#include "structgan/train/data_source.hpp"
#include "structgan/train/image_quality.hpp"
#include "structgan/train/models.hpp"
#include "../common/evaluate.hpp"
#include "../common/subsample.hpp"
#endif

namespace ev = structgan::eval;
namespace io = structgan::io;
namespace fs = std::filesystem;

namespace {

struct PlotOptions {
  std::string dir, palette_ref;
  int threads = 0, points = 10000, iterations = 1000;
  std::uint64_t seed = 0;
};

// t-SNE of a seeded subsample of at most o.points L2-normalized test rows: DIR/<base>.npy, DIR/<base>_labels.png
// and, with a palette reference (M×2, aligned with the test rows), DIR/<base>_palette.png.
void write_tsne_plots(const PlotOptions& o, const std::string& base_name, const std::string& title,
                      const ev::RowMatrixF& tex, const std::vector<int>& tey,
                      const std::vector<std::string>& class_names = {}) {
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  structgan::require(!ec, "cannot create plot folder '", o.dir, "': ", ec.message());
  std::vector<Eigen::Index> idx(static_cast<std::size_t>(tex.rows()));
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<Eigen::Index>(i);
  ev::detail::Rng rng(ev::detail::derive_seed(o.seed, 7));
  for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
  idx.resize(std::min<std::size_t>(idx.size(), static_cast<std::size_t>(o.points)));
  std::sort(idx.begin(), idx.end());
  structgan::require(idx.size() >= 4, "t-SNE plots need at least 4 test points, got ", idx.size());
  ev::RowMatrixF sub(static_cast<Eigen::Index>(idx.size()), tex.cols());
  std::vector<int> sub_y(idx.size());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    sub.row(static_cast<Eigen::Index>(i)) = tex.row(idx[i]);
    sub_y[i] = tey[static_cast<std::size_t>(idx[i])];
  }
  ev::TsneOptions to;
  to.threads = o.threads;
  to.iterations = o.iterations;
  to.perplexity = std::min(30.0, (static_cast<double>(sub.rows()) - 1.0) / 3.0);
  const ev::RowMatrixD xy = ev::tsne(ev::detail::normalized_rows<float>(sub), to);
  const std::string base = (fs::path(o.dir) / base_name).string();
  io::write_npy(base + ".npy", xy);
  ev::ScatterOptions so;
  so.title = title + " T-SNE";
  so.point_radius = sub.rows() > 3000 ? 1 : 2;
  if (!class_names.empty()) {
    // the legend names the labels present, in sorted order
    std::vector<int> present = sub_y;
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    for (int y : present)
      so.class_names.push_back(y >= 0 && static_cast<std::size_t>(y) < class_names.size() ? class_names[static_cast<std::size_t>(y)]
                                                                                           : std::to_string(y));
  }
  io::write_png(base + "_labels.png", ev::render_label_scatter(xy, sub_y, so));
  std::cout << "wrote " << base << "_labels.png\n";
  if (!o.palette_ref.empty()) {
    const ev::RowMatrixD ref = io::read_npy_matrix<double>(o.palette_ref);
    structgan::require(ref.rows() == tex.rows() && ref.cols() == 2, "--palette-reference: expected ", tex.rows(), "x2, got ",
                       ref.rows(), "x", ref.cols());
    ev::RowMatrixD sub_ref(static_cast<Eigen::Index>(idx.size()), 2);
    for (std::size_t i = 0; i < idx.size(); ++i) sub_ref.row(static_cast<Eigen::Index>(i)) = ref.row(idx[i]);
    io::write_png(base + "_palette.png", ev::render_palette_scatter(xy, sub_ref, so));
    std::cout << "wrote " << base << "_palette.png\n";
  }
}

struct ImageMetricOptions {
  std::vector<std::string> fid, kid, save_fid_stats;  // two paths each when given
  std::string inception_score;
  ev::KidOptions kid_options;
  ev::InceptionScoreOptions is_options;
  bool any() const { return !fid.empty() || !kid.empty() || !save_fid_stats.empty() || !inception_score.empty(); }
};

// Shortest text that reads back as the same double (as Python's repr, which pytorch-fid and torch-fidelity print).
std::string shortest(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Statistics from a file: a pytorch-fid .npz (io::read_fid_statistics) or an N×D features .npy (the
// statistics of its rows), told apart by their first bytes.
structgan::FidStatistics load_fid_statistics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  structgan::require(static_cast<bool>(in), "load_fid_statistics: cannot open '", path, "'");
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  if (std::memcmp(magic, "PK\x03\x04", 4) == 0 || std::memcmp(magic, "PK\x05\x06", 4) == 0)
    return io::read_fid_statistics(path);
  try {
    return ev::fid_statistics(io::read_npy_matrix<double>(path));
  } catch (const structgan::Error& e) {
    structgan::fail(e.what(), " (", path, ": expected an N×D features .npy or a statistics .npz)");
  }
}

// FID, KID and IS on feature and logit files, in that order, each printed as one line and gathered into the JSON.
int evaluate_image_metrics(const ImageMetricOptions& o, const std::string& json_path) {
  nlohmann::json j = nlohmann::json::object();
  if (!o.save_fid_stats.empty()) {
    const ev::RowMatrixD x = io::read_npy_matrix<double>(o.save_fid_stats[0]);
    io::write_fid_statistics(o.save_fid_stats[1], ev::fid_statistics(x));
    std::cout << "wrote " << o.save_fid_stats[1] << " (mu and sigma of " << x.rows() << " features of dimension "
              << x.cols() << ")\n";
  }
  if (!o.fid.empty()) {
    const double fid = ev::frechet_distance(load_fid_statistics(o.fid[0]), load_fid_statistics(o.fid[1]));
    std::cout << "FID: " << shortest(fid) << "\n";
    j["fid"] = {{"value", fid}, {"inputs", o.fid}};
  }
  if (!o.kid.empty()) {
    const ev::RowMatrixD a = io::read_npy_matrix<double>(o.kid[0]), b = io::read_npy_matrix<double>(o.kid[1]);
    const ev::MeanStd kid = ev::kernel_inception_distance(a, b, o.kid_options);
    std::cout << "KID: " << shortest(kid.mean) << " ± " << shortest(kid.std) << "\n";
    j["kid"] = {{"mean", kid.mean},
                {"std", kid.std},
                {"inputs", o.kid},
                {"subsets", o.kid_options.subsets},
                {"subset_size", o.kid_options.subset_size},
                {"seed", o.kid_options.seed}};
  }
  if (!o.inception_score.empty()) {
    const ev::MeanStd is = ev::inception_score(io::read_npy_matrix<double>(o.inception_score), o.is_options);
    std::cout << "IS: " << shortest(is.mean) << " ± " << shortest(is.std) << "\n";
    j["inception_score"] = {{"mean", is.mean}, {"std", is.std}, {"input", o.inception_score}, {"splits", o.is_options.splits}};
  }
  if (!json_path.empty()) {
    j["build"] = structgan::build_info();
    io::write_file_atomically(json_path, j.dump(2) + "\n");
    std::cout << "wrote " << json_path << "\n";
  }
  return 0;
}

#if STRUCTGAN_EVAL_CHECKPOINTS
namespace train = structgan::train;
namespace data = structgan::data;
namespace io = structgan::io;
using structgan::index_t;

struct CheckpointOptions {
  std::string path, data_dir, dataset, save_features;
  std::string split = "test";  // the images evaluated: test, or the run's held-out validation images
  std::int64_t train_size = 0, test_size = 0, batch = 0, image_size = 0;
  bool data_dir_set = false, dataset_set = false;
};

using structgan::examples::subsample;

// f^b and f~ of network d for every image of `set` (through transform t, in order), N×width and N×p
// floats: the training examples' features_of, then checked.
template <class DNet>
void extract_features(DNet& d, const data::ImageSet& set, const data::Transform& t, int batch, ev::RowMatrixF& fb,
                      ev::RowMatrixF& ft, std::vector<int>& labels) {
  structgan::examples::Features f = structgan::examples::features_of<float, structgan::Cpu>(d, set, t, batch, true);
  structgan::require(f.labels.size() == set.size(), "feature extraction: ", f.labels.size(), " of ", set.size(), " images");
  structgan::require(f.backbone.allFinite() && f.embedding.allFinite(),
                     "feature extraction: the network's features hold NaN or Inf");
  fb = std::move(f.backbone);
  ft = std::move(f.embedding);
  labels = std::move(f.labels);
}

const io::EntryInfo* find_entry(const std::vector<io::EntryInfo>& entries, const std::string& name) {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

// The whole checkpoint path: config and EMA discriminator from the file, both splits, both feature kinds.
int evaluate_checkpoint(const CheckpointOptions& co, const ev::ProtocolOptions& po, const PlotOptions& plots,
                        const std::string& json_path, const std::string& name_prefix) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const std::string& path = co.path;
  structgan::require(fs::is_regular_file(path), "checkpoint '", path, "' does not exist or is not a file");
  // 1. the manifest (header, checksummed manifest), the training configuration and the iteration
  const std::vector<io::EntryInfo> entries = io::read_checkpoint_info(path);
  structgan::require(find_entry(entries, "config") != nullptr, "checkpoint '", path,
                     "' holds no 'config' entry: not written by the trainer (train::Trainer::save)");
  std::string config_text;
  std::int64_t iteration = -1;
  {
    io::Checkpoint head;
    head.string("config", config_text);
    if (find_entry(entries, "iteration")) head.integer("iteration", iteration);
    io::LoadOptions lo;
    lo.allow_unbound_entries = true;
    io::load_checkpoint(path, head, lo);
  }
  const nlohmann::json saved = nlohmann::json::parse(config_text, nullptr, false);
  structgan::require(saved.is_object(), "checkpoint '", path, "': its 'config' entry is not a JSON object");
  train::TrainConfig c = train::preset(saved.value("preset", std::string("cifar10")));
  train::apply_json(c, saved, "checkpoint '" + path + "' config");
  c.fid_every = 0;  // the run's periodic FID (its weights path perhaps of another machine) plays no part here
  // A run from before validation_size trained on the whole train split, whatever its preset says now.
  if (!saved.contains("validation_size")) c.validation_size = 0;
  if (co.dataset_set) c.dataset = co.dataset;
  if (co.data_dir_set) c.data_dir = co.data_dir;
  if (co.image_size > 0) c.eval_image_size = co.image_size;
  structgan::require(c.dataset != "double_spiral", "checkpoint '", path,
                     "': double-spiral runs are evaluated by examples/double_spiral, not from a data set");
  structgan::require(train::detail::contains(train::detail::known_datasets(), c.dataset), "--dataset: unknown data set '", c.dataset,
                     "' (known: ", train::detail::joined(train::detail::known_datasets()), ")");
  train::validate(c);  // the overrides above (e.g. --image-size smaller than D's downsampling)

  // 2. the EMA discriminator: architecture from the configuration, input channels and probe classes from the file
  const io::EntryInfo* stem = find_entry(entries, "D_ema.backbone.stem.weight");
  const io::EntryInfo* probe = find_entry(entries, "D_ema.probe.weight");
  structgan::require(stem && probe && stem->shape.size() == 4 && probe->shape.size() == 2, "checkpoint '", path,
                     "' holds no image discriminator 'D_ema' (entries D_ema.backbone.stem.weight, D_ema.probe.weight)");
  const index_t channels = stem->shape[1], classes = probe->shape[0];
  structgan::Rng rng(static_cast<std::uint64_t>(c.seed));  // the weights come from the file
  auto d = train::make_image_discriminator<float, structgan::Cpu>(c, channels, classes, rng);
  {
    io::Checkpoint ck;
    ck.module("D_ema", d);
    io::LoadOptions lo;
    lo.allow_unbound_entries = true;
    io::load_checkpoint(path, ck, lo);
  }
  d.train(false);

  // 3. the data set (train and test splits), test transform
  // The SVM learns from the run's training part only: the validation_size images it held out
  // (validation_seed) are never among them, so that --split validation measures unseen images.
  auto load = [&](auto&& read) {
    try {
      return read();
    } catch (const structgan::Error& e) {
      structgan::fail(e.what(), " (the checkpoint was trained on '", c.dataset, "' from '", train::data_dir_of(c),
                      "'; give the folder with --data-dir)");
    }
  };
  train::TrainValidationSplit parts = load([&] { return train::load_train_validation(c); });
  const bool on_validation = co.split == "validation";
  structgan::require(!on_validation || parts.validation.size() > 0, "--split validation: the checkpoint's run held "
                     "no images out (its validation_size is 0)");
  const data::ImageSet train_all = std::move(parts.train);
  const data::ImageSet test_all = on_validation ? std::move(parts.validation) : load([&] { return train::load_split(c, data::Split::test); });
  structgan::require(train_all.channels == channels, "data set '", c.dataset, "' has ", train_all.channels,
                     "-channel images but the checkpoint's discriminator takes ", channels);
  const data::ImageSet train_set = subsample(train_all, static_cast<std::size_t>(co.train_size), plots.seed + 99);
  const data::ImageSet test_set = subsample(test_all, static_cast<std::size_t>(co.test_size), plots.seed + 98);
  const int batch = static_cast<int>(co.batch > 0 ? co.batch : c.eval_batch);

  // 4. features
  const auto tf = clock::now();
  ev::RowMatrixF trb, trt, teb, tet;
  std::vector<int> ytr, yte;
  extract_features(d, train_set, train::test_transform_of(c, train_set.height, train_set.width), batch, trb, trt, ytr);
  extract_features(d, test_set, train::test_transform_of(c, test_set.height, test_set.width), batch, teb, tet, yte);
  const double feature_seconds = std::chrono::duration<double>(clock::now() - tf).count();
  std::cout << "features of " << train_set.size() << " train and " << test_set.size() << " test images (" << c.dataset
            << ", iteration " << iteration << "): f^b " << trb.cols() << "-d, f~ " << trt.cols() << "-d, "
            << feature_seconds << " s\n";
  if (!co.save_features.empty()) {
    std::error_code ec;
    fs::create_directories(co.save_features, ec);
    structgan::require(!ec, "cannot create feature folder '", co.save_features, "': ", ec.message());
    const fs::path f(co.save_features);
    io::write_npy((f / "train_fb.npy").string(), trb);
    io::write_npy((f / "train_ftilde.npy").string(), trt);
    io::write_npy((f / "test_fb.npy").string(), teb);
    io::write_npy((f / "test_ftilde.npy").string(), tet);
    io::write_npy_labels((f / "train_labels.npy").string(), ytr);
    io::write_npy_labels((f / "test_labels.npy").string(), yte);
    std::cout << "wrote the features to " << co.save_features << "\n";
  }

  // 5. the Table 1 rows
  const std::string prefix = name_prefix.empty() ? std::string("EMA D") : name_prefix;
  std::vector<ev::Table1Row> rows;
  rows.push_back(ev::evaluate_representation(trb, ytr, teb, yte, po, prefix + " f^b"));
  rows.push_back(ev::evaluate_representation(trt, ytr, tet, yte, po, prefix + " f~"));
  std::cout << "\n" << c.dataset << " (" << (on_validation ? "held-out validation images" : "test split") << "), checkpoint "
            << path << " (iteration " << iteration << "):\n";
  ev::print_table(std::cout, rows);
  if (!plots.dir.empty()) {
    write_tsne_plots(plots, "tsne_fb", prefix + " f^b", teb, yte, test_set.class_names);
    write_tsne_plots(plots, "tsne_ftilde", prefix + " f~", tet, yte, test_set.class_names);
  }
  if (!json_path.empty()) {
    nlohmann::json j;
    j["build"] = structgan::build_info();
    j["checkpoint"] = path;
    j["iteration"] = iteration;
    j["dataset"] = c.dataset;
    j["data_dir"] = train::data_dir_of(c);
    j["train_images"] = train_set.size();
    j["test_images"] = test_set.size();
    j["split"] = co.split;  // what the "test" rows were measured on
    j["config"] = saved;
    j["seconds_features"] = feature_seconds;
    j["seconds"] = std::chrono::duration<double>(clock::now() - t0).count();
    j["rows"] = nlohmann::json::array();
    for (const auto& r : rows) j["rows"].push_back(r.to_json());
    j["rows"][0]["features"] = "f_b";
    j["rows"][1]["features"] = "f_tilde";
    io::write_file_atomically(json_path, j.dump(2) + "\n");
    std::cout << "wrote " << json_path << "\n";
  }
  return 0;
}

// ---- --generator: FID, IS and KID of a checkpoint's EMA generator ----
struct GeneratorOptions {
  std::string path, weights, fid_stats, save_fid_stats, save_features, resize = "pytorch";
  std::int64_t samples = 50000, generator_batch = 0, inception_batch = 0, train_size = 0;
  std::uint64_t seed = 0;
  bool kid = false;  // --data-dir given: real features, so KID too
};

// The run's configuration and iteration from a trainer's checkpoint (header entries only).
train::TrainConfig checkpoint_config(const std::string& path, const std::vector<io::EntryInfo>& entries,
                                     std::int64_t& iteration, nlohmann::json& saved) {
  structgan::require(find_entry(entries, "config") != nullptr, "checkpoint '", path,
                     "' holds no 'config' entry: not written by the trainer (train::Trainer::save)");
  std::string config_text;
  io::Checkpoint head;
  head.string("config", config_text);
  if (find_entry(entries, "iteration")) head.integer("iteration", iteration);
  io::LoadOptions lo;
  lo.allow_unbound_entries = true;
  io::load_checkpoint(path, head, lo);
  saved = nlohmann::json::parse(config_text, nullptr, false);
  structgan::require(saved.is_object(), "checkpoint '", path, "': its 'config' entry is not a JSON object");
  train::TrainConfig c = train::preset(saved.value("preset", std::string("cifar10")));
  train::apply_json(c, saved, "checkpoint '" + path + "' config");
  c.fid_every = 0;  // the run's own periodic FID (and its weights path, perhaps of another machine) plays no part here
  return c;
}

int evaluate_generator(const GeneratorOptions& go, const CheckpointOptions& co, const ev::KidOptions& kid_options,
                       const ev::InceptionScoreOptions& is_options, const std::string& json_path) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const std::string& path = go.path;
  // 1. every input checked before the long parts: weights, checkpoint, generator entries, statistics file
  structgan::require(!go.weights.empty(), "--generator needs --inception-weights FILE (the Inception-v3 weights, "
                     "scripts/convert_inception_weights.py)");
  structgan::require(fs::is_regular_file(go.weights), "--inception-weights: '", go.weights,
                     "' does not exist or is not a file (convert pytorch-fid's weights with scripts/convert_inception_weights.py)");
  structgan::require(fs::is_regular_file(path), "checkpoint '", path, "' does not exist or is not a file");
  structgan::require(go.fid_stats.empty() != !go.kid, "--generator needs the real images' statistics: --fid-stats REAL.npz "
                     "or --data-dir DIR (the checkpoint's data set), not both");
  structgan::require(go.resize == "pytorch" || go.resize == "tf1", "--inception-resize: pytorch or tf1, got '", go.resize, "'");
  structgan::require(go.samples >= 2, "--samples: FID needs at least 2 images, got ", go.samples);
  const std::vector<io::EntryInfo> entries = io::read_checkpoint_info(path);
  std::int64_t iteration = -1;
  nlohmann::json saved;
  train::TrainConfig c = checkpoint_config(path, entries, iteration, saved);
  structgan::require(c.dataset != "double_spiral", "checkpoint '", path,
                     "': a double-spiral run; its generator makes 2-D points, not images (no FID)");
  const io::EntryInfo* out_conv = find_entry(entries, "G_ema.output_conv.weight");
  structgan::require(out_conv && out_conv->shape.size() == 4, "checkpoint '", path,
                     "' holds no image generator 'G_ema' (entry G_ema.output_conv.weight)");
  const index_t channels = out_conv->shape[0];
  if (co.dataset_set) c.dataset = co.dataset;
  if (co.data_dir_set) c.data_dir = co.data_dir;
  train::validate(c);
  const std::int64_t generator_batch = go.generator_batch > 0 ? go.generator_batch : c.batch_size;
  if (go.kid)
    structgan::require(go.samples >= kid_options.subset_size, "KID: --samples ", go.samples,
                       " is fewer than --kid-subset-size ", kid_options.subset_size, " (lower --kid-subset-size)");
  structgan::require(go.samples >= is_options.splits, "IS: --samples ", go.samples, " is fewer than --is-splits ",
                     is_options.splits);

  // 2. Inception, and the real statistics of a file (checked against the network's feature size)
  auto inception = train::load_inception_v3<float, structgan::Cpu>(go.weights);
  const Eigen::Index dims = static_cast<Eigen::Index>(inception.feature_dim());
  structgan::FidStatistics real_stats;
  if (!go.fid_stats.empty()) {
    real_stats = load_fid_statistics(go.fid_stats);
    structgan::require(real_stats.mu.size() == dims, "--fid-stats '", go.fid_stats, "' holds ", real_stats.mu.size(),
                       "-d statistics but the Inception network of '", go.weights, "' gives ", dims,
                       "-d pool3 features (statistics of another network or width?)");
  }

  // 3. the generator: architecture from the configuration, weights of the EMA copy from the file
  structgan::Rng rng(static_cast<std::uint64_t>(c.seed));  // the weights come from the file
  auto g = train::make_image_generator<float, structgan::Cpu>(c, channels, rng);
  {
    io::Checkpoint ck;
    ck.module("G_ema", g);
    io::LoadOptions lo;
    lo.allow_unbound_entries = true;
    io::load_checkpoint(path, ck, lo);
  }
  train::InceptionRun run;
  run.batch = go.inception_batch > 0 ? go.inception_batch : 50;
  run.resize = go.resize == "tf1" ? structgan::ResizeKind::Tf1Bilinear : structgan::ResizeKind::PytorchBilinear;
  run.progress = true;
  std::cout << "generator of " << path << " (" << c.dataset << ", iteration " << iteration << ", " << c.image_size << "×"
            << c.image_size << "×" << channels << "): " << go.samples << " samples, latents from seed " << go.seed
            << ", generator batch " << generator_batch << "; Inception " << dims << "-d, " << go.resize << " resize\n";

  // 4. with --data-dir the real training images (read first: a wrong folder fails before the sampling), at the
  //    generator's size; then the features of the generated images and of the real ones
  data::ImageSet train_set;
  if (go.kid) {
    data::ImageSet train_all;
    try {
      train_all = train::load_split(c, data::Split::train);
    } catch (const structgan::Error& e) {
      structgan::fail(e.what(), " (the checkpoint was trained on '", c.dataset, "' from '", train::data_dir_of(c),
                      "'; give the folder with --data-dir)");
    }
    structgan::require(train_all.channels == channels, "data set '", c.dataset, "' has ", train_all.channels,
                       "-channel images but the checkpoint's generator makes ", channels);
    train_set = subsample(train_all, static_cast<std::size_t>(go.train_size), go.seed + 99);
    structgan::require(static_cast<std::int64_t>(train_set.size()) >= kid_options.subset_size, "KID: ", train_set.size(),
                       " real images are fewer than --kid-subset-size ", kid_options.subset_size);
  }
  const std::size_t real_count = train_set.size();
  const auto tf = clock::now();
  const train::InceptionFeatures fake =
      train::generator_inception_features(g, go.samples, generator_batch, go.seed, inception, run);
  train::InceptionFeatures real;
  if (go.kid) {
    real = train::image_set_inception_features(train_set, train::real_image_transform(c, train_set.height, train_set.width),
                                               0, 0, inception, run);
    real_stats = train::pool3_statistics(real);
    if (!go.save_fid_stats.empty()) {
      io::write_fid_statistics(go.save_fid_stats, real_stats);
      std::cout << "wrote " << go.save_fid_stats << " (mu and sigma of " << real_count << " training images)\n";
    }
  }
  const double feature_seconds = std::chrono::duration<double>(clock::now() - tf).count();
  if (!go.save_features.empty()) {
    std::error_code ec;
    fs::create_directories(go.save_features, ec);
    structgan::require(!ec, "cannot create feature folder '", go.save_features, "': ", ec.message());
    const fs::path f(go.save_features);
    io::write_npy((f / "generated_pool3.npy").string(), fake.pool3);
    io::write_npy((f / "generated_logits_unbiased.npy").string(), fake.logits_unbiased);  // what IS takes
    if (go.kid) io::write_npy((f / "real_pool3.npy").string(), real.pool3);
    std::cout << "wrote the Inception features to " << go.save_features << "\n";
  }

  // 5. the metrics
  const train::GeneratorQuality q = train::generator_quality(real_stats, fake, is_options.splits);
  std::cout << "FID: " << shortest(q.fid) << "\n";
  std::cout << "IS: " << shortest(q.inception_score.mean) << " ± " << shortest(q.inception_score.std) << "\n";
  ev::MeanStd kid;
  if (go.kid) {
    kid = ev::kernel_inception_distance(real.pool3, fake.pool3, kid_options);
    std::cout << "KID: " << shortest(kid.mean) << " ± " << shortest(kid.std) << "\n";
  } else {
    std::cout << "(no KID: it needs the real images' features; --fid-stats holds only their statistics, give --data-dir)\n";
  }
  if (!json_path.empty()) {
    nlohmann::json j;
    j["build"] = structgan::build_info();
    j["checkpoint"] = path;
    j["iteration"] = iteration;
    j["dataset"] = c.dataset;
    j["config"] = saved;
    j["inception_weights"] = go.weights;
    j["inception_resize"] = go.resize;
    j["samples"] = go.samples;
    j["seed"] = go.seed;
    j["generator_batch"] = generator_batch;
    j["fid"] = {{"value", q.fid}};
    if (go.kid) {
      j["fid"]["real"] = {{"data_dir", train::data_dir_of(c)}, {"images", real_count}};
      j["kid"] = {{"mean", kid.mean}, {"std", kid.std}, {"subsets", kid_options.subsets},
                  {"subset_size", kid_options.subset_size}, {"seed", kid_options.seed}};
    } else {
      j["fid"]["real"] = {{"statistics", go.fid_stats}};
    }
    j["inception_score"] = {{"mean", q.inception_score.mean}, {"std", q.inception_score.std}, {"splits", is_options.splits}};
    j["seconds_features"] = feature_seconds;
    j["seconds"] = std::chrono::duration<double>(clock::now() - t0).count();
    io::write_file_atomically(json_path, j.dump(2) + "\n");
    std::cout << "wrote " << json_path << "\n";
  }
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"structgan-eval: linear SVM, 20x spherical k-means, NMI, ARI and kNN (SPEC §6) on feature files, "
               "or on f^b and f~ of a training checkpoint's EMA discriminator over its data set"};
  std::string train_x, train_y, test_x, test_y, json_path, name;
  PlotOptions plots;
  ev::ProtocolOptions o;
  bool no_svm = false, no_kmeans = false, no_knn = false;
  app.add_option("--train-features", train_x, "training features, N×D float32/float64 .npy")->check(CLI::ExistingFile);
  app.add_option("--train-labels", train_y, "training labels: int .npy or text, one per line")->check(CLI::ExistingFile);
  app.add_option("--test-features", test_x, "test features, M×D .npy")->check(CLI::ExistingFile);
  app.add_option("--test-labels", test_y, "test labels")->check(CLI::ExistingFile);
#if STRUCTGAN_EVAL_CHECKPOINTS
  CheckpointOptions co;
  auto* ck_opt = app.add_option("--checkpoint", co.path,
                                "a training checkpoint (train::Trainer::save): evaluate f^b and f~ of its EMA discriminator "
                                "on the train and test splits of its data set (instead of feature files)");
  auto* dd_opt = app.add_option("--data-dir", co.data_dir, "with --checkpoint, or --generator (its real images, for FID and KID): the data set's folder (default: the run's)");
  auto* ds_opt = app.add_option("--dataset", co.dataset, "with --checkpoint or --generator: the data set (default: the run's)");
  app.add_option("--train-size", co.train_size, "with --checkpoint: train images for the SVM and kNN; with --generator and --data-dir: the real training images; a seeded subset (0 = all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--split", co.split,
                 "with --checkpoint: the images evaluated: test (the test split) or validation (the run's "
                 "validation_size images held out of the train split); the SVM and kNN learn from the rest of the "
                 "train split")
      ->capture_default_str()->check(CLI::IsMember({"test", "validation"}));
  app.add_option("--test-size", co.test_size, "with --checkpoint: test images, a seeded subset (0 = all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--batch", co.batch, "with --checkpoint: images per forward pass (0 = the run's eval_batch); with "
                                      "--generator: images per Inception forward pass (0 = 50)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--image-size", co.image_size,
                 "with --checkpoint: size of the evaluated images (0 = the run's eval_image_size, else its image_size)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--save-features", co.save_features,
                 "with --checkpoint: write {train,test}_{fb,ftilde}.npy and {train,test}_labels.npy into this folder; with --generator: generated_pool3.npy, generated_logits_unbiased.npy and (with --data-dir) real_pool3.npy");
  for (const char* f : {"--train-features", "--train-labels", "--test-features", "--test-labels"}) ck_opt->excludes(f);
  GeneratorOptions go;
  auto* gen_opt = app.add_option("--generator", go.path,
                                 "a training checkpoint: FID, IS and (with --data-dir) KID of its EMA generator's samples "
                                 "against the real images (needs --inception-weights)");
  gen_opt->excludes(ck_opt);
  for (const char* f : {"--train-features", "--train-labels", "--test-features", "--test-labels"}) gen_opt->excludes(f);
  app.add_option("--inception-weights", go.weights, "with --generator: the Inception-v3 weights file "
                                                    "(scripts/convert_inception_weights.py)")->needs(gen_opt);
  app.add_option("--samples", go.samples, "with --generator: generated images")
      ->capture_default_str()->check(CLI::Range(std::int64_t{2}, std::numeric_limits<std::int64_t>::max()))->needs(gen_opt);
  app.add_option("--fid-stats", go.fid_stats, "with --generator: the real images' statistics (a pytorch-fid .npz, or an "
                                              "N×D features .npy) instead of --data-dir; then no KID")
      ->check(CLI::ExistingFile)->needs(gen_opt)->excludes(dd_opt);
  app.add_option("--inception-resize", go.resize, "with --generator: pytorch (pytorch-fid's bilinear, default) or tf1 "
                                                  "(torch-fidelity's TF1-compatible bilinear)")
      ->capture_default_str()->check(CLI::IsMember({"pytorch", "tf1"}))->needs(gen_opt);
  app.add_option("--generator-batch", go.generator_batch, "with --generator: latents per generator pass (0 = the run's "
                                                          "batch_size: BatchNorm sees batches as in training)")
      ->capture_default_str()->check(CLI::NonNegativeNumber)->needs(gen_opt);
#endif
  ImageMetricOptions im;
  app.add_option("--fid", im.fid,
                 "FID between A and B, each an N×D features .npy or a pytorch-fid statistics .npz (mu, sigma); "
                 "prints 'FID: <value>'")
      ->expected(2)->check(CLI::ExistingFile);
  auto* kid_opt = app.add_option("--kid", im.kid, "KID between two features .npy files; prints 'KID: <mean> ± <std>'")
                      ->expected(2)->check(CLI::ExistingFile);
  auto* kid_subsets_opt =
      app.add_option("--kid-subsets", im.kid_options.subsets, "with --kid or --generator: random subsets (torch-fidelity's default)")
          ->capture_default_str()->check(CLI::PositiveNumber);
  auto* kid_size_opt = app.add_option("--kid-subset-size", im.kid_options.subset_size,
                                      "with --kid or --generator: rows per subset; each side needs at least this many")
                           ->capture_default_str()->check(CLI::Range(2, std::numeric_limits<int>::max()));
  auto* is_opt = app.add_option("--inception-score", im.inception_score,
                                "Inception Score of N×C logits .npy (Inception: the 1008 logits without the fc bias); "
                                "prints 'IS: <mean> ± <std>'")
                     ->check(CLI::ExistingFile);
  auto* is_splits_opt = app.add_option("--is-splits", im.is_options.splits, "with --inception-score or --generator: consecutive splits")
                            ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--save-fid-stats", im.save_fid_stats,
                 "FEATURES.npy OUT.npz: write the features' FID statistics (mu, sigma) as pytorch-fid does; "
                 "with --generator and --data-dir one path, OUT.npz: the real images' statistics")
      ->expected(1, 2);
  std::string plot_log, plot_output;
  auto* plot_log_opt = app.add_option("--plot-log", plot_log,
                                      "a training run's log.jsonl: draw its validation k-means and SVM accuracy "
                                      "(validate_every) against training wall time as a PNG");
  app.add_option("--output", plot_output, "with --plot-log: the PNG (default: validation.png beside the log)")
      ->needs(plot_log_opt);
  app.add_option("--json", json_path, "write the row(s), or the image metrics, as JSON here");
  app.add_option("--plots", plots.dir, "write t-SNE PNGs of the test features into this folder");
  app.add_option("--palette-reference", plots.palette_ref, "M×2 .npy: colour the t-SNE points by this 2-D layout (Fig. 2d)")
      ->check(CLI::ExistingFile);
  app.add_option("--name", name, "row name in the table and JSON (with --checkpoint: prefix of both rows)");
  app.add_option("--repeats", o.kmeans.repeats, "k-means repetitions")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--restarts", o.kmeans.kmeans.restarts, "k-means++ starts per repetition")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--svm-c", o.svm.c, "SVM cost C")->capture_default_str()->check(CLI::PositiveNumber);
  std::string svm_solver = structgan::eval::to_string(o.svm.solver);
  app.add_option("--svm-solver", svm_solver, "LIBLINEAR's solver of the SVM: dual, primal or auto (primal when "
                 "samples outnumber features, as LinearSVC's dual=\"auto\")")
      ->capture_default_str()
      ->check([](const std::string& s) {
        try {
          structgan::eval::svm_solver_from_string(s);
          return std::string();
        } catch (const structgan::Error& e) {
          return std::string(e.what());
        }
      });
  app.add_option("--knn-k", o.knn.k, "kNN neighbours")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--knn-t", o.knn.temperature, "kNN temperature")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", plots.threads, "threads (0 = all)")->capture_default_str();
  app.add_option("--seed", plots.seed, "seed of k-means and of the subsamples; with --generator: of the latents")
      ->capture_default_str();
  app.add_option("--tsne-points", plots.points, "at most this many test points in the t-SNE plots")
      ->capture_default_str()->check(CLI::Range(4, 10000));
  app.add_option("--tsne-iterations", plots.iterations, "t-SNE iterations")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--no-svm", no_svm, "skip the SVM");
  app.add_flag("--no-kmeans", no_kmeans, "skip k-means (and NMI/ARI)");
  app.add_flag("--no-knn", no_knn, "skip kNN");
  bool version = false;
  app.add_flag("--version", version, "print the build (version, commit, compiler, flags, backends, threads) and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << structgan::build_info() << "\n";
    return 0;
  }

  try {
    o.svm.solver = structgan::eval::svm_solver_from_string(svm_solver);
    o.run_svm = !no_svm;
    o.run_kmeans = !no_kmeans;
    o.run_knn = !no_knn;
    o.svm.threads = o.kmeans.kmeans.threads = o.knn.threads = plots.threads;
    o.kmeans.kmeans.seed = plots.seed;
    if (!plot_log.empty()) {
      structgan::require(app.count("--train-features") + app.count("--test-features") + app.count("--json") +
                                 app.count("--plots") + (im.any() ? 1 : 0) ==
                             0,
                         "--plot-log takes only --output");
      const std::string png =
          plot_output.empty() ? (fs::path(plot_log).parent_path() / "validation.png").string() : plot_output;
      const std::size_t n = structgan::examples::write_validation_curve(plot_log, png, "validation");
      std::cout << "wrote " << png << " (" << n << " validation points)\n";
      return 0;
    }
#if STRUCTGAN_EVAL_CHECKPOINTS
    const bool generator_mode = gen_opt->count() > 0;
#else
    const bool generator_mode = false;
#endif
    structgan::require(generator_mode || kid_opt->count() > 0 || (kid_subsets_opt->count() == 0 && kid_size_opt->count() == 0),
                       "--kid-subsets and --kid-subset-size need --kid or --generator");
    structgan::require(generator_mode || is_opt->count() > 0 || is_splits_opt->count() == 0,
                       "--is-splits needs --inception-score or --generator");
#if STRUCTGAN_EVAL_CHECKPOINTS
    if (generator_mode) {
      for (const char* f : {"--fid", "--kid", "--inception-score", "--plots", "--palette-reference", "--image-size", "--test-size"})
        structgan::require(app.count(f) == 0, f, " cannot be combined with --generator");
      structgan::require(im.save_fid_stats.size() <= 1, "--save-fid-stats with --generator takes one path, OUT.npz (the "
                         "real images' statistics, with --data-dir)");
      co.data_dir_set = dd_opt->count() > 0;
      co.dataset_set = ds_opt->count() > 0;
      go.kid = co.data_dir_set;
      structgan::require(im.save_fid_stats.empty() || go.kid, "--save-fid-stats with --generator needs --data-dir (the "
                         "real images whose statistics it writes)");
      if (!im.save_fid_stats.empty()) go.save_fid_stats = im.save_fid_stats[0];
      go.save_features = co.save_features;
      go.inception_batch = co.batch;
      go.train_size = co.train_size;
      go.seed = plots.seed;
      if (plots.threads > 0) omp_set_num_threads(plots.threads);
      return evaluate_generator(go, co, im.kid_options, im.is_options, json_path);
    }
#endif
    structgan::require(im.save_fid_stats.empty() || im.save_fid_stats.size() == 2,
                       "--save-fid-stats takes two paths, FEATURES.npy OUT.npz (one only with --generator)");
    if (im.any()) {
      for (const char* f : {"--train-features", "--train-labels", "--test-features", "--test-labels", "--plots",
#if STRUCTGAN_EVAL_CHECKPOINTS
                            "--checkpoint",
#endif
                            "--palette-reference"})
        structgan::require(app.count(f) == 0, f, " cannot be combined with --fid, --kid, --inception-score or "
                           "--save-fid-stats (image metrics take their own files)");
      return evaluate_image_metrics(im, json_path);
    }
#if STRUCTGAN_EVAL_CHECKPOINTS
    if (!co.path.empty()) {
      co.data_dir_set = dd_opt->count() > 0;
      co.dataset_set = ds_opt->count() > 0;
      return evaluate_checkpoint(co, o, plots, json_path, name);
    }
    structgan::require(dd_opt->count() == 0 && ds_opt->count() == 0, "--data-dir and --dataset need --checkpoint or --generator");
#endif
    if (train_x.empty() || train_y.empty() || test_x.empty() || test_y.empty())
      structgan::fail("give --train-features, --train-labels, --test-features and --test-labels",
#if STRUCTGAN_EVAL_CHECKPOINTS
                      ", or --checkpoint",
#else
                      " (this build has no --checkpoint: it was built without structgan::train)",
#endif
                      ", or image metrics (--fid, --kid, --inception-score, --save-fid-stats) (see --help)");
    if (name.empty()) name = "features";
    const ev::RowMatrixF trx = io::read_npy_matrix<float>(train_x);
    const std::vector<int> try_ = io::read_labels(train_y);
    const ev::RowMatrixF tex = io::read_npy_matrix<float>(test_x);
    const std::vector<int> tey = io::read_labels(test_y);
    const ev::Table1Row row = ev::evaluate_representation(trx, try_, tex, tey, o, name);
    ev::print_table(std::cout, {row});
    if (!json_path.empty()) {
      nlohmann::json j = row.to_json();
      j["build"] = structgan::build_info();
      io::write_file_atomically(json_path, j.dump(2) + "\n");
      std::cout << "wrote " << json_path << "\n";
    }
    if (!plots.dir.empty()) write_tsne_plots(plots, "tsne", name, tex, tey);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "structgan-eval: " << e.what() << "\n";
    return 1;
  }
}
