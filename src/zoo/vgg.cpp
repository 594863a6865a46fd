// Gluon model zoo VGG 11/13/16/19, with and without BatchNorm.
#include <array>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/net_builder.h"

namespace mixprec::zoo {
namespace {

constexpr std::array<int64_t, 5> kFilters = {64, 128, 256, 512, 512};

// The initializers Gluon's VGG gives its layers, as the export's __init__ hints spell them: convolutions
// Xavier(rnd_type='gaussian', factor_type='out', magnitude=2), dense layers 'normal'.
constexpr std::string_view kConvInit = R"(["xavier", {"rnd_type": "gaussian", "factor_type": "out", "magnitude": 2}])";
constexpr std::string_view kDenseInit = "normal";

struct VggSpec {
  std::string_view name;
  std::array<int64_t, 5> layers;  // convolutions per stage
  bool batch_norm;
};

constexpr std::array kSpecs = {
    VggSpec{"vgg11", {1, 1, 2, 2, 2}, false},   VggSpec{"vgg13", {2, 2, 2, 2, 2}, false},
    VggSpec{"vgg16", {2, 2, 3, 3, 3}, false},   VggSpec{"vgg19", {2, 2, 4, 4, 4}, false},
    VggSpec{"vgg11_bn", {1, 1, 2, 2, 2}, true}, VggSpec{"vgg13_bn", {2, 2, 2, 2, 2}, true},
    VggSpec{"vgg16_bn", {2, 2, 3, 3, 3}, true}, VggSpec{"vgg19_bn", {2, 2, 4, 4, 4}, true},
};

ZooModel build(const std::string& name, const ZooOptions& opt) {
  const VggSpec* spec = nullptr;
  for (const VggSpec& s : kSpecs)
    if (s.name == name) spec = &s;
  if (!spec) throw Error("vgg: no model named '" + name + "'");
  NetBuilder nb(name, "vgg0_", opt);
  Feat x = nb.image_input(224);
  for (size_t i = 0; i < kFilters.size(); ++i) {
    for (int64_t j = 0; j < spec->layers[i]; ++j) {
      x = nb.conv(x, {kFilters[i], {3, 3}, {1, 1}, {1, 1}, 1, true, kConvInit});
      if (spec->batch_norm) x = nb.batchnorm(x);
      x = nb.relu(x);
    }
    x = nb.pool(x, {"max", {2, 2}, {2, 2}, {0, 0}, false});
  }
  x = nb.dropout(nb.dense(x, 4096, "relu", kDenseInit), "0.5");
  x = nb.dropout(nb.dense(x, 4096, "relu", kDenseInit), "0.5");
  x = nb.dense(x, opt.classes > 0 ? opt.classes : 1000, "", kDenseInit);
  return nb.finish({x.e});
}

}  // namespace

std::vector<ZooEntry> vgg_family() {
  std::vector<ZooEntry> out;
  for (const VggSpec& s : kSpecs) out.push_back({std::string(s.name), build});
  return out;
}

}  // namespace mixprec::zoo
