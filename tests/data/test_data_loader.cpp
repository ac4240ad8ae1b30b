#define BOOST_TEST_MODULE test_data_loader
#include <boost/test/unit_test.hpp>

#include "structgan/data/loader.hpp"
#include "structgan/data/detail/stb.hpp"

#include <chrono>
#include <set>
#include <thread>

#include "data_test_util.hpp"

using namespace structgan::data;

int second_tu_decode_width(const std::vector<std::uint8_t>& png);
std::vector<std::uint8_t> second_tu_png(int w, int h);

namespace {

/// n images 3×8×8; image i is constant i % 256 with one marker pixel, label i % 7.
ImageSet numbered(std::size_t n) {
  ImageSet s;
  s.channels = 3;
  s.height = s.width = 8;
  s.class_names = {"0", "1", "2", "3", "4", "5", "6"};
  s.pixels.resize(n * 192);
  s.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::fill(s.image(i), s.image(i) + 192, static_cast<std::uint8_t>(i % 256));
    s.image(i)[0] = static_cast<std::uint8_t>(i / 256);
    s.labels[i] = static_cast<int>(i % 7);
  }
  return s;
}

/// Which image of numbered() a transformed-as-is image shows.
std::size_t which(const Batch& b, std::size_t j) {
  const float* p = b.images.data() + j * 192;
  const auto byte = [](float v) { return static_cast<std::size_t>(std::lround((v + 1.0f) * 127.5f)); };
  return byte(p[0]) * 256 + byte(p[1]);
}

bool same(const Batch& a, const Batch& b) {
  return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w && a.images == b.images && a.labels == b.labels &&
         a.indices == b.indices && a.epoch == b.epoch && a.index == b.index;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_sample_once_per_epoch) {
  const ImageSet data = numbered(300);
  LoaderOptions o;
  o.batch_size = 16;
  o.seed = 5;
  BatchLoader loader(data, cifar_test_transform(), o);
  BOOST_TEST(loader.batches_per_epoch() == 19u);  // ceil(300 / 16)
  BOOST_TEST(loader.size() == 300u);
  std::vector<std::vector<std::size_t>> orders;
  for (std::uint64_t e = 0; e < 3; ++e) {
    std::vector<std::size_t> seen;
    for (std::size_t k = 0; k < loader.batches_per_epoch(); ++k) {
      const Batch b = loader.next();
      BOOST_REQUIRE_EQUAL(b.epoch, e);
      BOOST_REQUIRE_EQUAL(b.index, k);
      BOOST_REQUIRE_EQUAL(b.n, k + 1 < loader.batches_per_epoch() ? 16 : 300 - 18 * 16);
      BOOST_REQUIRE(b.c == 3 && b.h == 8 && b.w == 8);
      BOOST_REQUIRE_EQUAL(b.images.size(), std::size_t(b.n) * 192);
      for (std::size_t j = 0; j < std::size_t(b.n); ++j) {
        BOOST_REQUIRE_EQUAL(which(b, j), b.indices[j]);  // the image shown is the one named
        BOOST_REQUIRE_EQUAL(b.labels[j], int(b.indices[j] % 7));
        seen.push_back(b.indices[j]);
      }
    }
    orders.push_back(seen);
    std::sort(seen.begin(), seen.end());
    for (std::size_t i = 0; i < 300; ++i) BOOST_REQUIRE_EQUAL(seen[i], i);  // each exactly once
  }
  BOOST_TEST(orders[0] != orders[1]);  // reshuffled every epoch
  BOOST_TEST(orders[1] != orders[2]);
  std::vector<std::size_t> identity(300);
  std::iota(identity.begin(), identity.end(), std::size_t(0));
  BOOST_TEST(orders[0] != identity);
}

BOOST_AUTO_TEST_CASE(no_shuffle_and_drop_last) {
  const ImageSet data = numbered(50);
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = false;
  o.drop_last = true;
  BatchLoader loader(data, cifar_test_transform(), o);
  BOOST_TEST(loader.batches_per_epoch() == 6u);
  for (std::uint64_t e = 0; e < 2; ++e)
    for (std::size_t k = 0; k < 6; ++k) {
      const Batch b = loader.next();
      BOOST_REQUIRE_EQUAL(b.n, 8);
      for (std::size_t j = 0; j < 8; ++j) BOOST_REQUIRE_EQUAL(b.indices[j], k * 8 + j);
    }
  o.batch_size = 51;
  BOOST_CHECK_THROW(BatchLoader(data, cifar_test_transform(), o), structgan::Error);
  o.batch_size = 0;
  BOOST_CHECK_THROW(BatchLoader(data, cifar_test_transform(), o), structgan::Error);
  BOOST_CHECK_THROW(BatchLoader(ImageSet{}, cifar_test_transform(), {}), structgan::Error);
}

