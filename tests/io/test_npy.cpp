#define BOOST_TEST_MODULE io_npy
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "../common/temp_dir.hpp"
#include "structgan/io/npy.hpp"

namespace sg = structgan;
namespace io = structgan::io;
namespace fs = std::filesystem;

using structgan::testing::TempDir;

namespace {

// A .npy file written byte by byte: magic, version, header length, dict padded to 64, then `data` bytes.
void write_raw_npy(const std::string& path, const std::string& dict, const std::string& data, int major = 1,
                   const std::string& magic = "\x93NUMPY") {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f << magic << static_cast<char>(major) << '\0';
  const std::size_t len = header.size();
  for (std::size_t b = 0; b < prefix - 8; ++b) f << static_cast<char>((len >> (8 * b)) & 0xff);
  f << header << data;
}

std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

template <class F>
void check_error_mentions(const F& f, const std::string& part) {
  try {
    f();
    BOOST_ERROR("no structgan::Error thrown; expected one mentioning '" << part << "'");
  } catch (const structgan::Error& e) {
    BOOST_CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos,
                        "message '" << e.what() << "' does not mention '" << part << "'");
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(round_trips_float_double_and_labels) {
  TempDir tmp;
  sg::RowMatrixF a(3, 4);
  for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = 0.5f * static_cast<float>(i) - 1.25f;
  io::write_npy(tmp.file("a.npy"), a);
  BOOST_CHECK(io::read_npy_matrix<float>(tmp.file("a.npy")) == a);
  BOOST_CHECK(io::read_npy_matrix<double>(tmp.file("a.npy")) == a.cast<double>());
  sg::RowMatrixD b = sg::RowMatrixD::Random(7, 2);
  io::write_npy(tmp.file("b.npy"), b);
  BOOST_CHECK(io::read_npy_matrix<double>(tmp.file("b.npy")) == b);
  // header: magic, version 1.0, total header a multiple of 64
  std::ifstream f(tmp.file("b.npy"), std::ios::binary);
  std::string head(10, '\0');
  f.read(head.data(), 10);
  BOOST_CHECK_EQUAL(head.substr(0, 6), std::string("\x93NUMPY"));
  BOOST_CHECK_EQUAL(head[6], 1);
  const std::size_t hlen = static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8);
  BOOST_CHECK_EQUAL((10 + hlen) % 64, 0u);
  BOOST_CHECK_EQUAL(fs::file_size(tmp.file("b.npy")), 10 + hlen + 7 * 2 * 8);
  // labels, npy int64
  const std::vector<int> labels{3, -1, 0, 2147483647, 9};
  io::write_npy_labels(tmp.file("l.npy"), labels);
  BOOST_CHECK(io::read_labels(tmp.file("l.npy")) == labels);
  // no temporary files left behind
  int files = 0;
  for (const auto& e : fs::directory_iterator(tmp.path)) files += e.is_regular_file();
  BOOST_CHECK_EQUAL(files, 3);
}

BOOST_AUTO_TEST_CASE(reads_handwritten_files_version_2_int32_and_text_labels) {
  TempDir tmp;
  write_raw_npy(tmp.file("v2.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                float_bytes({1, 2, 3, 4, 5, 6}), 2);
  const sg::RowMatrixD m = io::read_npy_matrix<double>(tmp.file("v2.npy"));
  BOOST_REQUIRE_EQUAL(m.rows(), 2);
  BOOST_REQUIRE_EQUAL(m.cols(), 3);
  BOOST_CHECK_EQUAL(m(1, 0), 4.0);
  // 1-D reads as a column; double quotes and no trailing comma are valid Python too
  write_raw_npy(tmp.file("v1.npy"), "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                float_bytes({7, 8, 9}));
  BOOST_CHECK_EQUAL(io::read_npy_matrix<float>(tmp.file("v1.npy"))(2, 0), 9.0f);
  const std::int32_t ints[4] = {5, -7, 0, 1};
  write_raw_npy(tmp.file("i4.npy"), "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }",
                std::string(reinterpret_cast<const char*>(ints), sizeof ints));
  BOOST_CHECK((io::read_labels(tmp.file("i4.npy")) == std::vector<int>{5, -7, 0, 1}));
  std::ofstream(tmp.file("l.txt")) << "3\n 4 \n\n-2\r\n";
  BOOST_CHECK((io::read_labels(tmp.file("l.txt")) == std::vector<int>{3, 4, -2}));
}

BOOST_AUTO_TEST_CASE(rejects_bad_files_with_clear_errors) {
  TempDir tmp;
  const std::string six = float_bytes({1, 2, 3, 4, 5, 6});
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  auto read = [&](const std::string& name) { return [&tmp, name] { io::read_npy_matrix<float>(tmp.file(name)); }; };

  check_error_mentions(read("missing.npy"), "cannot open");
  write_raw_npy(tmp.file("magic.npy"), ok, six, 1, "\x93NUMPZ");
  check_error_mentions(read("magic.npy"), "bad magic");
  write_raw_npy(tmp.file("v3.npy"), ok, six, 3);
  check_error_mentions(read("v3.npy"), "unsupported .npy version");
  write_raw_npy(tmp.file("f8.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", six + six);
  check_error_mentions(read("f8.npy"), "integer dtype");
  write_raw_npy(tmp.file("be.npy"), "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", six);
  check_error_mentions(read("be.npy"), "big-endian");
  write_raw_npy(tmp.file("f2.npy"), "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", six);
  check_error_mentions(read("f2.npy"), "unsupported dtype");
  write_raw_npy(tmp.file("fortran.npy"), "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six);
  check_error_mentions(read("fortran.npy"), "fortran_order");
  write_raw_npy(tmp.file("nokey.npy"), "{'descr': '<f4', 'shape': (2, 3), }", six);
  check_error_mentions(read("nokey.npy"), "missing");
  write_raw_npy(tmp.file("extra.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", six);
  check_error_mentions(read("extra.npy"), "unexpected key");
  write_raw_npy(tmp.file("garbage.npy"), "descr <f4", six);
  check_error_mentions(read("garbage.npy"), "bad header");
  write_raw_npy(tmp.file("negative.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", six);
  check_error_mentions(read("negative.npy"), "non-negative");
  write_raw_npy(tmp.file("rank3.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", six);
  check_error_mentions(read("rank3.npy"), "2-D");
  // element count overflows 64 bits
  write_raw_npy(tmp.file("overflow.npy"),
                "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", six);
  check_error_mentions(read("overflow.npy"), "overflows");
  // a huge shape that does not overflow must fail on the file size, before any allocation
  write_raw_npy(tmp.file("huge.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 100000), }",
                six);
  check_error_mentions(read("huge.npy"), "truncated data");
  // one float missing
  write_raw_npy(tmp.file("short.npy"), ok, six.substr(0, 20));
  check_error_mentions(read("short.npy"), "truncated data");
  // header length pointing past the end of the file
  {
    std::ofstream f(tmp.file("shorthead.npy"), std::ios::binary);
    f << "\x93NUMPY" << '\x01' << '\0' << '\xff' << '\x7f' << "{'descr'";
  }
  check_error_mentions(read("shorthead.npy"), "truncated header");
  std::ofstream(tmp.file("tiny.npy")) << "\x93NU";
  check_error_mentions(read("tiny.npy"), "too short");
  // labels: float dtype, not an integer, out of range
  write_raw_npy(tmp.file("flabels.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six);
  check_error_mentions([&] { io::read_labels(tmp.file("flabels.npy")); }, "float dtype");
  std::ofstream(tmp.file("bad.txt")) << "1\n2\nthree\n";
  check_error_mentions([&] { io::read_labels(tmp.file("bad.txt")); }, "line 3");
  std::ofstream(tmp.file("big.txt")) << "99999999999\n";
  check_error_mentions([&] { io::read_labels(tmp.file("big.txt")); }, "not an integer label");
  write_raw_npy(tmp.file("shortlabels.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }", six);
  check_error_mentions([&] { io::read_labels(tmp.file("shortlabels.npy")); }, "truncated data");
}

BOOST_AUTO_TEST_CASE(unwritable_path_names_the_path) {
  const std::string path = "/nonexistent_structgan_dir/x.npy";
  check_error_mentions([&] { io::write_npy(path, sg::RowMatrixF::Ones(2, 2)); }, path);
}

BOOST_AUTO_TEST_CASE(overwrites_whole_files_and_round_trips_empty_and_wide_matrices) {
  TempDir tmp;
  const std::string path = tmp.file("x.npy");
  // A smaller matrix written over a larger one: the file is replaced, not overwritten in place
  // (an in-place write would leave the old tail behind and fail the size check below).
  io::write_npy(path, sg::RowMatrixD::Constant(50, 40, 2.0));
  const sg::RowMatrixF small = sg::RowMatrixF::Constant(2, 3, -1.5f);
  io::write_npy(path, small);
  BOOST_CHECK(io::read_npy_matrix<float>(path) == small);
  std::ifstream f(path, std::ios::binary);
  std::string head(10, '\0');
  f.read(head.data(), 10);
  const std::size_t hlen = static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8);
  BOOST_CHECK_EQUAL(fs::file_size(path), 10 + hlen + 2 * 3 * 4);
  // no rows, and one row of many columns
  const sg::RowMatrixF empty(0, 3);
  io::write_npy(tmp.file("empty.npy"), empty);
  const sg::RowMatrixF back = io::read_npy_matrix<float>(tmp.file("empty.npy"));
  BOOST_CHECK_EQUAL(back.rows(), 0);
  BOOST_CHECK_EQUAL(back.cols(), 3);
  sg::RowMatrixD wide(1, 5000);
  for (Eigen::Index j = 0; j < wide.cols(); ++j) wide(0, j) = 1.0 / static_cast<double>(j + 1);
  io::write_npy(tmp.file("wide.npy"), wide);
  BOOST_CHECK(io::read_npy_matrix<double>(tmp.file("wide.npy")) == wide);
  // empty labels
  io::write_npy_labels(tmp.file("none.npy"), {});
  BOOST_CHECK(io::read_labels(tmp.file("none.npy")).empty());
}
