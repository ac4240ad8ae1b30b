#pragma once
/// \file CIFAR-10 and CIFAR-100, binary version (SPEC §7).
///
/// \code
/// auto train = structgan::data::load_cifar10("/data/cifar-10-batches-bin", structgan::data::Split::train);
/// // train.size() == 50000, 3×32×32, labels 0..9
/// \endcode
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/data/detail/io.hpp"
#include "structgan/data/image_set.hpp"

namespace structgan::data {

/// Where the official binary files come from (for messages).
inline constexpr const char* cifar_url = "https://www.cs.toronto.edu/~kriz/cifar.html";

/// The ten CIFAR-10 class names, in label order.
inline std::vector<std::string> cifar10_class_names() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

/// The hundred CIFAR-100 fine class names, in label order.
inline std::vector<std::string> cifar100_fine_class_names() {
  return {"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
          "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
          "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
          "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
          "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
          "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
          "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
          "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
          "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
          "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};
}

/// The twenty CIFAR-100 coarse (superclass) names, in label order.
inline std::vector<std::string> cifar100_coarse_class_names() {
  return {"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
          "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
          "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
          "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
          "vehicles_1", "vehicles_2"};
}

/// Options of load_cifar100.
struct Cifar100Options {
  bool coarse_labels = false;  ///< false: the 100 fine labels (default); true: the 20 coarse ones
};

namespace detail {

/// Appends the records of one CIFAR binary file to `out`. A record is `label_bytes` label bytes
/// (the one used is at `label_index`) followed by 3072 pixel bytes; labels must be < `classes`.
inline void append_cifar_file(const std::filesystem::path& file, int label_bytes, int label_index, int classes,
                              ImageSet& out) {
  constexpr std::size_t pixels = 3 * 32 * 32;
  const std::size_t record = static_cast<std::size_t>(label_bytes) + pixels;
  const std::vector<std::uint8_t> bytes = read_raw(file);
  const std::string name = file.string();
  require(!bytes.empty(), "file '", name, "' is empty (expected ", record, "-byte CIFAR records)");
  if (bytes.size() % record != 0) {
    const std::size_t last = bytes.size() / record * record;
    const std::size_t other = label_bytes == 1 ? pixels + 2 : pixels + 1;
    fail("file '", name, "': truncated or not a CIFAR-", label_bytes == 1 ? "10" : "100", " binary file: ",
         bytes.size(), " bytes is not a whole number of ", record, "-byte records; the record at byte offset ", last,
         " has only ", bytes.size() - last, " bytes",
         bytes.size() % other == 0
             ? std::string(" (the size fits ") + std::to_string(other) + "-byte records: is this a CIFAR-" +
                   (label_bytes == 1 ? "100" : "10") + " file?)"
             : std::string());
  }
  const std::size_t n = bytes.size() / record;
  const std::size_t first = out.labels.size();
  out.labels.resize(first + n);
  out.pixels.resize((first + n) * pixels);
  for (std::size_t r = 0; r < n; ++r) {
    const std::uint8_t* rec = bytes.data() + r * record;
    const int label = rec[label_index];
    if (label >= classes)
      fail("file '", name, "', byte offset ", r * record + static_cast<std::size_t>(label_index), " (record ", r,
           "): label ", label, " is outside 0..", classes - 1);
    out.labels[first + r] = label;
    std::copy(rec + label_bytes, rec + record, out.pixels.begin() + static_cast<std::ptrdiff_t>((first + r) * pixels));
  }
}

/// The folder that holds `files`: `dir` itself, or its `subdir` (the name inside the official archive).
inline std::filesystem::path find_cifar_dir(const std::filesystem::path& dir, const std::string& subdir,
                                            const std::vector<std::string>& files) {
  auto has_all = [&](const std::filesystem::path& d) {
    for (const auto& f : files)
      if (!is_file(d / f)) return false;
    return true;
  };
  if (has_all(dir)) return dir;
  if (has_all(dir / subdir)) return dir / subdir;
  return {};
}

/// The "missing data" message of the CIFAR readers.
[[noreturn]] inline void fail_cifar_missing(const std::string& dataset, const std::filesystem::path& dir,
                                            const std::string& subdir, const std::string& archive,
                                            const std::vector<std::string>& files, Split split) {
  std::vector<std::string> missing;
  for (const auto& f : files)
    if (!is_file(dir / f)) missing.push_back(f);
  std::string hint;
  if (is_file(dir / "data_batch_1") || is_file(dir / "train") || is_dir(dir / "cifar-10-batches-py") ||
      is_dir(dir / "cifar-100-python"))
    hint = " This folder looks like the Python (pickle) version, which is not read: use the binary version.";
  fail(dataset, " (", split_name(split), " split): cannot find the binary files in '", dir.string(), "' nor in '",
       (dir / subdir).string(), "'. Expected the files ", join(files), is_dir(dir) ? "; missing in '" + dir.string() + "': " + join(missing) : std::string("; the folder does not exist"),
       ". Get the \"binary version\" (", archive, ") from ", cifar_url, " and unpack it; it holds the folder ",
       subdir, ".", hint);
}

}  // namespace detail

/// Reads CIFAR-10, binary version (SPEC §7): train = data_batch_1.bin … data_batch_5.bin (50,000
/// images), test = test_batch.bin (10,000), 3×32×32 RGB, labels 0..9.
/// `dir` is the folder holding the .bin files or the folder holding cifar-10-batches-bin.
/// Throws structgan::Error when files are missing (saying where it looked and where the data
/// comes from), truncated (naming the file and byte offset) or hold a label outside 0..9.
inline ImageSet load_cifar10(const std::string& dir, Split split) {
  std::vector<std::string> files;
  if (split == Split::train)
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back("test_batch.bin");
  const std::filesystem::path where = detail::find_cifar_dir(dir, "cifar-10-batches-bin", files);
  if (where.empty())
    detail::fail_cifar_missing("CIFAR-10", dir, "cifar-10-batches-bin", "cifar-10-binary.tar.gz", files, split);
  ImageSet set;
  set.channels = 3;
  set.height = 32;
  set.width = 32;
  set.class_names = cifar10_class_names();
  for (const auto& f : files) detail::append_cifar_file(where / f, 1, 0, 10, set);
  return set;
}

/// Reads CIFAR-100, binary version (SPEC §7): train.bin (50,000 images) or test.bin (10,000),
/// 3×32×32 RGB, fine labels 0..99 (default) or coarse labels 0..19 (`options.coarse_labels`).
/// `dir` is the folder holding the .bin files or the folder holding cifar-100-binary.
/// Throws structgan::Error as load_cifar10 does.
inline ImageSet load_cifar100(const std::string& dir, Split split, const Cifar100Options& options = {}) {
  const std::vector<std::string> files{split == Split::train ? "train.bin" : "test.bin"};
  const std::filesystem::path where = detail::find_cifar_dir(dir, "cifar-100-binary", files);
  if (where.empty())
    detail::fail_cifar_missing("CIFAR-100", dir, "cifar-100-binary", "cifar-100-binary.tar.gz", files, split);
  ImageSet set;
  set.channels = 3;
  set.height = 32;
  set.width = 32;
  set.class_names = options.coarse_labels ? cifar100_coarse_class_names() : cifar100_fine_class_names();
  detail::append_cifar_file(where / files[0], 2, options.coarse_labels ? 0 : 1, options.coarse_labels ? 20 : 100, set);
  return set;
}

}  // namespace structgan::data
