#define BOOST_TEST_MODULE nn_networks
#include <boost/test/unit_test.hpp>

#include <set>

#include "structgan/autodiff.hpp"
#include "structgan/nn/biggan.hpp"
#include "structgan/nn/mlp.hpp"
#include "structgan/nn/resnet.hpp"

using namespace structgan;
using TF = Tensor<float, Cpu>;

namespace {
bool all_finite(const TF& t) { return t.array().isFinite().all(); }
}  // namespace

BOOST_AUTO_TEST_CASE(discriminator_parameter_counts_match_spec) {
  Rng rng(1);
  nn::ResNet18Discriminator<float> d(nn::DiscriminatorOptions{}, rng);
  BOOST_TEST(nn::parameter_count(d.backbone) == 11164864);
  BOOST_TEST(nn::parameter_count(d.head) == 328320);
  BOOST_TEST(nn::parameter_count(d.probe) == 5130);
  BOOST_TEST(nn::parameter_count(d) == 11164864 + 328320 + 5130);
  BOOST_TEST(nn::named_buffers(d).empty());  // GroupNorm only: no running statistics
  // The ImageNet-10 variant: the first stage duplicated, every stage of stride 2. 11,321,024 is
  // PyTorch's count of that network (benchmarks/peer/torch_nets.py's stem and Block over the
  // stages (64, 2), (64, 2), (128, 2), (256, 2), (512, 2), two blocks each; torch 1.13 on 2026-12-05).
  nn::DiscriminatorOptions io;
  io.variant = nn::ResNetVariant::ImageNet128;
  nn::ResNet18Discriminator<float> di(io, rng);
  BOOST_TEST(nn::parameter_count(di.backbone) == 11321024);
}

BOOST_AUTO_TEST_CASE(discriminator_names_are_unique_and_structured) {
  Rng rng(2);
  nn::ResNet18Discriminator<float> d(nn::DiscriminatorOptions{}, rng);
  const auto ps = nn::named_parameters(d);
  std::set<std::string> names;
  for (const auto& p : ps) names.insert(p.name);
  BOOST_TEST(names.size() == ps.size());
  BOOST_TEST(ps.front().name == "backbone.stem.weight");
  BOOST_TEST(names.count("backbone.layer1.0.conv1.weight") == 1u);
  BOOST_TEST(names.count("backbone.layer1.0.shortcut.conv.weight") == 0u);  // stride 1, same width
  BOOST_TEST(names.count("backbone.layer2.0.shortcut.conv.weight") == 1u);
  BOOST_TEST(names.count("backbone.layer2.0.shortcut.gn.bias") == 1u);
  BOOST_TEST(names.count("backbone.layer4.1.gn2.weight") == 1u);
  BOOST_TEST(names.count("backbone.layer1.0.conv1.bias") == 0u);  // D's convs have no bias
  BOOST_TEST(names.count("head.fc2.bias") == 1u);
  BOOST_TEST(ps.back().name == "probe.bias");
}

BOOST_AUTO_TEST_CASE(same_seed_gives_bit_identical_networks) {
  Rng r1(3), r2(3);
  nn::ResNet18Discriminator<float> a(nn::DiscriminatorOptions{}, r1), b(nn::DiscriminatorOptions{}, r2);
  const auto pa = nn::named_parameters(a), pb = nn::named_parameters(b);
  BOOST_REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    BOOST_TEST(std::memcmp(pa[i].param->value.data(), pb[i].param->value.data(), sizeof(float) * pa[i].param->value.numel()) == 0);
  // And the generator, buffers included.
  nn::GeneratorOptions go;
  go.ch = 16;
  nn::BigGANDeepGenerator<float> g1(go, r1), g2(go, r2);
  auto b1 = nn::named_buffers(g1), b2 = nn::named_buffers(g2);
  BOOST_REQUIRE(b1.size() == b2.size());
  for (std::size_t i = 0; i < b1.size(); ++i)
    BOOST_TEST(std::memcmp(b1[i].buffer->data(), b2[i].buffer->data(), sizeof(float) * b1[i].buffer->numel()) == 0);
  // Kaiming normal (fan_out) on D's convolutions, GroupNorm weight 1 and bias 0.
  const TF& w = a.backbone.blocks[6].conv2.weight.value;  // 512 × 512 × 3 × 3
  const double var = w.array().template cast<double>().square().mean();
  BOOST_TEST(std::abs(var - 2.0 / (512 * 9)) < 0.01 * 2.0 / (512 * 9));
  BOOST_TEST(a.backbone.blocks[6].gn2.weight.value.array().minCoeff() == 1.0f);
  BOOST_TEST(a.backbone.blocks[6].gn2.bias.value.array().abs().maxCoeff() == 0.0f);
}

