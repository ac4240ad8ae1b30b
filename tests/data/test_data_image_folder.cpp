#define BOOST_TEST_MODULE test_data_image_folder
#include <boost/test/unit_test.hpp>

#include "structgan/data/image_folder.hpp"
#include "structgan/io/detail/stb_write.hpp"

#include <cmath>
#include <sstream>
#include <tuple>

#include "data_test_util.hpp"

using namespace structgan::data;
using test_util::TempDir;
namespace fs = std::filesystem;

namespace {

/// An h×w RGB image (HWC) with a gradient that depends on `seed`: smooth, so JPEG keeps it well.
std::vector<std::uint8_t> gradient_hwc(int h, int w, int seed) {
  std::vector<std::uint8_t> v(std::size_t(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k)
        v[(std::size_t(y) * w + x) * 3 + k] = static_cast<std::uint8_t>((seed * 40 + k * 60 + 3 * x + 2 * y) % 256);
  return v;
}

void write_png(const fs::path& p, int h, int w, const std::vector<std::uint8_t>& hwc, int comp = 3) {
  fs::create_directories(p.parent_path());
  BOOST_REQUIRE(stbi_write_png(p.string().c_str(), w, h, comp, hwc.data(), w * comp));
}

void write_jpg(const fs::path& p, int h, int w, const std::vector<std::uint8_t>& hwc) {
  fs::create_directories(p.parent_path());
  BOOST_REQUIRE(stbi_write_jpg(p.string().c_str(), w, h, 3, hwc.data(), 95));
}

/// A 16-bit PNG (gray or RGB), which stb_image_write cannot write: big-endian samples, filter 0.
void write_png16(const fs::path& p, int h, int w, int comp, const std::vector<std::uint16_t>& hwc) {
  auto be32 = [](std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(std::uint8_t(x >> s));
  };
  std::vector<std::uint8_t> raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);
    for (int i = 0; i < w * comp; ++i) {
      const std::uint16_t v = hwc[std::size_t(y) * std::size_t(w * comp) + std::size_t(i)];
      raw.push_back(std::uint8_t(v >> 8));
      raw.push_back(std::uint8_t(v & 0xFF));
    }
  }
  uLongf zn = compressBound(uLong(raw.size()));
  std::vector<std::uint8_t> z(zn);
  BOOST_REQUIRE(compress(z.data(), &zn, raw.data(), uLong(raw.size())) == Z_OK);
  z.resize(zn);
  std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char* type, const std::vector<std::uint8_t>& data) {
    be32(png, std::uint32_t(data.size()));
    std::vector<std::uint8_t> td(type, type + 4);
    td.insert(td.end(), data.begin(), data.end());
    png.insert(png.end(), td.begin(), td.end());
    be32(png, std::uint32_t(crc32(0, td.data(), uInt(td.size()))));
  };
  std::vector<std::uint8_t> ihdr;
  be32(ihdr, std::uint32_t(w));
  be32(ihdr, std::uint32_t(h));
  ihdr.insert(ihdr.end(), {16, std::uint8_t(comp == 1 ? 0 : 2), 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", z);
  chunk("IEND", {});
  test_util::write_bytes(p, png);
}

/// Value of channel k at (y, x) of image i in the set.
int at(const ImageSet& s, std::size_t i, int k, int y, int x) {
  return s.image(i)[(std::size_t(k) * s.height + y) * s.width + x];
}

}  // namespace

