#define BOOST_TEST_MODULE nn_inception
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>

#include "structgan/autodiff.hpp"
#include "structgan/backend/ref.hpp"
#include "structgan/io/npz.hpp"
#include "structgan/nn/inception.hpp"
#include "structgan/train/inception.hpp"
#include "../common/gradcheck.hpp"
#include "../common/temp_dir.hpp"

// pytorch-fid's FID Inception-v3 and its input path against PyTorch: the reference
// (tests/nn/data/inception, written by scripts/make_inception_reference.py) holds the network at
// width divisor 16 with random weights, its outputs in float64 for images resized by F.interpolate,
// both resizes (PyTorch's and TF1's as torch-fidelity computes it), and the full-size network's
// state_dict names, shapes and parameter count. No test needs the real weights.
using namespace structgan;
namespace fs = std::filesystem;

namespace {
const fs::path data_dir = fs::path(STRUCTGAN_INCEPTION_REFERENCE_DIR);
const std::string weights_path = (data_dir / "weights.npz").string();

std::map<std::string, io::NpzArray> read_npz(const std::string& path) {
  std::map<std::string, io::NpzArray> out;
  for (const auto& [name, bytes] : io::read_npz_members(path)) out.emplace(name, io::npy_bytes_to_array(bytes, name));
  return out;
}
const std::map<std::string, io::NpzArray>& reference() {
  static const auto ref = read_npz((data_dir / "reference.npz").string());
  return ref;
}
const io::NpzArray& reference_array(const std::string& name) {
  const auto it = reference().find(name);
  BOOST_REQUIRE_MESSAGE(it != reference().end(), "reference.npz lacks " << name);
  return it->second;
}
Shape shape_of(const io::NpzArray& a) {
  std::vector<index_t> d(a.shape.begin(), a.shape.end());
  return Shape::from_range(d.begin(), d.end());
}
template <class T, class D = Cpu>
Tensor<T, D> tensor_of(const io::NpzArray& a) {
  Tensor<T, Cpu> t(shape_of(a));
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(a.values[static_cast<std::size_t>(i)]);
  return to_device<D>(t);
}
// max |got − want| / max |want| (norm-wise relative error: entries near zero do not dominate)
template <class T, class D>
double relative_error(const Tensor<T, D>& got, const io::NpzArray& want) {
  const Tensor<T, Cpu> g = to_host(got);
  BOOST_REQUIRE_EQUAL(g.numel(), static_cast<index_t>(want.values.size()));
  double err = 0, scale = 0;
  for (index_t i = 0; i < g.numel(); ++i) {
    const double w = want.values[static_cast<std::size_t>(i)];
    err = std::max(err, std::abs(static_cast<double>(g.data()[i]) - w));
    scale = std::max(scale, std::abs(w));
  }
  BOOST_REQUIRE_GT(scale, 0);
  return err / scale;
}
double relative_error(const RowMatrixD& got, const io::NpzArray& want) {
  BOOST_REQUIRE_EQUAL(got.size(), static_cast<index_t>(want.values.size()));
  double err = 0, scale = 0;
  for (index_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::abs(got.data()[i] - want.values[static_cast<std::size_t>(i)]));
    scale = std::max(scale, std::abs(want.values[static_cast<std::size_t>(i)]));
  }
  return err / scale;
}
// x (1×C×299×299) → every 7th row and 5th column, as the reference stores it
Tensor<double, Cpu> subsample_299(const Tensor<double, Cpu>& x) {
  const index_t c = x.dim(1), rows = (299 + 6) / 7, cols = (299 + 4) / 5;
  Tensor<double, Cpu> y(Shape{c, rows, cols});
  for (index_t k = 0; k < c; ++k)
    for (index_t i = 0; i < rows; ++i)
      for (index_t j = 0; j < cols; ++j) y.data()[(k * rows + i) * cols + j] = x.data()[(k * 299 + 7 * i) * 299 + 5 * j];
  return y;
}

