// Gluon model zoo DenseNet-BC 121/161/169/201: dense blocks whose layers (BN-ReLU-conv1x1-BN-ReLU-
// conv3x3) concatenate their output onto their input, joined by BN-ReLU-conv1x1-avgpool transitions.
#include <array>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/net_builder.h"

namespace mixprec::zoo {
namespace {

constexpr int64_t kBnSize = 4;  // bottleneck width = kBnSize * growth rate

struct DenseNetSpec {
  std::string_view name;
  int64_t init_features, growth_rate;
  std::array<int64_t, 4> block_layers;
};

constexpr std::array kSpecs = {
    DenseNetSpec{"densenet121", 64, 32, {6, 12, 24, 16}},
    DenseNetSpec{"densenet161", 96, 48, {6, 12, 36, 24}},
    DenseNetSpec{"densenet169", 64, 32, {6, 12, 32, 32}},
    DenseNetSpec{"densenet201", 64, 32, {6, 12, 48, 32}},
};

ConvSpec conv(int64_t ch, int64_t k) { return {ch, {k, k}, {1, 1}, {k / 2, k / 2}, 1, false}; }

ZooModel build(const std::string& name, const ZooOptions& opt) {
  const DenseNetSpec* spec = nullptr;
  for (const DenseNetSpec& s : kSpecs)
    if (s.name == name) spec = &s;
  if (!spec) throw Error("densenet: no model named '" + name + "'");
  NetBuilder nb(name, "densenet0_", opt);
  Feat x = nb.conv(nb.image_input(224), {spec->init_features, {7, 7}, {2, 2}, {3, 3}, 1, false});
  x = nb.pool(nb.relu(nb.batchnorm(x)), {"max", {3, 3}, {2, 2}, {1, 1}, false});
  for (size_t i = 0; i < spec->block_layers.size(); ++i) {
    nb.enter("stage" + std::to_string(i + 1) + "_");
    for (int64_t j = 0; j < spec->block_layers[i]; ++j) {
      Feat y = nb.conv(nb.relu(nb.batchnorm(x)), conv(kBnSize * spec->growth_rate, 1));
      y = nb.conv(nb.relu(nb.batchnorm(y)), conv(spec->growth_rate, 3));
      x = nb.concat({x, y});  // HybridConcurrent(Identity, new_features)
    }
    nb.leave();
    if (i + 1 < spec->block_layers.size()) {
      x = nb.conv(nb.relu(nb.batchnorm(x)), conv(x.c / 2, 1));
      x = nb.pool(x, {"avg", {2, 2}, {2, 2}, {0, 0}, false});
    }
  }
  x = nb.flatten(nb.avg_pool_all(nb.relu(nb.batchnorm(x))));
  x = nb.dense(x, opt.classes > 0 ? opt.classes : 1000);
  return nb.finish({x.e});
}

}  // namespace

std::vector<ZooEntry> densenet_family() {
  std::vector<ZooEntry> out;
  for (const DenseNetSpec& s : kSpecs) out.push_back({std::string(s.name), build});
  return out;
}

}  // namespace mixprec::zoo
