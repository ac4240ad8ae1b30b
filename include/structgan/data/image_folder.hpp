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
#include <functional>
#include <iostream>
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

/// What load_image_folder does with a file that cannot be decoded (truncated, not an image, ...).
enum class BadFiles {
  fail,  ///< throw structgan::Error naming the first such file
  skip   ///< leave it out and write one line naming it and the reason to ImageFolderOptions::log
};

/// Options of load_image_folder.
struct ImageFolderOptions {
  int channels = 3;  ///< 3: RGB, 1: gray (every file is converted)
  /// > 0: each image's shorter side is resized to load_size (antialiased, `resample`) and the
  /// center load_size×load_size square kept; 0: every image must already have one common size.
  int load_size = 0;
  /// true (with load_size 0): a variable-size set keeping each image's whole field of view, its
  /// shorter side brought down to max_shorter_side when longer (antialiased, `resample`; never
  /// enlarged; 0: as decoded).
  bool whole_images = false;
  int max_shorter_side = 0;
  ResampleOptions resample{Interpolation::bilinear, -0.5};  ///< torchvision Resize's default filter
  /// Non-empty: exactly these subfolders, label k = classes[k]; empty: every subfolder, sorted by name.
  std::vector<std::string> classes;
  int threads = 0;  ///< decoding threads; 0: std::thread::hardware_concurrency()
  BadFiles bad_files = BadFiles::fail;
  std::ostream* log = &std::cerr;  ///< where BadFiles::skip names the files it leaves out
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

/// The size whole_images stores an h×w image at: the shorter side at most max_shorter_side.
inline std::pair<int, int> stored_size(int h, int w, int max_shorter_side) {
  if (max_shorter_side <= 0 || std::min(h, w) <= max_shorter_side) return {h, w};
  return shorter_side_size(h, w, max_shorter_side);
}

/// The height and width a file's header declares (no decoding), refused when implausibly large
/// for the file, so that whole_images never allocates for a corrupt header. Throws
/// structgan::Error naming the file.
inline std::pair<int, int> image_file_size(const std::filesystem::path& file, int channels) {
  const auto bytes = read_raw(file);
  int w = 0, h = 0, comp = 0;
  require(!bytes.empty() && bytes.size() < (std::size_t(1) << 31), "file '", file.string(), "' is empty or too large");
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &comp))
    fail("file '", file.string(), "': cannot decode the image header (stb_image: ", stbi_failure_reason(), ")");
  check_declared_size(w, h, channels, bytes.size(), file.string());
  return {h, w};
}

/// Decodes `file` and writes it as C×out×out (or C×H×W when size == 0, or whole at out_h×out_w)
/// into dst.
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
  } else if (o.whole_images) {
    require(stored_size(img.height, img.width, o.max_shorter_side) == std::pair{out_h, out_w}, "file '", file.string(),
            "': decodes to ", img.width, "x", img.height, ", not the size its header declares");
    if (out_h == img.height && out_w == img.width)
      std::copy(chw.begin(), chw.end(), dst);
    else
      resize_center_crop(chw.data(), c, img.height, img.width, o.max_shorter_side, out_h, out_w, dst, o.resample);
  } else {
    require(img.height == out_h && img.width == out_w, "file '", file.string(), "': image is ", img.width, "x",
            img.height, " but the first image is ", out_w, "x", out_h,
            "; set ImageFolderOptions::load_size to bring every image to one size");
    std::copy(chw.begin(), chw.end(), dst);
  }
}

