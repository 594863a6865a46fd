// Gluon model zoo ResNets (mxnet.gluon.model_zoo.vision.resnet, MXNet 1.x): V1 (post-activation)
// and V2 (pre-activation), basic and bottleneck blocks. As in Gluon, the 1x1 convolutions of
// BottleneckV1 keep their bias (nn.Conv2D's default use_bias=True), which torchvision's do not.
#include <array>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/resnet_blocks.h"

namespace mixprec::zoo {
namespace {

struct ResNetSpec {
  std::string_view name;
  int version;
  bool bottleneck;
  std::array<int64_t, 4> layers;
  std::array<int64_t, 5> channels;
};

constexpr std::array<int64_t, 5> kBasic = {64, 64, 128, 256, 512};
constexpr std::array<int64_t, 5> kBottleneck = {64, 256, 512, 1024, 2048};

// Gluon's resnet_spec, per version.
constexpr std::array kSpecs = {
    ResNetSpec{"resnet18_v1", 1, false, {2, 2, 2, 2}, kBasic},
    ResNetSpec{"resnet34_v1", 1, false, {3, 4, 6, 3}, kBasic},
    ResNetSpec{"resnet50_v1", 1, true, {3, 4, 6, 3}, kBottleneck},
    ResNetSpec{"resnet101_v1", 1, true, {3, 4, 23, 3}, kBottleneck},
    ResNetSpec{"resnet152_v1", 1, true, {3, 8, 36, 3}, kBottleneck},
    ResNetSpec{"resnet18_v2", 2, false, {2, 2, 2, 2}, kBasic},
    ResNetSpec{"resnet34_v2", 2, false, {3, 4, 6, 3}, kBasic},
    ResNetSpec{"resnet50_v2", 2, true, {3, 4, 6, 3}, kBottleneck},
    ResNetSpec{"resnet101_v2", 2, true, {3, 4, 23, 3}, kBottleneck},
    ResNetSpec{"resnet152_v2", 2, true, {3, 8, 36, 3}, kBottleneck},
};

Feat block(NetBuilder& nb, const ResNetSpec& s, const Feat& x, int64_t ch, int64_t stride, bool downsample) {
  if (s.version == 1)
    return s.bottleneck ? bottleneck_v1(nb, x, ch, stride, downsample) : basic_block_v1(nb, x, ch, stride, downsample);
  if (s.bottleneck)
    return preact_block_v2(nb, x, {conv1x1(ch / 4, 1), conv3x3(ch / 4, stride), conv1x1(ch, 1)}, ch, stride, downsample);
  return preact_block_v2(nb, x, {conv3x3(ch, stride), conv3x3(ch, 1)}, ch, stride, downsample);
}

ZooModel build(const std::string& name, const ZooOptions& opt) {
  const ResNetSpec* spec = nullptr;
  for (const ResNetSpec& s : kSpecs)
    if (s.name == name) spec = &s;
  if (!spec) throw Error("resnet: no model named '" + name + "'");
  const ResNetSpec& s = *spec;
  NetBuilder nb(name, s.version == 1 ? "resnetv10_" : "resnetv20_", opt);
  Feat x = nb.image_input(224);
  if (s.version == 2) x = nb.batchnorm(x, nb.next("batchnorm"), "1e-05", false, false);  // input normalisation
  x = nb.relu(nb.batchnorm(nb.conv(x, {s.channels[0], {7, 7}, {2, 2}, {3, 3}})));
  x = nb.pool(x, {"max", {3, 3}, {2, 2}, {1, 1}, false});
  for (size_t i = 0; i < s.layers.size(); ++i) {
    nb.enter("stage" + std::to_string(i + 1) + "_");
    const int64_t ch = s.channels[i + 1];
    for (int64_t j = 0; j < s.layers[i]; ++j)
      x = block(nb, s, x, ch, j == 0 && i > 0 ? 2 : 1, j == 0 && ch != x.c);
    nb.leave();
  }
  if (s.version == 2) x = nb.relu(nb.batchnorm(x));
  x = nb.global_avg_pool(x);
  if (s.version == 2) x = nb.flatten(x);
  x = nb.dense(x, opt.classes > 0 ? opt.classes : 1000);
  return nb.finish({x.e});
}

}  // namespace

std::vector<ZooEntry> resnet_family() {
  std::vector<ZooEntry> out;
  for (const ResNetSpec& s : kSpecs) out.push_back({std::string(s.name), build});
  return out;
}

}  // namespace mixprec::zoo
