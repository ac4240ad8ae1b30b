#define BOOST_TEST_MODULE nn_names
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "structgan/nn/biggan.hpp"
#include "structgan/nn/ema.hpp"
#include "structgan/nn/mlp.hpp"
#include "structgan/nn/resnet.hpp"

// The names, kinds, shapes and order of every parameter and buffer, as visit() reports them, are
// the checkpoint format: a change here makes every saved checkpoint unreadable. The lists below
// were written down from the networks before they shared one Discriminator template and one
// members() list per module; they must not change.

using namespace structgan;

namespace {
// "P name [shape]" for a parameter, "B name [shape]" for a buffer, in visiting order.
struct Recorder {
  std::vector<std::string> entries;
  template <class T, class D>
  void parameter(const std::string& n, Parameter<T, D>& p) { add('P', n, p.value.shape()); }
  template <class T, class D>
  void buffer(const std::string& n, Tensor<T, D>& b) { add('B', n, b.shape()); }
  void add(char kind, const std::string& n, const Shape& s) {
    std::ostringstream os;
    os << kind << ' ' << n << ' ' << s;
    entries.push_back(os.str());
  }
};
template <class M>
std::vector<std::string> entries_of(M& m, const std::string& prefix = "") {
  Recorder r;
  m.visit(r, prefix);
  return r.entries;
}
void check_equal(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  BOOST_TEST(got.size() == want.size());
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) BOOST_TEST(got[i] == want[i], "entry " << i);
}
// The small networks of the lists below.
nn::ResNet18Discriminator<float> small_resnet(Rng& rng) {
  nn::DiscriminatorOptions o;
  o.width = 8, o.in_channels = 1, o.classes = 4, o.embed_dim = 8, o.channels_per_group = 4;
  return nn::ResNet18Discriminator<float>(o, rng);
}
nn::MlpDiscriminator<double> small_mlp(Rng& rng) {
  nn::MlpDiscriminatorOptions o;
  o.depth = 2, o.hidden = 32;
  return nn::MlpDiscriminator<double>(o, rng);
}
nn::BigGANDeepGenerator<float> small_generator(Rng& rng) {
  nn::GeneratorOptions o;
  o.resolution = 128, o.ch = 8, o.z_dim = 8, o.bottom_width = 1, o.attention_resolution = 16;
  return nn::BigGANDeepGenerator<float>(o, rng);
}
}  // namespace

BOOST_AUTO_TEST_CASE(resnet_discriminator_names_are_unchanged) {
  Rng rng(3);
  auto d = small_resnet(rng);
  check_equal(entries_of(d), {
      "P backbone.stem.weight [8, 1, 3, 3]",
      "P backbone.layer1.0.conv1.weight [8, 8, 3, 3]",
      "P backbone.layer1.0.conv2.weight [8, 8, 3, 3]",
      "P backbone.layer1.0.gn2.weight [8]",
      "P backbone.layer1.0.gn2.bias [8]",
      "P backbone.layer1.1.conv1.weight [8, 8, 3, 3]",
      "P backbone.layer1.1.conv2.weight [8, 8, 3, 3]",
      "P backbone.layer1.1.gn2.weight [8]",
      "P backbone.layer1.1.gn2.bias [8]",
      "P backbone.layer2.0.conv1.weight [16, 8, 3, 3]",
      "P backbone.layer2.0.conv2.weight [16, 16, 3, 3]",
      "P backbone.layer2.0.gn2.weight [16]",
      "P backbone.layer2.0.gn2.bias [16]",
      "P backbone.layer2.0.shortcut.conv.weight [16, 8, 1, 1]",
      "P backbone.layer2.0.shortcut.gn.weight [16]",
      "P backbone.layer2.0.shortcut.gn.bias [16]",
      "P backbone.layer2.1.conv1.weight [16, 16, 3, 3]",
      "P backbone.layer2.1.conv2.weight [16, 16, 3, 3]",
      "P backbone.layer2.1.gn2.weight [16]",
      "P backbone.layer2.1.gn2.bias [16]",
      "P backbone.layer3.0.conv1.weight [32, 16, 3, 3]",
      "P backbone.layer3.0.conv2.weight [32, 32, 3, 3]",
      "P backbone.layer3.0.gn2.weight [32]",
      "P backbone.layer3.0.gn2.bias [32]",
      "P backbone.layer3.0.shortcut.conv.weight [32, 16, 1, 1]",
      "P backbone.layer3.0.shortcut.gn.weight [32]",
      "P backbone.layer3.0.shortcut.gn.bias [32]",
      "P backbone.layer3.1.conv1.weight [32, 32, 3, 3]",
      "P backbone.layer3.1.conv2.weight [32, 32, 3, 3]",
      "P backbone.layer3.1.gn2.weight [32]",
      "P backbone.layer3.1.gn2.bias [32]",
      "P backbone.layer4.0.conv1.weight [64, 32, 3, 3]",
      "P backbone.layer4.0.conv2.weight [64, 64, 3, 3]",
      "P backbone.layer4.0.gn2.weight [64]",
      "P backbone.layer4.0.gn2.bias [64]",
      "P backbone.layer4.0.shortcut.conv.weight [64, 32, 1, 1]",
      "P backbone.layer4.0.shortcut.gn.weight [64]",
      "P backbone.layer4.0.shortcut.gn.bias [64]",
      "P backbone.layer4.1.conv1.weight [64, 64, 3, 3]",
      "P backbone.layer4.1.conv2.weight [64, 64, 3, 3]",
      "P backbone.layer4.1.gn2.weight [64]",
      "P backbone.layer4.1.gn2.bias [64]",
      "P head.fc1.weight [64, 64]",
      "P head.fc1.bias [64]",
      "P head.fc2.weight [8, 64]",
      "P head.fc2.bias [8]",
      "P probe.weight [4, 64]",
      "P probe.bias [4]",
  });
}

