#pragma once
/// \file The umbrella header: everything in structgan that depends on Eigen only.
#include "structgan/autodiff.hpp"
