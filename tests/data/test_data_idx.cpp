#define BOOST_TEST_MODULE test_data_idx
#include <boost/test/unit_test.hpp>

#include "structgan/data/idx.hpp"

#include "data_test_util.hpp"

using namespace structgan::data;
using test_util::TempDir;

namespace {

void put_be32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

std::vector<std::uint8_t> idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, std::uint64_t seed) {
  std::vector<std::uint8_t> b{0, 0, 0x08, 3};
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  auto px = test_util::random_bytes(std::size_t(n) * rows * cols, seed);
  b.insert(b.end(), px.begin(), px.end());
  return b;
}

std::vector<std::uint8_t> idx_labels(std::uint32_t n, int classes) {
  std::vector<std::uint8_t> b{0, 0, 0x08, 1};
  put_be32(b, n);
  for (std::uint32_t i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>((i * 3 + 1) % classes));
  return b;
}

void check_set(const ImageSet& s, const std::vector<std::uint8_t>& img, const std::vector<std::uint8_t>& lab) {
  const std::size_t n = lab.size() - 8;
  BOOST_REQUIRE_EQUAL(s.size(), n);
  BOOST_TEST(s.channels == 1);
  BOOST_TEST(s.height == 5);
  BOOST_TEST(s.width == 4);
  BOOST_TEST(std::equal(img.begin() + 16, img.end(), s.pixels.begin(), s.pixels.end()));
  for (std::size_t i = 0; i < n; ++i) BOOST_TEST(s.labels[i] == lab[8 + i]);
  check(s);
}

}  // namespace

BOOST_AUTO_TEST_CASE(plain_and_gzipped_idx_read_the_same) {
  TempDir tmp("idx");
  const auto img = idx_images(13, 5, 4, 1);
  const auto lab = idx_labels(13, 10);
  test_util::write_bytes(tmp.path / "i.idx", img);
  test_util::write_bytes(tmp.path / "l.idx", lab);
  test_util::write_bytes(tmp.path / "i.idx.gz", test_util::gzip(img));
  test_util::write_bytes(tmp.path / "l.gz", test_util::gzip(lab));
  check_set(load_idx((tmp.path / "i.idx").string(), (tmp.path / "l.idx").string(), mnist_class_names()), img, lab);
  // gzip detected by the magic bytes, not the name: a gzipped file without .gz and the reverse
  test_util::write_bytes(tmp.path / "gz_no_suffix", test_util::gzip(img));
  check_set(load_idx((tmp.path / "gz_no_suffix").string(), (tmp.path / "l.gz").string(), mnist_class_names()), img,
            lab);
  check_set(load_idx((tmp.path / "i.idx.gz").string(), (tmp.path / "l.idx").string(), mnist_class_names()), img, lab);
}

BOOST_AUTO_TEST_CASE(concatenated_gzip_members) {
  TempDir tmp("idxmulti");
  const auto img = idx_images(6, 5, 4, 2);
  const auto lab = idx_labels(6, 10);
  const std::vector<std::uint8_t> a(img.begin(), img.begin() + 50), b(img.begin() + 50, img.end());
  auto gz = test_util::gzip(a);
  const auto gz2 = test_util::gzip(b);
  gz.insert(gz.end(), gz2.begin(), gz2.end());
  test_util::write_bytes(tmp.path / "i.gz", gz);
  test_util::write_bytes(tmp.path / "l", lab);
  check_set(load_idx((tmp.path / "i.gz").string(), (tmp.path / "l").string(), mnist_class_names()), img, lab);
}

BOOST_AUTO_TEST_CASE(mnist_layout_with_standard_names) {
  TempDir tmp("mnist");
  const auto img = idx_images(8, 5, 4, 3), timg = idx_images(3, 5, 4, 4);
  const auto lab = idx_labels(8, 10), tlab = idx_labels(3, 10);
  test_util::write_bytes(tmp.path / "train-images-idx3-ubyte.gz", test_util::gzip(img));
  test_util::write_bytes(tmp.path / "train-labels-idx1-ubyte.gz", test_util::gzip(lab));
  test_util::write_bytes(tmp.path / "t10k-images-idx3-ubyte", timg);  // plain, no .gz
  test_util::write_bytes(tmp.path / "t10k-labels.idx1-ubyte", tlab);  // the '.' spelling
  const ImageSet tr = load_fashion_mnist(tmp.str(), Split::train);
  check_set(tr, img, lab);
  BOOST_TEST(tr.class_names[9] == "Ankle boot");
  const ImageSet te = load_mnist(tmp.str(), Split::test);
  check_set(te, timg, tlab);
  BOOST_TEST(te.class_names[3] == "3");
}

BOOST_AUTO_TEST_CASE(missing_files_say_where_and_what) {
  TempDir tmp("mnistmissing");
  test_util::write_bytes(tmp.path / "t10k-images-idx3-ubyte.gz", test_util::gzip(idx_images(3, 5, 4, 4)));
  test_util::require_error([&] { load_fashion_mnist(tmp.str(), Split::test); },
                           {tmp.str(), "t10k-labels-idx1-ubyte.gz", "dataset-fashion-mnist"});
  test_util::require_error([&] { load_fashion_mnist(tmp.str(), Split::train); },
                           {tmp.str(), "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"});
  test_util::require_error([&] { load_mnist((tmp.path / "nope").string(), Split::train); }, {"nope", "does not exist"});
  test_util::require_error([&] { load_idx((tmp.path / "x").string(), (tmp.path / "y").string(), mnist_class_names()); },
                           {(tmp.path / "x").string(), "does not exist"});
}

