// CIFAR-10 ResNets: GluonCV's cifar_resnetN_v1 (node for node the same export as
// ../shared/models/mxnet/gluoncv_cifar_resnet20_v1), and "resnet_deep", a benchmark generator.
//
// resnet_deep: a CIFAR stem (conv-BN-ReLU, 16 channels), then `depth` residual units split over three
// stages of 16/32/64 channels (the first unit of stages 2 and 3 halves the map and projects the
// shortcut), global pooling and a dense layer. A unit is relu(x + BN(conv3x3(x))): 9 nodes counting
// its 5 parameter variables, so the graph has 27 + 9 * depth nodes for depth >= 3.
#include <array>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/resnet_blocks.h"

namespace mixprec::zoo {
namespace {

constexpr std::array<int64_t, 3> kStageChannels = {16, 32, 64};

struct CifarSpec {
  std::string_view name;
  int64_t blocks_per_stage;  // (depth - 2) / 6
};
constexpr std::array kCifar = {CifarSpec{"cifar_resnet20_v1", 3}, CifarSpec{"cifar_resnet56_v1", 9},
                               CifarSpec{"cifar_resnet110_v1", 18}};

int64_t classes_of(const ZooOptions& opt) { return opt.classes > 0 ? opt.classes : 10; }

ZooModel build_cifar(const std::string& name, const ZooOptions& opt) {
  int64_t n = 0;
  for (const CifarSpec& s : kCifar)
    if (s.name == name) n = s.blocks_per_stage;
  if (n == 0) throw Error("cifar_resnet: no model named '" + name + "'");
  NetBuilder nb(name, "cifarresnetv10_", opt);
  // GluonCV's stem has no ReLU after its BatchNorm.
  Feat x = nb.batchnorm(nb.conv(nb.image_input(32), conv3x3(kStageChannels[0], 1)));
  for (size_t i = 0; i < kStageChannels.size(); ++i) {
    nb.enter("stage" + std::to_string(i + 1) + "_");
    for (int64_t j = 0; j < n; ++j)
      x = basic_block_v1(nb, x, kStageChannels[i], j == 0 && i > 0 ? 2 : 1, j == 0 && x.c != kStageChannels[i]);
    nb.leave();
  }
  x = nb.dense(nb.global_avg_pool(x), classes_of(opt));
  return nb.finish({x.e});
}

ZooModel build_deep(const std::string& name, const ZooOptions& opt) {
  const int64_t depth = opt.depth > 0 ? opt.depth : 9;
  NetBuilder nb(name, "resnetdeep0_", opt);
  nb.reserve(static_cast<size_t>(27 + 9 * depth));
  Feat x = nb.relu(nb.batchnorm(nb.conv(nb.image_input(32), conv3x3(kStageChannels[0], 1))));
  for (int64_t k = 0; k < 3; ++k) {
    const int64_t units = depth / 3 + (k < depth % 3 ? 1 : 0);
    if (units == 0) continue;
    const int64_t ch = kStageChannels[static_cast<size_t>(k)];
    nb.enter("stage" + std::to_string(k + 1) + "_");
    for (int64_t j = 0; j < units; ++j) {
      const bool project = j == 0 && x.c != ch;
      const std::string c = nb.next("conv"), b = nb.next("batchnorm");
      const std::string pc = project ? nb.next("conv") : "", pb = project ? nb.next("batchnorm") : "";
      Feat res = project ? nb.batchnorm(nb.conv(x, conv1x1(ch, 2), pc), pb) : x;
      Feat y = nb.batchnorm(nb.conv(x, conv3x3(ch, project ? 2 : 1), c), b);
      x = nb.activation(nb.add(res, y));
    }
    nb.leave();
  }
  x = nb.dense(nb.global_avg_pool(x), classes_of(opt));
  return nb.finish({x.e});
}

}  // namespace

std::vector<ZooEntry> cifar_resnet_family() {
  std::vector<ZooEntry> out;
  for (const CifarSpec& s : kCifar) out.push_back({std::string(s.name), build_cifar});
  out.push_back({"resnet_deep", build_deep});
  return out;
}

}  // namespace mixprec::zoo
