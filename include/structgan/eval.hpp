#pragma once
/// \file structgan::eval (docs/evaluation.md): the evaluation protocol. Link structgan::eval
/// (LIBLINEAR, nlohmann_json, stb).
#include "structgan/eval/eval.hpp"
