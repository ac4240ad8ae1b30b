#pragma once
/// \file Shared by the training examples: features of a discriminator on an image set, the
/// periodic validation of a run (validate_every), and the paper's Table 1 evaluation (SPEC §6)
/// of the trained EMA discriminator beside the untrained one, on the validation images (the
/// figures choices are made on) and on the test split (the final report).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "structgan/eval/plot.hpp"
#include "structgan/eval/protocol.hpp"
#include "structgan/eval/tsne.hpp"
#include "structgan/io/atomic_file.hpp"
#include "structgan/io/png.hpp"
#include "structgan/train/all.hpp"
#include "subsample.hpp"
#include "validation_curve.hpp"

namespace structgan::examples {

/// The features SPEC §6 evaluates, one row per image: the backbone feature f^b and the embedding
/// f̃ (empty unless asked for), with the images' labels.
struct Features {
  eval::RowMatrixF backbone, embedding;
  std::vector<int> labels;
};

/// f^b (and, with `embedding`, f̃) of network `d` for every image of `set` (through transform `t`,
/// in order), in batches of `batch` images, without gradients.
template <class T, class Dev, class DNet>
Features features_of(DNet& d, const data::ImageSet& set, const data::Transform& t, int batch, bool embedding) {
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = false;
  lo.drop_last = false;
  data::BatchLoader loader(set, t, lo);
  Features out;
  NoGradGuard no_grad;
  auto copy_rows = [&](const Tensor<T, Cpu>& f, eval::RowMatrixF& m, Eigen::Index row0) {
    if (m.rows() == 0) m.resize(static_cast<Eigen::Index>(set.size()), f.dim(1));
    for (index_t i = 0; i < f.dim(0); ++i)
      for (index_t j = 0; j < f.dim(1); ++j) m(row0 + i, j) = static_cast<float>(f.at(i, j));
  };
  for (std::size_t k = 0; k < loader.batches_per_epoch(); ++k) {
    const data::Batch b = loader.next();
    train::HostBatch hb;
    hb.x = b.images;
    hb.shape = Shape{b.n, b.c, b.h, b.w};
    const auto x = train::detail::to_tensor<T, Dev>(hb);
    const Eigen::Index row0 = static_cast<Eigen::Index>(out.labels.size());
    if (embedding) {
      const auto o = d(x);  // one pass gives both (the head is a small MLP on f^b)
      copy_rows(to_host(Tensor<T, Dev>(o.f_b)), out.backbone, row0);
      copy_rows(to_host(Tensor<T, Dev>(o.f_tilde)), out.embedding, row0);
    } else {
      copy_rows(to_host(Tensor<T, Dev>(d.backbone(x))), out.backbone, row0);
    }
    out.labels.insert(out.labels.end(), b.labels.begin(), b.labels.end());
  }
  return out;
}

/// The backbone features f^b of network `d` for every image of `set` (see features_of).
template <class T, class Dev, class DNet>
eval::RowMatrixF backbone_features(DNet& d, const data::ImageSet& set, const data::Transform& t, int batch,
                                   std::vector<int>& labels) {
  Features f = features_of<T, Dev>(d, set, t, batch, false);
  labels = std::move(f.labels);
  return std::move(f.backbone);
}

/// The periodic validation of a run (validate_every): the EMA discriminator's f^b of the
/// validation images → spherical k-means accuracy (validate_kmeans_repeats repeats) and the
/// accuracy of a linear SVM trained on validate_svm_train_size images of the training part. Kept
/// cheap: f^b only, no NMI/ARI/kNN, and the SVM's training images fixed once.
class PeriodicValidation {
 public:
  explicit PeriodicValidation(const train::TrainConfig& c) : config_(c) {
    train::TrainValidationSplit s = train::load_train_validation(c);
    validation_ = std::move(s.validation);
    require(validation_.size() > 0, "train config: 'validate_every' needs held-out images ('validation_size' > 0)");
    svm_train_ = subsample(s.train, static_cast<std::size_t>(c.validate_svm_train_size),
                           static_cast<std::uint64_t>(c.seed) + 97);
    transform_ = train::test_transform_of(c, validation_.height, validation_.width);
    options_.run_knn = false;
    options_.svm.threads = 0;
    options_.svm.c = c.eval_svm_c;
    options_.kmeans.repeats = static_cast<int>(c.validate_kmeans_repeats);
    options_.kmeans.kmeans.seed = static_cast<std::uint64_t>(c.seed);
  }

