// structgan-eval: the paper's Table 1 protocol (SPEC §6) on feature files.
//
//   structgan-eval --train-features a.npy --train-labels a_labels.npy
//                  --test-features b.npy --test-labels b_labels.npy [--json out.json] [--plots DIR]
//                  [--repeats 20] [--svm-c 1.0]
//
// Prints the Table 1 row (SVM accuracy, k-means mean (std) over the repeats, NMI, ARI, weighted kNN accuracy),
// writes it as JSON, and with --plots writes t-SNE scatter plots of the test features.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "structgan/eval/eval.hpp"

namespace ev = structgan::eval;

int main(int argc, char** argv) {
  CLI::App app{"structgan-eval: linear SVM, 20x spherical k-means, NMI, ARI and kNN on feature files (SPEC §6)"};
  std::string train_x, train_y, test_x, test_y, json_path, plots_dir, palette_ref, name = "features";
  ev::ProtocolOptions o;
  bool no_svm = false, no_kmeans = false, no_knn = false;
  int threads = 0, tsne_points = 10000, tsne_iterations = 1000;
  std::uint64_t seed = 0;
  app.add_option("--train-features", train_x, "training features, N×D float32/float64 .npy")->required()->check(CLI::ExistingFile);
  app.add_option("--train-labels", train_y, "training labels: int .npy or text, one per line")->required()->check(CLI::ExistingFile);
  app.add_option("--test-features", test_x, "test features, M×D .npy")->required()->check(CLI::ExistingFile);
  app.add_option("--test-labels", test_y, "test labels")->required()->check(CLI::ExistingFile);
  app.add_option("--json", json_path, "write the row as JSON here");
  app.add_option("--plots", plots_dir, "write t-SNE PNGs of the test features into this folder");
  app.add_option("--palette-reference", palette_ref, "M×2 .npy: colour the t-SNE points by this 2-D layout (Fig. 2d)")
      ->check(CLI::ExistingFile);
  app.add_option("--name", name, "row name in the table and JSON");
  app.add_option("--repeats", o.kmeans.repeats, "k-means repetitions")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--restarts", o.kmeans.kmeans.restarts, "k-means++ starts per repetition")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--svm-c", o.svm.c, "SVM cost C")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--knn-k", o.knn.k, "kNN neighbours")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--knn-t", o.knn.temperature, "kNN temperature")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "threads (0 = all)")->capture_default_str();
  app.add_option("--seed", seed, "seed of k-means and of the t-SNE subsample")->capture_default_str();
  app.add_option("--tsne-points", tsne_points, "at most this many test points in the t-SNE plots")
      ->capture_default_str()->check(CLI::Range(4, 10000));
  app.add_option("--tsne-iterations", tsne_iterations, "t-SNE iterations")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--no-svm", no_svm, "skip the SVM");
  app.add_flag("--no-kmeans", no_kmeans, "skip k-means (and NMI/ARI)");
  app.add_flag("--no-knn", no_knn, "skip kNN");
  CLI11_PARSE(app, argc, argv);

  try {
    o.run_svm = !no_svm;
    o.run_kmeans = !no_kmeans;
    o.run_knn = !no_knn;
    o.svm.threads = o.kmeans.kmeans.threads = o.knn.threads = threads;
    o.kmeans.kmeans.seed = seed;
    const ev::RowMatrixF trx = ev::read_npy_matrix<float>(train_x);
    const std::vector<int> try_ = ev::read_labels(train_y);
    const ev::RowMatrixF tex = ev::read_npy_matrix<float>(test_x);
    const std::vector<int> tey = ev::read_labels(test_y);
    const ev::Table1Row row = ev::evaluate_representation(trx, try_, tex, tey, o, name);
    ev::print_table(std::cout, {row});
    if (!json_path.empty()) {
      const std::string text = row.to_json().dump(2) + "\n";
      ev::detail::write_file_atomically(json_path, [&](std::FILE* f, const std::string& tmp) {
        ev::detail::fwrite_all(f, text.data(), text.size(), tmp);
      });
      std::cout << "wrote " << json_path << "\n";
    }
    if (!plots_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(plots_dir, ec);
      structgan::require(!ec, "cannot create plot folder '", plots_dir, "': ", ec.message());
      // a seeded subsample of at most tsne_points test rows
      std::vector<Eigen::Index> idx(static_cast<std::size_t>(tex.rows()));
      for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<Eigen::Index>(i);
      ev::detail::Rng rng(ev::detail::derive_seed(seed, 7));
      for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
      idx.resize(std::min<std::size_t>(idx.size(), static_cast<std::size_t>(tsne_points)));
      std::sort(idx.begin(), idx.end());
      ev::RowMatrixF sub(static_cast<Eigen::Index>(idx.size()), tex.cols());
      std::vector<int> sub_y(idx.size());
      for (std::size_t i = 0; i < idx.size(); ++i) {
        sub.row(static_cast<Eigen::Index>(i)) = tex.row(idx[i]);
        sub_y[i] = tey[static_cast<std::size_t>(idx[i])];
      }
      ev::TsneOptions to;
      to.threads = threads;
      to.iterations = tsne_iterations;
      to.perplexity = std::min(30.0, (static_cast<double>(sub.rows()) - 1.0) / 3.0);
      const ev::RowMatrixD xy = ev::tsne(ev::detail::normalized_rows<float>(sub), to);
      const std::string base = (std::filesystem::path(plots_dir) / "tsne").string();
      ev::write_npy(base + ".npy", xy);
      ev::ScatterOptions so;
      so.title = name + " T-SNE";
      so.point_radius = sub.rows() > 3000 ? 1 : 2;
      ev::write_label_scatter_png(base + "_labels.png", xy, sub_y, so);
      std::cout << "wrote " << base << "_labels.png\n";
      if (!palette_ref.empty()) {
        const ev::RowMatrixD ref = ev::read_npy_matrix<double>(palette_ref);
        structgan::require(ref.rows() == tex.rows() && ref.cols() == 2, "--palette-reference: expected ", tex.rows(),
                           "x2, got ", ref.rows(), "x", ref.cols());
        ev::RowMatrixD sub_ref(static_cast<Eigen::Index>(idx.size()), 2);
        for (std::size_t i = 0; i < idx.size(); ++i) sub_ref.row(static_cast<Eigen::Index>(i)) = ref.row(idx[i]);
        ev::write_palette_scatter_png(base + "_palette.png", xy, sub_ref, so);
        std::cout << "wrote " << base << "_palette.png\n";
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "structgan-eval: " << e.what() << "\n";
    return 1;
  }
}
