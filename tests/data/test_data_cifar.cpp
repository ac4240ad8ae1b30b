#define BOOST_TEST_MODULE test_data_cifar
#include <boost/test/unit_test.hpp>

#include "structgan/data/cifar.hpp"

#include "data_test_util.hpp"

using namespace structgan::data;
using test_util::TempDir;

namespace {

struct Record {
  int coarse = 0, fine = 0;
  std::vector<std::uint8_t> pixels;  // 3072: R plane, G plane, B plane
};

std::vector<Record> make_records(std::size_t n, int classes, std::uint64_t seed) {
  std::vector<Record> r(n);
  for (std::size_t i = 0; i < n; ++i) {
    r[i].fine = static_cast<int>((i * 7 + seed) % static_cast<std::size_t>(classes));
    r[i].coarse = r[i].fine % 20;
    r[i].pixels = test_util::random_bytes(3072, seed * 1000 + i);
  }
  return r;
}

std::vector<std::uint8_t> cifar10_bytes(const std::vector<Record>& recs) {
  std::vector<std::uint8_t> b;
  for (const auto& r : recs) {
    b.push_back(static_cast<std::uint8_t>(r.fine));
    b.insert(b.end(), r.pixels.begin(), r.pixels.end());
  }
  return b;
}

std::vector<std::uint8_t> cifar100_bytes(const std::vector<Record>& recs) {
  std::vector<std::uint8_t> b;
  for (const auto& r : recs) {
    b.push_back(static_cast<std::uint8_t>(r.coarse));
    b.push_back(static_cast<std::uint8_t>(r.fine));
    b.insert(b.end(), r.pixels.begin(), r.pixels.end());
  }
  return b;
}

void check_matches(const ImageSet& s, const std::vector<Record>& recs, bool coarse = false) {
  BOOST_REQUIRE_EQUAL(s.size(), recs.size());
  BOOST_TEST(s.channels == 3);
  BOOST_TEST(s.height == 32);
  BOOST_TEST(s.width == 32);
  BOOST_REQUIRE_EQUAL(s.pixels.size(), recs.size() * 3072);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    BOOST_TEST(s.labels[i] == (coarse ? recs[i].coarse : recs[i].fine));
    BOOST_TEST(std::equal(recs[i].pixels.begin(), recs[i].pixels.end(), s.image(i)));
  }
  check(s);
}

}  // namespace

BOOST_AUTO_TEST_CASE(cifar10_train_and_test_in_file_order) {
  TempDir tmp("cifar10");
  std::vector<Record> all;
  const std::size_t counts[5] = {3, 2, 4, 1, 5};
  for (int f = 0; f < 5; ++f) {
    auto recs = make_records(counts[f], 10, 11 + f);
    test_util::write_bytes(tmp.path / ("data_batch_" + std::to_string(f + 1) + ".bin"), cifar10_bytes(recs));
    all.insert(all.end(), recs.begin(), recs.end());
  }
  auto test_recs = make_records(7, 10, 99);
  test_util::write_bytes(tmp.path / "test_batch.bin", cifar10_bytes(test_recs));

  const ImageSet train = load_cifar10(tmp.str(), Split::train);
  check_matches(train, all);
  BOOST_TEST(train.class_names.size() == 10u);
  BOOST_TEST(train.class_names[0] == "airplane");
  BOOST_TEST(train.class_names[9] == "truck");
  check_matches(load_cifar10(tmp.str(), Split::test), test_recs);
}

BOOST_AUTO_TEST_CASE(cifar10_found_in_archive_subfolder) {
  TempDir tmp("cifar10sub");
  auto recs = make_records(4, 10, 5);
  test_util::write_bytes(tmp.path / "cifar-10-batches-bin" / "test_batch.bin", cifar10_bytes(recs));
  check_matches(load_cifar10(tmp.str(), Split::test), recs);
}

BOOST_AUTO_TEST_CASE(cifar100_fine_by_default_coarse_optional) {
  TempDir tmp("cifar100");
  auto train = make_records(9, 100, 3);
  auto test = make_records(4, 100, 4);
  test_util::write_bytes(tmp.path / "train.bin", cifar100_bytes(train));
  test_util::write_bytes(tmp.path / "cifar-100-binary-not-used" / "x", {1});
  test_util::write_bytes(tmp.path / "test.bin", cifar100_bytes(test));
  const ImageSet fine = load_cifar100(tmp.str(), Split::train);
  check_matches(fine, train);
  BOOST_TEST(fine.class_names.size() == 100u);
  BOOST_TEST(fine.class_names[99] == "worm");
  Cifar100Options o;
  o.coarse_labels = true;
  const ImageSet coarse = load_cifar100(tmp.str(), Split::test, o);
  check_matches(coarse, test, true);
  BOOST_TEST(coarse.class_names.size() == 20u);
  BOOST_TEST(coarse.class_names[19] == "vehicles_2");
}

