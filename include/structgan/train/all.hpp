#pragma once
/// \file structgan::train in one include: configuration and presets, data sources, networks of a
/// configuration, the trainer (SPEC §5), its state files, the run loop with logging, progress,
/// samples and checkpoints, data-parallel training on N processes, and the shared command line. Needs the structgan::train CMake target
/// (nlohmann_json, CLI11, stb, zlib, LIBLINEAR through structgan::eval). FID and IS of a generator
/// (fid_every's train::fid_measurement) are in structgan/train/image_quality.hpp, included where
/// they are used so that a trainer program compiles no Inception network it does not run.
#include "structgan/train/cli.hpp"
#include "structgan/train/config.hpp"
#include "structgan/train/data_parallel.hpp"
#include "structgan/train/data_source.hpp"
#include "structgan/train/inception.hpp"
#include "structgan/train/models.hpp"
#include "structgan/train/progress.hpp"
#include "structgan/train/run.hpp"
#include "structgan/train/samples.hpp"
#include "structgan/train/trainer.hpp"
