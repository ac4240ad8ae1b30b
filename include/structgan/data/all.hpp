#pragma once
/// \file structgan::data in one include: image sets and their readers (CIFAR-10/100, MNIST and
/// Fashion-MNIST, ImageNet-10, image folders), the double spiral, augmentation and BatchLoader
/// (SPEC §5, §7). Needs zlib and stb (the CMake target structgan::data).
#include "structgan/data/cifar.hpp"
#include "structgan/data/idx.hpp"
#include "structgan/data/image_folder.hpp"
#include "structgan/data/image_set.hpp"
#include "structgan/data/loader.hpp"
#include "structgan/data/resize.hpp"
#include "structgan/data/spiral.hpp"
#include "structgan/data/transform.hpp"
