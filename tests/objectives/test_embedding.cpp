#define BOOST_TEST_MODULE objectives_embedding
#include <boost/test/unit_test.hpp>

// The plain-Eigen embedding API: the same numbers as the templated objectives, gradients against
// central differences on Eigen matrices, the regularizer driven by user VJP/JVP callables.
#include <Eigen/SVD>

#include "objectives_test_util.hpp"
#include "structgan/objectives/embedding.hpp"

using namespace structgan;
using namespace structgan::objtest;
namespace emb = structgan::embedding;
using Mat = Eigen::MatrixXd;

namespace {

Mat unit(Eigen::Index n, Eigen::Index p, Rng& rng) {
  const TD t = unit_rows(n, p, rng);
  return t.matrix();
}
TD tensor(const Mat& m) {
  TD t(Shape{m.rows(), m.cols()});
  t.matrix() = m;
  return t;
}

/// Central differences of a scalar function of one matrix.
template <class F>
Mat fd_gradient(F f, Mat x, double h = 1e-6) {
  Mat g(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double keep = x.data()[i];
    x.data()[i] = keep + h;
    const double up = f(x);
    x.data()[i] = keep - h;
    const double down = f(x);
    x.data()[i] = keep;
    g.data()[i] = (up - down) / (2 * h);
  }
  return g;
}

bool near(const Mat& a, const Mat& b, double tol) {
  return a.rows() == b.rows() && a.cols() == b.cols() && ((a - b).array().abs() <= tol * (1 + b.array().abs())).all();
}

}  // namespace

BOOST_AUTO_TEST_CASE(distances_and_their_gradients) {
  Rng rng(1);
  const Mat f = unit(10, 4, rng), g = unit(8, 4, rng);
  const auto d = emb::logdet_distance(f, g);
  BOOST_TEST(close(d.value, objectives::logdet_distance(tensor(f), tensor(g))[0], 1e-14, 0));
  BOOST_TEST(near(d.grad_real, fd_gradient([&](const Mat& x) { return emb::logdet_distance(x, g).value; }, f), 1e-6));
  BOOST_TEST(near(d.grad_fake, fd_gradient([&](const Mat& x) { return emb::logdet_distance(f, x).value; }, g), 1e-6));
  const auto j = emb::jsd_distance(f, g, 1e-3);
  BOOST_TEST(close(j.value, objectives::jsd_distance(tensor(f), tensor(g), 1e-3)[0], 1e-14, 0));
  BOOST_TEST(near(j.grad_real, fd_gradient([&](const Mat& x) { return emb::jsd_distance(x, g, 1e-3).value; }, f), 1e-5));
  const auto b = emb::bhattacharyya_distance(f, g, 1e-3);
  BOOST_TEST(close(b.value, objectives::bhattacharyya_distance(tensor(f), tensor(g), 1e-3)[0], 1e-14, 0));
  BOOST_TEST(near(b.grad_fake, fd_gradient([&](const Mat& x) { return emb::bhattacharyya_distance(f, x, 1e-3).value; }, g), 1e-5));
  emb::GaussianOptions o;
  o.kind = emb::GaussianDistance::Jsd;
  o.ridge = 1e-3;
  BOOST_TEST(emb::gaussian_distance(f, g, o).value == j.value);
  // Row-major inputs, expressions and float work too.
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> fr = f;
  BOOST_TEST(emb::logdet_distance(fr, g * 1.0).value == d.value);
  const auto df = emb::logdet_distance(Eigen::MatrixXf(f.cast<float>()), Eigen::MatrixXf(g.cast<float>()));
  BOOST_TEST(close(df.value, d.value, 1e-4, 1e-5));
  BOOST_TEST(near(df.grad_real.cast<double>(), d.grad_real, 1e-3));
  // Errors.
  Mat bad = f;
  bad(0, 0) = std::nan("");
  BOOST_CHECK_THROW(emb::logdet_distance(bad, g), Error);
  BOOST_CHECK_THROW(emb::logdet_distance(f, unit(8, 5, rng)), Error);
  BOOST_CHECK_THROW(emb::jsd_distance(unit(3, 10, rng), unit(3, 10, rng), 0.0), Error);
}

