#pragma once
/// \file The Eigen CPU backend: every kernel the tensor ops call, for the `Cpu` device tag.
#include "structgan/backend/cpu/conv.hpp"
#include "structgan/backend/cpu/elementwise.hpp"
#include "structgan/backend/cpu/gemm.hpp"
#include "structgan/backend/cpu/misc.hpp"
#include "structgan/backend/cpu/norm.hpp"
#include "structgan/backend/cpu/pool.hpp"