template <class F>
void check_error_mentions(const F& f, const std::vector<std::string>& parts) {
  try {
    f();
    BOOST_ERROR("no structgan::Error thrown; expected one mentioning '" << parts.front() << "'");
  } catch (const structgan::Error& e) {
    for (const auto& part : parts)
      BOOST_CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos,
                          "message '" << e.what() << "' does not mention '" << part << "'");
  }
}

std::vector<io::NpzArray> weight_arrays() {
  std::vector<io::NpzArray> out;
  for (auto& [name, a] : read_npz(weights_path)) out.push_back(a);
  return out;
}
io::NpzArray& find(std::vector<io::NpzArray>& arrays, const std::string& name) {
  for (auto& a : arrays)
    if (a.name == name) return a;
  BOOST_FAIL("weights.npz lacks " << name);
  return arrays.front();
}
}  // namespace

BOOST_AUTO_TEST_CASE(resize_matrices_equal_pytorch_and_tf1) {
  // F.interpolate's matrices (read off one-hot images) and TF1's gather formula, in double.
  BOOST_CHECK_LT(relative_error(resize_matrix(40, 299, ResizeKind::PytorchBilinear), reference_array("pt_mh")), 1e-12);
  BOOST_CHECK_LT(relative_error(resize_matrix(33, 299, ResizeKind::PytorchBilinear), reference_array("pt_mw")), 1e-12);
  BOOST_CHECK_LT(relative_error(resize_matrix(40, 299, ResizeKind::Tf1Bilinear), reference_array("tf1_mh")), 1e-12);
  BOOST_CHECK_LT(relative_error(resize_matrix(33, 299, ResizeKind::Tf1Bilinear), reference_array("tf1_mw")), 1e-12);
  // The two conventions differ (TF1 has no half-pixel offset), so the test tells them apart.
  BOOST_CHECK_GT((resize_matrix(40, 299, ResizeKind::PytorchBilinear) - resize_matrix(40, 299, ResizeKind::Tf1Bilinear))
                     .cwiseAbs()
                     .maxCoeff(),
                 0.1);
  // Rows sum to one; the same size is the identity.
  BOOST_CHECK_LT((resize_matrix(17, 299, ResizeKind::Tf1Bilinear).rowwise().sum().array() - 1).abs().maxCoeff(), 1e-15);
  BOOST_CHECK(resize_matrix(29, 29, ResizeKind::PytorchBilinear) == RowMatrixD::Identity(29, 29));
  BOOST_CHECK(resize_matrix(29, 29, ResizeKind::Tf1Bilinear) == RowMatrixD::Identity(29, 29));
}

BOOST_AUTO_TEST_CASE(resize_images_equal_pytorch_and_tf1) {
  const io::NpzArray& images = reference_array("images");
  Tensor<double> all = tensor_of<double>(images);
  Tensor<double> first = slice(all, 0, 0, 1);  // 1×3×40×33
  for (ResizeKind kind : {ResizeKind::PytorchBilinear, ResizeKind::Tf1Bilinear}) {
    const std::string tag = kind == ResizeKind::PytorchBilinear ? "pt" : "tf1";
    BOOST_TEST_CONTEXT(tag) {
      BOOST_CHECK_LT(relative_error(subsample_299(resize_bilinear(first, 299, 299, kind)), reference_array(tag + "_299_sub")), 1e-12);
      BOOST_CHECK_LT(relative_error(resize_bilinear(first, 17, 13, kind), reference_array(tag + "_17x13")), 1e-12);
      // float, and the reference device (no host access: as on a GPU)
      Tensor<float> f = slice(resize_bilinear(tensor_of<float>(images), 17, 13, kind), 0, 0, 1);
      BOOST_CHECK_LT(relative_error(f, reference_array(tag + "_17x13")), 1e-6);
      Tensor<double, Ref> r = resize_bilinear(tensor_of<double, Ref>(images), 299, 299, kind);
      BOOST_CHECK_LT(relative_error(subsample_299(to_host(slice(r, 0, 0, 1))), reference_array(tag + "_299_sub")), 1e-12);
    }
  }
  check_error_mentions([&] { resize_bilinear(Tensor<double>(Shape{3, 40, 33}), 9, 9); }, {"resize_bilinear", "N×C×H×W"});
  check_error_mentions([&] { resize_bilinear(all, 0, 9); }, {"resize_bilinear", "output size"});
}

