// Gluon model zoo Inception v3 (no auxiliary classifier, as Gluon's Inception3): a stem of
// conv-BN(eps 0.001)-ReLU units, then the A, B, C, D and E mixing blocks, each a channel concat of
// branches, then average pooling over the final map, dropout and a dense layer.
#include <vector>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/net_builder.h"

namespace mixprec::zoo {
namespace {

// One of Gluon's _make_branch settings: (channels, kernel_size, strides, padding).
struct ConvSetting {
  int64_t channels;
  Hw kernel{1, 1};
  int64_t stride = 1;
  Hw pad{0, 0};
};

struct Branch {
  std::string_view pool;  // "", "avg" (3x3, stride 1, pad 1) or "max" (3x3, stride 2)
  std::vector<ConvSetting> convs;
};

ConvSetting k1(int64_t ch) { return {ch}; }
ConvSetting k3(int64_t ch, int64_t stride = 1, int64_t pad = 0) { return {ch, {3, 3}, stride, {pad, pad}}; }
ConvSetting k1x7(int64_t ch) { return {ch, {1, 7}, 1, {0, 3}}; }
ConvSetting k7x1(int64_t ch) { return {ch, {7, 1}, 1, {3, 0}}; }

std::vector<Branch> block_a(int64_t pool_features) {
  return {{"", {k1(64)}},
          {"", {k1(48), {64, {5, 5}, 1, {2, 2}}}},
          {"", {k1(64), k3(96, 1, 1), k3(96, 1, 1)}},
          {"avg", {k1(pool_features)}}};
}
std::vector<Branch> block_b() { return {{"", {k3(384, 2)}}, {"", {k1(64), k3(96, 1, 1), k3(96, 2)}}, {"max", {}}}; }
std::vector<Branch> block_c(int64_t c7) {
  return {{"", {k1(192)}},
          {"", {k1(c7), k1x7(c7), k7x1(192)}},
          {"", {k1(c7), k7x1(c7), k1x7(c7), k7x1(c7), k1x7(192)}},
          {"avg", {k1(192)}}};
}
std::vector<Branch> block_d() {
  return {{"", {k1(192), k3(320, 2)}}, {"", {k1(192), k1x7(192), k7x1(192), k3(192, 2)}}, {"max", {}}};
}

Feat basic_conv(NetBuilder& nb, const Feat& x, const ConvSetting& s) {
  Feat y = nb.conv(x, {s.channels, s.kernel, {s.stride, s.stride}, s.pad, 1, false});
  return nb.relu(nb.batchnorm(y, nb.next("batchnorm"), "0.001"));
}

Feat branch(NetBuilder& nb, const Feat& x, const Branch& b) {
  Feat y = x;
  if (b.pool == "avg") y = nb.pool(y, {"avg", {3, 3}, {1, 1}, {1, 1}, false});
  if (b.pool == "max") y = nb.pool(y, {"max", {3, 3}, {2, 2}, {0, 0}, false});
  for (const ConvSetting& s : b.convs) y = basic_conv(nb, y, s);
  return y;
}

Feat mixed(NetBuilder& nb, const Feat& x, const std::string& scope, const std::vector<Branch>& branches) {
  nb.enter(scope);
  std::vector<Feat> outs;
  for (const Branch& b : branches) outs.push_back(branch(nb, x, b));
  Feat y = nb.concat(outs);
  nb.leave();
  return y;
}

// Block E splits two of its branches into parallel 1x3 and 3x1 convolutions.
Feat block_e(NetBuilder& nb, const Feat& x, const std::string& scope) {
  nb.enter(scope);
  auto split = [&](const Feat& y) {
    return nb.concat({basic_conv(nb, y, {384, {1, 3}, 1, {0, 1}}), basic_conv(nb, y, {384, {3, 1}, 1, {1, 0}})});
  };
  Feat b1 = branch(nb, x, {"", {k1(320)}});
  Feat b2 = split(branch(nb, x, {"", {k1(384)}}));
  Feat b3 = split(branch(nb, x, {"", {k1(448), k3(384, 1, 1)}}));
  Feat b4 = branch(nb, x, {"avg", {k1(192)}});
  Feat y = nb.concat({b1, b2, b3, b4});
  nb.leave();
  return y;
}

ZooModel build(const std::string& name, const ZooOptions& opt) {
  if (name != "inceptionv3") throw Error("inception: no model named '" + name + "'");
  NetBuilder nb(name, "inception30_", opt);
  Feat x = nb.image_input(299);
  x = basic_conv(nb, x, k3(32, 2));
  x = basic_conv(nb, x, k3(32));
  x = basic_conv(nb, x, k3(64, 1, 1));
  x = nb.pool(x, {"max", {3, 3}, {2, 2}, {0, 0}, false});
  x = basic_conv(nb, x, k1(80));
  x = basic_conv(nb, x, k3(192));
  x = nb.pool(x, {"max", {3, 3}, {2, 2}, {0, 0}, false});
  x = mixed(nb, x, "A1_", block_a(32));
  x = mixed(nb, x, "A2_", block_a(64));
  x = mixed(nb, x, "A3_", block_a(64));
  x = mixed(nb, x, "B_", block_b());
  x = mixed(nb, x, "C1_", block_c(128));
  x = mixed(nb, x, "C2_", block_c(160));
  x = mixed(nb, x, "C3_", block_c(160));
  x = mixed(nb, x, "C4_", block_c(192));
  x = mixed(nb, x, "D_", block_d());
  x = block_e(nb, x, "E1_");
  x = block_e(nb, x, "E2_");
  x = nb.dropout(nb.avg_pool_all(x), "0.5");
  x = nb.dense(x, opt.classes > 0 ? opt.classes : 1000);
  return nb.finish({x.e});
}

}  // namespace

std::vector<ZooEntry> inception_family() { return {{"inceptionv3", build}}; }

}  // namespace mixprec::zoo
