#pragma once
/// \file structgan::io: every file structgan reads or writes, through one fsync'd atomic write —
/// checkpoints (docs/checkpoints.md), .npy, .npz and pytorch-fid statistics files, PNG. Link
/// structgan::io (nlohmann_json, zlib, stb_image_write).
#include "structgan/io/atomic_file.hpp"
#include "structgan/io/checkpoint.hpp"
#include "structgan/io/npy.hpp"
#include "structgan/io/npz.hpp"
#include "structgan/io/png.hpp"