BOOST_AUTO_TEST_CASE(png_folder_exact_pixels_sorted_classes) {
  TempDir tmp("folder");
  // classes in sorted order: a_dog = 0, b_cat = 1; files sorted by name within a class
  const auto i0 = gradient_hwc(6, 8, 0), i1 = gradient_hwc(6, 8, 1), i2 = gradient_hwc(6, 8, 2);
  write_png(tmp.path / "b_cat" / "x.png", 6, 8, i2);
  write_png(tmp.path / "a_dog" / "2.PNG", 6, 8, i1);
  write_png(tmp.path / "a_dog" / "1.png", 6, 8, i0);
  test_util::write_bytes(tmp.path / "a_dog" / "notes.txt", {'h', 'i'});   // skipped: not an image
  test_util::write_bytes(tmp.path / "a_dog" / ".hidden.png", {1, 2, 3});  // skipped: hidden
  test_util::write_bytes(tmp.path / "README", {'x'});                     // skipped: not a folder
  const ImageSet s = load_image_folder(tmp.str());
  BOOST_REQUIRE_EQUAL(s.size(), 3u);
  BOOST_TEST(s.class_names == (std::vector<std::string>{"a_dog", "b_cat"}));
  BOOST_TEST(s.labels == (std::vector<int>{0, 0, 1}));
  BOOST_TEST(s.channels == 3);
  BOOST_TEST(s.height == 6);
  BOOST_TEST(s.width == 8);
  const std::vector<std::uint8_t>* src[3] = {&i0, &i1, &i2};
  for (std::size_t i = 0; i < 3; ++i)  // CHW in the set, HWC in the file
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 8; ++x)
        for (int k = 0; k < 3; ++k) BOOST_REQUIRE(at(s, i, k, y, x) == (*src[i])[(std::size_t(y) * 8 + x) * 3 + k]);
  check(s);
  // gray: one channel; explicit class list: its order
  ImageFolderOptions o;
  o.channels = 1;
  o.classes = {"b_cat", "a_dog"};
  const ImageSet g = load_image_folder(tmp.str(), o);
  BOOST_TEST(g.channels == 1);
  BOOST_TEST(g.labels == (std::vector<int>{0, 1, 1}));
  BOOST_TEST(g.class_names == o.classes);
}

BOOST_AUTO_TEST_CASE(jpeg_folder_resized_to_load_size) {
  TempDir tmp("folderjpg");
  write_jpg(tmp.path / "c0" / "a.jpg", 30, 20, gradient_hwc(30, 20, 0));  // portrait
  write_jpg(tmp.path / "c0" / "b.jpeg", 16, 40, gradient_hwc(16, 40, 1));  // landscape
  std::vector<std::uint8_t> flat(std::size_t(24) * 24 * 3);
  for (std::size_t i = 0; i < flat.size(); ++i) flat[i] = std::uint8_t(i % 3 == 0 ? 200 : i % 3 == 1 ? 100 : 30);
  write_jpg(tmp.path / "c1" / "flat.jpg", 24, 24, flat);
  ImageFolderOptions o;
  o.load_size = 12;
  const ImageSet s = load_image_folder(tmp.str(), o);
  BOOST_REQUIRE_EQUAL(s.size(), 3u);
  BOOST_TEST(s.height == 12);
  BOOST_TEST(s.width == 12);
  BOOST_TEST(s.labels == (std::vector<int>{0, 0, 1}));
  // the flat color survives JPEG and resizing (up to JPEG's rounding)
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) {
      BOOST_REQUIRE(std::abs(at(s, 2, 0, y, x) - 200) <= 3);
      BOOST_REQUIRE(std::abs(at(s, 2, 1, y, x) - 100) <= 3);
      BOOST_REQUIRE(std::abs(at(s, 2, 2, y, x) - 30) <= 3);
    }
  // the portrait image: shorter side 20 → 12 (scale 0.6), 30 → 18, center rows 3..14: red at
  // (y, x) ≈ (0·40 + 3·x' + 2·y') with x' = (x + .5)/.6 − .5, y' = (y + 3 + .5)/.6 − .5
  double worst = 0;
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) {
      const double xs = (x + 0.5) / 0.6 - 0.5, ys = (y + 3 + 0.5) / 0.6 - 0.5;
      worst = std::max(worst, std::abs(at(s, 0, 0, y, x) - (3 * xs + 2 * ys)));
    }
  BOOST_TEST(worst < 6.0);  // JPEG + the filter's edge handling
  // the same with another thread count: identical bytes
  o.threads = 3;
  BOOST_TEST(load_image_folder(tmp.str(), o).pixels == s.pixels);
  o.threads = 1;
  BOOST_TEST(load_image_folder(tmp.str(), o).pixels == s.pixels);
}

