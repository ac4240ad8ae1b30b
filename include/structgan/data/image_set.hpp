#pragma once
/// \file Images in memory (SPEC §7): one uint8 N×C×H×W buffer, its labels and class names.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan::data {

/// Which half of a data set a reader returns.
enum class Split { train, test };

/// Returns "train" or "test" (for messages).
inline const char* split_name(Split s) { return s == Split::train ? "train" : "test"; }

/// A labelled set of images, stored as unsigned bytes, C×H×W each, channels in RGB order (or one
/// gray channel), rows top to bottom. Either all of one size (height × width), or each of its own
/// (variable size: `offsets` non-empty, height = width = 0), e.g. ImageNet-10 with every image's
/// whole field of view for RandomResizedCrop.
///
/// Invariants (checked by `check`): one size: pixels.size() == size()·channels·height·width;
/// variable size: offsets has size()+1 entries from 0 to pixels.size(), image i takes
/// channels·sizes[i].first·sizes[i].second bytes; every label is in [0, class_names.size()).
struct ImageSet {
  int channels = 0;
  int height = 0;  ///< 0 for a variable-size set
  int width = 0;
  std::vector<std::uint8_t> pixels;      ///< the images one after another, each C×H×W
  std::vector<int> labels;               ///< N labels, each in [0, class_names.size())
  std::vector<std::string> class_names;  ///< one name per class; label k is class_names[k]
  std::vector<std::size_t> offsets;      ///< variable size: N+1 byte offsets of the images; else empty
  std::vector<std::pair<int, int>> sizes;  ///< variable size: N {height, width}; else empty

  /// Number of images N.
  std::size_t size() const { return labels.size(); }
  /// Whether the images have sizes of their own.
  bool variable_size() const { return !offsets.empty(); }
  /// Bytes per image of a one-size set: C·H·W (0 for a variable-size set).
  std::size_t image_bytes() const {
    return static_cast<std::size_t>(channels) * static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  }
  /// Bytes of image i.
  std::size_t image_bytes(std::size_t i) const { return variable_size() ? offsets[i + 1] - offsets[i] : image_bytes(); }
  /// Height and width of image i.
  int image_height(std::size_t i) const { return variable_size() ? sizes[i].first : height; }
  int image_width(std::size_t i) const { return variable_size() ? sizes[i].second : width; }
  /// Pointer to image i (C×H×W bytes). Requires i < size().
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + offset(i); }
  std::uint8_t* image(std::size_t i) { return pixels.data() + offset(i); }

 private:
  std::size_t offset(std::size_t i) const { return variable_size() ? offsets[i] : i * image_bytes(); }
};

/// Throws structgan::Error unless `set` satisfies the ImageSet invariants (`what` names it).
inline void check(const ImageSet& set, const std::string& what = "ImageSet") {
  if (set.variable_size()) {
    require(set.channels > 0 && set.height == 0 && set.width == 0, what, ": bad variable-size shape ", set.channels,
            "x", set.height, "x", set.width, " (height and width must be 0)");
    require(set.offsets.size() == set.size() + 1 && set.sizes.size() == set.size() && set.offsets[0] == 0 &&
                set.offsets.back() == set.pixels.size(),
            what, ": ", set.offsets.size(), " offsets and ", set.sizes.size(), " sizes for ", set.size(),
            " images of ", set.pixels.size(), " bytes in all");
    for (std::size_t i = 0; i < set.size(); ++i) {
      const auto [h, w] = set.sizes[i];
      require(h > 0 && w > 0 && set.offsets[i + 1] >= set.offsets[i] &&
                  set.offsets[i + 1] - set.offsets[i] == std::size_t(set.channels) * std::size_t(h) * std::size_t(w),
              what, ": image ", i, " is ", h, "x", w, " but takes ", set.offsets[i + 1] - set.offsets[i], " bytes");
    }
  } else {
    require(set.channels > 0 && set.height > 0 && set.width > 0, what, ": bad image shape ", set.channels, "x",
            set.height, "x", set.width);
    require(set.sizes.empty(), what, ": sizes without offsets");
    require(set.pixels.size() == set.size() * set.image_bytes(), what, ": ", set.pixels.size(), " pixel bytes for ",
            set.size(), " labels of ", set.image_bytes(), " bytes each");
  }
  for (std::size_t i = 0; i < set.labels.size(); ++i) {
    const int y = set.labels[i];
    require(y >= 0 && static_cast<std::size_t>(y) < set.class_names.size(), what, ": label ", y, " of image ", i,
            " is outside 0..", static_cast<long long>(set.class_names.size()) - 1);
  }
}

/// The images `indices` of `set` (each < size(), in the order given), with their labels, class
/// names and, for a variable-size set, their sizes. Throws structgan::Error for an index out of range.
inline ImageSet subset(const ImageSet& set, const std::vector<std::size_t>& indices) {
  ImageSet out;
  out.channels = set.channels;
  out.height = set.height;
  out.width = set.width;
  out.class_names = set.class_names;
  out.labels.reserve(indices.size());
  if (set.variable_size()) {
    out.offsets.push_back(0);
  } else {
    out.pixels.reserve(indices.size() * set.image_bytes());
  }
  for (const std::size_t i : indices) {
    require(i < set.size(), "data::subset: index ", i, " of a set of ", set.size(), " images");
    out.pixels.insert(out.pixels.end(), set.image(i), set.image(i) + set.image_bytes(i));
    if (set.variable_size()) {
      out.sizes.push_back(set.sizes[i]);
      out.offsets.push_back(out.pixels.size());
    }
    out.labels.push_back(set.labels[i]);
  }
  return out;
}

}  // namespace structgan::data
