#define BOOST_TEST_MODULE autodiff_errors
#include <boost/test/unit_test.hpp>

#include "structgan/autodiff.hpp"

using namespace structgan;

namespace {
bool mentions(const Error& e, std::initializer_list<const char*> parts) {
  const std::string w = e.what();
  for (const char* p : parts)
    if (w.find(p) == std::string::npos) return false;
  return true;
}
}  // namespace

BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_and_shapes) {
  using TD = Tensor<double>;
  TD a(Shape{2, 3}), b(Shape{3, 2}), img(Shape{1, 3, 4, 4}), w(Shape{2, 4, 3, 3});
  BOOST_CHECK_EXCEPTION(add(a, b), Error, [](const Error& e) { return mentions(e, {"add", "[2, 3]", "[3, 2]"}); });
  BOOST_CHECK_EXCEPTION(matmul(a, a), Error, [](const Error& e) { return mentions(e, {"matmul", "[2, 3]"}); });
  BOOST_CHECK_EXCEPTION(conv2d(img, w, 1, 1), Error, [](const Error& e) { return mentions(e, {"conv2d", "channels"}); });
  BOOST_CHECK_EXCEPTION(conv2d(a, w, 1, 1), Error, [](const Error& e) { return mentions(e, {"conv2d", "N×C×H×W"}); });
  const TD w17(Shape{2, 3, 1, 7});
  BOOST_CHECK_EXCEPTION(conv2d(img, w17, 1, 0, 1), Error, [](const Error& e) { return mentions(e, {"conv2d", "larger than input", "(0, 1)"}); });
  BOOST_CHECK_EXCEPTION(conv2d(img, w17, 1, -1, 3), Error, [](const Error& e) { return mentions(e, {"conv2d", "padding (-1, 3)"}); });
  BOOST_CHECK_EXCEPTION(avg_pool2d(img, 3, 1, 2), Error, [](const Error& e) { return mentions(e, {"avg_pool2d", "pad should be at most half of kernel size"}); });
  BOOST_CHECK_EXCEPTION(max_pool2d(img, 2, 2, 3), Error, [](const Error& e) { return mentions(e, {"max_pool2d", "pad should be at most half of kernel size"}); });
  BOOST_CHECK_EXCEPTION(max_pool2d(img, 7, 1, 1), Error, [](const Error& e) { return mentions(e, {"max_pool2d", "does not fit", "[1, 3, 4, 4]"}); });
  BOOST_CHECK_EXCEPTION(group_norm(img, 2, TD(), TD()), Error, [](const Error& e) { return mentions(e, {"group_norm", "3 channels"}); });
  BOOST_CHECK_EXCEPTION(slice(a, 1, 2, 2), Error, [](const Error& e) { return mentions(e, {"slice", "[2, 3]"}); });
  BOOST_CHECK_EXCEPTION(reshape(a, Shape{4, 2}), Error, [](const Error& e) { return mentions(e, {"reshape"}); });
  BOOST_CHECK_EXCEPTION(softmax_cross_entropy(a, {0, 5}), Error, [](const Error& e) { return mentions(e, {"label 5"}); });
  BOOST_CHECK_EXCEPTION(backward(Var<double>(a, true)), Error, [](const Error& e) { return mentions(e, {"seed"}); });
  BOOST_CHECK_EXCEPTION(Shape({1, 2, 3, 4, 5}), Error, [](const Error& e) { return mentions(e, {"rank"}); });
  BOOST_CHECK_EXCEPTION(from_vector<double>(Shape{2, 2}, {1, 2, 3}), Error, [](const Error& e) { return mentions(e, {"3 values"}); });
}

BOOST_AUTO_TEST_CASE(non_finite_logits_are_reported) {
  Tensor<double> z = from_vector<double>(Shape{2, 2}, {0, 1, std::nan(""), 1});
  // max of a row with NaN is implementation-defined; ensure an Inf row is caught
  Tensor<double> inf = from_vector<double>(Shape{1, 2}, {std::numeric_limits<double>::infinity(), 0});
  BOOST_CHECK_EXCEPTION(softmax_cross_entropy(inf, {0}), Error, [](const Error& e) { return mentions(e, {"not finite"}); });
  (void)z;
}