/// Runs f(i) for i in [0, n) on up to `threads` threads; returns what each i threw (null if nothing).
inline std::vector<std::exception_ptr> for_each_file(std::size_t n, int threads,
                                                     const std::function<void(std::size_t)>& f) {
  std::vector<std::exception_ptr> errors(n);
  unsigned t = threads > 0 ? unsigned(threads) : std::max(1u, std::thread::hardware_concurrency());
  t = static_cast<unsigned>(std::min<std::size_t>(t, n));
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        f(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  if (t <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (unsigned k = 0; k < t; ++k) pool.emplace_back(work);
    for (auto& th : pool) th.join();
  }
  return errors;
}

/// BadFiles::fail: rethrows the first file's error (whatever the thread timing). skip: writes one
/// line per failed file and marks it in `bad`.
inline void handle_bad_files(const std::vector<std::exception_ptr>& errors, const ImageFolderOptions& o,
                             std::vector<char>& bad) {
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (!errors[i] || bad[i]) continue;
    if (o.bad_files == BadFiles::fail) std::rethrow_exception(errors[i]);
    std::string why = "unknown error";
    try {
      std::rethrow_exception(errors[i]);
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
    std::replace(why.begin(), why.end(), '\n', ' ');  // one line per file
    if (o.log) *o.log << "structgan: skipping an image: " << why << "\n";
    bad[i] = 1;
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
  std::vector<char> bad(files.size(), 0);
  if (options.whole_images) {  // sizes from the headers first, so that one buffer holds all
    require(options.load_size == 0, "load_image_folder: whole_images needs load_size 0");
    set.sizes.resize(files.size());
    detail::handle_bad_files(detail::for_each_file(files.size(), options.threads,
                                                   [&](std::size_t i) {
                                                     const auto [h, w] = detail::image_file_size(files[i], options.channels);
                                                     set.sizes[i] = detail::stored_size(h, w, options.max_shorter_side);
                                                   }),
                             options, bad);
    set.offsets.assign(files.size() + 1, 0);
    for (std::size_t i = 0; i < files.size(); ++i)
      set.offsets[i + 1] = set.offsets[i] + (bad[i] ? 0
                                                     : std::size_t(set.channels) * std::size_t(set.sizes[i].first) *
                                                           std::size_t(set.sizes[i].second));
  } else if (options.load_size > 0) {
    set.height = set.width = options.load_size;
  } else {  // the first image that decodes sets the size
    for (std::size_t i = 0; i < files.size() && set.height == 0; ++i) {
      try {
        const auto first = detail::decode_image(detail::read_raw(files[i]), options.channels, files[i].string());
        set.height = first.height;
        set.width = first.width;
      } catch (...) {
        std::vector<std::exception_ptr> e(files.size());
        e[i] = std::current_exception();
        detail::handle_bad_files(e, options, bad);
      }
    }
  }
  set.pixels.resize(set.variable_size() ? set.offsets.back() : files.size() * set.image_bytes());
  detail::handle_bad_files(detail::for_each_file(files.size(), options.threads,
                                                 [&](std::size_t i) {
                                                   if (!bad[i])
                                                     detail::load_one_image(files[i], options, set.image_height(i),
                                                                            set.image_width(i), set.image(i));
                                                 }),
                           options, bad);
  // Leave the skipped files out: move the kept images down in place (they only move earlier).
  std::size_t kept = 0, end = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (bad[i]) continue;
    const std::size_t bytes = set.image_bytes(i);
    std::copy(set.image(i), set.image(i) + bytes, set.pixels.data() + end);
    if (set.variable_size()) {
      set.sizes[kept] = set.sizes[i];
      set.offsets[kept] = end;
    }
    set.labels[kept++] = set.labels[i];
    end += bytes;
  }
  require(kept > 0, "image folder '", dir, "': none of its ", files.size(), " image files could be read");
  set.labels.resize(kept);
  set.pixels.resize(end);
  if (set.variable_size()) {
    set.sizes.resize(kept);
    set.offsets.resize(kept + 1);
    set.offsets[kept] = end;
  }
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
  /// The test split (and the train split with whole_train false): each image stored as its
  /// load_size×load_size center after resizing the shorter side to load_size (bilinear,
  /// antialiased). 144 is what the test transform reads (shorter side 144, center 128), so its
  /// output equals torchvision's on the original image.
  int load_size = 144;
  /// The train split keeps each image's whole field of view (a variable-size set), as
  /// torchvision's RandomResizedCrop sees it, with the shorter side brought down to
  /// train_shorter_side when longer (PIL bicubic, antialiased). The smallest crop of scale 0.5 and
  /// ratio 3/4 or 4/3 has a side of √(0.5·3/4) = 0.612 of the shorter side, so 210 keeps every
  /// crop to 128 a downscale (0.612·210 = 128.6): no crop is enlarged beyond the stored pixels.
  /// 0: store the images as decoded (torchvision's exact input; about 3× the memory).
  bool whole_train = true;
  int train_shorter_side = 210;
  int threads = 0;  ///< decoding threads; 0: hardware concurrency
  BadFiles bad_files = BadFiles::fail;  ///< see ImageFolderOptions
  std::ostream* log = &std::cerr;
};

/// Reads ImageNet-10 (SPEC §7: 13,000 train, 500 val images, 10 classes) from
/// `root`/train/<synset>/*.JPEG and `root`/val/<synset>/*.JPEG (the test split reads "val", or
/// "test" when there is no "val"; scripts/make_imagenet10.sh builds the train folder from an
/// ImageNet-1k copy). Labels follow imagenet10_synsets(); class_names are the synset ids.
/// Returns RGB images: the train split whole (variable size, see ImageNet10Options), the test
/// split 3×load_size×load_size. Throws structgan::Error when folders are missing (listing what
/// was expected) or a file cannot be decoded (naming it; unless bad_files is skip).
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
         " (Chang et al. 2017: 13,000 train and 500 val images, taken from ImageNet ILSVRC-2012; "
         "scripts/make_imagenet10.sh IMAGENET1K_TRAIN ",
         root, "/train builds the train folder).");
  require(options.load_size > 0 && options.train_shorter_side >= 0,
          "load_imagenet10: load_size must be > 0 and train_shorter_side >= 0");
  ImageFolderOptions o;
  o.channels = 3;
  o.classes = imagenet10_synsets();
  o.threads = options.threads;
  o.bad_files = options.bad_files;
  o.log = options.log;
  if (split == Split::train && options.whole_train) {
    o.whole_images = true;
    o.max_shorter_side = options.train_shorter_side;
    o.resample = ResampleOptions{Interpolation::bicubic, -0.5};
  } else {
    o.load_size = options.load_size;
  }
  return load_image_folder(dir.string(), o);
}

}  // namespace structgan::data