BOOST_AUTO_TEST_CASE(resize_rules) {
  // reverse (the adjoint M_hᵀ ȳ M_w), tangent and their compositions against finite differences
  Rng rng(3);
  const Tensor<double> x = rand_uniform<double>(Shape{2, 2, 7, 5}, rng, -1, 1);
  for (ResizeKind kind : {ResizeKind::PytorchBilinear, ResizeKind::Tf1Bilinear}) {
    testing::check_op(std::string("resize_bilinear ") + resize_kind_name(kind),
                      [kind](const auto& v) { return resize_bilinear(v[0], 11, 4, kind); }, {x});
    testing::check_op(std::string("resize_bilinear down ") + resize_kind_name(kind),
                      [kind](const auto& v) { return resize_bilinear(v[0], 3, 2, kind); }, {x});
  }
}

BOOST_AUTO_TEST_CASE(forward_equals_pytorch_in_double_and_float) {
  const auto net = train::load_inception_v3<double>(weights_path);
  BOOST_CHECK_EQUAL(net.width_divisor(), 16);
  BOOST_CHECK_EQUAL(net.feature_dim(), 128);
  const Tensor<double> x = nn::inception_input(tensor_of<double>(reference_array("images")));
  BOOST_CHECK(x.shape() == (Shape{2, 3, 299, 299}));
  const nn::InceptionOutput<double> out = net(x);
  BOOST_CHECK(out.pool3.shape() == (Shape{2, 128}));
  BOOST_CHECK(out.logits.shape() == (Shape{2, 1008}));
  BOOST_CHECK_LT(relative_error(out.pool3, reference_array("pool3")), 1e-9);
  BOOST_CHECK_LT(relative_error(out.logits, reference_array("logits")), 1e-9);
  // logits = logits_unbiased + fc.bias
  const Tensor<double> bias = tensor_of<double>(read_npz(weights_path).at("fc.bias"));
  for (index_t i = 0; i < 2; ++i)
    for (index_t j = 0; j < 1008; ++j)
      BOOST_CHECK_SMALL(out.logits.at(i, j) - out.logits_unbiased.at(i, j) - bias.at(j), 1e-12);

  const auto netf = train::load_inception_v3<float>(weights_path);
  const nn::InceptionOutput<float> outf = netf(nn::inception_input(tensor_of<float>(reference_array("images"))));
  BOOST_CHECK_LT(relative_error(outf.pool3, reference_array("pool3")), 1e-4);
  BOOST_CHECK_LT(relative_error(outf.logits, reference_array("logits")), 1e-4);
}

