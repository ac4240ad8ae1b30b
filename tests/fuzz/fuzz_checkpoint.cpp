// Fuzz target: the checkpoint loader of structgan/io/checkpoint.hpp (read_checkpoint_info and
// load_checkpoint into a fixed set of live objects). Input: a mode byte, then
//   bit 0 clear: the file's bytes as they are;
//   bit 0 set:   two bytes giving the manifest's length, the manifest, then the data: the target
//                writes the 40-byte header with the right sizes and manifest checksum, so that
//                mutated manifests get past the checksum into the manifest parser.
// bit 1 sets LoadOptions::allow_unbound_entries. Any input may be rejected with structgan::Error,
// and a rejected load must leave every live object as it was; an accepted one must save and load
// back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "structgan/io/checkpoint.hpp"

namespace {
using namespace structgan;

/// The live objects a checkpoint restores, with recognizable initial values.
struct Live {
  Tensor<float> w = full<float>(Shape{2, 3}, 0.25f);
  Tensor<double> m = full<double>(Shape{4}, -1.5);
  std::string note = "initial";
  std::int64_t step = 42;
  Rng rng{7};
  io::Checkpoint checkpoint() {
    io::Checkpoint ck;
    ck.tensor("w", w).tensor("m", m).string("note", note).integer("step", step).rng("rng", rng);
    return ck;
  }
  bool operator==(const Live& o) const {
    return std::memcmp(w.data(), o.w.data(), sizeof(float) * 6) == 0 &&
           std::memcmp(m.data(), o.m.data(), sizeof(double) * 4) == 0 && note == o.note && step == o.step &&
           rng.state() == o.rng.state();
  }
};

void put_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const int mode = in.byte();
  std::vector<unsigned char> file;
  if (mode & 1) {
    const std::size_t manifest = std::min<std::size_t>(in.u16(), in.size());
    unsigned char h[io::checkpoint_header_bytes] = {};
    std::memcpy(h, io::checkpoint_magic, 8);
    h[8] = static_cast<unsigned char>(io::checkpoint_version);
    put_u64(h + 16, manifest);
    put_u64(h + 24, io::detail::fnv1a64(in.data(), manifest));
    put_u64(h + 32, in.size() - manifest);
    file.assign(h, h + sizeof h);
  }
  file.insert(file.end(), in.data(), in.data() + in.size());
  const std::string path = fuzz::write_scratch("input.ckpt", file.data(), file.size());
  io::LoadOptions options;
  options.allow_unbound_entries = (mode & 2) != 0;
  try {
    (void)io::read_checkpoint_info(path);
  } catch (const Error&) {
  }
  Live live;
  const Live before;
  try {
    io::load_checkpoint(path, live.checkpoint(), options);
  } catch (const Error&) {
    STRUCTGAN_FUZZ_CHECK(live == before);  // a failed load changes nothing
    return 0;
  }
  // Accepted: what was loaded saves and loads back unchanged.
  const std::string back = (fuzz::scratch_dir() / "back.ckpt").string();
  io::save_checkpoint(back, live.checkpoint());
  Live again;
  io::load_checkpoint(back, again.checkpoint());
  STRUCTGAN_FUZZ_CHECK(again == live);
  return 0;
}
