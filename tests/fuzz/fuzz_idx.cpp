// Fuzz target: the IDX reader (structgan/data/idx.hpp: load_idx), plain and gzip. Input: a flag
// byte (bit 0: gzip the images file here, bit 1: gzip the labels file here — so valid gzip streams
// with arbitrary contents reach the IDX parser, while raw inputs starting with 1f 8b exercise the
// inflater on corrupt streams), two bytes choosing where the payload splits into the images and
// the labels file, then the payload. Any input may be rejected with structgan::Error; an accepted
// one must match its header exactly.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.hpp"
#include "structgan/data/idx.hpp"

namespace {
std::vector<std::uint8_t> gzip(const std::uint8_t* p, std::size_t n) {
  z_stream zs{};
  STRUCTGAN_FUZZ_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(n)) + 32);
  zs.next_in = const_cast<Bytef*>(p);
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  STRUCTGAN_FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace structgan;
  fuzz::Input in(data, size);
  const int flags = in.byte();
  const std::size_t split = in.size() == 0 ? 0 : in.u16() % (in.size() + 1);
  const std::uint8_t* img = in.data();
  const std::size_t img_n = split, lab_n = in.size() - split;
  const std::uint8_t* lab = in.data() + split;
  std::string img_path, lab_path;
  if (flags & 1) {
    const auto z = gzip(img, img_n);
    img_path = fuzz::write_scratch("images-idx3-ubyte.gz", z.data(), z.size());
  } else {
    img_path = fuzz::write_scratch("images-idx3-ubyte", img, img_n);
  }
  if (flags & 2) {
    const auto z = gzip(lab, lab_n);
    lab_path = fuzz::write_scratch("labels-idx1-ubyte.gz", z.data(), z.size());
  } else {
    lab_path = fuzz::write_scratch("labels-idx1-ubyte", lab, lab_n);
  }
  try {
    const data::ImageSet set = data::load_idx(img_path, lab_path, data::mnist_class_names());
    // Accepted: when the file was not compressed by us and starts with the gzip magic, we cannot
    // tell its decompressed contents here; check the shape only.
    const std::size_t n = set.labels.size();
    STRUCTGAN_FUZZ_CHECK(set.channels == 1 && set.height > 0 && set.width > 0);
    STRUCTGAN_FUZZ_CHECK(set.pixels.size() == n * std::size_t(set.height) * std::size_t(set.width));
    for (int y : set.labels) STRUCTGAN_FUZZ_CHECK(y >= 0 && y < 10);
    const bool img_plain = (flags & 1) || !(img_n >= 2 && img[0] == 0x1f && img[1] == 0x8b);
    const bool lab_plain = (flags & 2) || !(lab_n >= 2 && lab[0] == 0x1f && lab[1] == 0x8b);
    if (img_plain) {
      STRUCTGAN_FUZZ_CHECK(img_n == 16 + set.pixels.size());
      STRUCTGAN_FUZZ_CHECK(be32(img) == 0x00000803 && be32(img + 4) == n);
      STRUCTGAN_FUZZ_CHECK(be32(img + 8) == std::uint32_t(set.height) && be32(img + 12) == std::uint32_t(set.width));
      STRUCTGAN_FUZZ_CHECK(set.pixels.empty() || std::memcmp(set.pixels.data(), img + 16, set.pixels.size()) == 0);
    }
    if (lab_plain) {
      STRUCTGAN_FUZZ_CHECK(lab_n == 8 + n && be32(lab) == 0x00000801 && be32(lab + 4) == n);
      for (std::size_t i = 0; i < n; ++i) STRUCTGAN_FUZZ_CHECK(set.labels[i] == lab[8 + i]);
    }
  } catch (const Error&) {
  }
  return 0;
}