BOOST_AUTO_TEST_CASE(truncated_and_corrupt_files_name_file_and_offset) {
  TempDir tmp("idxbad");
  const auto img = idx_images(10, 5, 4, 5);
  const auto lab = idx_labels(10, 10);
  const std::string l = (tmp.path / "l").string(), i = (tmp.path / "i").string();
  test_util::write_bytes(l, lab);
  // plain file cut in the data
  test_util::write_bytes(i, std::vector<std::uint8_t>(img.begin(), img.begin() + 16 + 95));
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "truncated", "byte offset 111", "200"});
  // cut in the header
  test_util::write_bytes(i, std::vector<std::uint8_t>(img.begin(), img.begin() + 10));
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "truncated IDX header", "byte offset 10"});
  // extra bytes
  auto longer = img;
  longer.push_back(7);
  test_util::write_bytes(i, longer);
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "byte offset 216", "unexpected bytes"});
  // bad magic, element type, dimension count
  auto bad = img;
  bad[0] = 0x50;
  test_util::write_bytes(i, bad);
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "byte offset 0", "not an IDX file"});
  bad = img;
  bad[2] = 0x0D;
  test_util::write_bytes(i, bad);
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "byte offset 2", "element type"});
  test_util::require_error([&] { load_idx(l, l, mnist_class_names()); }, {l, "byte offset 3", "1 dimensions, expected 3"});
  // header declaring a huge count over a tiny file: an error, not a huge allocation
  bad = img;
  bad[4] = bad[5] = bad[6] = bad[7] = 0xFF;
  test_util::write_bytes(i, bad);
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "truncated", "4294967295"});
  // gzip cut in the middle
  const auto gz = test_util::gzip(img);
  test_util::write_bytes(i, std::vector<std::uint8_t>(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); },
                           {i, "truncated gzip", "byte offset " + std::to_string(gz.size() / 2)});
  // gzip with damaged deflate data (or checksum): corrupt
  auto gzbad = gz;
  for (std::size_t k = 20; k < 40; ++k) gzbad[k] ^= 0x5A;
  test_util::write_bytes(i, gzbad);
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "gzip"});
  auto gzcrc = gz;
  gzcrc[gzcrc.size() - 6] ^= 1;  // CRC-32 of the trailer
  test_util::write_bytes(i, gzcrc);
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {i, "corrupt gzip", "check"});
}

BOOST_AUTO_TEST_CASE(labels_checked) {
  TempDir tmp("idxlabels");
  const std::string l = (tmp.path / "l").string(), i = (tmp.path / "i").string();
  test_util::write_bytes(i, idx_images(10, 5, 4, 5));
  auto lab = idx_labels(10, 10);
  lab[8 + 6] = 10;
  test_util::write_bytes(l, test_util::gzip(lab));
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); },
                           {l, "byte offset 14 of the decompressed data", "label 10", "0..9"});
  test_util::write_bytes(l, idx_labels(9, 10));
  test_util::require_error([&] { load_idx(i, l, mnist_class_names()); }, {l, "9 labels for 10 images"});
}

// Without the data set the case is skipped (reported as such, never as passed): CTest runs it as
// test_data_idx_fashion_mnist, which it reports as Skipped (tests/data/CMakeLists.txt).
boost::test_tools::assertion_result fashion_mnist_installed(boost::unit_test::test_unit_id) {
  const std::string dir = default_fashion_mnist_dir();
  boost::test_tools::assertion_result installed(std::filesystem::exists(std::filesystem::path(dir) / "train-images-idx3-ubyte.gz") ||
                                                std::filesystem::exists(std::filesystem::path(dir) / "train-images-idx3-ubyte"));
  installed.message() << "Fashion-MNIST not installed in " << dir << " (Debian: dataset-fashion-mnist)";
  return installed;
}

BOOST_AUTO_TEST_CASE(real_fashion_mnist_when_installed, *boost::unit_test::precondition(fashion_mnist_installed)) {
  for (Split split : {Split::train, Split::test}) {
    const ImageSet s = load_fashion_mnist(split);
    const std::size_t n = split == Split::train ? 60000 : 10000;
    BOOST_TEST(s.size() == n);
    BOOST_TEST(s.channels == 1);
    BOOST_TEST(s.height == 28);
    BOOST_TEST(s.width == 28);
    BOOST_TEST(s.pixels.size() == n * 784);
    std::vector<std::size_t> count(10, 0);
    for (int y : s.labels) {
      BOOST_REQUIRE(y >= 0);
      BOOST_REQUIRE(y <= 9);
      ++count[static_cast<std::size_t>(y)];
    }
    for (std::size_t c : count) BOOST_TEST(c == n / 10);  // Fashion-MNIST is balanced
    std::size_t nonzero = 0;
    for (std::uint8_t p : s.pixels) nonzero += p != 0;
    BOOST_TEST(nonzero > s.pixels.size() / 4);  // real pictures, not zeros
  }
}
