#pragma once
/// \file structgan::io (docs/checkpoints.md): checkpoints. Link structgan::io (nlohmann_json).
#include "structgan/io/checkpoint.hpp"
