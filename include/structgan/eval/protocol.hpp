#pragma once
/// \file The paper's Table 1 row from feature matrices (SPEC §6): SVM accuracy, k-means accuracy mean (std)
/// over 20 repeats, NMI, ARI, weighted kNN accuracy; JSON and a printed table.
#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"
#include "structgan/eval/kmeans.hpp"
#include "structgan/eval/metrics.hpp"
#include "structgan/eval/svm.hpp"

namespace structgan::eval {

/// Which parts of the protocol run, and their options (SPEC §6 defaults).
struct ProtocolOptions {
  bool run_svm = true;              ///< linear SVM trained on the train split, accuracy on the test split
  bool run_kmeans = true;           ///< repeated spherical k-means on the test split (also gives NMI and ARI)
  bool run_knn = true;              ///< weighted kNN, train split as the bank, test split as queries
  SvmOptions svm;
  KMeansProtocolOptions kmeans;     ///< repeats = 20, restarts = 5
  KnnOptions knn;                   ///< k = 20, T = 0.07
};

/// One row of Table 1. Accuracies, NMI and ARI are fractions in [0, 1]; absent when that part did not run.
struct Table1Row {
  std::string name;                         ///< e.g. "backbone f^b" or "head f~"
  long long train_samples = 0, test_samples = 0, dims = 0, classes = 0;
  std::optional<double> svm_accuracy;
  std::optional<double> kmeans_mean, kmeans_std;  ///< std: population (ddof 0) over the repeats
  std::optional<double> nmi, ari;                 ///< means over the k-means repeats
  std::optional<double> knn_accuracy;
  std::vector<double> kmeans_accuracies;          ///< one per repeat
  int kmeans_repeats = 0, kmeans_restarts = 0;
  double seconds_svm = 0.0, seconds_kmeans = 0.0, seconds_knn = 0.0;

  /// All fields as JSON (absent values are null).
  nlohmann::json to_json() const {
    auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"name", name},
            {"train_samples", train_samples},
            {"test_samples", test_samples},
            {"dims", dims},
            {"classes", classes},
            {"svm_accuracy", opt(svm_accuracy)},
            {"kmeans_accuracy_mean", opt(kmeans_mean)},
            {"kmeans_accuracy_std", opt(kmeans_std)},
            {"kmeans_accuracies", kmeans_accuracies},
            {"kmeans_repeats", kmeans_repeats},
            {"kmeans_restarts", kmeans_restarts},
            {"nmi", opt(nmi)},
            {"ari", opt(ari)},
            {"knn_accuracy", opt(knn_accuracy)},
            {"seconds", {{"svm", seconds_svm}, {"kmeans", seconds_kmeans}, {"knn", seconds_knn}}}};
  }
};

/// Evaluates a representation as in the paper's Table 1 (SPEC §6): given train/test feature matrices (N×D, one
/// sample per row; e.g. f^b or f̃ of the EMA discriminator) and their labels, runs the linear SVM (train → test),
/// the 20× k-means protocol on the test split (with NMI, ARI) and the weighted kNN (train bank → test).
/// This is the entry point for evaluating a checkpoint: extract the features, then call it.
/// Requires: both finite, same D, labels sized as the rows, ≥ 2 classes in the train labels.
/// Throws structgan::Error.
/// \code
///   structgan::eval::Table1Row row = structgan::eval::evaluate_representation(trx, try_, tex, tey, {}, "backbone");
///   structgan::eval::print_table(std::cout, {row});
/// \endcode
template <class D1, class D2>
Table1Row evaluate_representation(const Eigen::MatrixBase<D1>& train_features, const std::vector<int>& train_labels,
                                  const Eigen::MatrixBase<D2>& test_features, const std::vector<int>& test_labels,
                                  const ProtocolOptions& options = {}, const std::string& name = "") {
  detail::require_features(train_features, "evaluate_representation", "training features");
  detail::require_features(test_features, "evaluate_representation", "test features");
  detail::require_labels(train_labels, train_features.rows(), "evaluate_representation", "training labels");
  detail::require_labels(test_labels, test_features.rows(), "evaluate_representation", "test labels");
  require(train_features.cols() == test_features.cols(), "evaluate_representation: training features have D=",
          train_features.cols(), " but test features have D=", test_features.cols());
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  Table1Row row;
  row.name = name;
  row.train_samples = train_features.rows();
  row.test_samples = test_features.rows();
  row.dims = train_features.cols();
  row.classes = static_cast<long long>(detail::compact_labels(test_labels).classes.size());
  // float copies once (the SVM normalizes in double itself)
  const RowMatrixF train = train_features.template cast<float>();
  const RowMatrixF test = test_features.template cast<float>();
  if (options.run_svm) {
    const auto t0 = clock::now();
    row.svm_accuracy = svm_accuracy(train, train_labels, test, test_labels, options.svm);
    row.seconds_svm = seconds_since(t0);
  }
  if (options.run_kmeans) {
    const auto t0 = clock::now();
    const KMeansProtocolResult k = kmeans_protocol(test, test_labels, options.kmeans);
    row.seconds_kmeans = seconds_since(t0);
    row.kmeans_mean = k.accuracy_mean;
    row.kmeans_std = k.accuracy_std;
    row.nmi = k.nmi_mean;
    row.ari = k.ari_mean;
    row.kmeans_accuracies = k.accuracy;
    row.kmeans_repeats = k.repeats;
    row.kmeans_restarts = options.kmeans.kmeans.restarts;
  }
  if (options.run_knn) {
    const auto t0 = clock::now();
    row.knn_accuracy = knn_accuracy(train, train_labels, test, test_labels, options.knn);
    row.seconds_knn = seconds_since(t0);
  }
  return row;
}

/// Rows as a Markdown table: accuracies in percent with two decimals (k-means as "mean (std)"), NMI and ARI
/// with four; "-" where a part did not run.
inline std::string format_table(const std::vector<Table1Row>& rows) {
  auto pct = [](const std::optional<double>& v) {
    if (!v) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", 100.0 * *v);
    return std::string(b);
  };
  auto dec = [](const std::optional<double>& v) {
    if (!v) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", *v);
    return std::string(b);
  };
  std::vector<std::vector<std::string>> cells = {
      {"features", "train", "test", "D", "SVM", "k-means (std)", "NMI", "ARI", "kNN"}};
  for (const Table1Row& r : rows)
    cells.push_back({r.name.empty() ? "-" : r.name, std::to_string(r.train_samples), std::to_string(r.test_samples),
                     std::to_string(r.dims), pct(r.svm_accuracy),
                     r.kmeans_mean ? pct(r.kmeans_mean) + " (" + pct(r.kmeans_std) + ")" : "-", dec(r.nmi), dec(r.ari),
                     pct(r.knn_accuracy)});
  std::vector<std::size_t> width(cells[0].size(), 0);
  for (const auto& line : cells)
    for (std::size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], line[c].size());
  std::string out;
  for (std::size_t l = 0; l < cells.size(); ++l) {
    out += "|";
    for (std::size_t c = 0; c < width.size(); ++c) out += " " + cells[l][c] + std::string(width[c] - cells[l][c].size(), ' ') + " |";
    out += "\n";
    if (l == 0) {
      out += "|";
      for (std::size_t c = 0; c < width.size(); ++c) out += std::string(width[c] + 2, '-') + "|";
      out += "\n";
    }
  }
  return out;
}

/// Prints format_table(rows) to `os`.
inline void print_table(std::ostream& os, const std::vector<Table1Row>& rows) { os << format_table(rows); }

}  // namespace structgan::eval
