#pragma once
/// \file Images in memory (SPEC §7): one uint8 N×C×H×W buffer, its labels and class names.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan::data {

/// Which half of a data set a reader returns.
enum class Split { train, test };

/// Returns "train" or "test" (for messages).
inline const char* split_name(Split s) { return s == Split::train ? "train" : "test"; }

/// A labelled set of images of one size, stored as unsigned bytes, NCHW, channels in RGB order
/// (or one gray channel), rows top to bottom.
///
/// Invariants (checked by `check`): pixels.size() == size()·channels·height·width and every
/// label is in [0, class_names.size()).
struct ImageSet {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> pixels;      ///< N×C×H×W, image i starts at i·C·H·W
  std::vector<int> labels;               ///< N labels, each in [0, class_names.size())
  std::vector<std::string> class_names;  ///< one name per class; label k is class_names[k]

  /// Number of images N.
  std::size_t size() const { return labels.size(); }
  /// Bytes per image: C·H·W.
  std::size_t image_bytes() const {
    return static_cast<std::size_t>(channels) * static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  }
  /// Pointer to image i (C×H×W bytes). Requires i < size().
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * image_bytes(); }
  std::uint8_t* image(std::size_t i) { return pixels.data() + i * image_bytes(); }
};

/// Throws structgan::Error unless `set` satisfies the ImageSet invariants (`what` names it).
inline void check(const ImageSet& set, const std::string& what = "ImageSet") {
  require(set.channels > 0 && set.height > 0 && set.width > 0, what, ": bad image shape ", set.channels, "x",
          set.height, "x", set.width);
  require(set.pixels.size() == set.size() * set.image_bytes(), what, ": ", set.pixels.size(), " pixel bytes for ",
          set.size(), " labels of ", set.image_bytes(), " bytes each");
  for (std::size_t i = 0; i < set.labels.size(); ++i) {
    const int y = set.labels[i];
    require(y >= 0 && static_cast<std::size_t>(y) < set.class_names.size(), what, ": label ", y, " of image ", i,
            " is outside 0..", static_cast<long long>(set.class_names.size()) - 1);
  }
}

}  // namespace structgan::data