BOOST_AUTO_TEST_CASE(cifar_missing_files_say_where_and_what) {
  TempDir tmp("cifarmissing");
  test_util::write_bytes(tmp.path / "data_batch_1.bin", cifar10_bytes(make_records(1, 10, 1)));
  test_util::require_error([&] { load_cifar10(tmp.str(), Split::train); },
                           {tmp.str(), "data_batch_2.bin", "data_batch_5.bin", "binary version",
                            "https://www.cs.toronto.edu/~kriz/cifar.html", "cifar-10-batches-bin"});
  test_util::require_error([&] { load_cifar10((tmp.path / "nope").string(), Split::test); },
                           {"nope", "does not exist", "test_batch.bin", "https://www.cs.toronto.edu/~kriz/cifar.html"});
  test_util::require_error([&] { load_cifar100(tmp.str(), Split::train); },
                           {tmp.str(), "train.bin", "cifar-100-binary", "https://www.cs.toronto.edu/~kriz/cifar.html"});
}

BOOST_AUTO_TEST_CASE(cifar_python_version_is_recognized) {
  TempDir tmp("cifarpy");
  test_util::write_bytes(tmp.path / "data_batch_1", {0x80, 0x02});
  test_util::require_error([&] { load_cifar10(tmp.str(), Split::train); }, {"Python", "binary version"});
}

BOOST_AUTO_TEST_CASE(cifar_truncated_file_names_file_and_offset) {
  TempDir tmp("cifartrunc");
  auto bytes = cifar10_bytes(make_records(3, 10, 2));
  bytes.resize(2 * 3073 + 100);
  test_util::write_bytes(tmp.path / "test_batch.bin", bytes);
  test_util::require_error([&] { load_cifar10(tmp.str(), Split::test); },
                           {(tmp.path / "test_batch.bin").string(), "byte offset 6146", "truncated"});
  test_util::write_bytes(tmp.path / "test_batch.bin", {});
  test_util::require_error([&] { load_cifar10(tmp.str(), Split::test); }, {"test_batch.bin", "empty"});
}

BOOST_AUTO_TEST_CASE(cifar100_file_given_to_cifar10_reader) {
  TempDir tmp("cifarswap");
  test_util::write_bytes(tmp.path / "test_batch.bin", cifar100_bytes(make_records(3, 100, 2)));
  test_util::require_error([&] { load_cifar10(tmp.str(), Split::test); }, {"test_batch.bin", "CIFAR-100 file?"});
}

BOOST_AUTO_TEST_CASE(cifar_label_out_of_range) {
  TempDir tmp("cifarlabel");
  auto recs = make_records(3, 10, 2);
  auto bytes = cifar10_bytes(recs);
  bytes[3073] = 10;  // record 1's label
  test_util::write_bytes(tmp.path / "test_batch.bin", bytes);
  test_util::require_error([&] { load_cifar10(tmp.str(), Split::test); },
                           {"test_batch.bin", "byte offset 3073", "record 1", "label 10", "0..9"});
  auto b100 = cifar100_bytes(make_records(2, 100, 2));
  b100[3074 + 1] = 100;  // record 1's fine label
  test_util::write_bytes(tmp.path / "test.bin", b100);
  test_util::require_error([&] { load_cifar100(tmp.str(), Split::test); },
                           {"test.bin", "byte offset 3075", "label 100", "0..99"});
  b100[3074 + 1] = 5;
  b100[3074] = 20;  // coarse label out of range: only checked when coarse labels are used
  test_util::write_bytes(tmp.path / "test.bin", b100);
  BOOST_TEST(load_cifar100(tmp.str(), Split::test).size() == 2u);
  Cifar100Options o;
  o.coarse_labels = true;
  test_util::require_error([&] { load_cifar100(tmp.str(), Split::test, o); }, {"test.bin", "byte offset 3074", "0..19"});
}
