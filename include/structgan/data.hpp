#pragma once
/// \file structgan::data (docs/data.md): image sets, readers, augmentation, the batch loader, the
/// double spiral. Link structgan::data (zlib, Threads, stb).
#include "structgan/data/all.hpp"
