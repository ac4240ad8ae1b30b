#pragma once
/// \file The validation curve of a run: the periodic validation records of its log.jsonl
/// (validate_every; train::validation_record) read back, and drawn as a PNG of validation k-means
/// and SVM accuracy against training wall time. Shared by the training examples (OUTPUT/validation.png
/// at the end of a run) and `structgan-eval --plot-log`.
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/core/error.hpp"
#include "structgan/eval/plot.hpp"
#include "structgan/io/png.hpp"

namespace structgan::examples {

/// One periodic validation of a run.
struct ValidationPoint {
  std::int64_t iteration = 0;
  double wall_s = 0;        ///< training wall time (validations left out), summed over the run's sessions
  double total_wall_s = 0;  ///< the same with the validations
  double kmeans = 0, kmeans_std = 0, svm = 0;
};

/// The validation records of a log.jsonl, in order. A resumed run's session starts its clock
/// afresh: its times are offset by the previous session's last record, so the curve runs on
/// (it leaves out the previous session's time between that record and its checkpoint). Lines
/// that are not validation records are skipped; a line that is not JSON, or a validation record
/// without its fields, throws structgan::Error naming the line.
inline std::vector<ValidationPoint> read_validation_log(const std::string& path) {
  std::ifstream in(path);
  require(static_cast<bool>(in), "validation curve: cannot open '", path, "'");
  std::vector<ValidationPoint> out;
  double offset = 0, offset_total = 0, last = 0, last_total = 0;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    require(j.is_object(), "validation curve: '", path, "' line ", n, " is not a JSON object");
    if (j.contains("start_iteration")) {  // a session starts: its clock from 0
      offset = last;
      offset_total = last_total;
      continue;
    }
    if (!j.contains("validation")) continue;
    const nlohmann::json& v = j["validation"];
    auto number = [&](const nlohmann::json& o, const char* key) {
      require(o.is_object() && o.contains(key) && o[key].is_number(), "validation curve: '", path, "' line ", n,
              ": the validation record has no number '", key, "'");
      return o[key].get<double>();
    };
    ValidationPoint p;
    p.iteration = static_cast<std::int64_t>(number(j, "iteration"));
    p.wall_s = offset + number(j, "wall_s");
    p.total_wall_s = offset_total + number(j, "total_wall_s");
    p.kmeans = number(v, "kmeans_accuracy_mean");
    p.kmeans_std = number(v, "kmeans_accuracy_std");
    p.svm = number(v, "svm_accuracy");
    last = p.wall_s;
    last_total = p.total_wall_s;
    out.push_back(p);
  }
  return out;
}

/// The curve as an image: validation k-means and SVM accuracy against training wall time in minutes.
inline Image render_validation_curve(const std::vector<ValidationPoint>& points, const std::string& title = "") {
  require(!points.empty(), "validation curve: no validation records (train with validate_every > 0)");
  eval::LineSeries km{"k-means (validation)", {}, {}}, svm{"linear SVM (validation)", {}, {}};
  for (const ValidationPoint& p : points) {
    km.x.push_back(p.wall_s / 60.0);
    km.y.push_back(p.kmeans);
    svm.x.push_back(p.wall_s / 60.0);
    svm.y.push_back(p.svm);
  }
  eval::LineChartOptions o;
  o.title = title;
  o.x_label = "training wall time (min)";
  o.y_label = "accuracy";
  return eval::render_line_chart({km, svm}, o);
}

/// Reads `log_path`'s validation records and writes their curve to `png_path`; returns how many points.
inline std::size_t write_validation_curve(const std::string& log_path, const std::string& png_path,
                                          const std::string& title = "") {
  const std::vector<ValidationPoint> points = read_validation_log(log_path);
  require(!points.empty(), "validation curve: '", log_path,
          "' holds no validation records (train with validate_every > 0 and validation_size > 0)");
  io::write_png(png_path, render_validation_curve(points, title));
  return points.size();
}

}  // namespace structgan::examples