BOOST_AUTO_TEST_CASE(cifar_discriminator_float_forward_batch_2) {
  Rng rng(4);
  nn::ResNet18Discriminator<float> d(nn::DiscriminatorOptions{}, rng);
  const TF x = rand_uniform<float>(Shape{2, 3, 32, 32}, rng, -1, 1);
  const auto out = d(x);
  BOOST_TEST(out.f_tilde.shape() == (Shape{2, 128}));
  BOOST_TEST(out.f.shape() == (Shape{2, 128}));
  BOOST_TEST(out.f_b.shape() == (Shape{2, 512}));
  BOOST_TEST(out.logits.shape() == (Shape{2, 10}));
  BOOST_TEST(all_finite(out.f_tilde));
  BOOST_TEST(all_finite(out.logits));
  for (index_t i = 0; i < 2; ++i) BOOST_TEST(std::abs(out.f.matrix().row(i).norm() - 1.0f) < 1e-5f);
  // The backbone-only and embed-only passes give the same numbers.
  const TF fb = d.backbone(x), ft = d.embed(x);
  for (index_t i = 0; i < fb.numel(); ++i) BOOST_TEST(fb[i] == out.f_b[i]);
  for (index_t i = 0; i < ft.numel(); ++i) BOOST_TEST(ft[i] == out.f_tilde[i]);
  // f^b is the spatial mean of the last stage (4×4 for 32×32 inputs): the stage's values are ELU outputs.
  const TF feat = d.backbone.features(x);
  BOOST_TEST(feat.shape() == (Shape{2, 512, 4, 4}));
  BOOST_TEST(std::abs(fb.at(1, 7) - feat.array().segment((512 + 7) * 16, 16).mean()) < 1e-6f);
  BOOST_TEST(feat.array().minCoeff() >= -1.0f);
  // A gray 28×28 variant (Fashion-MNIST) also runs.
  nn::DiscriminatorOptions go;
  go.in_channels = 1;
  nn::ResNet18Discriminator<float> dg(go, rng);
  BOOST_TEST(dg(rand_uniform<float>(Shape{2, 1, 28, 28}, rng, -1, 1)).f_b.shape() == (Shape{2, 512}));
}

BOOST_AUTO_TEST_CASE(the_probe_does_not_reach_the_backbone) {
  Rng rng(5);
  nn::MlpDiscriminatorOptions o;
  o.hidden = 32;
  o.embed_dim = 8;
  nn::MlpDiscriminator<double> d(o, rng);
  const Tensor<double> x = randn<double>(Shape{6, 2}, rng);
  auto out = d(Var<double>(x, true));
  backward(softmax_cross_entropy(out.logits, {0, 1, 1, 0, 1, 0}));
  for (auto& p : nn::named_parameters(d.backbone)) BOOST_TEST((!p.param->grad.defined() || p.param->grad.array().abs().maxCoeff() == 0));
  BOOST_TEST(d.probe.weight.grad.array().abs().maxCoeff() > 0);
}

BOOST_AUTO_TEST_CASE(imagenet_discriminator_float_forward_batch_2) {
  Rng rng(6);
  nn::DiscriminatorOptions o;
  o.variant = nn::ResNetVariant::ImageNet128;
  nn::ResNet18Discriminator<float> d(o, rng);
  const TF x = rand_uniform<float>(Shape{2, 3, 128, 128}, rng, -1, 1);
  BOOST_TEST(d.backbone.features(x).shape() == (Shape{2, 512, 4, 4}));  // 32× reduction
  const auto out = d(x);
  BOOST_TEST(out.f.shape() == (Shape{2, 128}));
  BOOST_TEST(out.logits.shape() == (Shape{2, 10}));
  BOOST_TEST(all_finite(out.f_tilde));
}

