// Remaining rules of mxnet_amp_behaviours.md §2: the default lists (3), default conditionals per
// dtype (14), ops moved out of every list are neutral (4), and the amp_cast / amp_multicast type
// rules (25, 26; their run-time side is in test_amp_runtime_rules.cpp).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "amp/dtype_inference.h"
#include "amp_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "ops/op_table.h"

namespace mixprec::amp {
extern const std::string_view kDefaultListsJson;  // the lists the library embeds (data/mxnet_amp_lists.json)
}

using namespace mixprec;
using namespace mixprec::amp;
using mixprec::testing::describe_casts;
using Casts = std::vector<std::string>;

namespace {

// conv -> activation; returns whether the activation was forced to float32 (a cast back before it).
bool forced_fp32(DType t, Compat c, const std::string& op, const std::string& act) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry conv = b.op("Convolution", "conv", {x, b.var("w")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
  Entry a = b.op(op, "act", {conv}, {{"act_type", act}});
  AmpOptions o;
  o.target_dtype = t;
  o.compat = c;
  const AmpResult r = convert_symbol(b.build({a}), o, {{"w", DType::Float32}});
  for (const auto& s : describe_casts(r.graph))
    if (s == "conv->float32:act") return true;
  return false;
}

TEST(AmpRules, DefaultConditionalsFollowEachGenerationAndDtype) {
  const auto F16 = DType::Float16, BF16 = DType::BFloat16;
  for (Compat c : {Compat::MXNet1, Compat::MXNet2}) {
    EXPECT_TRUE(forced_fp32(F16, c, "Activation", "softrelu"));
    EXPECT_TRUE(forced_fp32(F16, c, "LeakyReLU", "elu"));
    EXPECT_TRUE(forced_fp32(F16, c, "LeakyReLU", "selu"));
    EXPECT_TRUE(forced_fp32(BF16, c, "LeakyReLU", "selu"));
    for (DType t : {F16, BF16}) {
      EXPECT_FALSE(forced_fp32(t, c, "Activation", "relu"));
      EXPECT_FALSE(forced_fp32(t, c, "Activation", "sigmoid")) << dtype_name(t);
      EXPECT_FALSE(forced_fp32(t, c, "LeakyReLU", "prelu"));
      EXPECT_FALSE(forced_fp32(t, c, "LeakyReLU", "leaky"));
    }
  }
  // 1.x bf16 keeps the fp16 conditionals; 2.x bf16 has only LeakyReLU selu.
  EXPECT_TRUE(forced_fp32(BF16, Compat::MXNet1, "Activation", "softrelu"));
  EXPECT_TRUE(forced_fp32(BF16, Compat::MXNet1, "LeakyReLU", "elu"));
  EXPECT_FALSE(forced_fp32(BF16, Compat::MXNet2, "LeakyReLU", "elu"));
}

// Rule 4 (2.x): an op taken out of the target list is neutral: it follows its low input and its
// weight gets a runtime cast.
TEST(AmpRules, OpOutOfEveryListIsNeutral) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry conv = b.op("Convolution", "conv", {x, b.var("cw")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
  Entry fc = b.op("FullyConnected", "fc", {conv, b.var("fw"), b.var("fb")}, {{"num_hidden", "2"}});
  const Graph g = b.build({fc});
  AmpOptions o;
  o.target_dtype_ops = std::vector<std::string>{"Convolution"};
  const AmpResult r = convert_symbol(g, o, {{"cw", DType::Float32}, {"fw", DType::Float32}, {"fb", DType::Float32}});
  EXPECT_EQ(describe_casts(r.graph),
            (Casts{"cw->float16:conv", "data->float16:conv", "fb->float16:fc", "fc->float32:@out0", "fw->float16:fc"}));
  // A neutral op fed only by float32 stays float32.
  GraphBuilder b2;
  Entry y = b2.var("data");
  const Graph g2 = b2.build({b2.op("FullyConnected", "fc", {y, b2.var("fw"), b2.var("fb")}, {{"num_hidden", "2"}})});
  EXPECT_TRUE(describe_casts(convert_symbol(g2, o, {{"fw", DType::Float32}, {"fb", DType::Float32}}).graph).empty());
}

// Rule 25: amp_cast converts only float16/bfloat16/float32 inputs; others pass through.
TEST(AmpRules, AmpCastTypeRule) {
  Node n;
  n.op = "amp_cast";
  n.attrs["dtype"] = "float16";
  EXPECT_EQ(forward_type_rule(n, {DType::Float32}), std::vector<DType>{DType::Float16});
  EXPECT_EQ(forward_type_rule(n, {DType::BFloat16}), std::vector<DType>{DType::Float16});
  EXPECT_EQ(forward_type_rule(n, {DType::Float64}), std::vector<DType>{DType::Float64});  // a float, but not one amp_cast converts
  EXPECT_EQ(forward_type_rule(n, {DType::Int32}), std::vector<DType>{DType::Int32});
  EXPECT_EQ(forward_type_rule(n, {DType::UInt8}), std::vector<DType>{DType::UInt8});
}

// Rule 26: amp_multicast widens to float32 if any input is float32, else input 0's type; with
// cast_narrow it narrows instead; non-float inputs pass through.
TEST(AmpRules, AmpMulticastTypeRule) {
  Node n;
  n.op = "amp_multicast";
  n.num_outputs = 3;
  n.attrs["num_outputs"] = "3";
  const auto F16 = DType::Float16, F32 = DType::Float32, I32 = DType::Int32;
  EXPECT_EQ(forward_type_rule(n, {F16, F32, F16}), (std::vector<DType>{F32, F32, F32}));
  EXPECT_EQ(forward_type_rule(n, {F16, F16, I32}), (std::vector<DType>{F16, F16, I32}));
  EXPECT_EQ(forward_type_rule(n, {DType::BFloat16, F16, F16}), (std::vector<DType>{DType::BFloat16, DType::BFloat16, DType::BFloat16}));
  EXPECT_EQ(forward_type_rule(n, {DType::Float64, F16, F16}), (std::vector<DType>{DType::Float64, F16, F16}));  // float64 passes through
  n.attrs["cast_narrow"] = "True";
  EXPECT_EQ(forward_type_rule(n, {F32, F16, F32}), (std::vector<DType>{F16, F16, F16}));
}

// Rule 3 (test_amp_coverage (a) and (b)): in MXNet's default lists no op appears twice in a list, and
// no op is in two of {target, fp32, widest, neutral (fp16_fp32 / bf16_fp32), the conditional ops'
// names}; checked on the raw lists the library embeds (aliases folded to one name, as the library
// folds them) and on the lists default_lists() builds from them, oneDNN additions included.
TEST(AmpRules, Rule03DefaultListsAreDisjointIncludingConditionalOpNames) {
  using Owner = std::map<std::string, std::string>;
  auto claim = [](Owner& owner, const std::string& raw, const std::string& list, const std::string& where) {
    const std::string op(ops::canonical_op_name(raw));
    auto [it, fresh] = owner.emplace(op, list);
    EXPECT_TRUE(fresh || it->second == list) << where << ": '" << raw << "' is in " << it->second << " and in " << list;
  };
  const nlohmann::json root = nlohmann::json::parse(kDefaultListsJson);
  for (bool v2 : {false, true})
    for (const char* dtype : {"float16", "bfloat16"}) {
      const std::string where = std::string(v2 ? "mxnet_2x " : "mxnet_1x ") + dtype;
      const nlohmann::json& l = (v2 ? root.at("mxnet_2x") : root).at(dtype);
      Owner owner;
      for (const char* list : {"target_dtype_ops", "fp32_ops", "widest_dtype_ops", std::string(dtype) == "float16" ? "fp16_fp32_ops" : "bf16_fp32_ops"}) {
        std::map<std::string, int> raw_count;
        for (const auto& name : l.at(list)) {
          EXPECT_EQ(++raw_count[name.get<std::string>()], 1) << where << ": '" << name.get<std::string>() << "' twice in " << list;
          claim(owner, name.get<std::string>(), list, where);
        }
      }
      std::map<std::string, int> conditional_count;
      for (const auto& c : l.at("conditional_fp32_ops")) {
        EXPECT_EQ(++conditional_count[c.at(0).get<std::string>()], 1) << where << ": conditional op listed twice";
        claim(owner, c.at(0).get<std::string>(), "conditional_fp32_ops", where);
      }
      EXPECT_GT(owner.size(), 100u) << where;
    }
  for (Compat c : {Compat::MXNet1, Compat::MXNet2})
    for (DType t : {DType::Float16, DType::BFloat16}) {
      const std::string where = std::string(c == Compat::MXNet1 ? "default_lists mxnet1 " : "default_lists mxnet2 ") + std::string(dtype_name(t));
      const OpLists l = default_lists(t, c);
      Owner owner;
      for (const auto& [list, names] : std::map<std::string, const std::vector<std::string>*>{
               {"target", &l.target_dtype_ops}, {"fp32", &l.fp32_ops}, {"widest", &l.widest_dtype_ops}, {"neutral", &l.neutral_ops}})
        for (const auto& n : *names) claim(owner, n, list, where);
      for (const auto& cond : l.conditional_fp32_ops) claim(owner, cond.op, "conditional", where);
      EXPECT_FALSE(l.conditional_fp32_ops.empty()) << where;
    }
}

// Integer inputs (token ids declared int32) are never cast, even feeding a low-precision op.
TEST(AmpRules, IntegerInputsAreNeverCast) {
  GraphBuilder b;
  Entry ids = b.var("ids");
  Entry emb = b.op("Embedding", "emb", {ids, b.var("emb_weight")}, {{"input_dim", "10"}, {"output_dim", "4"}});
  Entry fc = b.op("FullyConnected", "fc", {emb, b.var("w"), b.var("bias")}, {{"num_hidden", "2"}, {"flatten", "False"}});
  AmpOptions o;
  o.input_dtypes = {{"ids", DType::Int32}};
  const AmpResult r = convert_symbol(b.build({fc}), o, {{"emb_weight", DType::Float32}, {"w", DType::Float32}, {"bias", DType::Float32}});
  EXPECT_EQ(describe_casts(r.graph), (Casts{"bias->float16:fc", "emb->float16:fc", "fc->float32:@out0", "w->float16:fc"}));
}

}  // namespace
