#pragma once
/// \file The Eigen CPU backend: host memory and every kernel of the backend contract
/// (backend/contract.hpp) for the `Cpu` device tag.
#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/conv.hpp"
#include "structgan/backend/cpu/elementwise.hpp"
#include "structgan/backend/cpu/gemm.hpp"
#include "structgan/backend/cpu/linalg.hpp"
#include "structgan/backend/cpu/memory.hpp"
#include "structgan/backend/cpu/misc.hpp"
#include "structgan/backend/cpu/norm.hpp"
#include "structgan/backend/cpu/pool.hpp"
#include "structgan/backend/cpu/sum_of_squares.hpp"

static_assert(structgan::backend::conforms<structgan::Cpu, float>() && structgan::backend::conforms<structgan::Cpu, double>(),
              "the CPU backend implements the backend contract");
