#pragma once
/// \file Every module, network, optimizer and the EMA of structgan::nn (docs/networks.md).
#include "structgan/nn/attention.hpp"
#include "structgan/nn/biggan.hpp"
#include "structgan/nn/discriminator.hpp"
#include "structgan/nn/ema.hpp"
#include "structgan/nn/init.hpp"
#include "structgan/nn/layers.hpp"
#include "structgan/nn/mlp.hpp"
#include "structgan/nn/module.hpp"
#include "structgan/nn/norm.hpp"
#include "structgan/nn/optim.hpp"
#include "structgan/nn/resnet.hpp"
#include "structgan/nn/spectral_norm.hpp"