BOOST_AUTO_TEST_CASE(generator_32_parameter_count_and_forward) {
  Rng rng(7);
  nn::BigGANDeepGenerator<float> g(nn::GeneratorOptions{}, rng);
  BOOST_TEST(nn::parameter_count(g) == 5025667);
  BOOST_TEST(g.blocks.size() == 6u);
  BOOST_TEST(g.attention.empty());
  const auto ps = nn::named_parameters(g);
  std::set<std::string> names;
  for (const auto& p : ps) names.insert(p.name);
  BOOST_TEST(names.count("blocks.0.conv1.bias") == 1u);      // G's convolutions have biases
  BOOST_TEST(names.count("blocks.0.bn1.gain.weight") == 1u);  // conditional BN linears: no bias
  BOOST_TEST(names.count("blocks.0.bn1.gain.bias") == 0u);
  BOOST_TEST(names.count("output_bn.weight") == 1u);
  // Every conv and linear is spectrally normalized: one u per weight.
  index_t weights = 0, us = 0;
  for (const auto& p : ps) weights += p.name.size() > 7 && p.name.compare(p.name.size() - 7, 7, ".weight") == 0 &&
                                      p.name.find("output_bn") == std::string::npos;
  for (const auto& b : nn::named_buffers(g)) us += b.name.size() > 5 && b.name.compare(b.name.size() - 5, 5, ".sn.u") == 0;
  BOOST_TEST(us == weights);
  const TF z = g.sample_latent(2, rng);
  BOOST_TEST(z.shape() == (Shape{2, 128}));
  const TF img = g(z);
  BOOST_TEST(img.shape() == (Shape{2, 3, 32, 32}));
  BOOST_TEST(img.array().abs().maxCoeff() < 1.0f);
  BOOST_TEST(all_finite(img));
  g.train(false);
  const TF img_eval = g(z);
  BOOST_TEST(img_eval.shape() == (Shape{2, 3, 32, 32}));
  BOOST_TEST(all_finite(img_eval));
}

BOOST_AUTO_TEST_CASE(generator_128_parameter_count_and_forward) {
  Rng rng(8);
  nn::GeneratorOptions o;
  o.resolution = 128;
  nn::BigGANDeepGenerator<float> g(o, rng);
  // The released code's Generator(resolution=128, G_attn='64') counts 40,663,044 parameters.
  BOOST_TEST(nn::parameter_count(g) == 40663044);
  BOOST_REQUIRE(g.attention.size() == 1u);
  BOOST_TEST(g.attention_after[0] == 7u);  // after the 64×64 stage (blocks 6 and 7)
  BOOST_TEST(g.attention[0].channels() == 256);
  const TF img = g(g.sample_latent(2, rng));
  BOOST_TEST(img.shape() == (Shape{2, 3, 128, 128}));
  BOOST_TEST(img.array().abs().maxCoeff() < 1.0f);
  BOOST_TEST(all_finite(img));
}

BOOST_AUTO_TEST_CASE(mlp_networks_for_2d_data) {
  Rng rng(9);
  nn::MlpGenerator<float> g(nn::MlpGeneratorOptions{}, rng);
  nn::MlpDiscriminator<float> d(nn::MlpDiscriminatorOptions{}, rng);
  const TF p = g(g.sample_latent(5, rng));
  BOOST_TEST(p.shape() == (Shape{5, 2}));
  const auto out = d(p);
  BOOST_TEST(out.f_b.shape() == (Shape{5, 128}));
  BOOST_TEST(out.f.shape() == (Shape{5, 128}));
  BOOST_TEST(out.logits.shape() == (Shape{5, 2}));
  BOOST_TEST(all_finite(out.f_tilde));
  // 128 units: GroupNorm with 8 groups on every hidden layer; widths under 16 have none.
  BOOST_TEST(d.backbone.layers[0].has_norm);
  BOOST_TEST(d.backbone.layers[0].norm.groups == 8);
  nn::MlpDiscriminatorOptions small;
  small.hidden = 8;
  nn::MlpDiscriminator<float> ds(small, rng);
  BOOST_TEST(!ds.backbone.layers[0].has_norm);
  // PyTorch's count of Linear(2, 8), Linear(8, 8), Linear(8, 8) (depth 3, no norm under 16 units).
  BOOST_TEST(nn::parameter_count(ds.backbone) == 168);
}
