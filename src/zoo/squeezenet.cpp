// Gluon model zoo SqueezeNet 1.0 and 1.1: fire modules (squeeze 1x1, then 1x1 and 3x3 expands
// concatenated), a 1x1-conv classifier and average pooling over the final map.
#include <vector>

#include "mixprec/error.h"
#include "zoo/families.h"
#include "zoo/net_builder.h"

namespace mixprec::zoo {
namespace {

// One feature stage: a fire module (squeeze, expand 1x1, expand 3x3 channels) or, when squeeze is 0,
// a 3x3 stride-2 ceil-mode max pool.
struct Stage {
  int64_t squeeze = 0, expand1 = 0, expand3 = 0;
};
constexpr Stage kPool{};

struct SqueezeSpec {
  std::string_view name;
  ConvSpec stem;
  std::vector<Stage> stages;
};

const std::vector<SqueezeSpec>& specs() {
  static const std::vector<SqueezeSpec> s = {
      {"squeezenet1.0",
       {96, {7, 7}, {2, 2}, {0, 0}, 1, true},
       {kPool, {16, 64, 64}, {16, 64, 64}, {32, 128, 128}, kPool, {32, 128, 128}, {48, 192, 192}, {48, 192, 192},
        {64, 256, 256}, kPool, {64, 256, 256}}},
      {"squeezenet1.1",
       {64, {3, 3}, {2, 2}, {0, 0}, 1, true},
       {kPool, {16, 64, 64}, {16, 64, 64}, kPool, {32, 128, 128}, {32, 128, 128}, kPool, {48, 192, 192},
        {48, 192, 192}, {64, 256, 256}, {64, 256, 256}}},
  };
  return s;
}

Feat conv_relu(NetBuilder& nb, const Feat& x, int64_t ch, int64_t k) {
  return nb.relu(nb.conv(x, {ch, {k, k}, {1, 1}, {k / 2, k / 2}, 1, true}));
}

ZooModel build(const std::string& name, const ZooOptions& opt) {
  const SqueezeSpec* spec = nullptr;
  for (const SqueezeSpec& s : specs())
    if (s.name == name) spec = &s;
  if (!spec) throw Error("squeezenet: no model named '" + name + "'");
  NetBuilder nb(name, "squeezenet0_", opt);
  Feat x = nb.relu(nb.conv(nb.image_input(224), spec->stem));
  for (const Stage& st : spec->stages) {
    if (st.squeeze == 0) {
      x = nb.pool(x, {"max", {3, 3}, {2, 2}, {0, 0}, true});
      continue;
    }
    Feat s = conv_relu(nb, x, st.squeeze, 1);
    Feat e1 = conv_relu(nb, s, st.expand1, 1);
    Feat e3 = conv_relu(nb, s, st.expand3, 3);
    x = nb.concat({e1, e3});
  }
  x = nb.dropout(x, "0.5");
  x = conv_relu(nb, x, opt.classes > 0 ? opt.classes : 1000, 1);
  x = nb.flatten(nb.avg_pool_all(x));
  return nb.finish({x.e});
}

}  // namespace

std::vector<ZooEntry> squeezenet_family() {
  std::vector<ZooEntry> out;
  for (const SqueezeSpec& s : specs()) out.push_back({std::string(s.name), build});
  return out;
}

}  // namespace mixprec::zoo
