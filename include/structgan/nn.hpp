#pragma once
/// \file structgan::nn (docs/networks.md): modules, networks, optimizers, the EMA. Link structgan::nn.
#include "structgan/nn/all.hpp"
