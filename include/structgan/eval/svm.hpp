#pragma once
/// \file Linear SVM on L2-normalized features with LIBLINEAR (SPEC §6, the paper's Table 1 "SVM").
/// Needs liblinear (link the structgan::eval target, which adds -llinear).
#include <linear.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/eval/detail/common.hpp"
#include "structgan/eval/metrics.hpp"

namespace structgan::eval {

/// Which of LIBLINEAR's two solvers minimizes the SVM's objective. Both minimize the same strictly
/// convex function (L2-regularized squared hinge), so they reach the same classifier up to `eps`; they
/// differ in cost. Dual coordinate descent (solver 1) needs more passes over the data as C grows;
/// trust-region Newton on the primal (solver 2) costs a few passes per Newton step whatever C is.
/// Measured (docs/evaluation.md): primal 1.7–2× faster on the main job's 50,000×256 features at
/// C = 10, 12% slower on 60,000×512 synthetic features at C = 1.
enum class SvmSolver {
  dual,       ///< LIBLINEAR solver 1: LinearSVC(dual=True)
  primal,     ///< LIBLINEAR solver 2: LinearSVC(dual=False)
  automatic,  ///< primal when samples outnumber features, else dual: LinearSVC(dual="auto") of scikit-learn ≥ 1.3
};

/// Options of the linear SVM. Defaults are scikit-learn LinearSVC's: L2-regularized squared hinge,
/// C = 1, tol 1e-4, intercept as a feature of value 1, and the solver its dual="auto" picks.
struct SvmOptions {
  double c = 1.0;          ///< cost C
  double eps = 1e-4;       ///< LIBLINEAR's stopping tolerance (its own default: 0.1 dual, 0.01 primal), as LinearSVC's tol
  SvmSolver solver = SvmSolver::automatic;
  double bias = 1.0;       ///< value of the appended intercept feature; < 0 = no intercept
  bool normalize = true;   ///< L2-normalize rows of train and test features (SPEC §6)
  int threads = 0;         ///< one-vs-rest classifiers trained in parallel (0 = OpenMP's maximum). The dual
                           ///< solver's coordinate order comes from LIBLINEAR's shared rand(), so its last digits
                           ///< depend on scheduling (threads > 1) and on earlier calls; the primal one draws nothing.
};

/// The name of a solver ("dual", "primal", "auto") and back (throws on an unknown name).
inline const char* to_string(SvmSolver s) {
  switch (s) {
    case SvmSolver::dual: return "dual";
    case SvmSolver::primal: return "primal";
    case SvmSolver::automatic: return "auto";
  }
  return "?";
}
inline SvmSolver svm_solver_from_string(const std::string& s) {
  if (s == "dual") return SvmSolver::dual;
  if (s == "primal") return SvmSolver::primal;
  if (s == "auto") return SvmSolver::automatic;
  fail("svm solver: unknown solver '", s, "' (expected dual, primal or auto)");
}

/// The solver `train_linear_svm` runs for `solver` on `samples` rows of `features` entries.
inline SvmSolver resolve_solver(SvmSolver solver, Eigen::Index samples, Eigen::Index features) {
  if (solver != SvmSolver::automatic) return solver;
  return samples > features ? SvmSolver::primal : SvmSolver::dual;
}

/// A trained one-vs-rest linear classifier: score_k(x) = w_k·x + b_k, prediction = argmax_k.
struct LinearSvm {
  RowMatrixD weights;          ///< K×D (one row per class; a two-class problem stores +w and −w)
  Eigen::VectorXd intercepts;  ///< K
  std::vector<int> classes;    ///< the label of each row, sorted
  bool normalize = true;       ///< inputs are L2-normalized before scoring
};

namespace detail {
inline void liblinear_silent(const char*) {}

// Dense rows in LIBLINEAR's sparse format (all entries, then the bias feature, then the -1 terminator).
struct LiblinearProblem {
  std::vector<feature_node> nodes;
  std::vector<feature_node*> rows;
};
// Writes the rows of x (divided by max(‖row‖₂, 1e-12) when `normalize`, computed in double exactly as
// normalized_rows<double>) straight into LIBLINEAR's nodes: no N×D double copy, rows filled in parallel.
template <class Derived>
LiblinearProblem liblinear_rows(const Eigen::MatrixBase<Derived>& x, double bias, bool normalize, int threads) {
  const Eigen::Index n = x.rows(), d = x.cols();
  const Eigen::Index per = d + (bias >= 0.0 ? 1 : 0) + 1;
  LiblinearProblem p;
  p.nodes.resize(static_cast<std::size_t>(n * per));
  p.rows.resize(static_cast<std::size_t>(n));
  constexpr Eigen::Index block = 512;
  parallel_for((n + block - 1) / block, threads, [&](std::int64_t b) {
    Eigen::VectorXd row(d);
    for (Eigen::Index i = b * block; i < std::min(n, (b + 1) * block); ++i) {
      row = x.row(i).transpose().template cast<double>();
      if (normalize) row /= std::max(row.norm(), 1e-12);
      feature_node* out = p.nodes.data() + i * per;
      p.rows[static_cast<std::size_t>(i)] = out;
      Eigen::Index t = 0;
      for (Eigen::Index j = 0; j < d; ++j) out[t++] = feature_node{static_cast<int>(j + 1), row[j]};
      if (bias >= 0.0) out[t++] = feature_node{static_cast<int>(d + 1), bias};
      out[t] = feature_node{-1, 0.0};
    }
  });
  return p;
}
}  // namespace detail

/// Trains the one-vs-rest linear SVM (SPEC §6) with LIBLINEAR's L2R_L2LOSS_SVC_DUAL solver, LIBLINEAR's
/// printing silenced. Requires: x N×D finite, labels.size() == N, at least two distinct labels, C > 0.
/// Returns the weights in the original label ids. Throws structgan::Error.
/// \code
///   structgan::eval::LinearSvm svm = structgan::eval::train_linear_svm(train_x, train_y);
/// \endcode
template <class Derived>
LinearSvm train_linear_svm(const Eigen::MatrixBase<Derived>& x, const std::vector<int>& labels,
                           const SvmOptions& options = {}) {
  detail::require_features(x, "train_linear_svm", "features");
  detail::require_labels(labels, x.rows(), "train_linear_svm", "labels");
  require(options.c > 0.0 && std::isfinite(options.c), "train_linear_svm: C must be > 0, got ", options.c);
  require(options.eps > 0.0 && std::isfinite(options.eps), "train_linear_svm: eps must be > 0, got ", options.eps);
  require(x.rows() < (std::int64_t{1} << 31) && x.cols() < (std::int64_t{1} << 31) - 2,
          "train_linear_svm: too many rows or columns for LIBLINEAR");
  const detail::CompactLabels cl = detail::compact_labels(labels);
  const int k = static_cast<int>(cl.classes.size());
  require(k >= 2, "train_linear_svm: need at least two classes, got ", k);
  const Eigen::Index n = x.rows(), d = x.cols();
  const int threads = detail::resolve_threads(options.threads);
  const detail::LiblinearProblem rows = detail::liblinear_rows(x, options.bias, options.normalize, threads);
  set_print_string_function(&detail::liblinear_silent);

  LinearSvm svm;
  svm.classes = cl.classes;
  svm.normalize = options.normalize;
  svm.weights.setZero(k, d);
  svm.intercepts.setZero(k);
  const bool primal = resolve_solver(options.solver, n, d) == SvmSolver::primal;
  // Two classes: one binary problem (as LIBLINEAR and LinearSVC); more: one problem per class.
  const int problems = k == 2 ? 1 : k;
  // The problems share the feature nodes (read only); each has its own ±1 labels.
  detail::parallel_for(problems, threads, [&](std::int64_t cls) {
    std::vector<double> y(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i)
      y[static_cast<std::size_t>(i)] = cl.index[static_cast<std::size_t>(i)] == static_cast<int>(cls) ? 1.0 : -1.0;
    problem prob{};
    prob.l = static_cast<int>(n);
    prob.n = static_cast<int>(d + (options.bias >= 0.0 ? 1 : 0));
    prob.y = y.data();
    prob.x = const_cast<feature_node**>(rows.rows.data());  // LIBLINEAR only reads them
    prob.bias = options.bias;
    parameter param{};
    param.solver_type = primal ? L2R_L2LOSS_SVC : L2R_L2LOSS_SVC_DUAL;
    param.eps = options.eps;
    param.C = options.c;
    if (const char* msg = check_parameter(&prob, &param)) fail("train_linear_svm: LIBLINEAR rejected the problem: ", msg);
    std::unique_ptr<model, void (*)(model*)> m(::train(&prob, &param), [](model* p) { free_and_destroy_model(&p); });  // ::train: LIBLINEAR's, not namespace structgan::train
    require(m != nullptr, "train_linear_svm: LIBLINEAR returned no model");
    // A binary LIBLINEAR model scores its first-seen label positively.
    const double sign = m->label[0] == 1 ? 1.0 : -1.0;
    Eigen::VectorXd w(d);
    for (Eigen::Index j = 0; j < d; ++j) w[j] = sign * m->w[j];
    const double b = options.bias >= 0.0 ? sign * m->w[d] * options.bias : 0.0;
    svm.weights.row(cls) = w.transpose();
    svm.intercepts[cls] = b;
    if (problems == 1) {
      svm.weights.row(1) = -w.transpose();
      svm.intercepts[1] = -b;
    }
  });
  return svm;
}

/// Predicted labels of x (M×D, D as in training): argmax of the class scores (ties: smallest label).
template <class Derived>
std::vector<int> predict(const LinearSvm& svm, const Eigen::MatrixBase<Derived>& x) {
  detail::require_features(x, "predict(LinearSvm)", "features");
  require(x.cols() == svm.weights.cols(), "predict(LinearSvm): features have D=", x.cols(), " but the model has D=",
          svm.weights.cols());
  const RowMatrixD xd = svm.normalize ? detail::normalized_rows<double>(x) : RowMatrixD(x.template cast<double>());
  RowMatrixD scores = xd * svm.weights.transpose();
  scores.rowwise() += svm.intercepts.transpose();
  std::vector<int> out(static_cast<std::size_t>(x.rows()));
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    Eigen::Index best = 0;
    scores.row(i).maxCoeff(&best);
    out[static_cast<std::size_t>(i)] = svm.classes[static_cast<std::size_t>(best)];
  }
  return out;
}

/// Table 1 SVM accuracy (SPEC §6): train on the training split, fraction of correct test predictions.
template <class D1, class D2>
double svm_accuracy(const Eigen::MatrixBase<D1>& train_x, const std::vector<int>& train_labels,
                    const Eigen::MatrixBase<D2>& test_x, const std::vector<int>& test_labels,
                    const SvmOptions& options = {}) {
  detail::require_labels(test_labels, test_x.rows(), "svm_accuracy", "test labels");
  const LinearSvm svm = train_linear_svm(train_x, train_labels, options);
  return accuracy(test_labels, predict(svm, test_x));
}

}  // namespace structgan::eval
