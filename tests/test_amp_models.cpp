// Conversion of the real MXNet models in ../shared/models/mxnet: the cast counts re-derived in
// mxnet_amp_behaviours.md §4, exact cast placement on ResNet-20, bit-exact offline params.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "amp_test_util.h"
#include "mixprec/amp.h"
#include "mixprec/half.h"
#include "mixprec/mxnet.h"

using namespace mixprec;
using namespace mixprec::amp;

namespace {

const std::string kModels = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/";

struct Model {
  Graph graph;
  TensorMap arg, aux;
};

Model load(const std::string& sym, const std::string& params) {
  Model m;
  m.graph = mxnet::read_symbol_json(kModels + sym);
  mxnet::split_params(mxnet::read_params(kModels + params), m.arg, m.aux);
  return m;
}

struct Row {
  const char* name;
  const char* sym;
  const char* params;
  Compat compat;
  DType dtype;
  bool offline;
  size_t lp_casts, fp32_casts, params_lp;
};

void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

class AmpModelCounts : public ::testing::TestWithParam<Row> {};

TEST_P(AmpModelCounts, MatchTheReDerivedTable) {
  const Row& r = GetParam();
  const Model m = load(r.sym, r.params);
  AmpOptions o;
  o.compat = r.compat;
  o.target_dtype = r.dtype;
  o.cast_params_offline = r.offline;
  const AmpResult res = convert_model(m.graph, m.arg, m.aux, o);
  EXPECT_EQ(res.stats.lp_casts, r.lp_casts);
  EXPECT_EQ(res.stats.fp32_casts, r.fp32_casts);
  EXPECT_EQ(res.stats.params_lp, r.params_lp);
  EXPECT_EQ(res.stats.multicasts, 0u);
  size_t stored_low = 0;
  for (const auto* mp : {&res.arg_params, &res.aux_params})
    for (const auto& [n, t] : *mp) stored_low += t.dtype == r.dtype ? 1 : 0;
  EXPECT_EQ(stored_low, r.params_lp);
  for (const auto& [n, t] : res.aux_params) EXPECT_EQ(t.dtype, DType::Float32) << n;  // BN stats never change
}

constexpr auto F16 = DType::Float16;
constexpr auto BF16 = DType::BFloat16;
constexpr auto V1 = Compat::MXNet1;
constexpr auto V2 = Compat::MXNet2;
#define R20V1 "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-symbol.json", "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-0000.params"
#define R20V2 "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-symbol.json", "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-0000.params"
#define DET1 "insightface_mtcnn/det1-symbol.json", "insightface_mtcnn/det1-0001.params"
#define DET4 "insightface_mtcnn/det4-symbol.json", "insightface_mtcnn/det4-0001.params"

INSTANTIATE_TEST_SUITE_P(
    Table, AmpModelCounts,
    ::testing::Values(Row{"r20v1_v2_f16", R20V1, V2, F16, false, 24, 1, 0}, Row{"r20v1_v2_f16_off", R20V1, V2, F16, true, 1, 1, 23},
                      Row{"r20v1_v2_bf16", R20V1, V2, BF16, false, 24, 1, 0}, Row{"r20v1_v2_bf16_off", R20V1, V2, BF16, true, 1, 1, 23},
                      Row{"r20v1_v1_f16", R20V1, V1, F16, false, 24, 1, 0}, Row{"r20v1_v1_f16_off", R20V1, V1, F16, true, 1, 1, 23},
                      Row{"r20v1_v1_bf16", R20V1, V1, BF16, false, 24, 1, 0}, Row{"r20v1_v1_bf16_off", R20V1, V1, BF16, true, 1, 1, 23},
                      Row{"r20v2_v2_f16", R20V2, V2, F16, false, 24, 1, 0}, Row{"r20v2_v2_f16_off", R20V2, V2, F16, true, 1, 1, 23},
                      Row{"r20v2_v1_f16", R20V2, V1, F16, false, 24, 1, 0}, Row{"r20v2_v1_f16_off", R20V2, V1, F16, true, 1, 1, 23},
                      Row{"r20v2_v1_bf16", R20V2, V1, BF16, false, 25, 2, 0}, Row{"r20v2_v1_bf16_off", R20V2, V1, BF16, true, 2, 2, 23},
                      Row{"r20v2_v2_bf16", R20V2, V2, BF16, false, 24, 1, 0}, Row{"r20v2_v2_bf16_off", R20V2, V2, BF16, true, 1, 1, 23},
                      Row{"det1_v1_f16", DET1, V1, F16, false, 11, 2, 3}, Row{"det1_v1_f16_off", DET1, V1, F16, true, 1, 2, 13},
                      Row{"det1_v2_f16", DET1, V2, F16, false, 14, 2, 0}, Row{"det1_v2_f16_off", DET1, V2, F16, true, 1, 2, 13},
                      Row{"det4_v1_f16", DET4, V1, F16, false, 57, 5, 21}, Row{"det4_v2_f16", DET4, V2, F16, false, 78, 5, 0}),
    [](const auto& p) { return std::string(p.param.name); });

// Exact placement on ResNet-20 v1: the input, 21 conv weights and the dense weight and bias are
// cast to the low type; only the dense output is cast back; BN params are never touched.
TEST(AmpModels, ResNet20CastPlacementIsExact) {
  const Model m = load(R20V1);
  const AmpResult res = convert_model(m.graph, m.arg, m.aux, AmpOptions{});
  const Graph& g = res.graph;
  const auto users = g.consumers();
  std::set<std::string> lp_sources;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != "amp_cast") continue;
    const Node& src = g.nodes[n.inputs[0].node];
    if (n.attr("dtype") == "float16") {
      lp_sources.insert(src.name);
      EXPECT_TRUE(src.is_variable()) << src.name;
      EXPECT_TRUE(src.name == "data" || src.name.ends_with("_weight") || src.name.ends_with("dense0_bias")) << src.name;
      for (auto [c, s] : users[i]) EXPECT_TRUE(g.nodes[c].op == "Convolution" || g.nodes[c].op == "FullyConnected");
    } else {
      EXPECT_EQ(n.attr("dtype"), "float32");
      EXPECT_EQ(src.op, "FullyConnected");
      EXPECT_EQ(g.heads[0].node, i);
    }
  }
  EXPECT_EQ(lp_sources.size(), 24u);
  for (const auto& [name, t] : m.arg)
    if (name.find("batchnorm") != std::string::npos) {
      EXPECT_FALSE(lp_sources.count(name)) << name;
    }
}

