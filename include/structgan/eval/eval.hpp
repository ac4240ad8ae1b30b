#pragma once
/// \file Umbrella header of structgan's evaluation (SPEC §6): everything under structgan/eval/ but the
/// transitional npy.hpp (.npy files are io/npy.hpp's). Link the structgan::eval CMake target
/// (LIBLINEAR, nlohmann-json).
#include "structgan/eval/hungarian.hpp"
#include "structgan/eval/image_metrics.hpp"
#include "structgan/eval/kmeans.hpp"
#include "structgan/eval/metrics.hpp"
#include "structgan/eval/plot.hpp"
#include "structgan/eval/protocol.hpp"
#include "structgan/eval/svm.hpp"
#include "structgan/eval/tsne.hpp"
