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
/// Direct definition of a 2-D cross-correlation with zero padding (ph rows, pw columns).
double conv_at(const TD& x, const TD& w, index_t n, index_t o, index_t oy, index_t ox, index_t s, index_t ph, index_t pw) {
  double acc = 0;
  for (index_t c = 0; c < x.dim(1); ++c)
    for (index_t i = 0; i < w.dim(2); ++i)
      for (index_t j = 0; j < w.dim(3); ++j) {
        const index_t iy = oy * s - ph + i, ix = ox * s - pw + j;
        if (iy >= 0 && iy < x.dim(2) && ix >= 0 && ix < x.dim(3)) acc += x.at(n, c, iy, ix) * w.at(o, c, i, j);
      }
  return acc;
}
}  // namespace

BOOST_AUTO_TEST_CASE(conv2d_geometries) {
  struct G { index_t k1, k2, stride, pad_h, pad_w; };
  // Square padding (the 4-argument form), then Inception-v3's rectangular kernels and padding.
  for (const G g : {G{3, 3, 1, 1, 1}, G{1, 1, 1, 0, 0}, G{3, 3, 2, 1, 1}, G{3, 1, 1, 0, 0}, G{2, 2, 2, 0, 0}, G{5, 5, 1, 2, 2},
                    G{1, 7, 1, 0, 3}, G{7, 1, 1, 3, 0}, G{1, 3, 1, 0, 1}, G{3, 1, 1, 1, 0}, G{3, 3, 2, 0, 0}, G{3, 5, 2, 2, 1},
                    G{1, 7, 2, 0, 3}}) {
    BOOST_TEST_CONTEXT("kernel " << g.k1 << "x" << g.k2 << " stride " << g.stride << " pad (" << g.pad_h << ", " << g.pad_w << ")") {
      const TD x = rnd({2, 3, 7, 6}, 1), w = rnd({4, 3, g.k1, g.k2}, 2);
      const index_t s = g.stride, ph = g.pad_h, pw = g.pad_w;
      check_op("conv2d", [s, ph, pw](const auto& v) { return conv2d(v[0], v[1], s, ph, pw); }, {x, w});
      const TD y = conv2d(x, w, s, ph, pw);
      BOOST_TEST(y.dim(2) == (7 + 2 * ph - g.k1) / s + 1);
      BOOST_TEST(y.dim(3) == (6 + 2 * pw - g.k2) / s + 1);
      for (index_t oy = 0; oy < y.dim(2); ++oy)
        for (index_t ox = 0; ox < y.dim(3); ++ox)
          BOOST_TEST(std::abs(y.at(1, 2, oy, ox) - conv_at(x, w, 1, 2, oy, ox, s, ph, pw)) < 1e-13);
      if (ph == pw) {  // the square form is the same op
        const TD y4 = conv2d(x, w, s, ph);
        BOOST_TEST(y4.shape() == y.shape());
        BOOST_TEST((y4.array() == y.array()).all());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(conv2d_large_batch_uses_several_chunks) {
  // 40 images of 3×64×64 with a 3×3 kernel exceed one im2col chunk.
  const TD x = rnd({40, 3, 64, 64}, 3), w = rnd({2, 3, 3, 3}, 4);
  const TD y = conv2d(x, w, 1, 1);
  for (index_t n : {0, 17, 39}) BOOST_TEST(std::abs(y.at(n, 1, 63, 5) - conv_at(x, w, n, 1, 63, 5, 1, 1, 1)) < 1e-12);
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

BOOST_AUTO_TEST_CASE(padded_pooling) {
  const TD x = rnd({2, 3, 7, 6}, 15);
  for (bool counted : {true, false}) {
    BOOST_TEST_CONTEXT("count_include_pad " << counted) {
      check_op("avg_pool2d 3 stride 1 pad 1", [counted](const auto& v) { return avg_pool2d(v[0], 3, 1, 1, counted); }, {x});
      check_op("avg_pool2d 3 stride 2 pad 1", [counted](const auto& v) { return avg_pool2d(v[0], 3, 2, 1, counted); }, {x});
      check_op("avg_pool2d 2 stride 1 pad 1", [counted](const auto& v) { return avg_pool2d(v[0], 2, 1, 1, counted); }, {x});
    }
  }
  check_op("max_pool2d 3 stride 2 pad 1", [](const auto& v) { return max_pool2d(square(v[0]), 3, 2, 1); }, {x});
  check_op("max_pool2d 3 stride 1 pad 1", [](const auto& v) { return max_pool2d(v[0], 3, 1, 1); }, {x});
  check_op("max_pool2d 3 stride 2", [](const auto& v) { return max_pool2d(v[0], 3, 2); }, {x});
  // Against the definition: the corner window of k3 s1 p1 holds the 2×2 corner of the image.
  const TD excluded = avg_pool2d(x, 3, 1, 1, false), counted = avg_pool2d(x, 3, 1, 1, true);
  BOOST_TEST(excluded.shape() == x.shape());
  const double corner = x.at(1, 2, 0, 0) + x.at(1, 2, 0, 1) + x.at(1, 2, 1, 0) + x.at(1, 2, 1, 1);
  BOOST_TEST(std::abs(excluded.at(1, 2, 0, 0) - corner / 4) < 1e-14);
  BOOST_TEST(std::abs(counted.at(1, 2, 0, 0) - corner / 9) < 1e-14);
  double inner = 0;  // an interior window: no padding, both the same
  for (index_t i = 2; i <= 4; ++i)
    for (index_t j = 1; j <= 3; ++j) inner += x.at(0, 1, i, j);
  BOOST_TEST(std::abs(excluded.at(0, 1, 3, 2) - inner / 9) < 1e-14);
  BOOST_TEST(std::abs(counted.at(0, 1, 3, 2) - inner / 9) < 1e-14);
  // Max pooling never takes the padding, even where every value is negative.
  const TD negative = mul_scalar(add_scalar(square(x), 2.0), -1.0);  // −2 − x²
  const TD m = max_pool2d(negative, 3, 2, 1);
  BOOST_TEST(m.shape() == (Shape{2, 3, 4, 3}));
  BOOST_TEST(m.at(0, 0, 0, 0) == std::max({negative.at(0, 0, 0, 0), negative.at(0, 0, 0, 1), negative.at(0, 0, 1, 0),
                                           negative.at(0, 0, 1, 1)}));
  // max_pool2d_select with padding picks t where max_pool2d's maximum is.
  const TD t = rnd({2, 3, 7, 6}, 16), sel = max_pool2d_select(negative, t, 3, 2, 1);
  for (index_t oy = 0; oy < 4; ++oy)
    for (index_t ox = 0; ox < 3; ++ox) {
      index_t by = -1, bx = -1;
      for (index_t i = oy * 2 - 1; i < oy * 2 + 2; ++i)
        for (index_t j = ox * 2 - 1; j < ox * 2 + 2; ++j)
          if (i >= 0 && i < 7 && j >= 0 && j < 6 && (by < 0 || negative.at(1, 2, i, j) > negative.at(1, 2, by, bx))) by = i, bx = j;
      BOOST_TEST(sel.at(1, 2, oy, ox) == t.at(1, 2, by, bx));
      BOOST_TEST(m.at(1, 2, oy, ox) == negative.at(1, 2, by, bx));
    }
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

BOOST_AUTO_TEST_CASE(batch_norm_train_affine_op) {
  // y = xhat·scale + shift per sample and channel, then ReLU; x's values spread around 0 so that
  // the ReLU cuts some (no value sits within the finite differences' step of the kink)
  const TD x = rnd({3, 4, 2, 3}, 40), scale = rnd({3, 4}, 41, 0.5, 1.5), shift = rnd({3, 4}, 42, -0.5, 0.5);
  for (const bool relu : {false, true}) {
    const std::string r = relu ? " with ReLU" : "";
    check_op("batch_norm_train_affine" + r, [relu](const auto& v) { return batch_norm_train_affine(v[0], v[1], v[2], 1e-5, relu); },
             {x, scale, shift});
    check_op("batch_norm_train_affine N×C×1×1" + r, [relu](const auto& v) {
      return batch_norm_train_affine(v[0], reshape(v[1], Shape{3, 4, 1, 1}), reshape(v[2], Shape{3, 4, 1, 1}), 1e-5, relu);
    }, {x, scale, shift});
    check_op("batch_norm_train_affine, no affine map" + r, [relu](const auto& v) {
      using V = std::decay_t<decltype(v[0])>;
      return batch_norm_train_affine(v[0], V(), V(), 1e-5, relu);
    }, {x});
    check_op("batch_norm_train_affine on N×C" + r, [relu](const auto& v) { return batch_norm_train_affine(v[0], v[1], v[2], 1e-5, relu); },
             {rnd({3, 4}, 43), scale, shift});
    // Against the definition: the batch's standardization (batch_norm_train), ·scale + shift, ReLU.
    NormStats<double, Cpu> st, st_def;
    const TD y = batch_norm_train_affine(x, scale, shift, 1e-5, relu, &st);
    const TD h = batch_norm_train(x, TD(), TD(), 1e-5, &st_def);
    double most = 0;
    int cut = 0;
    for (index_t n = 0; n < 3; ++n)
      for (index_t c = 0; c < 4; ++c)
        for (index_t i = 0; i < 6; ++i) {
          const double z = h[(n * 4 + c) * 6 + i] * scale.at(n, c) + shift.at(n, c);
          most = std::max(most, std::abs(y[(n * 4 + c) * 6 + i] - (relu ? std::max(z, 0.0) : z)));
          cut += z < 0;
        }
    BOOST_TEST(most < 1e-14);
    BOOST_TEST(cut > 10);
    for (index_t c = 0; c < 4; ++c) {
      BOOST_TEST(std::abs(st.mean[c] - st_def.mean[c]) < 1e-15);
      BOOST_TEST(std::abs(st.rstd[c] - st_def.rstd[c]) < 1e-13);
    }
  }
  BOOST_CHECK_THROW(batch_norm_train_affine(x, rnd({3, 3}, 44), TD(), 1e-5, true), Error);  // not one per sample and channel
  BOOST_CHECK_THROW(batch_norm_train_affine(x, TD(), rnd({4}, 45), 1e-5, true), Error);
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