BOOST_AUTO_TEST_CASE(folder_errors) {
  TempDir tmp("foldererr");
  test_util::require_error([&] { load_image_folder((tmp.path / "nope").string()); }, {"nope", "does not exist"});
  test_util::require_error([&] { load_image_folder(tmp.str()); }, {tmp.str(), "no class subfolders"});
  fs::create_directories(tmp.path / "empty");
  test_util::require_error([&] { load_image_folder(tmp.str()); }, {"empty", "holds no image files"});
  fs::remove_all(tmp.path / "empty");
  write_png(tmp.path / "a" / "1.png", 6, 8, gradient_hwc(6, 8, 0));
  write_png(tmp.path / "a" / "2.png", 7, 8, gradient_hwc(7, 8, 0));
  test_util::require_error([&] { load_image_folder(tmp.str()); }, {"2.png", "8x7", "load_size"});
  fs::remove(tmp.path / "a" / "2.png");
  ImageFolderOptions o;
  o.classes = {"a", "zebra"};
  test_util::require_error([&] { load_image_folder(tmp.str(), o); }, {"zebra", "missing class folder"});
  // a corrupt file (not an image) and a truncated JPEG: errors that name the file
  test_util::write_bytes(tmp.path / "a" / "3.jpg", test_util::random_bytes(500, 1));
  test_util::require_error([&] { load_image_folder(tmp.str()); }, {(tmp.path / "a" / "3.jpg").string(), "decode"});
  write_jpg(tmp.path / "full.jpg", 40, 40, gradient_hwc(40, 40, 3));
  auto jpg = test_util::read_bytes(tmp.path / "full.jpg");
  fs::remove(tmp.path / "full.jpg");
  jpg.resize(jpg.size() * 2 / 3);
  test_util::write_bytes(tmp.path / "a" / "3.jpg", jpg);
  test_util::require_error([&] { load_image_folder(tmp.str()); },
                           {(tmp.path / "a" / "3.jpg").string(), "truncated JPEG", "byte offset " + std::to_string(jpg.size())});
  // Huffman tables stb_image would misuse: a scan decoding with a table no DHT segment defines
  // (stb's tables are then uninitialized memory) and a table of more than 256 codes
  write_jpg(tmp.path / "full.jpg", 40, 40, gradient_hwc(40, 40, 3));
  const auto good = test_util::read_bytes(tmp.path / "full.jpg");
  fs::remove(tmp.path / "full.jpg");
  auto find_marker = [&](std::uint8_t m) {
    for (std::size_t i = 2; i + 1 < good.size(); ++i)
      if (good[i] == 0xFF && good[i + 1] == m) return i;
    BOOST_FAIL("no marker FF " << int(m));
    return std::size_t(0);
  };
  const std::size_t sos = find_marker(0xDA);
  BOOST_REQUIRE_EQUAL(int(good[sos + 4]), 3);  // three components (baseline: DC and AC tables 0 and 1)
  auto undefined = good;
  undefined[sos + 6] = 0x21;  // the first component decodes with DC table 2 (AC 1 stays defined)
  test_util::write_bytes(tmp.path / "a" / "3.jpg", undefined);
  test_util::require_error([&] { load_image_folder(tmp.str()); },
                           {(tmp.path / "a" / "3.jpg").string(), "corrupt JPEG", "byte offset " + std::to_string(sos),
                            "Huffman table DC 2", "no earlier DHT segment defines"});
  undefined[sos + 6] = 0x03;  // DC 0, AC 3
  test_util::write_bytes(tmp.path / "a" / "3.jpg", undefined);
  test_util::require_error([&] { load_image_folder(tmp.str()); }, {"Huffman table AC 3"});
  const std::size_t dht = find_marker(0xC4);
  auto oversized = good;
  oversized[dht + 5] = 0xFF;  // the first table's count of 1-bit codes: 255 more codes than it had
  oversized[dht + 6] = 0xFF;
  test_util::write_bytes(tmp.path / "a" / "3.jpg", oversized);
  test_util::require_error([&] { load_image_folder(tmp.str()); },
                           {"corrupt JPEG", "DHT segment at byte offset " + std::to_string(dht), "more than 256 codes"});
  test_util::write_bytes(tmp.path / "a" / "3.jpg", good);  // the untouched file decodes
  ImageFolderOptions one_size;
  one_size.load_size = 8;
  BOOST_TEST(load_image_folder(tmp.str(), one_size).size() == 2u);
  // with several files bad, the message is about the first one, whatever the thread timing
  test_util::write_bytes(tmp.path / "a" / "4.png", {0x89, 'P', 'N', 'G'});
  ImageFolderOptions many;
  many.threads = 4;
  test_util::require_error([&] { load_image_folder(tmp.str(), many); }, {"3.jpg"});
}