  /// Validates network `d` (the trainer's EMA discriminator): the JSON of one log record's
  /// "validation" object.
  template <class T, class Dev, class DNet>
  nlohmann::json measure(DNet& d) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const int batch = static_cast<int>(config_.eval_batch);
    const Features tr = features_of<T, Dev>(d, svm_train_, transform_, batch, false);
    const Features va = features_of<T, Dev>(d, validation_, transform_, batch, false);
    const double feature_s = std::chrono::duration<double>(clock::now() - t0).count();
    const eval::Table1Row r = eval::evaluate_representation(tr.backbone, tr.labels, va.backbone, va.labels, options_);
    return {{"features", "f_b"},
            {"kmeans_accuracy_mean", r.kmeans_mean.value_or(-1)},
            {"kmeans_accuracy_std", r.kmeans_std.value_or(-1)},
            {"kmeans_repeats", r.kmeans_repeats},
            {"nmi", r.nmi.value_or(-1)},
            {"svm_accuracy", r.svm_accuracy.value_or(-1)},
            {"validation_images", validation_.size()},
            {"svm_train_images", svm_train_.size()},
            {"seconds", {{"features", feature_s}, {"kmeans", r.seconds_kmeans}, {"svm", r.seconds_svm}}}};
  }

 private:
  train::TrainConfig config_;
  data::ImageSet validation_, svm_train_;
  data::Transform transform_;
  eval::ProtocolOptions options_;
};

