#pragma once
/// \file structgan::train (docs/training.md): configuration, the trainer, the run loop and the
/// command line. Link structgan::train.
#include "structgan/train/all.hpp"