BOOST_AUTO_TEST_CASE(imagenet10_layout) {
  TempDir tmp("in10");
  const auto syn = imagenet10_synsets();
  BOOST_REQUIRE_EQUAL(syn.size(), 10u);
  for (std::size_t k = 0; k < syn.size(); ++k) {
    write_jpg(tmp.path / "train" / syn[k] / (syn[k] + "_1.JPEG"), 20, 26, gradient_hwc(20, 26, int(k)));
    write_jpg(tmp.path / "train" / syn[k] / (syn[k] + "_2.JPEG"), 30, 18, gradient_hwc(30, 18, int(k)));
    write_jpg(tmp.path / "val" / syn[k] / "ILSVRC2012_val_1.JPEG", 18, 18, gradient_hwc(18, 18, int(k)));
  }
  fs::create_directories(tmp.path / "train" / "n99999999");  // not an ImageNet-10 synset: ignored
  ImageNet10Options o;
  o.load_size = 16;
  o.train_shorter_side = 16;
  const ImageSet tr = load_imagenet10(tmp.str(), Split::train, o);
  BOOST_TEST(tr.size() == 20u);
  check(tr);
  // The train split keeps the whole field of view: 20×26 → 16×20, 30×18 → 26×16 (torchvision's
  // Resize(16) sizes), bicubic like the training crop.
  BOOST_REQUIRE(tr.variable_size());
  BOOST_TEST(tr.image_height(0) == 16);
  BOOST_TEST(tr.image_width(0) == 20);
  BOOST_TEST(tr.image_height(1) == 26);
  BOOST_TEST(tr.image_width(1) == 16);
  BOOST_TEST(tr.channels == 3);
  BOOST_TEST(tr.class_names == syn);
  for (std::size_t i = 0; i < tr.size(); ++i) BOOST_TEST(tr.labels[i] == int(i / 2));
  o.whole_train = false;  // the former layout: every image its 16×16 center
  const ImageSet sq = load_imagenet10(tmp.str(), Split::train, o);
  BOOST_TEST((!sq.variable_size() && sq.height == 16 && sq.width == 16 && sq.size() == 20u));
  const ImageSet va = load_imagenet10(tmp.str(), Split::test, o);
  BOOST_TEST(va.size() == 10u);
  check(va);
  // missing pieces
  fs::remove_all(tmp.path / "val");
  test_util::require_error([&] { load_imagenet10(tmp.str(), Split::test, o); },
                           {tmp.str(), "val", "n02056570", "n07747607"});
  fs::remove_all(tmp.path / "train" / syn[3]);
  test_util::require_error([&] { load_imagenet10(tmp.str(), Split::train, o); }, {syn[3], "missing class folder"});
}

