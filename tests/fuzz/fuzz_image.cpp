// Fuzz target: the image decoding path of structgan/data/image_folder.hpp (stb_image behind
// decode_image's size checks, HWC→CHW, then resize + center crop), through load_image_folder.
// Input: an option byte (bit 0: gray or RGB; bits 1-2: load_size 0, 1, 7 or 16), then the bytes
// of one image file (any format stb reads). Any input may be rejected with structgan::Error.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.hpp"
#include "structgan/data/image_folder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace structgan;
  fuzz::Input in(data, size);
  const int opt = in.byte();
  data::ImageFolderOptions o;
  o.channels = (opt & 1) ? 3 : 1;
  static const int sizes[4] = {0, 1, 7, 16};
  o.load_size = sizes[(opt >> 1) & 3];
  o.threads = 1;
  fuzz::write_scratch("folder/only_class/image.png", in.data(), in.size());
  try {
    const data::ImageSet set = data::load_image_folder((fuzz::scratch_dir() / "folder").string(), o);
    data::check(set, "fuzz_image");
    STRUCTGAN_FUZZ_CHECK(set.size() == 1 && set.labels[0] == 0 && set.channels == o.channels);
    if (o.load_size > 0) STRUCTGAN_FUZZ_CHECK(set.height == o.load_size && set.width == o.load_size);
    // The decoded size must respect decode_image's bound (at most 2048 bytes per file byte + 16 MiB).
    STRUCTGAN_FUZZ_CHECK(std::uint64_t(set.height) * std::uint64_t(set.width) * std::uint64_t(o.channels) <=
                         std::uint64_t(in.size()) * 2048u + (std::uint64_t(1) << 24));
  } catch (const Error&) {
  }
  return 0;
}
