#pragma once
/// \file Folders of image files, one subfolder per class; ImageNet-10 (SPEC §7).
///
/// \code
/// structgan::data::ImageFolderOptions o;
/// o.load_size = 64;  // every image: shorter side to 64, center 64×64
/// auto set = structgan::data::load_image_folder("/data/flowers", o);
/// auto in10 = structgan::data::load_imagenet10("/data/imagenet10", structgan::data::Split::train);
/// \endcode
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/data/detail/io.hpp"
#include "structgan/data/detail/stb.hpp"
#include "structgan/data/image_set.hpp"
#include "structgan/data/resize.hpp"

namespace structgan::data {

/// Options of load_image_folder.
struct ImageFolderOptions {
  int channels = 3;  ///< 3: RGB, 1: gray (every file is converted)
  /// > 0: each image's shorter side is resized to load_size (antialiased, `resample`) and the
  /// center load_size×load_size square kept; 0: every image must already have one common size.
  int load_size = 0;
  ResampleOptions resample{Interpolation::bilinear, -0.75};  ///< torchvision Resize's default filter
  /// Non-empty: exactly these subfolders, label k = classes[k]; empty: every subfolder, sorted by name.
  std::vector<std::string> classes;
  int threads = 0;  ///< decoding threads; 0: std::thread::hardware_concurrency()
};

/// The file name extensions load_image_folder reads (compared case-insensitively).
inline const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> ext{".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pnm", ".tga", ".gif"};
  return ext;
}

namespace detail {

inline bool has_image_extension(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const auto& all = image_extensions();
  return std::find(all.begin(), all.end(), e) != all.end();
}

/// Sorted image files directly in `dir` (hidden files skipped).
inline std::vector<std::filesystem::path> list_images(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (e.is_regular_file() && has_image_extension(e.path())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// Decodes `file` and writes it as C×out×out (or C×H×W when size == 0) into dst.
inline void load_one_image(const std::filesystem::path& file, const ImageFolderOptions& o, int out_h, int out_w,
                           std::uint8_t* dst) {
  const DecodedImage img = decode_image(read_raw(file), o.channels, file.string());
  const int c = o.channels;
  std::vector<std::uint8_t> chw(img.hwc.size());
  const std::size_t plane = std::size_t(img.width) * std::size_t(img.height);
  for (std::size_t p = 0; p < plane; ++p)
    for (int k = 0; k < c; ++k) chw[std::size_t(k) * plane + p] = img.hwc[p * std::size_t(c) + std::size_t(k)];
  if (o.load_size > 0) {
    resize_center_crop(chw.data(), c, img.height, img.width, o.load_size, o.load_size, o.load_size, dst, o.resample);
  } else {
    require(img.height == out_h && img.width == out_w, "file '", file.string(), "': image is ", img.width, "x",
            img.height, " but the first image is ", out_w, "x", out_h,
            "; set ImageFolderOptions::load_size to bring every image to one size");
    std::copy(chw.begin(), chw.end(), dst);
  }
}

}  // namespace detail

/// Reads a folder with one subfolder per class (torchvision's ImageFolder layout): label k is the
/// k-th class subfolder in sorted order (or in `options.classes` order); images sorted by file
/// name within a class; files with other extensions and hidden files are skipped. Decoding runs on
/// `options.threads` threads; the result does not depend on their number.
/// Throws structgan::Error when the folder or a class folder is missing or holds no images, or a
/// file cannot be decoded (naming the file), or sizes differ with load_size == 0.
inline ImageSet load_image_folder(const std::string& dir, const ImageFolderOptions& options = {}) {
  namespace fs = std::filesystem;
  require(options.channels == 1 || options.channels == 3, "load_image_folder: channels must be 1 or 3, got ",
          options.channels);
  require(options.load_size >= 0, "load_image_folder: load_size must be >= 0");
  require(detail::is_dir(dir), "image folder '", dir, "' does not exist (or is not a folder); expected ", dir,
          "/<class>/<image files>");
  ImageSet set;
  set.class_names = options.classes;
  if (set.class_names.empty()) {
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (e.is_directory() && !name.empty() && name[0] != '.') set.class_names.push_back(name);
    }
    std::sort(set.class_names.begin(), set.class_names.end());
    require(!set.class_names.empty(), "image folder '", dir, "' has no class subfolders; expected ", dir,
            "/<class>/<image files>");
  } else {
    std::vector<std::string> missing;
    for (const auto& c : set.class_names)
      if (!detail::is_dir(fs::path(dir) / c)) missing.push_back(c);
    require(missing.empty(), "image folder '", dir, "': missing class folder(s) ", detail::join(missing),
            " (expected one subfolder per class: ", detail::join(set.class_names), ")");
  }
  std::vector<fs::path> files;
  for (std::size_t k = 0; k < set.class_names.size(); ++k) {
    const auto in_class = detail::list_images(fs::path(dir) / set.class_names[k]);
    require(!in_class.empty(), "image folder '", dir, "': class folder '", set.class_names[k],
            "' holds no image files (", detail::join(image_extensions(), " "), ")");
    files.insert(files.end(), in_class.begin(), in_class.end());
    set.labels.insert(set.labels.end(), in_class.size(), static_cast<int>(k));
  }
  set.channels = options.channels;
  if (options.load_size > 0) {
    set.height = set.width = options.load_size;
  } else {  // the first image sets the size
    const auto first = detail::decode_image(detail::read_raw(files[0]), options.channels, files[0].string());
    set.height = first.height;
    set.width = first.width;
  }
  set.pixels.resize(files.size() * set.image_bytes());

  unsigned threads = options.threads > 0 ? unsigned(options.threads) : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, files.size()));
  std::vector<std::size_t> error_at(threads, std::numeric_limits<std::size_t>::max());
  std::vector<std::exception_ptr> errors(threads);
  std::atomic<std::size_t> next{0};
  auto work = [&](unsigned t) {
    for (std::size_t i; (i = next.fetch_add(1)) < files.size();) {
      try {
        detail::load_one_image(files[i], options, set.height, set.width, set.image(i));
      } catch (...) {
        if (i < error_at[t]) {
          error_at[t] = i;
          errors[t] = std::current_exception();
        }
      }
    }
  };
  if (threads <= 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
    for (auto& th : pool) th.join();
  }
  std::size_t worst = 0;  // report the error of the first bad file, whatever the thread timing
  for (unsigned t = 1; t < threads; ++t)
    if (error_at[t] < error_at[worst]) worst = t;
  if (errors[worst]) std::rethrow_exception(errors[worst]);
  return set;
}