BOOST_AUTO_TEST_CASE(whole_images_keep_the_field_of_view) {
  TempDir tmp("whole");
  write_png(tmp.path / "a" / "big.png", 40, 30, gradient_hwc(40, 30, 1));
  write_png(tmp.path / "a" / "small.png", 9, 12, gradient_hwc(9, 12, 2));
  write_png(tmp.path / "b" / "wide.png", 20, 50, gradient_hwc(20, 50, 3));
  ImageFolderOptions o;
  o.whole_images = true;
  o.max_shorter_side = 15;
  o.resample = ResampleOptions{Interpolation::bicubic, -0.5};
  o.threads = 2;
  const ImageSet s = load_image_folder(tmp.str(), o);
  check(s);
  BOOST_REQUIRE(s.variable_size());
  BOOST_TEST(s.size() == 3u);
  BOOST_TEST(s.labels == (std::vector<int>{0, 0, 1}));
  // Expected: the decoded image resized whole (no crop) to torchvision's Resize(15) size; one
  // smaller than that is kept as decoded, never enlarged.
  const std::vector<std::tuple<int, int, int, int, int>> want{{40, 30, 1, 20, 15}, {9, 12, 2, 9, 12}, {20, 50, 3, 15, 37}};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto [h, w, seed, sh, sw] = want[i];
    BOOST_TEST(s.image_height(i) == sh);
    BOOST_TEST(s.image_width(i) == sw);
    const auto hwc = gradient_hwc(h, w, seed);
    std::vector<std::uint8_t> chw(hwc.size());
    for (int p = 0; p < h * w; ++p)
      for (int k = 0; k < 3; ++k) chw[std::size_t(k) * h * w + p] = hwc[std::size_t(p) * 3 + k];
    std::vector<std::uint8_t> expect(std::size_t(3) * sh * sw);
    if (sh == h)
      expect = chw;
    else
      resized_crop(chw.data(), 3, h, w, CropBox{0, 0, h, w}, sh, sw, expect.data(), o.resample);
    BOOST_TEST(std::equal(expect.begin(), expect.end(), s.image(i)), "image " << i);
  }
}

BOOST_AUTO_TEST_CASE(unusual_files_are_read) {
  TempDir tmp("unusual");
  // 16-bit PNGs (gray and RGB): stb keeps the high byte of each sample.
  std::vector<std::uint16_t> g16(6 * 7), rgb16(6 * 7 * 3);
  for (std::size_t i = 0; i < g16.size(); ++i) g16[i] = std::uint16_t(i * 1543 + 17);
  for (std::size_t i = 0; i < rgb16.size(); ++i) rgb16[i] = std::uint16_t(i * 997 + 5);
  write_png16(tmp.path / "a" / "g16.png", 6, 7, 1, g16);
  write_png16(tmp.path / "a" / "rgb16.png", 6, 7, 3, rgb16);
  ImageFolderOptions o;
  o.channels = 3;
  const ImageSet s = load_image_folder(tmp.str(), o);
  BOOST_REQUIRE(s.size() == 2u);
  for (int p = 0; p < 42; ++p)
    for (int k = 0; k < 3; ++k) {
      BOOST_REQUIRE(s.image(0)[std::size_t(k) * 42 + p] == (g16[std::size_t(p)] >> 8));
      BOOST_REQUIRE(s.image(1)[std::size_t(k) * 42 + p] == (rgb16[std::size_t(p) * 3 + k] >> 8));
    }
  // A CMYK JPEG (Adobe, inverted, written by PIL): stb's colours agree with PIL's to a few levels
  // (the two JPEG decoders' IDCTs and chroma upsampling differ).
  const std::string ref = STRUCTGAN_PIL_REFERENCE_DIR;
  TempDir cm("cmyk");
  fs::create_directories(cm.path / "a");
  fs::copy_file(ref + "/cmyk.jpg", cm.path / "a" / "cmyk.jpg");
  const ImageSet c = load_image_folder(cm.str(), o);
  const auto pil = detail::decode_image(test_util::read_bytes(ref + "/cmyk_as_rgb.png"), 3, "cmyk_as_rgb.png");
  BOOST_REQUIRE(c.height == pil.height && c.width == pil.width);
  int worst = 0;
  double sum = 0;
  const int n = pil.height * pil.width;
  for (int p = 0; p < n; ++p)
    for (int k = 0; k < 3; ++k) {
      const int d = std::abs(int(c.image(0)[std::size_t(k) * n + p]) - int(pil.hwc[std::size_t(p) * 3 + k]));
      worst = std::max(worst, d);
      sum += d;
    }
  BOOST_TEST_MESSAGE("CMYK JPEG vs PIL: max |diff| " << worst << ", mean " << sum / (3.0 * n));
  BOOST_TEST(worst <= 12);
  BOOST_TEST(sum / (3.0 * n) <= 2.0);
}

