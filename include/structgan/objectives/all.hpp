#pragma once
/// \file structgan::objectives in one include: the Gaussian distances (SPEC §2), the memory bank and
/// kNN similarities (§3), the Jacobian regularizer (§4), the composed objective (§5) and the plain-Eigen
/// embedding API. The JSON options (objectives/options_json.hpp) need nlohmann_json and are separate.
#include "structgan/objectives/clustering.hpp"
#include "structgan/objectives/embedding.hpp"
#include "structgan/objectives/gaussian.hpp"
#include "structgan/objectives/jacobian.hpp"
#include "structgan/objectives/structural_objective.hpp"