/// The Table 1 rows (SPEC §6) of the EMA discriminator and of the untrained one (same seed), for
/// f^b and (eval_embedding) f̃, on the test split; and the trained network's rows on the validation
/// images when the run held some out (validation_size): the figures choices are made on. The
/// untrained network chooses nothing, so it is not measured there (its features of the validation
/// images, k-means and kNN cost the main job ~15 s). The linear SVM is trained once per network
/// and feature on eval_svm_train_size images of the training part (never a validation image) and
/// scored on both splits. Printed, with a t-SNE plot of the trained test f^b, and written to
/// OUTPUT/eval.json: "validation" and "test" each {"images", "rows"}; "rows" repeats the test rows
/// (trained f^b first, untrained f^b second, as eval.json always had them).
template <class T, class Dev, class Trainer>
nlohmann::json evaluate_run(Trainer& trainer, std::ostream& os = std::cout) {
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  const auto t0 = clock::now();
  const train::TrainConfig& c = trainer.config();
  const data::ImageSet test = train::load_split(c, data::Split::test);
  const train::TrainValidationSplit split = train::load_train_validation(c);
  const data::ImageSet& validation = split.validation;
  const bool validating = validation.size() > 0;
  const data::ImageSet train_set = subsample(split.train, static_cast<std::size_t>(c.eval_svm_train_size),
                                             static_cast<std::uint64_t>(c.seed) + 99);
  const data::Transform tt = train::test_transform_of(c, test.height, test.width);
  const int batch = static_cast<int>(c.eval_batch);

  eval::ProtocolOptions po;
  po.kmeans.repeats = static_cast<int>(c.eval_kmeans_repeats);
  po.svm.threads = 0;
  po.svm.c = c.eval_svm_c;
  eval::ProtocolOptions no_svm = po;  // the SVM is trained once per network and feature, scored on both splits
  no_svm.run_svm = false;

  struct Row {
    int network;  // 0 trained, 1 untrained
    int feature;  // 0 f^b, 1 f~
    eval::Table1Row validation, test;
    double seconds_features = 0;
  };
  std::vector<Row> rows;
  // Only the trained network is measured on the validation images: the untrained one chooses nothing.
  auto measured_on_validation = [&](int network) { return validating && network == 0; };
  nlohmann::json report;
  auto evaluate = [&](auto& d, int network, const std::string& name) {
    const auto te = clock::now();
    const Features ftr = features_of<T, Dev>(d, train_set, tt, batch, c.eval_embedding);
    const bool on_validation = measured_on_validation(network);
    const Features fva = on_validation ? features_of<T, Dev>(d, validation, tt, batch, c.eval_embedding) : Features{};
    const Features fte = features_of<T, Dev>(d, test, tt, batch, c.eval_embedding);
    const double feat_s = seconds_since(te);
    for (int feature = 0; feature < (c.eval_embedding ? 2 : 1); ++feature) {
      auto pick = [&](const Features& f) -> const eval::RowMatrixF& { return feature == 0 ? f.backbone : f.embedding; };
      Row row{network, feature, {}, {}, feat_s};
      const std::string row_name = name + (feature == 0 ? " f^b" : " f~");
      const auto ts = clock::now();
      const eval::LinearSvm svm = eval::train_linear_svm(pick(ftr), ftr.labels, po.svm);
      const double svm_s = seconds_since(ts);
      auto score = [&](const Features& f, eval::Table1Row& r) {
        r = eval::evaluate_representation(pick(ftr), ftr.labels, pick(f), f.labels, no_svm, row_name);
        r.svm_accuracy = eval::accuracy(f.labels, eval::predict(svm, pick(f)));
        r.seconds_svm = svm_s;
      };
      if (on_validation) score(fva, row.validation);
      score(fte, row.test);
      rows.push_back(std::move(row));
    }
    if (network == 0 && c.eval_tsne_points > 0 && std::min<Eigen::Index>(fte.backbone.rows(), c.eval_tsne_points) >= 4) {
      const Eigen::Index n = std::min<Eigen::Index>(fte.backbone.rows(), c.eval_tsne_points);  // t-SNE needs 4 points
      const eval::RowMatrixF sub = fte.backbone.topRows(n);
      const std::vector<int> ysub(fte.labels.begin(), fte.labels.begin() + n);
      eval::TsneOptions to;
      to.seed = static_cast<std::uint64_t>(c.seed);
      // t-SNE needs perplexity < N (3·perplexity neighbours): a small plot gets a smaller one.
      to.perplexity = std::min(to.perplexity, std::max(1.0, static_cast<double>(n - 1) / 3.0));
      const auto xy = eval::tsne(sub, to);
      eval::ScatterOptions so;
      so.title = "t-SNE of " + name + " f^b (" + std::to_string(n) + " test images)";
      so.class_names = test.class_names;
      const std::string path = (std::filesystem::path(c.output_dir) / "tsne.png").string();
      io::write_png(path, eval::render_label_scatter(xy, ysub, so));
      report["tsne_png"] = path;
    }
  };
  evaluate(trainer.ema_discriminator(), 0, "EMA D (trained)");
  if (c.eval_random_baseline) {
    Rng rng = train::run_rng(c);
    auto d0 = train::make_image_discriminator<T, Dev>(c, test.channels, static_cast<index_t>(test.class_names.size()), rng);
    evaluate(d0, 1, "untrained (seed " + std::to_string(c.seed) + ")");
  }
  // f^b rows first (trained, untrained), then f~: rows[0] and rows[1] mean what they always did.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.feature < b.feature; });

  auto rows_json = [&](bool on_validation) {
    nlohmann::json a = nlohmann::json::array();
    for (const Row& r : rows) {
      if (on_validation && !measured_on_validation(r.network)) continue;
      nlohmann::json j = (on_validation ? r.validation : r.test).to_json();
      j["network"] = r.network == 0 ? "trained" : "untrained";
      j["features"] = r.feature == 0 ? "f_b" : "f_tilde";
      j["split"] = on_validation ? "validation" : "test";
      j["seconds_features"] = r.seconds_features;
      a.push_back(std::move(j));
    }
    return a;
  };
  if (validating) {
    report["validation"] = {{"images", validation.size()},
                            {"validation_size", c.validation_size},
                            {"validation_seed", c.validation_seed},
                            {"rows", rows_json(true)}};
  } else {
    report["validation"] = nullptr;
  }
  report["test"] = {{"images", test.size()}, {"rows", rows_json(false)}};
  report["rows"] = report["test"]["rows"];  // eval.json's older layout: the test rows
  report["svm_train_images"] = train_set.size();
  report["training_images"] = split.train.size();
  report["validation_images"] = validation.size();
  report["test_images"] = test.size();
  report["iterations"] = trainer.iteration();  // of the state evaluated (eval_checkpoint)
  report["eval_checkpoint"] = c.eval_checkpoint;
  report["seconds"] = seconds_since(t0);
  report["build"] = build_info();  // which build produced these figures

  auto print = [&](bool on_validation) {
    std::vector<eval::Table1Row> table;
    for (const Row& r : rows)
      if (!on_validation || measured_on_validation(r.network)) table.push_back(on_validation ? r.validation : r.test);
    eval::print_table(os, table);
    char line[256];
    for (const auto& r : table) {
      std::snprintf(line, sizeof line, "  %-34s k-means acc %.4f ± %.4f   linear SVM acc %.4f\n", r.name.c_str(),
                    r.kmeans_mean.value_or(-1), r.kmeans_std.value_or(-1), r.svm_accuracy.value_or(-1));
      os << line;
    }
  };
  const std::string svm_text = std::to_string(train_set.size()) +
                               (train_set.size() < split.train.size() ? " images subsampled from" : " images of") +
                               " the " + std::to_string(split.train.size()) + " training images";
  if (validating) {
    os << "\nValidation (" << validation.size() << " images held out of the " << c.dataset
       << " train split, never trained on; linear SVM trained on " << svm_text << "):\n";
    print(true);
  }
  os << "\nTest split (" << test.size() << " images of " << c.dataset << "; linear SVM trained on " << svm_text
     << (validating ? "; the final report: choose on the validation figures" : "") << "):\n";
  print(false);
  // Atomically: a crash or a full disk never leaves half an eval.json.
  io::write_file_atomically((std::filesystem::path(c.output_dir) / "eval.json").string(), report.dump(2) + "\n");
  return report;
}

}  // namespace structgan::examples
