#pragma once
/// \file Shared by the training examples: features of a discriminator on an image set, and the
/// paper's Table 1 evaluation (SPEC §6) of the trained EMA discriminator beside the untrained one.
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

namespace structgan::examples {

/// The backbone features f^b of network `d` for every image of `set` (through transform `t`, in
/// order), as an N×width float matrix; `labels` receives the images' labels.
template <class T, class Dev, class DNet>
eval::RowMatrixF backbone_features(DNet& d, const data::ImageSet& set, const data::Transform& t, int batch,
                                   std::vector<int>& labels) {
  data::LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = false;
  lo.drop_last = false;
  data::BatchLoader loader(set, t, lo);
  eval::RowMatrixF out;
  labels.clear();
  NoGradGuard no_grad;
  for (std::size_t k = 0; k < loader.batches_per_epoch(); ++k) {
    const data::Batch b = loader.next();
    train::HostBatch hb;
    hb.x = b.images;
    hb.shape = Shape{b.n, b.c, b.h, b.w};
    const Tensor<T, Cpu> f = to_host(Tensor<T, Dev>(d.backbone(train::detail::to_tensor<T, Dev>(hb))));
    if (out.rows() == 0) out.resize(static_cast<Eigen::Index>(set.size()), f.dim(1));
    const Eigen::Index row0 = static_cast<Eigen::Index>(labels.size());
    for (index_t i = 0; i < f.dim(0); ++i)
      for (index_t j = 0; j < f.dim(1); ++j) out(row0 + i, j) = static_cast<float>(f.at(i, j));
    labels.insert(labels.end(), b.labels.begin(), b.labels.end());
  }
  return out;
}

/// The Table 1 rows of the EMA discriminator and of the untrained one (same seed), with a t-SNE
/// plot of the trained test features; printed and written to OUTPUT/eval.json.
template <class T, class Dev, class Trainer>
nlohmann::json evaluate_run(Trainer& trainer, std::ostream& os = std::cout) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const train::TrainConfig& c = trainer.config();
  const data::ImageSet test = train::load_split(c, data::Split::test);
  const data::ImageSet train_all = train::load_split(c, data::Split::train);
  const data::ImageSet train_set = subsample(train_all, static_cast<std::size_t>(c.eval_svm_train_size),
                                             static_cast<std::uint64_t>(c.seed) + 99);
  const data::Transform tt = train::test_transform_of(c, test.height, test.width);
  const int batch = static_cast<int>(c.eval_batch);

  eval::ProtocolOptions po;
  po.kmeans.repeats = static_cast<int>(c.eval_kmeans_repeats);
  po.svm.threads = 0;

  struct Net {
    std::string name;
    eval::Table1Row row;
  };
  std::vector<eval::Table1Row> rows;
  nlohmann::json report;
  auto evaluate = [&](auto& d, const std::string& name, bool plot) {
    const auto te = clock::now();
    std::vector<int> ytr, yte;
    const eval::RowMatrixF ftr = backbone_features<T, Dev>(d, train_set, tt, batch, ytr);
    const eval::RowMatrixF fte = backbone_features<T, Dev>(d, test, tt, batch, yte);
    const double feat_s = std::chrono::duration<double>(clock::now() - te).count();
    eval::Table1Row row = eval::evaluate_representation(ftr, ytr, fte, yte, po, name);
    rows.push_back(row);
    nlohmann::json j = row.to_json();
    j["seconds_features"] = feat_s;
    report["rows"].push_back(j);
    if (plot && c.eval_tsne_points > 0 && std::min<Eigen::Index>(fte.rows(), c.eval_tsne_points) >= 4) {  // t-SNE needs 4 points
      const Eigen::Index n = std::min<Eigen::Index>(fte.rows(), c.eval_tsne_points);
      const eval::RowMatrixF sub = fte.topRows(n);
      const std::vector<int> ysub(yte.begin(), yte.begin() + n);
      eval::TsneOptions to;
      to.seed = static_cast<std::uint64_t>(c.seed);
      // t-SNE needs perplexity < N (3·perplexity neighbours): a small plot gets a smaller one.
      to.perplexity = std::min(to.perplexity, std::max(1.0, static_cast<double>(n - 1) / 3.0));
      const auto xy = eval::tsne(sub, to);
      eval::ScatterOptions so;
      so.title = "t-SNE of " + name + " (" + std::to_string(n) + " test images)";
      so.class_names = test.class_names;
      const std::string path = (std::filesystem::path(c.output_dir) / "tsne.png").string();
      io::write_png(path, eval::render_label_scatter(xy, ysub, so));
      report["tsne_png"] = path;
    }
  };
  evaluate(trainer.ema_discriminator(), "EMA D backbone f^b (trained)", true);
  if (c.eval_random_baseline) {
    Rng rng = train::run_rng(c);
    auto d0 = train::make_image_discriminator<T, Dev>(c, test.channels, static_cast<index_t>(test.class_names.size()), rng);
    evaluate(d0, "same network untrained (seed " + std::to_string(c.seed) + ")", false);
  }
  report["svm_train_images"] = train_set.size();
  report["test_images"] = test.size();
  report["iterations"] = trainer.iteration();
  report["seconds"] = std::chrono::duration<double>(clock::now() - t0).count();
  report["build"] = build_info();  // which build produced these figures
  os << "\nEvaluation on the " << c.dataset << " test split (" << test.size() << " images; linear SVM trained on "
     << train_set.size() << (train_set.size() < train_all.size() ? " images subsampled from" : " images of") << " the train split):\n";
  eval::print_table(os, rows);
  char line[256];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "  %-48s k-means acc %.4f ± %.4f   linear SVM acc %.4f\n", r.name.c_str(),
                  r.kmeans_mean.value_or(-1), r.kmeans_std.value_or(-1), r.svm_accuracy.value_or(-1));
    os << line;
  }
  // Atomically: a crash or a full disk never leaves half an eval.json.
  io::write_file_atomically((std::filesystem::path(c.output_dir) / "eval.json").string(), report.dump(2) + "\n");
  return report;
}

}  // namespace structgan::examples