/// The ten ImageNet-10 synsets (Chang et al. 2017; SPEC §7), in label order.
inline std::vector<std::string> imagenet10_synsets() {
  return {"n02056570", "n02085936", "n02128757", "n02690373", "n02692877",
          "n03095699", "n04254680", "n04285008", "n04467665", "n07747607"};
}

/// Readable names of the ImageNet-10 synsets, in label order.
inline std::vector<std::string> imagenet10_class_names() {
  return {"king penguin", "Maltese dog", "snow leopard", "airliner", "airship",
          "container ship", "soccer ball", "sports car", "trailer truck", "orange"};
}

/// Options of load_imagenet10.
struct ImageNet10Options {
  /// Each image is stored as its load_size×load_size center after resizing the shorter side to
  /// load_size (bilinear, antialiased). 144 keeps what the test transform needs (shorter side
  /// 144, center 128) and leaves RandomResizedCrop to 128 a 144×144 view.
  int load_size = 144;
  int threads = 0;  ///< decoding threads; 0: hardware concurrency
};

/// Reads ImageNet-10 (SPEC §7: 13,000 train, 500 val images, 10 classes) from
/// `root`/train/<synset>/*.JPEG and `root`/val/<synset>/*.JPEG (the test split reads "val", or
/// "test" when there is no "val"). Labels follow imagenet10_synsets(); class_names are the synset ids.
/// Returns 3×load_size×load_size RGB images. Throws structgan::Error when folders are missing
/// (listing what was expected) or a file cannot be decoded (naming it).
inline ImageSet load_imagenet10(const std::string& root, Split split, const ImageNet10Options& options = {}) {
  namespace fs = std::filesystem;
  const std::vector<std::string> subdirs =
      split == Split::train ? std::vector<std::string>{"train"} : std::vector<std::string>{"val", "test"};
  fs::path dir;
  for (const auto& s : subdirs)
    if (detail::is_dir(fs::path(root) / s)) {
      dir = fs::path(root) / s;
      break;
    }
  if (dir.empty())
    fail("ImageNet-10 (", split_name(split), " split): no folder ", detail::join(subdirs, " or "), " in '", root,
         "'. Expected ", root, "/{train,val}/<synset>/*.JPEG for the synsets ", detail::join(imagenet10_synsets(), " "),
         " (Chang et al. 2017: 13,000 train and 500 val images, taken from ImageNet ILSVRC-2012).");
  ImageFolderOptions o;
  o.channels = 3;
  o.load_size = options.load_size;
  o.classes = imagenet10_synsets();
  o.threads = options.threads;
  require(options.load_size > 0, "load_imagenet10: load_size must be > 0");
  return load_image_folder(dir.string(), o);
}

}  // namespace structgan::data