BOOST_AUTO_TEST_CASE(deterministic_for_a_seed_whatever_the_timing) {
  ImageSet data = numbered(70);
  for (auto& p : data.pixels) p = static_cast<std::uint8_t>(p * 37 + 11);  // texture for the crops to move
  for (std::size_t i = 0; i < data.pixels.size(); i += 5) data.pixels[i] ^= 0x55;
  LoaderOptions o;
  o.batch_size = 32;
  o.seed = 11;
  const Transform t = train_transform(8);
  BatchLoader a(data, t, o);
  o.threads = 3;
  BatchLoader b(data, t, o);
  o.seed = 12;
  BatchLoader c(data, t, o);
  Batch x, y, z;
  int differ = 0;
  for (int k = 0; k < 9; ++k) {
    a.next(x);  // reusing buffers
    if (k % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the worker runs ahead
    y = b.next();
    c.next(z);
    BOOST_REQUIRE(same(x, y));
    differ += x.images != z.images;
    for (float v : x.images) BOOST_REQUIRE(v >= -1.0f && v <= 1.0f);
  }
  BOOST_TEST(differ == 9);
  // Augmentation draws differ between epochs: the same image is seen differently.
  o.seed = 1;
  o.shuffle = false;
  o.batch_size = 70;
  BatchLoader d(data, t, o);
  const Batch e0 = d.next(), e1 = d.next();
  BOOST_TEST(e0.indices == e1.indices);
  BOOST_TEST(e0.images != e1.images);
}

// The timeout turns a destructor that never joins its worker into a failure instead of a hang.
BOOST_AUTO_TEST_CASE(owns_a_moved_set_and_shuts_down_cleanly, *boost::unit_test::timeout(120)) {
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  {
    // A temporary set is moved in: its images still arrive, in order, after the temporary is gone.
    BatchLoader owning(numbered(10), cifar_test_transform(), o);
    for (std::size_t k = 0; k < 3; ++k) {
      const Batch b = owning.next();
      BOOST_REQUIRE_EQUAL(b.n, k < 2 ? 4 : 2);  // 10 images: 4, 4, 2
      for (std::size_t j = 0; j < std::size_t(b.n); ++j) {
        BOOST_TEST(which(b, j) == 4 * k + j);
        BOOST_TEST(b.labels[j] == int((4 * k + j) % 7));
      }
    }
  }
  for (int i = 0; i < 20; ++i) {  // destroyed at once, or while the worker waits with a batch ready
    BatchLoader l(numbered(10), cifar_test_transform(), o);
    if (i % 2) BOOST_TEST(which(l.next(), 3) == 3u);
  }
}

BOOST_AUTO_TEST_CASE(worker_exceptions_reach_the_caller) {
  Transform bad = train_transform(8);
  bad.scale_min = 0.0;  // rejected by random_resized_crop_box, inside the worker
  LoaderOptions o;
  o.batch_size = 4;
  BatchLoader l(numbered(10), bad, o);
  test_util::require_error([&] { l.next(); }, {"random_resized_crop_box", "scale"});
  test_util::require_error([&] { l.next(); }, {"random_resized_crop_box"});  // and stays failed
  Transform too_big;
  too_big.out_h = too_big.out_w = 9;  // a center crop larger than 8×8: caught in the constructor
  BOOST_CHECK_THROW(BatchLoader(numbered(10), too_big, o), structgan::Error);
}

BOOST_AUTO_TEST_CASE(stb_from_two_translation_units) {
  const auto png = second_tu_png(5, 3);
  BOOST_TEST(second_tu_decode_width(png) == 5);
  BOOST_TEST(detail::decode_image(png, 3, "memory").height == 3);
}

// A whole-image (variable-size) set: each image is cropped from its own size, as transform_image
// does it with the loader's per-sample generator; a transform whose output depends on the input
// size is refused.
BOOST_AUTO_TEST_CASE(variable_size_sets) {
  ImageSet s;
  s.channels = 3;
  s.class_names = {"a", "b"};
  s.offsets = {0};
  const std::vector<std::pair<int, int>> sizes{{20, 30}, {31, 17}, {12, 12}, {40, 25}};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto bytes = test_util::random_bytes(std::size_t(3) * sizes[i].first * sizes[i].second, 10 + i);
    s.pixels.insert(s.pixels.end(), bytes.begin(), bytes.end());
    s.offsets.push_back(s.pixels.size());
    s.sizes.push_back(sizes[i]);
    s.labels.push_back(int(i % 2));
  }
  check(s);
  const Transform t = train_transform(8);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  o.seed = 5;
  o.threads = 2;
  BatchLoader loader(s, t, o);
  const Batch b = loader.next();
  BOOST_REQUIRE(b.n == 4 && b.c == 3 && b.h == 8 && b.w == 8);
  for (std::size_t j = 0; j < 4; ++j) {
    std::vector<float> want(3 * 8 * 8);
    std::mt19937_64 g(detail::mix_seed(o.seed, 0, j));
    transform_image(t, s.image(j), 3, sizes[j].first, sizes[j].second, want.data(), g);
    BOOST_TEST(std::equal(want.begin(), want.end(), b.images.begin() + std::ptrdiff_t(j * want.size())), "image " << j);
  }
  Transform as_is;  // no output size: each image would keep its own
  test_util::require_error([&] { BatchLoader bad(s, as_is, o); }, {"image 1", "31x17", "out_h"});
}
