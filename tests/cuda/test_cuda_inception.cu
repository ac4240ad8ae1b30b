#define BOOST_TEST_MODULE cuda_inception_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// pytorch-fid's Inception-v3 (width 1/16, random weights) and both resizes on the GPU against
// PyTorch's float64 outputs (tests/nn/data/inception; the CPU runs the same in tests/nn/test_inception.cpp).
#include "cuda_test_util.hpp"
#include "gpu_test_main.hpp"
#include "structgan/io/npz.hpp"
#include "structgan/train/inception.hpp"

using namespace structgan;

namespace {
const std::string data_dir = STRUCTGAN_INCEPTION_REFERENCE_DIR;

io::NpzArray reference_array(const std::string& name) {
  static const auto members = io::read_npz_members(data_dir + "/reference.npz");
  return io::npy_bytes_to_array(members.at(name), name);
}
template <class T>
Tensor<T, Cuda> on_gpu(const io::NpzArray& a) {
  std::vector<index_t> d(a.shape.begin(), a.shape.end());
  Tensor<T, Cpu> t(Shape::from_range(d.begin(), d.end()));
  for (index_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(a.values[static_cast<std::size_t>(i)]);
  return to_device<Cuda>(t);
}
// max |got − want| / max |want|
template <class T>
double relative_error(const Tensor<T, Cuda>& got, const io::NpzArray& want) {
  const Tensor<T, Cpu> g = to_host(got);
  BOOST_REQUIRE_EQUAL(g.numel(), static_cast<index_t>(want.values.size()));
  double err = 0, scale = 0;
  for (index_t i = 0; i < g.numel(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(g.data()[i]) - want.values[static_cast<std::size_t>(i)]));
    scale = std::max(scale, std::abs(want.values[static_cast<std::size_t>(i)]));
  }
  return err / scale;
}
template <class T>
constexpr double tol() {
  return std::is_same_v<T, float> ? 1e-4 : 1e-9;
}
}  // namespace

using Scalars = std::tuple<float, double>;

BOOST_AUTO_TEST_CASE_TEMPLATE(resize_on_gpu, T, Scalars) {
  const Tensor<T, Cuda> images = on_gpu<T>(reference_array("images"));
  for (ResizeKind kind : {ResizeKind::PytorchBilinear, ResizeKind::Tf1Bilinear}) {
    const std::string tag = kind == ResizeKind::PytorchBilinear ? "pt" : "tf1";
    const Tensor<T, Cuda> y = resize_bilinear(images, 17, 13, kind);
    const double resize_tol = std::is_same_v<T, float> ? 1e-6 : 1e-12;
    BOOST_CHECK_LT(relative_error(slice(y, 0, 0, 1), reference_array(tag + "_17x13")), resize_tol);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(forward_on_gpu, T, Scalars) {
  const auto net = train::load_inception_v3<T, Cuda>(data_dir + "/weights.npz");
  const nn::InceptionOutput<T, Cuda> out = net(nn::inception_input(on_gpu<T>(reference_array("images"))));
  BOOST_CHECK_LT(relative_error(out.pool3, reference_array("pool3")), tol<T>());
  BOOST_CHECK_LT(relative_error(out.logits, reference_array("logits")), tol<T>());
  // the batched extractor, one image a batch, from a device callback
  const Tensor<T, Cuda> images = on_gpu<T>(reference_array("images"));
  const train::InceptionFeatures f = train::extract_inception_features<T>(
      net, 2, [&](index_t first, index_t count) { return slice(images, 0, first, count); }, 1);
  Tensor<T, Cpu> p3(Shape{2, 128});
  for (index_t i = 0; i < p3.numel(); ++i) p3.data()[i] = static_cast<T>(f.pool3(i / 128, i % 128));
  BOOST_CHECK_LT(relative_error(to_device<Cuda>(p3), reference_array("pool3")), tol<T>());
}