// Offline params are float32 -> float16 with round-to-nearest-even, bit for bit.
TEST(AmpModels, OfflineParamsAreBitExactConversions) {
  const Model m = load(R20V1);
  AmpOptions o;
  o.cast_params_offline = true;
  for (DType t : {DType::Float16, DType::BFloat16}) {
    o.target_dtype = t;
    const AmpResult res = convert_model(m.graph, m.arg, m.aux, o);
    const Tensor& src = m.arg.at("cifarresnetv10_conv0_weight");
    const Tensor& dst = res.arg_params.at("cifarresnetv10_conv0_weight");
    ASSERT_EQ(dst.dtype, t);
    ASSERT_EQ(dst.shape, src.shape);
    for (int64_t i = 0; i < src.numel(); ++i) {
      const float f = src.as<float>()[i];
      ASSERT_EQ(dst.as<uint16_t>()[i], t == DType::Float16 ? float_to_half(f) : float_to_bfloat16(f)) << i;
    }
  }
}

// Every shared model (symbol-only fixtures too) converts under both rule sets and both dtypes,
// and the result survives a write/read round trip with its casts.
TEST(AmpModels, EverySharedModelConvertsAndRoundTrips) {
  const std::vector<std::string> symbols = {
      "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-symbol.json", "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-symbol.json",
      "insightface_mtcnn/det1-symbol.json", "insightface_mtcnn/det2-symbol.json", "insightface_mtcnn/det3-symbol.json",
      "insightface_mtcnn/det4-symbol.json", "apache_mxnet_test_fixtures/save_000800.json",
      "apache_mxnet_test_fixtures/test_mkldnn_model_model1.json", "apache_mxnet_test_fixtures/mlp-test-symbol.json"};
  for (const auto& s : symbols)
    for (Compat c : {Compat::MXNet1, Compat::MXNet2})
      for (DType t : {DType::Float16, DType::BFloat16}) {
        const Graph g = mxnet::read_symbol_json(kModels + s);
        AmpOptions o;
        o.compat = c;
        o.target_dtype = t;
        // The variables a params file would hold are params (float32): without them every input
        // is data typed float32, and under the 1.x rules a float32 PReLU gamma beside a low conv
        // does not type, so MTCNN is refused (as MXNet 1.9.1's convert_symbol refuses it).
        std::map<std::string, DType> params;
        for (uint32_t v : g.variable_ids())
          if (g.nodes[v].name != "data" && !g.nodes[v].name.ends_with("_label")) params[g.nodes[v].name] = DType::Float32;
        const AmpResult r = convert_symbol(g, o, params);
        const Graph back = mxnet::parse_symbol_json(mxnet::write_symbol_json(r.graph), s);
        EXPECT_EQ(mixprec::testing::describe_casts(back), mixprec::testing::describe_casts(r.graph)) << s;
        EXPECT_GT(r.stats.lp_casts + r.stats.multicasts, 0u) << s;
      }
}

}  // namespace
