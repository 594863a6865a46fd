// Gluon model zoo MobileNet (v1) and MobileNetV2 (MXNet 1.x: ReLU6 as clip, 1x1-conv classifier
// without bias), with their width multipliers.
#include <array>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/net_builder.h"

namespace mixprec::zoo {
namespace {

struct MobileNetSpec {
  std::string_view name;
  int version;
  double multiplier;
};

constexpr std::array kSpecs = {
    MobileNetSpec{"mobilenet1.0", 1, 1.0},     MobileNetSpec{"mobilenet0.75", 1, 0.75},
    MobileNetSpec{"mobilenet0.5", 1, 0.5},     MobileNetSpec{"mobilenet0.25", 1, 0.25},
    MobileNetSpec{"mobilenetv2_1.0", 2, 1.0},  MobileNetSpec{"mobilenetv2_0.75", 2, 0.75},
    MobileNetSpec{"mobilenetv2_0.5", 2, 0.5},  MobileNetSpec{"mobilenetv2_0.25", 2, 0.25},
};

// MobileNet v1: depthwise 3x3 then pointwise 1x1, per layer.
constexpr std::array<int64_t, 13> kDwChannels = {32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024};
constexpr std::array<int64_t, 13> kPwChannels = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
constexpr std::array<int64_t, 13> kV1Strides = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};

// MobileNetV2: the 17 inverted-residual bottlenecks.
constexpr std::array<int64_t, 17> kInChannels = {32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160};
constexpr std::array<int64_t, 17> kOutChannels = {16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320};
constexpr std::array<int64_t, 17> kExpansion = {1, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6};
constexpr std::array<int64_t, 17> kV2Strides = {1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1};

// Python's int(x * multiplier).
int64_t scaled(int64_t x, double m) { return static_cast<int64_t>(static_cast<double>(x) * m); }

ConvSpec conv_spec(int64_t ch, int64_t k, int64_t stride, int64_t groups) {
  return {ch, {k, k}, {stride, stride}, {(k - 1) / 2, (k - 1) / 2}, groups, false};
}

// Gluon's _add_conv: conv (no bias), BatchNorm, then ReLU or ReLU6 unless inactive.
enum class Act { None, Relu, Relu6 };
Feat add_conv(NetBuilder& nb, const Feat& x, int64_t ch, int64_t k, int64_t stride, int64_t groups, Act act) {
  Feat y = nb.batchnorm(nb.conv(x, conv_spec(ch, k, stride, groups)));
  if (act == Act::Relu) return nb.relu(y);
  if (act == Act::Relu6) return nb.relu6(y, nb.next("relu6"));
  return y;
}

ZooModel build_v1(const std::string& name, const ZooOptions& opt, double m) {
  NetBuilder nb(name, "mobilenet0_", opt);
  Feat x = add_conv(nb, nb.image_input(224), scaled(32, m), 3, 2, 1, Act::Relu);
  for (size_t i = 0; i < kDwChannels.size(); ++i) {
    const int64_t dw = scaled(kDwChannels[i], m);
    x = add_conv(nb, x, dw, 3, kV1Strides[i], dw, Act::Relu);
    x = add_conv(nb, x, scaled(kPwChannels[i], m), 1, 1, 1, Act::Relu);
  }
  x = nb.dense(nb.flatten(nb.global_avg_pool(x)), opt.classes > 0 ? opt.classes : 1000);
  return nb.finish({x.e});
}

ZooModel build_v2(const std::string& name, const ZooOptions& opt, double m) {
  NetBuilder nb(name, "mobilenetv20_", opt);
  nb.enter("features_");
  Feat x = add_conv(nb, nb.image_input(224), scaled(32, m), 3, 2, 1, Act::Relu6);
  for (size_t i = 0; i < kInChannels.size(); ++i) {
    const int64_t in = scaled(kInChannels[i], m), out = scaled(kOutChannels[i], m), mid = in * kExpansion[i];
    nb.enter_block("linearbottleneck");
    Feat y = add_conv(nb, x, mid, 1, 1, 1, Act::Relu6);
    y = add_conv(nb, y, mid, 3, kV2Strides[i], mid, Act::Relu6);
    y = add_conv(nb, y, out, 1, 1, 1, Act::None);
    x = kV2Strides[i] == 1 && in == out ? nb.add(y, x, "elemwise_add") : y;
    nb.leave();
  }
  x = add_conv(nb, x, m > 1.0 ? scaled(1280, m) : 1280, 1, 1, 1, Act::Relu6);
  x = nb.global_avg_pool(x);
  nb.leave();
  nb.enter("output_");
  x = nb.conv(x, conv_spec(opt.classes > 0 ? opt.classes : 1000, 1, 1, 1), nb.prefix() + "pred");
  x = nb.flatten(x);
  nb.leave();
  return nb.finish({x.e});
}

ZooModel build(const std::string& name, const ZooOptions& opt) {
  for (const MobileNetSpec& s : kSpecs)
    if (s.name == name) return s.version == 1 ? build_v1(name, opt, s.multiplier) : build_v2(name, opt, s.multiplier);
  throw Error("mobilenet: no model named '" + name + "'");
}

}  // namespace

std::vector<ZooEntry> mobilenet_family() {
  std::vector<ZooEntry> out;
  for (const MobileNetSpec& s : kSpecs) out.push_back({std::string(s.name), build});
  return out;
}

}  // namespace mixprec::zoo