BOOST_AUTO_TEST_CASE(cluster_similarities_and_their_gradients) {
  Rng rng(2);
  const Mat f = unit(7, 4, rng), fg = unit(6, 4, rng), bank_v = unit(11, 4, rng);
  const Mat kr = unit(7, 5, rng), kf = unit(6, 5, rng), bank_k = unit(11, 5, rng);
  emb::ClusterOptions o;
  o.k = 2;
  const auto r = emb::cluster_similarities(f, fg, kr, kf, bank_k, bank_v, o);
  DeviceIndices<Cpu> nr_device, nf_device;
  const double sr = objectives::real_cluster_similarity(tensor(f), tensor(kr), tensor(bank_k), tensor(bank_v), o, &nr_device)[0];
  const double sf = objectives::fake_cluster_similarity(tensor(fg), tensor(f), tensor(kf), tensor(kr), tensor(bank_k),
                                                        tensor(bank_v), o, &nf_device)[0];
  const std::vector<index_t> nr = to_host(nr_device), nf = to_host(nf_device);
  BOOST_TEST(close(r.s_real, sr, 1e-14, 0));
  BOOST_TEST(close(r.s_fake, sf, 1e-14, 0));
  BOOST_TEST(r.real_neighbours.rows() == 7);
  BOOST_TEST(r.real_neighbours.cols() == 2);
  for (index_t i = 0; i < 7; ++i)
    for (index_t t = 0; t < 2; ++t) BOOST_TEST(r.real_neighbours(i, t) == nr[static_cast<std::size_t>(i * 2 + t)]);
  for (index_t i = 0; i < 6; ++i)
    for (index_t t = 0; t < 2; ++t) BOOST_TEST(r.fake_neighbours(i, t) == nf[static_cast<std::size_t>(i * 2 + t)]);
  auto s_real = [&](const Mat& x) { return emb::cluster_similarities(x, fg, kr, kf, bank_k, bank_v, o).s_real; };
  auto s_fake_f = [&](const Mat& x) { return emb::cluster_similarities(x, fg, kr, kf, bank_k, bank_v, o).s_fake; };
  auto s_fake_g = [&](const Mat& x) { return emb::cluster_similarities(f, x, kr, kf, bank_k, bank_v, o).s_fake; };
  BOOST_TEST(near(r.grad_s_real_f, fd_gradient(s_real, f), 1e-6));
  BOOST_TEST(near(r.grad_s_fake_f, fd_gradient(s_fake_f, f), 1e-6));
  BOOST_TEST(near(r.grad_s_fake_fg, fd_gradient(s_fake_g, fg), 1e-6));
  // Keys are normalized here: scaled keys give the same neighbours.
  const auto scaled = emb::cluster_similarities(f, fg, Mat(3.0 * kr), Mat(0.5 * kf), Mat(2.0 * bank_k), bank_v, o);
  BOOST_TEST(scaled.s_real == r.s_real);
  BOOST_TEST(scaled.s_fake == r.s_fake);
  // No bank.
  const auto nobank = emb::cluster_similarities(f, fg, kr, kf, Mat(0, 5), Mat(0, 4), o);
  BOOST_TEST((nobank.real_neighbours.array() < 7).all());
  // Errors: K too large for the candidates, mismatched bank.
  emb::ClusterOptions big;
  big.k = 7;
  BOOST_CHECK_THROW(emb::cluster_similarities(f, fg, kr, kf, Mat(0, 5), Mat(0, 4), big), Error);
  BOOST_CHECK_THROW(emb::cluster_similarities(f, fg, kr, kf, bank_k, unit(10, 4, rng), o), Error);
}

