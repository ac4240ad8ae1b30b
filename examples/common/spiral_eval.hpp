#pragma once
/// \file Shared by the double-spiral example and its test: the EMA discriminator's embedding of
/// held-out points, how well a linear SVM separates the two spirals in it, and the paper's
/// Figure 2 plots (data, generated samples, t-SNE of the embedding by class and by a 2-D palette).
#include <filesystem>
#include <string>
#include <vector>

#include "structgan/eval/plot.hpp"
#include "structgan/eval/svm.hpp"
#include "structgan/eval/tsne.hpp"
#include "structgan/io/png.hpp"
#include "structgan/train/all.hpp"

namespace structgan::examples {

/// Held-out spiral points (a seed the training batches never use).
inline data::PointSet heldout_spiral(const train::TrainConfig& c, std::size_t n) {
  data::SpiralOptions o;
  o.noise = c.spiral_noise;
  return data::make_double_spiral(n, static_cast<std::uint64_t>(c.seed) * 7919u + 0xC0FFEEu, o);
}

/// f^b (or, with `head`, f̃) of network d for every point, N×width.
template <class T, class Dev, class DNet>
eval::RowMatrixF point_features(DNet& d, const Eigen::MatrixXf& points, bool head = false) {
  Tensor<T, Cpu> x(Shape{points.rows(), 2});
  for (Eigen::Index i = 0; i < points.rows(); ++i) {
    x.at(i, 0) = static_cast<T>(points(i, 0));
    x.at(i, 1) = static_cast<T>(points(i, 1));
  }
  NoGradGuard no_grad;
  const Tensor<T, Dev> xd = to_device<Dev>(x);
  const Tensor<T, Cpu> f = to_host(head ? Tensor<T, Dev>(d.embed(xd)) : Tensor<T, Dev>(d.backbone(xd)));
  eval::RowMatrixF out(f.dim(0), f.dim(1));
  for (index_t i = 0; i < f.dim(0); ++i)
    for (index_t j = 0; j < f.dim(1); ++j) out(i, j) = static_cast<float>(f.at(i, j));
  return out;
}

/// Linear-SVM accuracy on the second half of `p` after training on the first half, on features
/// `f` (rows aligned with p). The points alternate between the halves so both hold both spirals.
inline double split_half_svm_accuracy(const eval::RowMatrixF& f, const std::vector<int>& labels) {
  const Eigen::Index n = f.rows();
  eval::RowMatrixF a((n + 1) / 2, f.cols()), b(n / 2, f.cols());
  std::vector<int> ya, yb;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      a.row(i / 2) = f.row(i);
      ya.push_back(labels[static_cast<std::size_t>(i)]);
    } else {
      b.row(i / 2) = f.row(i);
      yb.push_back(labels[static_cast<std::size_t>(i)]);
    }
  }
  eval::SvmOptions o;
  o.threads = 1;
  return eval::svm_accuracy(a, ya, b, yb, o);
}

/// The paper's Figure 2 as four PNGs in `dir`: spiral_data.png (a), spiral_samples.png (b),
/// spiral_tsne_class.png (c), spiral_tsne_palette.png (d).
template <class T, class Tr>
void write_spiral_figures(Tr& trainer, const data::PointSet& p, const eval::RowMatrixF& features, const std::string& dir) {
  namespace fs = std::filesystem;
  eval::ScatterOptions so;
  so.class_names = {"spiral 0", "spiral 1"};
  so.title = "double spiral data";
  io::write_png((fs::path(dir) / "spiral_data.png").string(), eval::render_label_scatter(p.points, p.labels, so));
  Rng rng(static_cast<std::uint64_t>(trainer.config().seed) + 1);
  const Tensor<T, Cpu> z = randn<T>(Shape{static_cast<index_t>(p.size()), trainer.config().z_dim}, rng);
  io::write_png((fs::path(dir) / "spiral_samples.png").string(), train::render_points_over(trainer.generate(z), p.points));
  eval::TsneOptions to;
  to.seed = static_cast<std::uint64_t>(trainer.config().seed);
  const eval::RowMatrixD xy = eval::tsne(features, to);
  so.title = "t-SNE of the EMA D's f^b";
  io::write_png((fs::path(dir) / "spiral_tsne_class.png").string(), eval::render_label_scatter(xy, p.labels, so));
  eval::ScatterOptions sp;
  sp.title = "t-SNE coloured by position";
  io::write_png((fs::path(dir) / "spiral_tsne_palette.png").string(), eval::render_palette_scatter(xy, p.points, sp));
}

}  // namespace structgan::examples
