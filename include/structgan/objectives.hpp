#pragma once
/// \file structgan::objectives (docs/objectives.md): the structural objectives and their JSON
/// options. Link structgan::objectives (nlohmann_json).
#include "structgan/objectives/all.hpp"
#include "structgan/objectives/options_json.hpp"