BOOST_AUTO_TEST_CASE(regularizer_with_user_vjp_and_jvp) {
  Rng rng(3);
  // "Your network": per sample y_i = W tanh(A x_i), written in Eigen with its own VJP and JVP.
  const Mat A = Mat::Random(6, 5), W = Mat::Random(3, 6);
  const Mat x = Mat::Random(4, 5);
  const Mat pre = x * A.transpose();                                   // b×6
  const Mat dt = (1.0 - pre.array().tanh().square()).matrix();         // tanh′
  emb::JacobianProduct<double> vjp = [&](const Mat& u) { return Mat((((u * W).array() * dt.array()).matrix()) * A); };
  emb::JacobianProduct<double> jvp = [&](const Mat& v) { return Mat(((v * A.transpose()).array() * dt.array()).matrix() * W.transpose()); };
  const Mat u0 = Mat::Random(4, 3);
  const auto r = emb::jacobian_sigma<double>(vjp, jvp, u0, 200);
  for (Eigen::Index i = 0; i < 4; ++i) {
    const Mat Ji = W * dt.row(i).asDiagonal() * A;
    const double smax = Eigen::JacobiSVD<Mat>(Ji).singularValues()(0);
    BOOST_TEST(close(r.sigma(i), smax, 1e-9, 1e-12));
    BOOST_TEST(close(r.u.row(i).norm(), 1.0, 1e-12, 0));
    BOOST_TEST(close(r.v.row(i).norm(), 1.0, 1e-12, 0));
    BOOST_TEST(close(r.sigma(i), r.u.row(i).dot(Ji * r.v.row(i).transpose()), 1e-12, 1e-14));
  }
  // The same σ, u, v as the library's own regularizer on the same network and u0.
  Parameter<double> pa{tensor(A), {}}, pw{tensor(W), {}};
  auto f = [&](const auto& z) { using V = std::decay_t<decltype(z)>; return linear(tanh(linear(z, lift<V>(pa))), lift<V>(pw)); };
  const auto lib = objectives::jacobian_sigma(f, tensor(x), tensor(u0), 3);
  const auto mine = emb::jacobian_sigma<double>(vjp, jvp, u0, 3);
  for (Eigen::Index i = 0; i < 4; ++i) BOOST_TEST(close(mine.sigma(i), lib.sigma.value()[i], 1e-12, 1e-14));
  BOOST_TEST(near(mine.u, Mat(lib.u.matrix()), 1e-12));
  BOOST_TEST(near(mine.v, Mat(lib.v.matrix()), 1e-12));
  // Drawn u0.
  Rng r1(5), r2(5);
  const auto drawn = emb::jacobian_sigma<double>(vjp, jvp, 4, 3, r1);
  const auto given = emb::jacobian_sigma<double>(vjp, jvp, Mat(randn<double>(Shape{4, 3}, r2).matrix()));
  BOOST_TEST(drawn.sigma == given.sigma);
  // Errors from bad callables.
  emb::JacobianProduct<double> bad_vjp = [&](const Mat& u) { return Mat(u.rows() + 1, 5); };
  emb::JacobianProduct<double> nan_jvp = [&](const Mat& v) { return Mat::Constant(v.rows(), 3, std::nan("")); };
  BOOST_CHECK_THROW(emb::jacobian_sigma<double>(bad_vjp, jvp, u0), Error);
  BOOST_CHECK_THROW(emb::jacobian_sigma<double>(vjp, nan_jvp, u0), Error);
  BOOST_CHECK_THROW(emb::jacobian_sigma<double>(vjp, jvp, u0, 0), Error);
  BOOST_CHECK_THROW(emb::jacobian_sigma<double>(vjp, emb::JacobianProduct<double>(), u0), Error);
}

BOOST_AUTO_TEST_CASE(penalty_and_hinge_gradients) {
  Rng rng(4);
  const Mat s = (Mat(5, 1) << 0.2, 0.9, 1.0, 1.7, 3.0).finished();
  for (auto kind : {emb::JacobianPenalty::Squared, emb::JacobianPenalty::Absolute}) {
    const auto p = emb::jacobian_penalty(s, 1.2, kind);
    BOOST_TEST(near(p.grad, fd_gradient([&](const Mat& x) { return emb::jacobian_penalty(x, 1.2, kind).value; }, s), 1e-6));
  }
  BOOST_TEST(close(emb::jacobian_penalty(s).value, (0.64 + 0.01 + 0 + 0.49 + 4) / 5, 1e-14, 0));
  Mat ft = Mat::Random(6, 3);
  for (Eigen::Index i = 0; i < 6; ++i) ft.row(i) *= (0.3 + 0.3 * double(i)) / ft.row(i).norm();
  const auto h = emb::norm_hinge(ft);
  BOOST_TEST(h.value > 0);
  BOOST_TEST(near(h.grad, fd_gradient([&](const Mat& x) { return emb::norm_hinge(x).value; }, ft), 1e-6));
  BOOST_CHECK_THROW(emb::jacobian_penalty(Mat(3, 2)), Error);
}
