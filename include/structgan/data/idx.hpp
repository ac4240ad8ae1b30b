#pragma once
/// \file MNIST and Fashion-MNIST: IDX files, gzipped or not (SPEC §7).
///
/// \code
/// auto test = structgan::data::load_fashion_mnist(structgan::data::Split::test);
/// // test.size() == 10000, 1×28×28, labels 0..9
/// \endcode
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/data/detail/io.hpp"
#include "structgan/data/image_set.hpp"

namespace structgan::data {

/// The ten Fashion-MNIST class names, in label order.
inline std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

/// The ten MNIST class names ("0" … "9").
inline std::vector<std::string> mnist_class_names() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

/// Where Debian's dataset-fashion-mnist installs the files, or $STRUCTGAN_FASHION_MNIST when set.
inline std::string default_fashion_mnist_dir() {
  if (const char* env = std::getenv("STRUCTGAN_FASHION_MNIST"); env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

namespace detail {

/// The dimensions of an unsigned-byte IDX file with `ndims` dimensions, checked against the data
/// actually present (the header is never trusted for an allocation).
inline std::vector<std::size_t> idx_dims(const FileBytes& f, int ndims) {
  const auto& b = f.data;
  require(b.size() >= 4, "file '", f.path, "': truncated IDX header: the file ends at byte offset ", b.size(),
          " (4 magic bytes expected)");
  require(b[0] == 0 && b[1] == 0, f.at(0), ": not an IDX file (magic bytes ", int(b[0]), " ", int(b[1]),
          ", expected 0 0)");
  require(b[2] == 0x08, f.at(2), ": IDX element type 0x", std::hex, int(b[2]), std::dec,
          " is not supported (only unsigned bytes, 0x08)");
  require(b[3] == ndims, f.at(3), ": IDX file has ", int(b[3]), " dimensions, expected ", ndims,
          ndims == 3 ? " (images: count, rows, columns)" : " (labels: count)");
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndims);
  require(b.size() >= header, "file '", f.path, "': truncated IDX header: the file ends at byte offset ", b.size(),
          ", the header needs ", header, " bytes", f.gzip ? " (decompressed)" : "");
  std::vector<std::size_t> dims(static_cast<std::size_t>(ndims));
  std::uint64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    dims[static_cast<std::size_t>(d)] = read_be32(b.data() + 4 + 4 * d);
    const std::uint64_t dim = dims[static_cast<std::size_t>(d)];
    if (dim != 0 && total > (std::uint64_t(1) << 62) / dim)
      fail(f.at(4 + 4 * static_cast<std::uint64_t>(d)), ": IDX dimensions too large (corrupt header?)");
    total *= dim;
  }
  const std::uint64_t have = b.size() - header;
  std::string shape;
  for (std::size_t d = 0; d < dims.size(); ++d) shape += (d ? "x" : "") + std::to_string(dims[d]);
  if (have < total)
    fail("file '", f.path, "': truncated: the IDX header declares ", shape, " = ", total, " data bytes but the data ends at byte offset ",
         b.size(), f.gzip ? " of the decompressed data" : "", ", after ", have, " of them");
  if (have > total)
    fail(f.at(header + total), ": ", have - total, " unexpected bytes after the ", total,
         " data bytes the IDX header declares (corrupt file?)");
  return dims;
}

/// The first of `names` that exists in `dir`, or an empty path.
inline std::filesystem::path first_existing(const std::filesystem::path& dir, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (is_file(dir / n)) return dir / n;
  return {};
}

}  // namespace detail

/// Reads an IDX pair: `images_file` (idx3-ubyte: count×rows×columns) and `labels_file`
/// (idx1-ubyte: count), each gzipped or not (told apart by the magic bytes 1f 8b). Returns a
/// 1×rows×columns gray ImageSet with `class_names`; labels must lie in [0, class_names.size()).
/// Throws structgan::Error naming the file and byte offset for bad headers, truncation, count
/// mismatch or an out-of-range label.
inline ImageSet load_idx(const std::string& images_file, const std::string& labels_file,
                         std::vector<std::string> class_names) {
  require(!class_names.empty(), "load_idx: class_names is empty");
  ImageSet set;
  {
    detail::FileBytes img = detail::read_maybe_gzip(images_file);
    const auto dims = detail::idx_dims(img, 3);
    require(dims[1] > 0 && dims[2] > 0 && dims[1] <= 1u << 15 && dims[2] <= 1u << 15, img.at(8),
            ": bad image size ", dims[1], "x", dims[2]);
    set.channels = 1;
    set.height = static_cast<int>(dims[1]);
    set.width = static_cast<int>(dims[2]);
    img.data.erase(img.data.begin(), img.data.begin() + 16);  // the pixels, N×H×W, checked size
    set.pixels = std::move(img.data);
    set.labels.resize(dims[0]);
  }
  const detail::FileBytes lab = detail::read_maybe_gzip(labels_file);
  const auto ldims = detail::idx_dims(lab, 1);
  require(ldims[0] == set.labels.size(), lab.at(4), ": ", ldims[0], " labels for ", set.labels.size(),
          " images in '", images_file, "'");
  for (std::size_t i = 0; i < ldims[0]; ++i) {
    const int y = lab.data[8 + i];
    if (static_cast<std::size_t>(y) >= class_names.size())
      fail(lab.at(8 + i), " (label ", i, "): label ", y, " is outside 0..", class_names.size() - 1);
    set.labels[i] = y;
  }
  set.class_names = std::move(class_names);
  return set;
}

namespace detail {

/// Reads the MNIST-layout pair of `split` from `dir` (names with or without .gz, '-' or '.').
inline ImageSet load_mnist_layout(const std::string& dataset, const std::string& dir, Split split,
                                  std::vector<std::string> class_names, const std::string& how_to_get) {
  const std::string p = split == Split::train ? "train" : "t10k";
  const std::vector<std::string> img_names{p + "-images-idx3-ubyte.gz", p + "-images-idx3-ubyte",
                                           p + "-images.idx3-ubyte.gz", p + "-images.idx3-ubyte"};
  const std::vector<std::string> lab_names{p + "-labels-idx1-ubyte.gz", p + "-labels-idx1-ubyte",
                                           p + "-labels.idx1-ubyte.gz", p + "-labels.idx1-ubyte"};
  const auto img = first_existing(dir, img_names);
  const auto lab = first_existing(dir, lab_names);
  if (img.empty() || lab.empty())
    fail(dataset, " (", split_name(split), " split): ",
         is_dir(dir) ? "missing files in '" + dir + "'" : "the folder '" + dir + "' does not exist", ". Looked for ",
         img.empty() ? "the images as " + join(img_names, " or ") : std::string(),
         img.empty() && lab.empty() ? "; " : "", lab.empty() ? "the labels as " + join(lab_names, " or ") : std::string(),
         ". ", how_to_get);
  return load_idx(img.string(), lab.string(), std::move(class_names));
}

}  // namespace detail

/// Reads Fashion-MNIST (SPEC §7) from `dir`: train 60,000 or test 10,000 gray 28×28 images,
/// labels 0..9. Files: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
inline ImageSet load_fashion_mnist(const std::string& dir, Split split) {
  return detail::load_mnist_layout("Fashion-MNIST", dir, split, fashion_mnist_class_names(),
                                   "Install Debian's package dataset-fashion-mnist (files in "
                                   "/usr/share/datasets/fashion-mnist) or get the files from "
                                   "https://github.com/zalandoresearch/fashion-mnist.");
}

/// Reads Fashion-MNIST from default_fashion_mnist_dir().
inline ImageSet load_fashion_mnist(Split split) { return load_fashion_mnist(default_fashion_mnist_dir(), split); }

/// Reads MNIST from `dir` (the same file layout as Fashion-MNIST), labels 0..9.
inline ImageSet load_mnist(const std::string& dir, Split split) {
  return detail::load_mnist_layout("MNIST", dir, split, mnist_class_names(),
                                   "Get the four IDX files of MNIST (e.g. Debian's package dataset-mnist, if "
                                   "available, or http://yann.lecun.com/exdb/mnist/).");
}

}  // namespace structgan::data
