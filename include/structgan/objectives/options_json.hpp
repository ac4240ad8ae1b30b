#pragma once
/// \file The objective's options as typed keys (nlohmann_json; CMake target structgan::objectives):
/// one field list gives the JSON read and write, the validation and the documented table.
///
/// Every key is optional and defaults to SPEC §5 (the released code); unknown keys, values of the
/// wrong type and values out of range throw structgan::Error naming the key and its range, so a
/// typo or a negative weight cannot pass silently. `describe_options()` prints the table of keys
/// (docs/objectives.md holds a copy that a test compares).
///
/// \code
///   auto o = objectives::options_from_json(nlohmann::json::parse(R"({"lambda_hinge": 4,
///              "jacobian_penalty": "absolute", "distance": "jsd", "ridge": 1e-3})"));
///   objectives::StructuralObjective<float> obj(o);
///   std::string text = objectives::options_to_json(o).dump(2);   // every key, for the run log
/// \endcode
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "structgan/objectives/fields.hpp"
#include "structgan/objectives/structural_objective.hpp"

namespace structgan::objectives {

/// The keys of ObjectiveOptions (see fields.hpp): f(key, member) for each, in order. A key named
/// unlike its member names the member in its meaning.
template <class O, class F, class = std::enable_if_t<std::is_same_v<std::remove_const_t<O>, ObjectiveOptions>>>
void visit_fields(O& o, F&& f) {
  using fields::Key;
  using G = GaussianDistance;
  using P = JacobianPenalty;
  // Enum names in enumerator order (fields.hpp maps a name to the enumerator by its position).
  f(Key("distance", "the coarse scale, SPEC §2 (`distance.kind`)").one_of({to_string(G::Logdet), to_string(G::Jsd), to_string(G::Bhattacharyya)}),
    o.distance.kind);
  f(Key("logdet_eps", "eps of the logdet form (`distance.eps`)").above(0), o.distance.eps);
  f(Key("ridge", "ridge of JSD and Bhattacharyya (`distance.ridge`)").min(0), o.distance.ridge);
  f(Key("gaussian_stats", "on several processes: the global batch's statistics, or each rank's own (`distance.stats`)")
        .one_of({to_string(GaussianStats::Global), to_string(GaussianStats::PerRank)}),
    o.distance.stats);
  f(Key("lambda_cluster", "λ_c, weight of the clustering terms").min(0), o.lambda_cluster);
  f(Key("lambda_smooth", "λ_s, weight of the Jacobian penalty (0: no Jacobian pass)").min(0), o.lambda_smooth);
  f(Key("lambda_hinge", "λ_h, weight of the norm hinge (paper: 4)").min(0), o.lambda_hinge);
  f(Key("lambda_probe", "weight of the linear probe's cross-entropy").min(0), o.lambda_probe);
  f(Key("knn_k", "K, neighbours per sample (`cluster.k`)").min(1), o.cluster.k);
  f(Key("skip_first_fake", "drop the first neighbour of generated samples too (`cluster.skip_first_fake`)"), o.cluster.skip_first_fake);
  f(Key("knn_block_elements", "similarities computed per block of at most this many entries (`cluster.block_elements`)").min(1), o.cluster.block_elements);
  f(Key("bank_size", "L, the memory bank's length (a training run needs ≥ batch_size)").min(1), o.bank_size);
  f(Key("power_steps", "S, power-iteration steps (`jacobian.steps`)").min(1), o.jacobian.steps);
  f(Key("lip", "the target Lipschitz constant (`jacobian.lip`)").above(0), o.jacobian.lip);
  f(Key("jacobian_penalty", "mean((σ−Lip)²) or mean|σ−Lip| (`jacobian.penalty`)").one_of({to_string(P::Squared), to_string(P::Absolute)}),
    o.jacobian.penalty);
  f(Key("fuse_jacobian_pass", "D's outputs from the Jacobian's recorded dual pass (one forward pass fewer)"),
    o.fuse_jacobian_pass);
}

/// Every option as JSON (all keys present).
inline nlohmann::json options_to_json(const ObjectiveOptions& o) { return fields::write(o); }

/// Options from JSON: `o` (SPEC §5 defaults) with the keys present in j applied. Throws
/// structgan::Error on an unknown key, a value of the wrong type or out of range.
inline ObjectiveOptions options_from_json(const nlohmann::json& j, ObjectiveOptions o = {}) {
  fields::read(o, j, "objective options");
  return o;
}

/// Throws structgan::Error naming the first option out of its range.
inline void validate(const ObjectiveOptions& o) { fields::validate(o, "objective options"); }

/// The keys as a Markdown table (key, type, default, allowed values, meaning).
inline std::string describe_options() { return fields::table(ObjectiveOptions{}); }

}  // namespace structgan::objectives
