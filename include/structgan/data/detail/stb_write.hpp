#pragma once
/// \file Internal: stb_image_write with internal linkage (STB_IMAGE_WRITE_STATIC), for writing
/// test images and sample grids. See detail/stb.hpp for the linkage rules.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wconversion"
#endif

#ifndef INCLUDE_STB_IMAGE_WRITE_H
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if __has_include(<stb_image_write.h>)
#include <stb_image_write.h>
#elif __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#else
#error "structgan::data needs stb_image_write.h (Debian: libstb-dev); add its folder to the include path"
#endif
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
