#define BOOST_TEST_MODULE autodiff_conv_norm
#include <boost/test/unit_test.hpp>

#include "common/gradcheck.hpp"

using namespace structgan;
using namespace structgan::testing;

namespace {
TD rnd(const Shape& s, std::uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return rand_uniform<double>(s, rng, lo, hi);
}
/// Direct definition of a 2-D cross-correlation with zero padding.
double conv_at(const TD& x, const TD& w, index_t n, index_t o, index_t oy, index_t ox, index_t s, index_t p) {
  double acc = 0;
  for (index_t c = 0; c < x.dim(1); ++c)
    for (index_t i = 0; i < w.dim(2); ++i)
      for (index_t j = 0; j < w.dim(3); ++j) {
        const index_t iy = oy * s - p + i, ix = ox * s - p + j;
        if (iy >= 0 && iy < x.dim(2) && ix >= 0 && ix < x.dim(3)) acc += x.at(n, c, iy, ix) * w.at(o, c, i, j);
      }
  return acc;
}
}  // namespace

BOOST_AUTO_TEST_CASE(conv2d_geometries) {
  struct G { index_t k1, k2, stride, pad; };
  for (const G g : {G{3, 3, 1, 1}, G{1, 1, 1, 0}, G{3, 3, 2, 1}, G{3, 1, 1, 0}, G{2, 2, 2, 0}, G{5, 5, 1, 2}}) {
    BOOST_TEST_CONTEXT("kernel " << g.k1 << "x" << g.k2 << " stride " << g.stride << " pad " << g.pad) {
      const TD x = rnd({2, 3, 7, 6}, 1), w = rnd({4, 3, g.k1, g.k2}, 2);
      const index_t s = g.stride, p = g.pad;
      check_op("conv2d", [s, p](const auto& v) { return conv2d(v[0], v[1], s, p); }, {x, w});
      const TD y = conv2d(x, w, s, p);
      for (index_t oy = 0; oy < y.dim(2); ++oy)
        for (index_t ox = 0; ox < y.dim(3); ++ox)
          BOOST_TEST(std::abs(y.at(1, 2, oy, ox) - conv_at(x, w, 1, 2, oy, ox, s, p)) < 1e-13);
    }
  }
}

BOOST_AUTO_TEST_CASE(conv2d_large_batch_uses_several_chunks) {
  // 40 images of 3×64×64 with a 3×3 kernel exceed one im2col chunk.
  const TD x = rnd({40, 3, 64, 64}, 3), w = rnd({2, 3, 3, 3}, 4);
  const TD y = conv2d(x, w, 1, 1);
  for (index_t n : {0, 17, 39}) BOOST_TEST(std::abs(y.at(n, 1, 63, 5) - conv_at(x, w, n, 1, 63, 5, 1, 1)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(pooling_and_upsampling) {
  const TD x = rnd({2, 3, 6, 6}, 5);
  check_op("avg_pool2d 2", [](const auto& v) { return avg_pool2d(v[0], 2); }, {x});
  check_op("avg_pool2d 3 stride 2", [](const auto& v) { return avg_pool2d(v[0], 3, 2); }, {x});
  check_op("max_pool2d 2", [](const auto& v) { return max_pool2d(square(v[0]), 2); }, {x});
  check_op("upsample_nearest2x", [](const auto& v) { return upsample_nearest2x(v[0]); }, {x});
  const TD a = avg_pool2d(x, 2), m = max_pool2d(x, 2), u = upsample_nearest2x(x);
  BOOST_TEST(std::abs(a.at(1, 2, 1, 2) - (x.at(1, 2, 2, 4) + x.at(1, 2, 2, 5) + x.at(1, 2, 3, 4) + x.at(1, 2, 3, 5)) / 4) < 1e-14);
  BOOST_TEST(m.at(0, 1, 2, 0) == std::max({x.at(0, 1, 4, 0), x.at(0, 1, 4, 1), x.at(0, 1, 5, 0), x.at(0, 1, 5, 1)}));
  BOOST_TEST(u.at(1, 0, 9, 4) == x.at(1, 0, 4, 2));
}

BOOST_AUTO_TEST_CASE(group_norm_op) {
  const TD x = rnd({2, 4, 3, 3}, 6), w = rnd({4}, 7, 0.5, 1.5), b = rnd({4}, 8);
  check_op("group_norm 2 groups", [](const auto& v) { return group_norm(v[0], 2, v[1], v[2]); }, {x, w, b});
  check_op("group_norm 1 group, no affine", [](const auto& v) {
    using V = std::decay_t<decltype(v[0])>;
    return group_norm(v[0], 1, V(), V());
  }, {x});
  const TD m = rnd({5, 32}, 9);
  check_op("group_norm on features", [](const auto& v) {
    using V = std::decay_t<decltype(v[0])>;
    return group_norm(v[0], 2, V(), V());
  }, {m});
  // Against the definition: per sample and group, zero mean and unit (biased) variance.
  const TD y = group_norm(x, 2, TD(), TD(), 1e-5);
  for (index_t n = 0; n < 2; ++n)
    for (index_t g = 0; g < 2; ++g) {
      double s = 0, ss = 0;
      for (index_t c = 2 * g; c < 2 * g + 2; ++c)
        for (index_t i = 0; i < 9; ++i) { const double v = y[(n * 4 + c) * 9 + i]; s += v; ss += v * v; }
      BOOST_TEST(std::abs(s / 18) < 1e-12);
      BOOST_TEST(std::abs(ss / 18 - 1) < 1e-3);  // eps = 1e-5 shrinks it slightly
    }
}

BOOST_AUTO_TEST_CASE(batch_norm_train_and_eval) {
  const TD x = rnd({3, 2, 2, 2}, 10), w = rnd({2}, 11, 0.5, 1.5), b = rnd({2}, 12);
  check_op("batch_norm train", [](const auto& v) {
    return batch_norm_train(v[0], v[1], v[2], 1e-5);
  }, {x, w, b});
  const TD rm = rnd({2}, 13), rv = rnd({2}, 14, 0.5, 2);
  check_op("batch_norm eval", [rm, rv](const auto& v) {
    using V = std::decay_t<decltype(v[0])>;
    using T = typename ValueTraits<V>::scalar;
    Tensor<T> m(rm.shape()), s(rv.shape());
    m.array() = rm.array().cast<T>(); s.array() = rv.array().cast<T>();
    return batch_norm_eval(v[0], m, s, v[1], v[2], T(1e-5));
  }, {x, w, b});
  NormStats<double, Cpu> st;
  batch_norm_train(x, TD(), TD(), 1e-5, &st);
  double m0 = 0;
  for (index_t n = 0; n < 3; ++n)
    for (index_t i = 0; i < 4; ++i) m0 += x[(n * 2 + 0) * 4 + i];
  BOOST_TEST(std::abs(st.mean[0] - m0 / 12) < 1e-13);
}