BOOST_AUTO_TEST_CASE(uint8_images_follow_pytorch_fid) {
  // bytes → x/255 → F.interpolate → 2x − 1 → the network
  const io::NpzArray& u8 = reference_array("images_u8");
  std::vector<std::uint8_t> pixels(u8.values.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(u8.values[i]);
  const auto net = train::load_inception_v3<double>(weights_path);
  const nn::InceptionOutput<double> out = net(nn::inception_input_uint8<double>(pixels.data(), shape_of(u8)));
  BOOST_CHECK_LT(relative_error(out.pool3, reference_array("pool3_u8")), 1e-9);
  BOOST_CHECK_LT(relative_error(out.logits, reference_array("logits_u8")), 1e-9);
  // the batched extractor, one image a batch
  const train::InceptionFeatures f = train::extract_inception_features_uint8<double>(
      net, 2, 37, 50, [&](index_t first, index_t count, std::uint8_t* dst) {
        std::copy(pixels.begin() + first * 3 * 37 * 50, pixels.begin() + (first + count) * 3 * 37 * 50, dst);
      }, 1);
  Tensor<double> p3(Shape{2, 128});
  p3.matrix() = f.pool3;
  BOOST_CHECK_LT(relative_error(p3, reference_array("pool3_u8")), 1e-9);
}

BOOST_AUTO_TEST_CASE(extractor_batches_and_reference_device) {
  const auto net = train::load_inception_v3<double>(weights_path);
  const Tensor<double> images = tensor_of<double>(reference_array("images"));
  for (index_t batch : {1, 2, 50}) {
    const train::InceptionFeatures f = train::extract_inception_features<double>(
        net, 2, [&](index_t first, index_t count) { return slice(images, 0, first, count); }, batch);
    BOOST_REQUIRE_EQUAL(f.pool3.rows(), 2);
    BOOST_REQUIRE_EQUAL(f.pool3.cols(), 128);
    BOOST_REQUIRE_EQUAL(f.logits.cols(), 1008);
    Tensor<double> p3(Shape{2, 128}), lg(Shape{2, 1008});
    p3.matrix() = f.pool3;
    lg.matrix() = f.logits;
    BOOST_CHECK_LT(relative_error(p3, reference_array("pool3")), 1e-9);
    BOOST_CHECK_LT(relative_error(lg, reference_array("logits")), 1e-9);
  }
  // The whole forward pass on the reference device: no host access anywhere (as on CUDA).
  const auto netr = train::load_inception_v3<double, Ref>(weights_path);
  const nn::InceptionOutput<double, Ref> out = netr(nn::inception_input(tensor_of<double, Ref>(reference_array("images"))));
  BOOST_CHECK_LT(relative_error(out.pool3, reference_array("pool3")), 1e-9);
  BOOST_CHECK_LT(relative_error(out.logits, reference_array("logits")), 1e-9);
}

BOOST_AUTO_TEST_CASE(full_size_names_shapes_and_parameter_count) {
  std::ifstream f(data_dir / "full_size_tensors.json");
  const std::string json((std::istreambuf_iterator<char>(f)), {});
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(json, m, std::regex("\"parameter_count\": *([0-9]+)")));
  const index_t pytorch_count = std::stoll(m[1]);
  BOOST_CHECK_EQUAL(pytorch_count, 23850960);  // torchvision's 27,161,264 − aux head − fc(1000) + fc(1008)
  std::vector<std::pair<std::string, Shape>> pytorch;
  const std::regex entry("\\[\"([^\"]+)\", *\\[([0-9, ]*)\\]\\]");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), entry); it != std::sregex_iterator(); ++it) {
    std::vector<index_t> dims;
    std::stringstream ds((*it)[2].str());
    for (std::string tok; std::getline(ds, tok, ',');) dims.push_back(std::stoll(tok));
    pytorch.emplace_back((*it)[1].str(), Shape::from_range(dims.begin(), dims.end()));
  }
  const auto ours = nn::InceptionV3<float>::expected_tensors(1);
  BOOST_REQUIRE_EQUAL(ours.size(), pytorch.size());
  BOOST_CHECK_EQUAL(ours.size(), 472u);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    BOOST_CHECK_EQUAL(ours[i].first, pytorch[i].first);
    BOOST_CHECK_MESSAGE(ours[i].second == pytorch[i].second, ours[i].first << ": " << ours[i].second << " vs " << pytorch[i].second);
  }
  nn::InceptionV3<float> full(1);
  BOOST_CHECK_EQUAL(nn::parameter_count(full), pytorch_count);
  BOOST_CHECK_EQUAL(full.feature_dim(), 2048);
}

