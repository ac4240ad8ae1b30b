// Fuzz target: the CIFAR-10 / CIFAR-100 binary readers (structgan/data/cifar.hpp), through their
// public entry points. Input: one mode byte (CIFAR-10, CIFAR-100 fine, CIFAR-100 coarse), then the
// file's bytes. Any input may be rejected with structgan::Error; an accepted one must hold whole
// records with labels in range, and the pixels must be the file's bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.hpp"
#include "structgan/data/cifar.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace structgan;
  fuzz::Input in(data, size);
  const int mode = in.byte() % 3;
  const bool c10 = mode == 0;
  const std::size_t label_bytes = c10 ? 1 : 2, record = label_bytes + 3072;
  const int classes = c10 ? 10 : (mode == 1 ? 100 : 20);
  const std::string dir = (fuzz::scratch_dir() / (c10 ? "c10" : "c100")).string();
  fuzz::write_scratch(c10 ? "c10/test_batch.bin" : "c100/test.bin", in.data(), in.size());
  try {
    data::Cifar100Options o;
    o.coarse_labels = mode == 2;
    const data::ImageSet set =
        c10 ? data::load_cifar10(dir, data::Split::test) : data::load_cifar100(dir, data::Split::test, o);
    STRUCTGAN_FUZZ_CHECK(in.size() > 0 && in.size() % record == 0);
    const std::size_t n = in.size() / record;
    STRUCTGAN_FUZZ_CHECK(set.labels.size() == n && set.pixels.size() == n * 3072);
    STRUCTGAN_FUZZ_CHECK(set.channels == 3 && set.height == 32 && set.width == 32);
    STRUCTGAN_FUZZ_CHECK(static_cast<int>(set.class_names.size()) == classes);
    for (std::size_t r = 0; r < n; ++r) {
      const std::uint8_t* rec = in.data() + r * record;
      STRUCTGAN_FUZZ_CHECK(set.labels[r] >= 0 && set.labels[r] < classes);
      STRUCTGAN_FUZZ_CHECK(set.labels[r] == rec[mode == 1 ? 1 : 0]);
      STRUCTGAN_FUZZ_CHECK(std::memcmp(set.pixels.data() + r * 3072, rec + label_bytes, 3072) == 0);
    }
  } catch (const Error&) {
    // rejected with a message: allowed
  }
  return 0;
}