BOOST_AUTO_TEST_CASE(bad_files_fail_or_are_skipped_by_name) {
  TempDir tmp("bad");
  write_png(tmp.path / "a" / "0.png", 12, 10, gradient_hwc(12, 10, 0));
  write_jpg(tmp.path / "a" / "1.jpg", 12, 10, gradient_hwc(12, 10, 1));
  auto jpg = test_util::read_bytes(tmp.path / "a" / "1.jpg");
  jpg.resize(jpg.size() / 2);
  test_util::write_bytes(tmp.path / "a" / "2_truncated.jpg", jpg);
  test_util::write_bytes(tmp.path / "b" / "3_text.jpg", {'h', 'e', 'l', 'l', 'o'});
  auto png = test_util::read_bytes(tmp.path / "a" / "0.png");
  png.resize(png.size() - 30);  // cut inside the image data
  test_util::write_bytes(tmp.path / "b" / "4_truncated.png", png);
  write_png(tmp.path / "b" / "5.png", 12, 10, gradient_hwc(12, 10, 5));
  auto huge = test_util::read_bytes(tmp.path / "b" / "5.png");  // IHDR: 8000×8000 (stb skips CRCs)
  for (int k : {16, 20}) {
    huge[std::size_t(k) + 2] = 0x1F;
    huge[std::size_t(k) + 3] = 0x40;
  }
  test_util::write_bytes(tmp.path / "b" / "6_huge.png", huge);
  for (bool whole : {false, true}) {
    ImageFolderOptions o;
    o.whole_images = whole;
    o.threads = 2;
    // The first bad file by name; whole images read every header first, so there a bad header
    // comes before bad data.
    test_util::require_error([&] { load_image_folder(tmp.str(), o); }, {whole ? "3_text.jpg" : "2_truncated.jpg"});
    std::ostringstream log;
    o.bad_files = BadFiles::skip;
    o.log = &log;
    const ImageSet s = load_image_folder(tmp.str(), o);
    check(s);
    BOOST_TEST(s.size() == 3u);
    BOOST_TEST(s.labels == (std::vector<int>{0, 0, 1}));
    // The kept images are the good files, in order, pixels intact (PNG: exact).
    const auto g5 = gradient_hwc(12, 10, 5);
    for (int p = 0; p < 120; ++p) BOOST_REQUIRE(s.image(2)[p] == g5[std::size_t(p) * 3]);
    const std::string text = log.str();
    BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 4);
    BOOST_TEST(text.find("6_huge.png': the header declares a 8000x8000 image") != std::string::npos, text);
    for (const char* name : {"2_truncated.jpg", "3_text.jpg", "4_truncated.png"})
      BOOST_TEST(text.find(name) != std::string::npos, name << " not named in: " << text);
  }
  // Every file bad: an error, not an empty set.
  TempDir all("allbad");
  test_util::write_bytes(all.path / "a" / "x.png", {1, 2, 3});
  ImageFolderOptions o;
  o.bad_files = BadFiles::skip;
  std::ostringstream log;
  o.log = &log;
  test_util::require_error([&] { load_image_folder(all.str(), o); }, {"none of its 1 image files"});
}
