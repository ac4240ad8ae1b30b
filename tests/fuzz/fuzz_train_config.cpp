// Fuzz target: the trainer's JSON configuration (structgan/train/config.hpp: load_config_file,
// validate, apply_override). Input: a mode byte, then the file's text (mode 0-1) or one key=value
// override (mode 2). Any input may be rejected with structgan::Error. An accepted configuration
// must pass validate() or be rejected by it with structgan::Error, and must survive
// to_json → load_config_file unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "structgan/train/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace structgan;
  fuzz::Input in(data, size);
  const int mode = in.byte() % 3;
  try {
    train::TrainConfig c;
    if (mode == 2) {
      c = train::preset("double_spiral");
      train::apply_override(c, std::string(reinterpret_cast<const char*>(in.data()), in.size()));
    } else {
      const std::string path = fuzz::write_scratch("config.json", in.data(), in.size());
      c = train::load_config_file(path, mode == 0 ? "cifar10" : "fashion_mnist");
    }
    try {
      train::validate(c);
    } catch (const Error&) {
      return 0;  // a rejected combination; it must not be used
    }
    const std::string text = train::to_json(c).dump();
    const std::string back = fuzz::write_scratch("back.json", text.data(), text.size());
    const train::TrainConfig c2 = train::load_config_file(back, "cifar10");
    STRUCTGAN_FUZZ_CHECK(train::to_json(c2) == train::to_json(c));
  } catch (const Error&) {
  }
  return 0;
}
