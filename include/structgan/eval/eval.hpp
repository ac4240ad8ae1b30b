#pragma once
/// \file Umbrella header of structgan's evaluation (SPEC §6): everything under structgan/eval/.
/// Link the structgan::eval CMake target (LIBLINEAR, nlohmann-json, stb, zlib).
#include "structgan/eval/hungarian.hpp"
#include "structgan/eval/image_metrics.hpp"
#include "structgan/eval/kmeans.hpp"
#include "structgan/eval/metrics.hpp"
#include "structgan/eval/npy.hpp"
#include "structgan/eval/npz.hpp"
#include "structgan/eval/plot.hpp"
#include "structgan/eval/protocol.hpp"
#include "structgan/eval/svm.hpp"
#include "structgan/eval/tsne.hpp"
