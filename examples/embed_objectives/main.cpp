// The structural objectives for a network that lives outside structgan (docs/embedding.md).
//
// "Your network" here is a small Eigen MLP, f̃(x) = W2·tanh(W1·x + b1), with its own forward,
// VJP and JVP, standing in for a PyTorch/JAX/C++ model. structgan::embedding takes and returns
// plain Eigen matrices: the losses' values and their gradients with respect to the embeddings,
// and, for the Jacobian regularizer, σ, u, v and ∂penalty/∂σ — from which this program computes
// the parameter gradient of the penalty by hand and checks it against finite differences.
// Exit status 0 when every check passes.
#include <cmath>
#include <cstdio>
#include <iostream>

#include <Eigen/Dense>

#include "structgan/core/build_info.hpp"
#include "structgan/objectives/embedding.hpp"

namespace emb = structgan::embedding;
using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

namespace {

// ---- your network (anything that can do a forward, a VJP and a JVP) -------------------------
struct Net {
  Mat W1;  // h×d
  Vec b1;  // h
  Mat W2;  // p×h
  Mat pre(const Mat& x) const { return (x * W1.transpose()).rowwise() + b1.transpose(); }  // b×h
  Mat forward(const Mat& x) const { return pre(x).array().tanh().matrix() * W2.transpose(); }  // b×p: f̃
  Mat dtanh(const Mat& x) const { return (1.0 - pre(x).array().tanh().square()).matrix(); }
  // Row i of the VJP is u_iᵀ J_i (J_i = W2·diag(tanh′)·W1 is sample i's Jacobian); of the JVP, J_i v_i.
  Mat vjp(const Mat& x, const Mat& u) const { return ((u * W2).array() * dtanh(x).array()).matrix() * W1; }
  Mat jvp(const Mat& x, const Mat& v) const { return ((v * W1.transpose()).array() * dtanh(x).array()).matrix() * W2.transpose(); }
};

/// Rows divided by their norms (f = normalize(f̃)) and the chain rule back through it.
Mat normalize_rows(const Mat& m) { return m.array().colwise() / m.rowwise().norm().array(); }
Mat normalize_backward(const Mat& ft, const Mat& g) {
  const Mat f = normalize_rows(ft);
  const Vec fg = (f.array() * g.array()).rowwise().sum();
  return ((g - f.cwiseProduct(fg.replicate(1, f.cols()))).array().colwise() / ft.rowwise().norm().array()).matrix();
}

bool check(const char* what, double got, double want, double tol) {
  const bool ok = std::abs(got - want) <= tol * (1.0 + std::abs(want));
  std::printf("  %-46s %+.8e  (finite differences %+.8e) %s\n", what, got, want, ok ? "ok" : "MISMATCH");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (structgan::version_requested(argc, argv)) {
    std::cout << structgan::build_info() << "\n";
    return 0;
  }
  bool ok = true;
  structgan::Rng rng(2024);
  auto gaussian = [&](Eigen::Index r, Eigen::Index c, double s) {
    Mat m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = s * rng.normal();
    return m;
  };
  const Eigen::Index b = 16, d = 6, h = 24, p = 8, q = 10, L = 64;
  Net net{gaussian(h, d, 0.6), gaussian(h, 1, 0.1), gaussian(p, h, 0.1)};
  const Mat x_real = gaussian(b, d, 1.0), x_fake = gaussian(b, d, 1.0) + Mat::Constant(b, d, 0.3);

  // 1. Coarse scale (SPEC §2): the logdet distance between the Gaussians of f and f^g.
  const Mat ft_real = net.forward(x_real), ft_fake = net.forward(x_fake);
  const Mat f = normalize_rows(ft_real), fg = normalize_rows(ft_fake);
  const auto dist = emb::logdet_distance(f, fg);  // value, ∂d/∂f, ∂d/∂f^g
  std::printf("1. logdet distance d = %.6f (JSD %.6f, Bhattacharyya %.6f)\n", dist.value, emb::jsd_distance(f, fg).value,
              emb::bhattacharyya_distance(f, fg).value);

  // 2. Fine scale (SPEC §3): kNN similarities against a memory bank of (key, value) rows. The keys
  //    would come from an EMA copy of your network's backbone; here, random directions.
  const Mat keys_real = gaussian(b, q, 1.0), keys_fake = gaussian(b, q, 1.0);
  const Mat bank_keys = gaussian(L, q, 1.0), bank_values = normalize_rows(gaussian(L, p, 1.0));
  const auto knn = emb::cluster_similarities(f, fg, keys_real, keys_fake, bank_keys, bank_values);
  std::printf("2. s_real = %.6f, s_fake = %.6f; sample 0's neighbour: candidate %lld\n", knn.s_real, knn.s_fake,
              static_cast<long long>(knn.real_neighbours(0, 0)));

  // 3. Smoothness (SPEC §4): σ_i = u_iᵀ J_i v_i from your VJP and JVP on [x_real; x_fake].
  Mat x(2 * b, d);
  x << x_real, x_fake;
  emb::JacobianProduct<double> vjp = [&](const Mat& u) { return net.vjp(x, u); };
  emb::JacobianProduct<double> jvp = [&](const Mat& v) { return net.jvp(x, v); };
  const auto spec = emb::jacobian_sigma<double>(vjp, jvp, 2 * b, p, rng);  // u0 ~ N(0, I), S = 1
  const auto pen = emb::jacobian_penalty(spec.sigma);                       // mean((σ − 1)²), ∂/∂σ
  const auto hinge = emb::norm_hinge(ft_real);                              // on the real f̃
  std::printf("3. mean σ = %.6f, penalty = %.6f, hinge = %.6f\n", spec.sigma.mean(), pen.value, hinge.value);

  // 4. D's loss and its gradient with respect to your network's outputs f̃ (feed these to your
  //    backward pass): −d + 3(−s_real + s_fake) + 20·hinge  (+ 5·penalty, below).
  const double loss = -dist.value + 3 * (-knn.s_real + knn.s_fake) + 20 * hinge.value + 5 * pen.value;
  const Mat g_f = -dist.grad_real + 3 * (-knn.grad_s_real_f + knn.grad_s_fake_f);
  const Mat g_fg = -dist.grad_fake + 3 * knn.grad_s_fake_fg;
  const Mat g_ft_real = normalize_backward(ft_real, g_f) + 20 * hinge.grad;
  const Mat g_ft_fake = normalize_backward(ft_fake, g_fg);
  std::printf("4. D loss = %.6f; |∂loss/∂f̃_real| = %.4f, |∂loss/∂f̃_fake| = %.4f\n", loss, g_ft_real.norm(), g_ft_fake.norm());
  {
    // Check one entry of each against finite differences of the whole pipeline in f̃.
    auto loss_of = [&](const Mat& a, const Mat& c) {
      const Mat fa = normalize_rows(a), fc = normalize_rows(c);
      const auto k = emb::cluster_similarities(fa, fc, keys_real, keys_fake, bank_keys, bank_values);
      return -emb::logdet_distance(fa, fc).value + 3 * (-k.s_real + k.s_fake) + 20 * emb::norm_hinge(a).value;
    };
    const double e = 1e-6;
    Mat a = ft_real, c = ft_fake;
    a(3, 2) += e;
    const double up = loss_of(a, c);
    a(3, 2) -= 2 * e;
    const double down = loss_of(a, c);
    ok &= check("∂loss/∂f̃_real[3, 2]", g_ft_real(3, 2), (up - down) / (2 * e), 1e-5);
    a = ft_real;
    c(5, 1) += e;
    const double up2 = loss_of(a, c);
    c(5, 1) -= 2 * e;
    const double down2 = loss_of(a, c);
    ok &= check("∂loss/∂f̃_fake[5, 1]", g_ft_fake(5, 1), (up2 - down2) / (2 * e), 1e-5);
  }

  // 5. The penalty's parameter gradient, in "your framework" (here by hand): with u, v fixed,
  //    σ_i = u_iᵀ W2 (t′_i ⊙ W1 v_i), t′ = tanh′(W1 x_i + b1), and ∂P/∂θ = Σ_i (∂P/∂σ_i) ∂σ_i/∂θ.
  const Mat& u = spec.u;
  const Mat& v = spec.v;
  const Mat t1 = net.dtanh(x);                                                  // t′
  const Mat t2 = (-2.0 * net.pre(x).array().tanh() * t1.array()).matrix();      // t″
  const Mat z = v * net.W1.transpose();                                         // W1 v_i
  const Mat cvec = u * net.W2;                                                  // W2ᵀ u_i
  const Vec gs = pen.grad.col(0);                                               // ∂P/∂σ
  const Mat A = (cvec.array() * t1.array()).matrix();                           // c ⊙ t′
  const Mat B = (cvec.array() * z.array() * t2.array()).matrix();               // c ⊙ z ⊙ t″
  const Mat dW2 = u.transpose() * gs.asDiagonal() * (t1.array() * z.array()).matrix();
  const Mat dW1 = A.transpose() * gs.asDiagonal() * v + B.transpose() * gs.asDiagonal() * x;
  const Vec db1 = B.transpose() * gs;
  {
    auto penalty_at = [&](const Net& n) {
      const Mat jv = n.jvp(x, v);
      const Vec sigma = (u.array() * jv.array()).rowwise().sum();
      return emb::jacobian_penalty(sigma).value;
    };
    const double e = 1e-6;
    auto fd = [&](auto&& perturb) {
      Net a = net, c = net;
      perturb(a, e);
      perturb(c, -e);
      return (penalty_at(a) - penalty_at(c)) / (2 * e);
    };
    std::printf("5. the penalty's parameter gradient (u, v fixed):\n");
    ok &= check("∂P/∂W1[4, 1]", dW1(4, 1), fd([](Net& n, double s) { n.W1(4, 1) += s; }), 1e-5);
    ok &= check("∂P/∂b1[7]", db1(7), fd([](Net& n, double s) { n.b1(7) += s; }), 1e-5);
    ok &= check("∂P/∂W2[2, 9]", dW2(2, 9), fd([](Net& n, double s) { n.W2(2, 9) += s; }), 1e-5);
  }

  // 6. G's loss: +d − 3·s_fake; its gradient w.r.t. f^g goes back through your G.
  const Mat g_gen = dist.grad_fake - 3 * knn.grad_s_fake_fg;
  std::printf("6. G loss = %.6f, |∂/∂f^g| = %.4f\n", dist.value - 3 * knn.s_fake, g_gen.norm());

  std::printf("%s\n", ok ? "all checks passed" : "SOME CHECKS FAILED");
  return ok ? 0 : 1;
}