BOOST_AUTO_TEST_CASE(mlp_discriminator_names_are_unchanged_and_an_ema_keeps_them) {
  Rng rng(3);
  auto d = small_mlp(rng);
  const std::vector<std::string> want{
      "P backbone.0.fc.weight [32, 2]",
      "P backbone.0.fc.bias [32]",
      "P backbone.0.norm.weight [32]",
      "P backbone.0.norm.bias [32]",
      "P backbone.1.fc.weight [32, 32]",
      "P backbone.1.fc.bias [32]",
      "P backbone.1.norm.weight [32]",
      "P backbone.1.norm.bias [32]",
      "P head.fc1.weight [32, 32]",
      "P head.fc1.bias [32]",
      "P head.fc2.weight [128, 32]",
      "P head.fc2.bias [128]",
      "P probe.weight [2, 32]",
      "P probe.bias [2]",
  };
  check_equal(entries_of(d), want);
  nn::Ema<nn::MlpDiscriminator<double>> ema(d);
  check_equal(entries_of(ema), want);
  std::vector<std::string> prefixed;
  for (const auto& e : want) prefixed.push_back(e.substr(0, 2) + "D_ema." + e.substr(2));
  check_equal(entries_of(ema, "D_ema"), prefixed);
}

// The generator's list is long: its top level and its first block (every block has the same
// layout), with spectral-norm vectors, conditional BatchNorm's flattened running statistics and
// the attention named after the block it follows.
BOOST_AUTO_TEST_CASE(generator_names_are_unchanged) {
  Rng rng(3);
  auto g = small_generator(rng);
  std::vector<std::string> got;
  for (const auto& e : entries_of(g))
    if (e.compare(2, 7, "blocks.") != 0 || e.compare(2, 9, "blocks.0.") == 0) got.push_back(e);
  check_equal(got, {
      "P first_linear.weight [8, 8]",
      "P first_linear.bias [8]",
      "B first_linear.sn.u [8]",
      "B first_linear.sn.v [8]",
      "P linear.weight [128, 8]",
      "P linear.bias [128]",
      "B linear.sn.u [128]",
      "B linear.sn.v [8]",
      "P blocks.0.conv1.weight [32, 128, 1, 1]",
      "P blocks.0.conv1.bias [32]",
      "B blocks.0.conv1.sn.u [32]",
      "B blocks.0.conv1.sn.v [128]",
      "P blocks.0.conv2.weight [32, 32, 3, 3]",
      "P blocks.0.conv2.bias [32]",
      "B blocks.0.conv2.sn.u [32]",
      "B blocks.0.conv2.sn.v [288]",
      "P blocks.0.conv3.weight [32, 32, 3, 3]",
      "P blocks.0.conv3.bias [32]",
      "B blocks.0.conv3.sn.u [32]",
      "B blocks.0.conv3.sn.v [288]",
      "P blocks.0.conv4.weight [128, 32, 1, 1]",
      "P blocks.0.conv4.bias [128]",
      "B blocks.0.conv4.sn.u [128]",
      "B blocks.0.conv4.sn.v [32]",
      "P blocks.0.bn1.gain.weight [128, 8]",
      "B blocks.0.bn1.gain.sn.u [128]",
      "B blocks.0.bn1.gain.sn.v [8]",
      "P blocks.0.bn1.bias.weight [128, 8]",
      "B blocks.0.bn1.bias.sn.u [128]",
      "B blocks.0.bn1.bias.sn.v [8]",
      "B blocks.0.bn1.running_mean [128]",
      "B blocks.0.bn1.running_var [128]",
      "P blocks.0.bn2.gain.weight [32, 8]",
      "B blocks.0.bn2.gain.sn.u [32]",
      "B blocks.0.bn2.gain.sn.v [8]",
      "P blocks.0.bn2.bias.weight [32, 8]",
      "B blocks.0.bn2.bias.sn.u [32]",
      "B blocks.0.bn2.bias.sn.v [8]",
      "B blocks.0.bn2.running_mean [32]",
      "B blocks.0.bn2.running_var [32]",
      "P blocks.0.bn3.gain.weight [32, 8]",
      "B blocks.0.bn3.gain.sn.u [32]",
      "B blocks.0.bn3.gain.sn.v [8]",
      "P blocks.0.bn3.bias.weight [32, 8]",
      "B blocks.0.bn3.bias.sn.u [32]",
      "B blocks.0.bn3.bias.sn.v [8]",
      "B blocks.0.bn3.running_mean [32]",
      "B blocks.0.bn3.running_var [32]",
      "P blocks.0.bn4.gain.weight [32, 8]",
      "B blocks.0.bn4.gain.sn.u [32]",
      "B blocks.0.bn4.gain.sn.v [8]",
      "P blocks.0.bn4.bias.weight [32, 8]",
      "B blocks.0.bn4.bias.sn.u [32]",
      "B blocks.0.bn4.bias.sn.v [8]",
      "B blocks.0.bn4.running_mean [32]",
      "B blocks.0.bn4.running_var [32]",
      "P attention.7.theta.weight [2, 16, 1, 1]",
      "B attention.7.theta.sn.u [2]",
      "B attention.7.theta.sn.v [16]",
      "P attention.7.phi.weight [2, 16, 1, 1]",
      "B attention.7.phi.sn.u [2]",
      "B attention.7.phi.sn.v [16]",
      "P attention.7.g.weight [8, 16, 1, 1]",
      "B attention.7.g.sn.u [8]",
      "B attention.7.g.sn.v [16]",
      "P attention.7.o.weight [16, 8, 1, 1]",
      "B attention.7.o.sn.u [16]",
      "B attention.7.o.sn.v [8]",
      "P attention.7.gamma [1]",
      "P output_bn.weight [8]",
      "P output_bn.bias [8]",
      "B output_bn.running_mean [8]",
      "B output_bn.running_var [8]",
      "P output_conv.weight [3, 8, 3, 3]",
      "P output_conv.bias [3]",
      "B output_conv.sn.u [3]",
      "B output_conv.sn.v [72]",
  });
}

// train(false) reaches every module of the list (BatchNorm inside conditional BatchNorm inside a
// block, spectral-normalized convolutions, attention; through an Ema), train(true) brings them back.
BOOST_AUTO_TEST_CASE(train_mode_reaches_every_module) {
  Rng rng(4);
  nn::Ema<nn::BigGANDeepGenerator<float>> ema(small_generator(rng));
  auto d = small_resnet(rng);
  auto& g = ema.model();
  auto flags = [&] {
    return std::vector<bool>{g.training, g.first_linear.training, g.blocks[3].training, g.blocks[3].bn2.training,
                             g.blocks[3].bn2.bn.training, g.blocks[3].bn2.gain.training, g.blocks[3].conv4.training,
                             g.attention[0].training, g.attention[0].o.training, g.output_bn.training,
                             d.backbone.training, d.backbone.blocks[2].shortcut_conv.training, d.head.fc2.training,
                             d.probe.training};
  };
  for (bool on : {false, true}) {
    ema.train(on);
    d.train(on);
    for (bool f : flags()) BOOST_TEST(f == on);
  }
}