BOOST_AUTO_TEST_CASE(loader_rejects_bad_files) {
  testing::TempDir tmp("inception");
  const auto base = weight_arrays();
  auto write = [&](const std::string& name, const std::vector<io::NpzArray>& arrays) {
    io::write_npz(tmp.file(name), arrays);
    return tmp.file(name);
  };
  {  // float64 copy with a num_batches_tracked counter: accepted
    auto a = base;
    a.push_back({"Mixed_5b.branch1x1.bn.num_batches_tracked", {}, {0}});
    BOOST_CHECK_NO_THROW(train::load_inception_v3<double>(write("ok.npz", a)));
  }
  {
    auto a = base;
    const std::string gone = "Mixed_6c.branch7x7dbl_4.bn.running_var";
    a.erase(std::find_if(a.begin(), a.end(), [&](const io::NpzArray& x) { return x.name == gone; }));
    const std::string p = write("missing.npz", a);
    check_error_mentions([&] { train::load_inception_v3<float>(p); }, {"missing tensor", gone, p});
  }
  {
    auto a = base;
    auto& w = find(a, "Mixed_5b.branch5x5_2.conv.weight");  // [4, 3, 5, 5]
    w.shape = {3, 4, 5, 5};
    const std::string p = write("shape.npz", a);
    check_error_mentions([&] { train::load_inception_v3<float>(p); },
                         {"Mixed_5b.branch5x5_2.conv.weight", "has shape", "expected", p});
  }
  {
    auto a = base;
    find(a, "fc.bias").values[7] = std::numeric_limits<double>::quiet_NaN();
    const std::string p = write("nan.npz", a);
    check_error_mentions([&] { train::load_inception_v3<float>(p); }, {"fc.bias", "NaN", p});
  }
  {
    auto a = base;
    a.push_back({"Mixed_8a.conv.weight", {2}, {1, 2}});
    const std::string p = write("extra.npz", a);
    check_error_mentions([&] { train::load_inception_v3<float>(p); }, {"unexpected tensor", "Mixed_8a.conv.weight", p});
  }
  {
    auto a = base;
    find(a, "Conv2d_1a_3x3.conv.weight").shape = {1, 6, 3, 3};
    const std::string p = write("width.npz", a);
    check_error_mentions([&] { train::load_inception_v3<float>(p); }, {"Conv2d_1a_3x3.conv.weight", "width divisor", p});
  }
  {  // truncated: the first half of the real file
    std::ifstream in(weights_path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(tmp.file("truncated.npz"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    check_error_mentions([&] { train::load_inception_v3<float>(tmp.file("truncated.npz")); }, {tmp.file("truncated.npz")});
  }
  check_error_mentions([&] { train::load_inception_v3<float>(tmp.file("absent.npz")); }, {tmp.file("absent.npz")});
}

BOOST_AUTO_TEST_CASE(wrong_inputs_get_clear_errors) {
  const auto net = train::load_inception_v3<float>(weights_path);
  check_error_mentions([&] { net(Tensor<float>(Shape{1, 3, 224, 224})); }, {"InceptionV3", "N×3×299×299", "224"});
  check_error_mentions([&] { net(Tensor<float>(Shape{1, 1, 299, 299})); }, {"InceptionV3", "N×3×299×299"});
  check_error_mentions([&] { nn::inception_input(Tensor<float>(Shape{3, 32, 32})); }, {"inception_input", "N×3×H×W"});
  check_error_mentions([&] { nn::inception_input(Tensor<float>(Shape{2, 4, 32, 32})); }, {"inception_input", "N×3×H×W"});
  check_error_mentions([&] { nn::InceptionV3<float>(3); }, {"width divisor"});
  nn::InceptionV3<float> empty(16), placeholder;
  BOOST_CHECK(!empty.ready() && !placeholder.ready() && net.ready());
  check_error_mentions([&] { empty(Tensor<float>(Shape{1, 3, 299, 299})); }, {"no weights"});
  check_error_mentions([&] { placeholder(Tensor<float>(Shape{1, 3, 299, 299})); }, {"no weights"});
  placeholder = net;  // shares the loaded storage
  BOOST_CHECK(placeholder.ready());
  check_error_mentions(
      [&] {
        train::extract_inception_features<float>(net, 3, [&](index_t, index_t) { return Tensor<float>(Shape{1, 3, 8, 8}); }, 2);
      },
      {"extract_inception_features", "expected 2"});
}
