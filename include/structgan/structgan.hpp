#pragma once
/// \file The umbrella header: everything in structgan that needs Eigen only (tensors, autodiff,
/// every op, the networks and optimizers, the structural objectives). Link structgan::structgan. The
/// components with dependencies of their own have one header each: structgan/objectives.hpp (JSON
/// options), structgan/data.hpp, structgan/io.hpp, structgan/eval.hpp, structgan/train.hpp.
#include "structgan/autodiff.hpp"
#include "structgan/nn/all.hpp"
#include "structgan/objectives/all.hpp"
