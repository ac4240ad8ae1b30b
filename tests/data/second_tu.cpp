// A second translation unit including every data header (stb included): linked with
// test_data_loader.cpp, it shows that the header-only stb wrapper gives no duplicate symbols.
#include "structgan/data/all.hpp"
#include "structgan/io/detail/stb_write.hpp"

int second_tu_decode_width(const std::vector<std::uint8_t>& png) {
  return structgan::data::detail::decode_image(png, 3, "memory").width;
}

std::vector<std::uint8_t> second_tu_png(int w, int h) {
  std::vector<std::uint8_t> px(std::size_t(w) * h * 3, 9), out;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) {
        auto* o = static_cast<std::vector<std::uint8_t>*>(ctx);
        o->insert(o->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
      },
      &out, w, h, 3, px.data(), w * 3);
  return out;
}
