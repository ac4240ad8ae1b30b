#define BOOST_TEST_MODULE eval_plot
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <set>

#include "structgan/eval/plot.hpp"
#include "structgan/io/png.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ev = structgan::eval;
namespace fs = std::filesystem;

namespace {
struct Png {
  int w = 0, h = 0;
  std::vector<unsigned char> rgb;
  structgan::Rgb at(int x, int y) const {
    const std::size_t o = (std::size_t(y) * w + x) * 3;
    return {rgb[o], rgb[o + 1], rgb[o + 2]};
  }
};
Png load_png(const std::string& path) {
  Png p;
  int comp = 0;
  unsigned char* data = stbi_load(path.c_str(), &p.w, &p.h, &comp, 3);
  BOOST_REQUIRE_MESSAGE(data != nullptr, "stb_image cannot read " << path);
  p.rgb.assign(data, data + std::size_t(p.w) * p.h * 3);
  stbi_image_free(data);
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(label_scatter_png_reads_back_with_the_right_size_and_colours) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_plot_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // three points: class 5 at the lower-left corner, class 9 at the upper-right, class 5 in the middle
  ev::RowMatrixD xy(3, 2);
  xy << 0, 0, 10, 10, 5, 5;
  const std::vector<int> labels{5, 9, 5};
  ev::ScatterOptions o;
  o.plot_size = 200;
  o.point_radius = 3;
  o.title = "t-SNE test";
  const std::string path = (dir / "scatter.png").string();
  const structgan::Image img = ev::render_label_scatter(xy, labels, o);
  structgan::io::write_png(path, img);
  const Png png = load_png(path);
  BOOST_CHECK_EQUAL(png.w, img.width);
  BOOST_CHECK_EQUAL(png.h, img.height);
  BOOST_CHECK(png.rgb == img.pixels);  // lossless
  BOOST_CHECK_GE(png.w, 200 + 16);
  // data (0,0)-(10,10) fills the square minus an 8 px pad: plot origin (16, 16+30), so the lower-left point is
  // at (16+8, 46+200−8) and the upper-right one at (16+192, 46+8)
  BOOST_CHECK(png.at(24, 238) == ev::label_color(0));
  BOOST_CHECK(png.at(208, 54) == ev::label_color(1));
  BOOST_CHECK(png.at(116, 146) == ev::label_color(0));
  BOOST_CHECK(png.at(116 + 20, 146) == (structgan::Rgb{255, 255, 255}));
  // legend squares in both class colours, right of the plot
  const int lx = 16 + 200 + 16 + 7;
  BOOST_CHECK(png.at(lx, 46 + 7) == ev::label_color(0));
  BOOST_CHECK(png.at(lx, 46 + 22 + 7) == ev::label_color(1));
  // black legend text "5" next to the first square: glyph '5' row 0 is 0x1F, a full bar (2×2 px per font pixel)
  const int tx = lx - 7 + 14 + 8;
  for (int col = 0; col < 5; ++col) BOOST_CHECK(png.at(tx + 2 * col, 46) == (structgan::Rgb{0, 0, 0}));
  BOOST_CHECK(png.at(tx + 1, 46 + 2) == (structgan::Rgb{0, 0, 0}));   // row 1 of '5' is 0x10: left column only
  BOOST_CHECK(png.at(tx + 3, 46 + 2) == (structgan::Rgb{255, 255, 255}));
  // nothing but the file itself is left in the folder
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  BOOST_CHECK_EQUAL(files, 1);
  // palette plot
  ev::RowMatrixD ref(3, 2);
  ref << 0, 0, 1, 1, 1, 0;  // u,v of the three points: (0,0), (1,1), (1,0)
  const std::string ppath = (dir / "palette.png").string();
  const structgan::Image pimg = ev::render_palette_scatter(xy, ref, o);
  structgan::io::write_png(ppath, pimg);
  const Png pal = load_png(ppath);
  BOOST_CHECK_EQUAL(pal.w, pimg.width);
  BOOST_CHECK_EQUAL(pal.h, pimg.height);
  BOOST_CHECK(pal.at(24, 238) == ev::palette_color(0, 0));
  BOOST_CHECK(pal.at(208, 54) == ev::palette_color(1, 1));
  BOOST_CHECK(pal.at(116, 146) == ev::palette_color(1, 0));
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(colours_and_font) {
  // categorical colours are distinct for 40 classes
  std::set<std::tuple<int, int, int>> seen;
  for (int i = 0; i < 40; ++i) {
    const structgan::Rgb c = ev::label_color(i);
    seen.insert({c.r, c.g, c.b});
  }
  BOOST_CHECK_EQUAL(seen.size(), 40u);
  // the palette's corners are its four colours, its centre their mean
  const structgan::Rgb a = ev::palette_color(0, 0), b = ev::palette_color(1, 0), c = ev::palette_color(0, 1),
                d = ev::palette_color(1, 1), m = ev::palette_color(0.5, 0.5);
  BOOST_CHECK_LE(std::abs(int(m.r) - (int(a.r) + b.r + c.r + d.r) / 4), 1);
  BOOST_CHECK(ev::palette_color(-3, 7) == c);  // clamped
  // every glyph of "0123456789" is different; a character without a glyph draws '?'
  std::set<std::vector<std::uint8_t>> glyphs;
  for (char ch = '0'; ch <= '9'; ++ch) glyphs.insert(std::vector<std::uint8_t>(ev::detail::glyph5x7(ch), ev::detail::glyph5x7(ch) + 7));
  BOOST_CHECK_EQUAL(glyphs.size(), 10u);
  BOOST_CHECK(ev::detail::glyph5x7('@') == ev::detail::glyph5x7('?'));
  // the feature names of structgan-eval's plot titles (f^b, f~) have glyphs of their own
  BOOST_CHECK(ev::detail::glyph5x7('^') != ev::detail::glyph5x7('?'));
  BOOST_CHECK(ev::detail::glyph5x7('~') != ev::detail::glyph5x7('?'));
  structgan::Image img(20, 10);
  ev::draw_text(img, 0, 0, "1", {0, 0, 0});
  BOOST_CHECK(img.at(2, 0) == (structgan::Rgb{0, 0, 0}));        // '1' row 0 = 0x04: middle column
  BOOST_CHECK(img.at(0, 0) == (structgan::Rgb{255, 255, 255}));
  BOOST_CHECK_EQUAL(ev::text_width("12", 2), 22);
}

BOOST_AUTO_TEST_CASE(errors_name_the_path_and_bad_input) {
  ev::RowMatrixD xy = ev::RowMatrixD::Random(4, 2);
  const std::string path = "/nonexistent_structgan_dir/plot.png";
  try {
    structgan::io::write_png(path, ev::render_label_scatter(xy, {0, 1, 0, 1}));
    BOOST_ERROR("no error for an unwritable path");
  } catch (const structgan::Error& e) {
    BOOST_CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  BOOST_CHECK_THROW(ev::render_label_scatter(xy, {0, 1}), structgan::Error);
  BOOST_CHECK_THROW(ev::render_label_scatter(ev::RowMatrixD::Random(4, 3), {0, 1, 0, 1}), structgan::Error);
  xy(1, 1) = std::nan("");
  BOOST_CHECK_THROW(ev::render_label_scatter(xy, {0, 1, 0, 1}), structgan::Error);
  ev::ScatterOptions o;
  o.class_names = {"cat"};
  BOOST_CHECK_THROW(ev::render_label_scatter(ev::RowMatrixD::Random(4, 2), {0, 1, 0, 1}, o), structgan::Error);
}

BOOST_AUTO_TEST_CASE(line_chart_png_reads_back_with_points_in_place) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_line_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // two series over x in [0, 10]: a rising one and a flat one at the top of the y range
  ev::LineSeries up{"k-means", {0, 5, 10}, {0.2, 0.5, 0.8}}, flat{"svm", {0, 10}, {0.8, 0.8}};
  ev::LineChartOptions o;
  o.plot_width = 300;
  o.plot_height = 200;
  o.title = "validation";
  o.x_label = "minutes";
  o.y_label = "accuracy";
  o.y_min = 0;
  o.y_max = 1;
  const structgan::Image img = ev::render_line_chart({up, flat}, o);
  const std::string path = (dir / "curve.png").string();
  structgan::io::write_png(path, img);
  const Png p = load_png(path);
  BOOST_CHECK_EQUAL(p.w, img.width);
  BOOST_CHECK_EQUAL(p.h, img.height);
  BOOST_CHECK_GT(p.w, 300);
  BOOST_CHECK_GT(p.h, 200);
  // Find the plot frame (grey) and check where the middle point of the rising series lies: x at the
  // middle of the plot, y at half the height (0.5 of [0, 1]).
  const structgan::Rgb grey{160, 160, 160}, c0 = ev::label_color(0), c1 = ev::label_color(1);
  int left = -1, top = -1;
  for (int y = 0; y < p.h && top < 0; ++y)
    for (int x = 0; x < p.w; ++x)
      if (p.at(x, y) == grey && x + 1 < p.w && p.at(x + 1, y) == grey && x + 2 < p.w && p.at(x + 2, y) == grey) {
        left = x + 1;
        top = y + 1;
        break;
      }
  BOOST_REQUIRE_GE(left, 0);
  const int mx = left + (300 - 1) / 2, my = top + (200 - 1) / 2;
  BOOST_CHECK(p.at(mx, my) == c0);
  // the flat series at y = 0.8 near the right end, in its own colour
  const int fx = left + 290, fy = top + static_cast<int>(std::lround((200 - 1) * 0.2));
  BOOST_CHECK(p.at(fx, fy) == c1);
  // no colour of the first series below the line at the left (y = 0.2 at x = 0): the area is background
  BOOST_CHECK(!(p.at(left + 5, top + 195) == c0));
  // bad input: no series, mismatched sizes, non-finite values
  BOOST_CHECK_THROW(ev::render_line_chart({}), structgan::Error);
  BOOST_CHECK_THROW(ev::render_line_chart({ev::LineSeries{"a", {0, 1}, {0.5}}}), structgan::Error);
  BOOST_CHECK_THROW(ev::render_line_chart({ev::LineSeries{"a", {0, 1}, {0.5, std::nan("")}}}), structgan::Error);
  // one point only still draws (the x range widened)
  BOOST_CHECK_NO_THROW(ev::render_line_chart({ev::LineSeries{"a", {3}, {0.5}}}));
  fs::remove_all(dir);
}
