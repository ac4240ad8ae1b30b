#pragma once
/// \file The objective's options as JSON (nlohmann_json; CMake target structgan::objectives).
///
/// Every field is optional and defaults to SPEC §5 (the released code); unknown keys and values
/// of the wrong type throw structgan::Error naming the key, so a typo cannot pass silently.
///
/// \code
///   auto o = objectives::options_from_json(nlohmann::json::parse(R"({"lambda_hinge": 4,
///              "jacobian_penalty": "absolute", "distance": "jsd", "ridge": 1e-3})"));
///   objectives::StructuralObjective<float> obj(o);
///   std::string text = objectives::options_to_json(o).dump(2);   // every field, for the run log
/// \endcode
///
/// | key | type | default | meaning |
/// |---|---|---|---|
/// | distance | "logdet" \| "jsd" \| "bhattacharyya" | "logdet" | the coarse scale (SPEC §2) |
/// | logdet_eps | number | 0.5 | eps of the logdet form |
/// | ridge | number | 1e-4 | ridge of JSD and Bhattacharyya |
/// | lambda_cluster | number | 3 | λ_c |
/// | lambda_smooth | number | 5 | λ_s (Jacobian penalty) |
/// | lambda_hinge | number | 20 | λ_h (norm hinge) |
/// | lambda_probe | number | 1 | weight of the probe's cross-entropy |
/// | knn_k | integer | 1 | K neighbours |
/// | skip_first_fake | bool | true | drop the first neighbour of generated samples too |
/// | knn_block_elements | integer | 2097152 | similarity block size of the search |
/// | bank_size | integer | 10240 | L, the memory bank's length |
/// | power_steps | integer | 1 | S, power-iteration steps |
/// | lip | number | 1 | the target Lipschitz constant |
/// | jacobian_penalty | "squared" \| "absolute" | "squared" | mean((σ−Lip)²) or mean\|σ−Lip\| |
/// | fuse_jacobian_pass | bool | true | D's outputs from the Jacobian's recorded dual pass |
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "structgan/objectives/structural_objective.hpp"

namespace structgan::objectives {

/// Every option as JSON (all keys present).
inline nlohmann::json options_to_json(const ObjectiveOptions& o) {
  return nlohmann::json{{"distance", to_string(o.distance.kind)},
                        {"logdet_eps", o.distance.eps},
                        {"ridge", o.distance.ridge},
                        {"lambda_cluster", o.lambda_cluster},
                        {"lambda_smooth", o.lambda_smooth},
                        {"lambda_hinge", o.lambda_hinge},
                        {"lambda_probe", o.lambda_probe},
                        {"knn_k", o.cluster.k},
                        {"skip_first_fake", o.cluster.skip_first_fake},
                        {"knn_block_elements", o.cluster.block_elements},
                        {"bank_size", o.bank_size},
                        {"power_steps", o.jacobian.steps},
                        {"lip", o.jacobian.lip},
                        {"jacobian_penalty", to_string(o.jacobian.penalty)},
                        {"fuse_jacobian_pass", o.fuse_jacobian_pass}};
}

/// Options from JSON: SPEC §5 defaults overridden by the keys present (see the table above).
/// Throws structgan::Error on an unknown key, a value of the wrong type or out of range.
inline ObjectiveOptions options_from_json(const nlohmann::json& j, ObjectiveOptions o = {}) {
  require(j.is_object(), "objective options: expected a JSON object, got ", j.type_name());
  for (const auto& item : j.items()) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang rejects it).
    const std::string key = item.key();
    const nlohmann::json& v = item.value();
    auto number = [&, k = key](double lo) {
      require(v.is_number(), "objective options: '", k, "' must be a number, got ", v.type_name());
      const double x = v.get<double>();
      require(std::isfinite(x) && x >= lo, "objective options: '", k, "' = ", x, " must be finite and ≥ ", lo);
      return x;
    };
    auto integer = [&, k = key](index_t lo, index_t hi = std::numeric_limits<index_t>::max()) {
      require(v.is_number_integer(), "objective options: '", k, "' must be an integer, got ", v.dump());
      // Range-checked before any conversion: a huge value must not wrap into the valid range.
      require(v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                                     : v.get<index_t>() >= lo && v.get<index_t>() <= hi,
              "objective options: '", k, "' = ", v.dump(), " must be in [", lo, ", ", hi, "]");
      const index_t x = v.get<index_t>();
      require(x >= lo, "objective options: '", k, "' = ", x, " must be ≥ ", lo);
      return x;
    };
    auto boolean = [&, k = key]() {
      require(v.is_boolean(), "objective options: '", k, "' must be true or false, got ", v.dump());
      return v.get<bool>();
    };
    auto text = [&, k = key]() {
      require(v.is_string(), "objective options: '", k, "' must be a string, got ", v.dump());
      return v.get<std::string>();
    };
    if (key == "distance") o.distance.kind = gaussian_distance_from_string(text());
    else if (key == "logdet_eps") o.distance.eps = number(1e-300);
    else if (key == "ridge") o.distance.ridge = number(0);
    else if (key == "lambda_cluster") o.lambda_cluster = number(-1e300);
    else if (key == "lambda_smooth") o.lambda_smooth = number(-1e300);
    else if (key == "lambda_hinge") o.lambda_hinge = number(-1e300);
    else if (key == "lambda_probe") o.lambda_probe = number(-1e300);
    else if (key == "knn_k") o.cluster.k = integer(1);
    else if (key == "skip_first_fake") o.cluster.skip_first_fake = boolean();
    else if (key == "knn_block_elements") o.cluster.block_elements = integer(1);
    else if (key == "bank_size") o.bank_size = integer(1);
    else if (key == "power_steps") o.jacobian.steps = static_cast<int>(integer(1, std::numeric_limits<int>::max()));
    else if (key == "lip") o.jacobian.lip = number(-1e300);
    else if (key == "jacobian_penalty") o.jacobian.penalty = jacobian_penalty_from_string(text());
    else if (key == "fuse_jacobian_pass") o.fuse_jacobian_pass = boolean();
    else fail("objective options: unknown key '", key, "'");
  }
  return o;
}

}  // namespace structgan::objectives
