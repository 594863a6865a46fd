// MXNet's AMP behaviours (../shared/reference/mxnet_amp_behaviours.md §2), each as exact graphs:
// every cast, its dtype, its producer and its consumers; plus MXNet 2.x's test counts.
#include <gtest/gtest.h>

#include "amp_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"

using namespace mixprec;
using namespace mixprec::amp;
using mixprec::testing::describe_casts;
using mixprec::testing::float_params;
using mixprec::testing::mxnet_counts;
using Casts = std::vector<std::string>;

namespace {

class AmpBehaviour : public ::testing::TestWithParam<DType> {
 protected:
  DType lp() const { return GetParam(); }
  std::string lpn() const { return std::string(dtype_name(lp())); }
  AmpOptions opts() const {
    AmpOptions o;
    o.target_dtype = lp();
    return o;
  }
  std::tuple<int, int, int> counts(const Graph& g) const { return mxnet_counts(g, lp()); }
};

Entry fc(GraphBuilder& b, const std::string& name, Entry x, Entry w, Entry bias, AttrMap extra = {}) {
  extra["num_hidden"] = "4";
  return b.op("FullyConnected", name, {x, w, bias}, extra);
}

// test_amp_basic_use: data -> Dense -> Dense -> reshape, params cast at run time.
TEST_P(AmpBehaviour, BasicUseCastsInputsParamsAndOutput) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry f1 = fc(b, "fc1", x, b.var("fc1_weight"), b.var("fc1_bias"));
  Entry f2 = fc(b, "fc2", f1, b.var("fc2_weight"), b.var("fc2_bias"));
  Entry r = b.op("Reshape", "reshape0", {f2}, {{"shape", "(-1,)"}});
  const Graph g = b.build({r});
  const auto params = float_params({"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"});
  AmpResult res = convert_model(g, params, {}, opts());
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph),
            (Casts{"data->" + t + ":fc1", "fc1_bias->" + t + ":fc1", "fc1_weight->" + t + ":fc1",
                   "fc2_bias->" + t + ":fc2", "fc2_weight->" + t + ":fc2", "reshape0->float32:@out0"}));
  EXPECT_EQ(counts(res.graph), std::make_tuple(8, 5, 1));
  for (const auto& [name, tensor] : res.arg_params) EXPECT_EQ(tensor.dtype, DType::Float32) << name;
}

// test_amp_offline_casting: Conv -> Deconv -> reshape -> Dense(DisableAMP), params offline.
TEST_P(AmpBehaviour, OfflineCastingStoresParamsOfLowOpsOnly) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "conv", {x, b.var("conv_weight"), b.var("conv_bias")}, {{"kernel", "(3, 3)"}, {"num_filter", "4"}});
  Entry d = b.op("Deconvolution", "deconv", {c, b.var("deconv_weight"), b.var("deconv_bias")}, {{"kernel", "(3, 3)"}, {"num_filter", "4"}});
  Entry r = b.op("Reshape", "reshape0", {d}, {{"shape", "(0, -1)"}});
  Entry f = fc(b, "fc_fp32_op", r, b.var("fc_fp32_op_weight"), b.var("fc_fp32_op_bias"), {{"__opt_constraint__", "1"}});
  const Graph g = b.build({f});
  AmpOptions o = opts();
  o.cast_params_offline = true;
  const auto params = float_params({"conv_weight", "conv_bias", "deconv_weight", "deconv_bias", "fc_fp32_op_weight", "fc_fp32_op_bias"});
  AmpResult res = convert_model(g, params, {}, o);
  EXPECT_EQ(describe_casts(res.graph), (Casts{"data->" + lpn() + ":conv", "reshape0->float32:fc_fp32_op"}));
  EXPECT_EQ(counts(res.graph), std::make_tuple(4, 1, 1));
  for (const auto& [name, tensor] : res.arg_params)
    EXPECT_EQ(tensor.dtype, name.find("fp32_op") == std::string::npos ? lp() : DType::Float32) << name;
  EXPECT_EQ(res.graph.nodes[res.graph.find("conv_weight")].attr("__amp_dtype__"), lpn());
  EXPECT_EQ(res.graph.nodes[res.graph.find("fc_fp32_op_weight")].attr("__amp_dtype__"), "");
  EXPECT_EQ(res.stats.params_lp, 4u);
}

// test_amp_offline_casting_shared_params: a param shared with an fp32 op stays fp32 with a runtime cast.
TEST_P(AmpBehaviour, SharedParamWithFp32UserKeepsRuntimeCast) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry w1 = b.var("d1_weight"), b1 = b.var("d1_bias"), b2 = b.var("d2_bias"), w3 = b.var("fp32_op_d3_weight");
  Entry d1 = fc(b, "d1", x, w1, b1);
  Entry d2 = fc(b, "d2", d1, w1, b2);
  Entry d3 = fc(b, "fp32_op_d3", d1, w3, b2, {{"__opt_constraint__", "1"}});
  Entry cat = b.op("Concat", "concat0", {d2, d3}, {{"dim", "1"}, {"num_args", "2"}});
  const Graph g = b.build({cat});
  AmpOptions o = opts();
  o.cast_params_offline = true;
  AmpResult res = convert_model(g, float_params({"d1_weight", "d1_bias", "d2_bias", "fp32_op_d3_weight"}), {}, o);
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"d1->float32:fp32_op_d3", "d2->float32:concat0", "d2_bias->" + t + ":d2", "data->" + t + ":d1"}));
  EXPECT_EQ(counts(res.graph), std::make_tuple(4, 2, 2));
  EXPECT_EQ(res.arg_params.at("d1_weight").dtype, lp());
  EXPECT_EQ(res.arg_params.at("d1_bias").dtype, lp());
  EXPECT_EQ(res.arg_params.at("d2_bias").dtype, DType::Float32);
  EXPECT_EQ(res.arg_params.at("fp32_op_d3_weight").dtype, DType::Float32);
}

// test_lp16_fp32_ops_order_independence: a neutral op reuses the cast a target op forced, in either order.
TEST_P(AmpBehaviour, NeutralOpReusesCastWhateverTheOrder) {
  for (bool flatten_first : {false, true}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry p = b.op("_rpower_scalar", "pow0", {x}, {{"scalar", "2"}});
    Entry w = b.var("fc_weight"), bias = b.var("fc_bias");
    Entry f, d;
    if (flatten_first) {
      f = b.op("Flatten", "flat0", {p});
      d = fc(b, "fc", p, w, bias);
    } else {
      d = fc(b, "fc", p, w, bias);
      f = b.op("Flatten", "flat0", {p});
    }
    const Graph g = b.build({d, f});
    AmpOptions o = opts();
    o.cast_params_offline = true;
    // 2.x bf16 lists keep Flatten neutral too (bf16_fp32_ops), so both dtypes agree.
    AmpResult res = convert_model(g, float_params({"fc_weight", "fc_bias"}), {}, o);
    EXPECT_EQ(describe_casts(res.graph),
              (Casts{"fc->float32:@out0", "flat0->float32:@out1", "pow0->" + lpn() + ":fc,flat0"}))
        << "flatten_first=" << flatten_first;
    EXPECT_EQ(counts(res.graph), std::make_tuple(3, 1, 2)) << "flatten_first=" << flatten_first;
  }
}

Graph two_fcs_sharing_everything() {
  GraphBuilder b;
  Entry x = b.var("data"), w = b.var("weight"), bias = b.var("bias");
  Entry f1 = fc(b, "fc1", x, w, bias, {{"__opt_constraint__", "1"}});
  Entry f2 = fc(b, "fc2", x, w, bias);
  return b.build({f1, f2});
}

// test_amp_node_excluding: DisableAMP flag, and excluded_sym_names.
TEST_P(AmpBehaviour, NodeExcludingByFlagAndByName) {
  const Graph g = two_fcs_sharing_everything();
  AmpResult res = convert_symbol(g, opts());
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"bias->" + t + ":fc2", "data->" + t + ":fc2", "fc2->float32:@out1", "weight->" + t + ":fc2"}));
  EXPECT_EQ(counts(res.graph), std::make_tuple(4, 3, 1));
  AmpOptions o = opts();
  o.excluded_sym_names = {"fc1", "fc2"};
  AmpResult none = convert_symbol(g, o);
  EXPECT_TRUE(describe_casts(none.graph).empty());
  EXPECT_EQ(counts(none.graph), std::make_tuple(0, 0, 0));
  EXPECT_TRUE(none.warnings.empty());
}

TEST_P(AmpBehaviour, ExcludedNameMissingFromGraphWarns) {
  AmpOptions o = opts();
  o.excluded_sym_names = {"no_such_node"};
  AmpResult res = convert_symbol(two_fcs_sharing_everything(), o);
  ASSERT_EQ(res.warnings.size(), 1u);
  EXPECT_NE(res.warnings[0].find("no_such_node"), std::string::npos);
}

// Rules 6, 7, 17: neutral ops after an LP conv run LP with no casts; BN params and aux never cast.
TEST_P(AmpBehaviour, NeutralChainAfterConvStaysLowWithoutCasts) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "conv", {x, b.var("conv_weight")}, {{"kernel", "(3, 3)"}, {"num_filter", "4"}, {"no_bias", "True"}});
  Entry bn = b.op("BatchNorm", "bn", {c, b.var("bn_gamma"), b.var("bn_beta"), b.var("bn_mean"), b.var("bn_var")});
  Entry r = b.op("Activation", "relu", {bn}, {{"act_type", "relu"}});
  Entry p = b.op("Pooling", "pool", {r}, {{"kernel", "(2, 2)"}, {"pool_type", "max"}});
  Entry f = b.op("Flatten", "flat", {p});
  const Graph g = b.build({f});
  AmpOptions o = opts();
  AmpResult res = convert_symbol(g, o, {{"conv_weight", DType::Float32}, {"bn_gamma", DType::Float32}, {"bn_beta", DType::Float32},
                                         {"bn_mean", DType::Float32}, {"bn_var", DType::Float32}});
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"conv_weight->" + t + ":conv", "data->" + t + ":conv", "flat->float32:@out0"}));
  EXPECT_EQ(res.stats.lp_nodes, 5u);
  // BN statistics stay wired as aux states (version 1).
  const Node& bnn = res.graph.nodes[res.graph.find("bn")];
  EXPECT_EQ(bnn.inputs[3].version, 1u);
  EXPECT_EQ(res.graph.nodes[bnn.inputs[1].node].name, "bn_gamma");
}

// Rules 5 and 19: one cast per (tensor, dtype), shared by every low-precision consumer.
TEST_P(AmpBehaviour, OneCastPerTensorSharedByConsumers) {
  GraphBuilder b;
  Entry x = b.var("data"), w = b.var("w"), bias = b.var("b");
  Entry f1 = fc(b, "fc1", x, w, bias);
  Entry f2 = fc(b, "fc2", x, w, bias);
  Entry add = b.op("elemwise_add", "add", {f1, f2});
  const Graph g = b.build({add});
  AmpResult res = convert_symbol(g, opts(), {{"w", DType::Float32}, {"b", DType::Float32}});
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"add->float32:@out0", "b->" + t + ":fc1,fc2", "data->" + t + ":fc1,fc2", "w->" + t + ":fc1,fc2"}));
}

// Rule 15: a widest op with an fp32 input runs fp32 and casts its low input back.
TEST_P(AmpBehaviour, WidestOpWithMixedInputsRunsFp32) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry f = fc(b, "fc", x, b.var("w"), b.var("b"));
  Entry s = b.op("_rpower_scalar", "pow", {x}, {{"scalar", "2"}});
  Entry add = b.op("broadcast_add", "add", {f, s});
  const Graph g = b.build({add});
  AmpResult res = convert_symbol(g, opts(), {{"w", DType::Float32}, {"b", DType::Float32}});
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"b->" + t + ":fc", "data->" + t + ":fc", "fc->float32:add", "w->" + t + ":fc"}));
}

// Rules 13/14: conditional fp32 matches attribute strings as written.
TEST_P(AmpBehaviour, ConditionalFp32MatchesWrittenAttributeOnly) {
  for (const char* act : {"softrelu", "relu"}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry c = b.op("Convolution", "conv", {x, b.var("w")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
    Entry a = b.op("Activation", "act", {c}, {{"act_type", act}});
    const Graph g = b.build({a});
    AmpOptions o = opts();
    o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"Activation", "act_type", {"softrelu"}}};
    AmpResult res = convert_symbol(g, o, {{"w", DType::Float32}});
    const std::string t = lpn();
    if (std::string(act) == "softrelu")
      EXPECT_EQ(describe_casts(res.graph), (Casts{"conv->float32:act", "data->" + t + ":conv", "w->" + t + ":conv"}));
    else
      EXPECT_EQ(describe_casts(res.graph), (Casts{"act->float32:@out0", "data->" + t + ":conv", "w->" + t + ":conv"}));
  }
}

// Rule 13: an attribute that is not written never matches, even when its default is a listed
// value (LeakyReLU's act_type defaults to "leaky"). A match would run the LeakyReLU in float32 and
// cast the convolution's output back; no match leaves it neutral, low after the convolution, with
// only the graph output cast back: the same number of casts, told apart by where they sit.
TEST_P(AmpBehaviour, ConditionalWithoutAttributeNeverMatches) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "conv", {x, b.var("w")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
  Entry a = b.op("LeakyReLU", "act", {c});  // act_type defaults to leaky but is not written
  const Graph g = b.build({a});
  AmpOptions o = opts();
  o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"LeakyReLU", "act_type", {"leaky"}}};
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(convert_symbol(g, o, {{"w", DType::Float32}}).graph),
            (Casts{"act->float32:@out0", "data->" + t + ":conv", "w->" + t + ":conv"}));
  // The same graph with the attribute written does match: the difference is the attribute alone.
  Graph written = g;
  written.nodes[static_cast<size_t>(written.find("act"))].attrs["act_type"] = "leaky";
  EXPECT_EQ(describe_casts(convert_symbol(written, o, {{"w", DType::Float32}}).graph),
            (Casts{"conv->float32:act", "data->" + t + ":conv", "w->" + t + ":conv"}));
}

// Rule 13: values are compared as the strings written in the JSON: "true" is not "True".
TEST_P(AmpBehaviour, Rule13ConditionalComparesExactStrings) {
  for (const char* written : {"True", "true", "1"}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry c = b.op("Convolution", "conv", {x, b.var("w")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
    Entry f = b.op("FullyConnected", "fc", {c, b.var("fc_w")}, {{"num_hidden", "3"}, {"no_bias", written}});
    const Graph g = b.build({f});
    AmpOptions o = opts();
    o.target_dtype_ops = std::vector<std::string>{"Convolution"};  // FullyConnected: neutral, or float32 on a match
    o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"FullyConnected", "no_bias", {"True"}}};
    const std::string t = lpn();
    const Casts got = describe_casts(convert_symbol(g, o, {{"w", DType::Float32}, {"fc_w", DType::Float32}}).graph);
    if (std::string(written) == "True")
      EXPECT_EQ(got, (Casts{"conv->float32:fc", "data->" + t + ":conv", "w->" + t + ":conv"})) << written;
    else
      EXPECT_EQ(got, (Casts{"data->" + t + ":conv", "fc->float32:@out0", "fc_w->" + t + ":fc", "w->" + t + ":conv"})) << written;
  }
}

// Rule 9: a float32-list op reading a low-precision tensor gets one amp_cast to float32, and every
// other float32 consumer of that tensor reuses it (MXNet's mirror_fp32_map; 2.x's one cast per
// (tensor, dtype)).
TEST_P(AmpBehaviour, Rule09OneFp32CastSharedByFp32Consumers) {
  for (Compat compat : {Compat::MXNet2, Compat::MXNet1}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry f = fc(b, "fc", x, b.var("w"), b.var("b"));
    Entry e = b.op("exp", "e", {f});
    Entry s = b.op("softmax", "sm", {f}, {{"axis", "-1"}});
    Entry l = b.op("log", "lg", {f});
    const Graph g = b.build({e, s, l});
    AmpOptions o = opts();
    o.compat = compat;
    o.fp32_ops = std::vector<std::string>{"exp", "softmax", "log"};  // softmax is neutral in 2.x's bfloat16 lists
    AmpResult r = convert_symbol(g, o, {{"w", DType::Float32}, {"b", DType::Float32}});
    const std::string t = lpn();
    EXPECT_EQ(describe_casts(r.graph), (Casts{"b->" + t + ":fc", "data->" + t + ":fc", "fc->float32:e,lg,sm", "w->" + t + ":fc"}))
        << (compat == Compat::MXNet1 ? "mxnet1" : "mxnet2");
    EXPECT_EQ(r.stats.fp32_casts, 1u);
  }
}

// Rule 14: the default conditional float32 ops. float16 (both generations) and 1.x bfloat16:
// Activation softrelu, LeakyReLU elu and selu; 2.x bfloat16: LeakyReLU selu only (its softrelu
// runs low). relu, sigmoid, tanh, leaky and prelu are never conditional.
TEST_P(AmpBehaviour, Rule14DefaultConditionalActivations) {
  struct Act {
    const char* op;
    const char* type;
  };
  const std::vector<Act> acts = {{"Activation", "relu"}, {"Activation", "sigmoid"}, {"Activation", "tanh"}, {"Activation", "softrelu"},
                                 {"LeakyReLU", "leaky"}, {"LeakyReLU", "prelu"},    {"LeakyReLU", "elu"},  {"LeakyReLU", "selu"}};
  for (Compat compat : {Compat::MXNet2, Compat::MXNet1})
    for (const Act& act : acts) {
      GraphBuilder b;
      Entry x = b.var("data");
      Entry c = b.op("Convolution", "conv", {x, b.var("w")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
      std::vector<Entry> in{c};
      if (std::string(act.type) == "prelu") in.push_back(b.var("gamma"));
      Entry a = b.op(act.op, "act", in, {{"act_type", act.type}});
      const Graph g = b.build({a});
      AmpOptions o = opts();
      o.compat = compat;
      const Casts casts = describe_casts(convert_symbol(g, o, {{"w", DType::Float32}, {"gamma", DType::Float32}}).graph);
      const bool fp32 = std::find(casts.begin(), casts.end(), "conv->float32:act") != casts.end();
      const std::string type = act.type;
      const bool bf16_v2 = lp() == DType::BFloat16 && compat == Compat::MXNet2;
      const bool want = bf16_v2 ? type == "selu" : (type == "softrelu" || type == "elu" || type == "selu");
      EXPECT_EQ(fp32, want) << act.op << " " << type << (compat == Compat::MXNet1 ? " mxnet1" : " mxnet2");
    }
}

// Rule 17: neutral ops after a low-precision convolution stay low with no casts between them:
// BatchNorm, Activation relu, Dropout, LeakyReLU prelu, Pooling, Flatten, Reshape. In MXNet's
// bfloat16 lists Dropout is a float32 op (and 1.x's put Flatten and Reshape there too), so there the
// chain returns to float32 at the Dropout and stays there (the neutral ops follow float32).
TEST_P(AmpBehaviour, Rule17NeutralChainIncludingDropoutStaysLow) {
  for (Compat compat : {Compat::MXNet2, Compat::MXNet1}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry c = b.op("Convolution", "conv", {x, b.var("conv_weight")}, {{"kernel", "(3, 3)"}, {"num_filter", "4"}, {"no_bias", "True"}});
    Entry bn = b.op("BatchNorm", "bn", {c, b.var("bn_gamma"), b.var("bn_beta"), b.var("bn_mean"), b.var("bn_var")});
    Entry r = b.op("Activation", "relu", {bn}, {{"act_type", "relu"}});
    Entry d = b.op("Dropout", "drop", {r}, {{"p", "0.5"}});
    Entry p = b.op("LeakyReLU", "prelu", {d, b.var("prelu_gamma")}, {{"act_type", "prelu"}});
    Entry pool = b.op("Pooling", "pool", {p}, {{"kernel", "(2, 2)"}, {"pool_type", "max"}});
    Entry f = b.op("Flatten", "flat", {pool});
    Entry rs = b.op("Reshape", "reshape", {f}, {{"shape", "(0, -1)"}});
    const Graph g = b.build({rs});
    AmpOptions o = opts();
    o.compat = compat;
    TensorMap arg = float_params({"conv_weight", "bn_gamma", "bn_beta", "prelu_gamma"}), aux = float_params({"bn_mean", "bn_var"});
    AmpResult res = convert_model(g, arg, aux, o);
    const std::string t = lpn();
    const std::string which = compat == Compat::MXNet1 ? "mxnet1" : "mxnet2";
    if (lp() == DType::BFloat16) {
      EXPECT_EQ(describe_casts(res.graph), (Casts{"conv_weight->" + t + ":conv", "data->" + t + ":conv", "relu->float32:drop"})) << which;
      EXPECT_EQ(res.stats.lp_nodes, 3u) << which;  // conv, bn, relu
      continue;
    }
    // 2.x casts the prelu's gamma at run time; 1.x stores it low (type inference, rule 21).
    EXPECT_EQ(describe_casts(res.graph),
              compat == Compat::MXNet2 ? (Casts{"conv_weight->" + t + ":conv", "data->" + t + ":conv", "prelu_gamma->" + t + ":prelu", "reshape->float32:@out0"})
                                       : (Casts{"conv_weight->" + t + ":conv", "data->" + t + ":conv", "reshape->float32:@out0"}))
        << which;
    EXPECT_EQ(res.stats.lp_nodes, 8u) << which;
    EXPECT_EQ(res.arg_params.at("bn_gamma").dtype, DType::Float32) << which;
    EXPECT_EQ(res.aux_params.at("bn_mean").dtype, DType::Float32) << which;
  }
}

// Rule 20 [v2]: outputs keep their original dtype; fp32 outputs get no cast.
TEST_P(AmpBehaviour, Fp32OutputsGetNoCast) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry f = fc(b, "fc", x, b.var("w"), b.var("b"));
  Entry s = b.op("softmax", "sm", {f}, {{"axis", "-1"}});
  const Graph g = b.build({s});
  AmpOptions o = opts();
  o.fp32_ops = std::vector<std::string>{"softmax"};
  AmpResult res = convert_symbol(g, o, {{"w", DType::Float32}, {"b", DType::Float32}});
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"b->" + t + ":fc", "data->" + t + ":fc", "fc->float32:sm", "w->" + t + ":fc"}));
}

// The widest_dtype_ops override MXNet never wired: removing Concat from it makes it neutral.
TEST_P(AmpBehaviour, WidestListOverrideIsHonoured) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry f = fc(b, "fc", x, b.var("w"), b.var("b"));
  Entry s = b.op("_rpower_scalar", "pow", {x}, {{"scalar", "2"}});
  Entry cat = b.op("Concat", "cat", {f, s}, {{"dim", "1"}, {"num_args", "2"}});
  const Graph g = b.build({cat});
  const std::string t = lpn();
  // Widest: `pow` has no low-type version for free, so Concat runs fp32.
  AmpResult dflt = convert_symbol(g, opts(), {{"w", DType::Float32}, {"b", DType::Float32}});
  EXPECT_EQ(describe_casts(dflt.graph), (Casts{"b->" + t + ":fc", "data->" + t + ":fc", "fc->float32:cat", "w->" + t + ":fc"}));
  AmpOptions o = opts();
  o.widest_dtype_ops = std::vector<std::string>{"elemwise_add"};
  AmpResult neutral = convert_symbol(g, o, {{"w", DType::Float32}, {"b", DType::Float32}});
  // As a neutral op, Concat follows its low input and casts the other one.
  EXPECT_EQ(describe_casts(neutral.graph),
            (Casts{"b->" + t + ":fc", "cat->float32:@out0", "data->" + t + ":fc", "pow->" + t + ":cat", "w->" + t + ":fc"}));
  // And with Concat moved to fp32 (allowed once it left the widest list). The user's fp32 list
  // replaces the default one, so it names the power op too.
  o.fp32_ops = std::vector<std::string>{"Concat", "_rpower_scalar"};
  AmpResult fp32 = convert_symbol(g, o, {{"w", DType::Float32}, {"b", DType::Float32}});
  EXPECT_EQ(describe_casts(fp32.graph), (Casts{"b->" + t + ":fc", "data->" + t + ":fc", "fc->float32:cat", "w->" + t + ":fc"}));
}

// Rules 1-3: list validation.
TEST_P(AmpBehaviour, InvalidListsAreRejectedBeforeConverting) {
  const Graph g = two_fcs_sharing_everything();
  auto expect_error = [&](AmpOptions o, const std::string& needle) {
    try {
      convert_symbol(g, o);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  AmpOptions o = opts();
  o.target_dtype_ops = std::vector<std::string>{"FullyConnected"};
  o.fp32_ops = std::vector<std::string>{"FullyConnected"};
  expect_error(o, "FullyConnected");
  o = opts();
  o.fp32_ops = std::vector<std::string>{"elemwise_add"};
  expect_error(o, "widest");
  o = opts();
  o.target_dtype_ops = std::vector<std::string>{"NoSuchOp"};
  expect_error(o, "NoSuchOp");
  o = opts();
  o.fp32_ops = std::vector<std::string>{"FullyConnected"};
  o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"FullyConnected", "no_bias", {"True"}}};
  expect_error(o, "only one list");
  o = opts();
  o.target_dtype_ops = std::vector<std::string>{"FullyConnected"};
  o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"FullyConnected", "no_bias", {"True"}}};
  expect_error(o, "only one list");
  o = opts();
  o.target_dtype = DType::Float64;
  expect_error(o, "float16 or bfloat16");
  o = opts();
  o.input_dtypes = {{"not_an_input", DType::Float32}};
  expect_error(o, "not_an_input");
}

TEST_P(AmpBehaviour, DefaultListsAreDisjointAndCanonical) {
  for (Compat c : {Compat::MXNet1, Compat::MXNet2}) {
    const OpLists l = default_lists(lp(), c);
    std::map<std::string, int> seen;
    for (const auto* v : {&l.target_dtype_ops, &l.fp32_ops, &l.widest_dtype_ops, &l.neutral_ops})
      for (const auto& n : *v) EXPECT_EQ(++seen[n], 1) << n;
    EXPECT_EQ(seen.count("concat"), 0u);  // aliases folded into canonical names
  }
  EXPECT_EQ(default_lists(DType::Float16).target_dtype_ops.size(), 8u);
}

// Converting the result again adds nothing; the input graph is never modified.
TEST_P(AmpBehaviour, ReconversionAddsNothingAndInputIsUntouched) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "conv", {x, b.var("w")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
  Entry bn = b.op("BatchNorm", "bn", {c, b.var("g"), b.var("be"), b.var("m"), b.var("v")});
  Entry s = b.op("softmax", "sm", {bn});
  const Graph g = b.build({s, bn});
  const Graph before = g;
  for (bool offline : {false, true}) {
    AmpOptions o = opts();
    o.cast_params_offline = offline;
    TensorMap arg = float_params({"w", "g", "be"}), aux = float_params({"m", "v"});
    AmpResult once = convert_model(g, arg, aux, o);
    AmpResult twice = convert_model(once.graph, once.arg_params, once.aux_params, o);
    EXPECT_EQ(describe_casts(once.graph), describe_casts(twice.graph));
    EXPECT_EQ(once.graph.nodes.size(), twice.graph.nodes.size());
    EXPECT_EQ(twice.arg_params, once.arg_params);
    EXPECT_EQ(arg, float_params({"w", "g", "be"}));  // caller's params untouched
  }
  ASSERT_EQ(g.nodes.size(), before.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    EXPECT_EQ(g.nodes[i].attrs, before.nodes[i].attrs);
    EXPECT_EQ(g.nodes[i].inputs, before.nodes[i].inputs);
  }
}

TEST_P(AmpBehaviour, UnknownOpStaysInOriginalPrecisionWithOneWarning) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry f = fc(b, "fc", x, b.var("w"), b.var("b"));
  Entry u1 = b.op("MyCustomOp", "custom1", {f});
  Entry u2 = b.op("MyCustomOp", "custom2", {u1});
  const Graph g = b.build({u2});
  AmpResult res = convert_symbol(g, opts(), {{"w", DType::Float32}, {"b", DType::Float32}});
  const std::string t = lpn();
  EXPECT_EQ(describe_casts(res.graph), (Casts{"b->" + t + ":fc", "data->" + t + ":fc", "fc->float32:custom1", "w->" + t + ":fc"}));
  ASSERT_EQ(res.warnings.size(), 1u);
  EXPECT_NE(res.warnings[0].find("MyCustomOp"), std::string::npos);
}

// Rule 25/26 bookkeeping: remove_amp_casts restores the original wiring.
TEST_P(AmpBehaviour, RemoveAmpCastsRestoresWiring) {
  const Graph g = two_fcs_sharing_everything();
  AmpResult res = convert_symbol(g, opts());
  const Graph stripped = remove_amp_casts(res.graph);
  ASSERT_EQ(stripped.nodes.size(), g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) EXPECT_EQ(stripped.nodes[i].inputs, g.nodes[i].inputs);
  EXPECT_EQ(stripped.heads, g.heads);
}

// Rule 28: removing casts maps a consumer of output i of an amp_multicast back to input i
// (MXNet's RemoveAmpCast), and a consumer of an amp_cast to the cast's input, through chains too.
TEST_P(AmpBehaviour, Rule28RemovingCastsMapsMulticastOutputToItsInput) {
  GraphBuilder b;
  Entry x = b.var("x"), y = b.var("y"), z = b.var("z");
  const uint32_t mc = b.op("amp_multicast", "mc", {x, y, z}, {{"num_outputs", "3"}}).node;
  Entry twice = b.op("amp_cast", "c2", {b.op("amp_cast", "c1", {Entry{mc, 1, 0}}, {{"dtype", lpn()}})}, {{"dtype", "float32"}});
  Entry r = b.op("Activation", "relu", {Entry{mc, 2, 0}}, {{"act_type", "relu"}});
  Entry add = b.op("elemwise_add", "add", {twice, Entry{mc, 0, 0}});
  const Graph stripped = remove_amp_casts(b.build({r, add, Entry{mc, 1, 0}}));
  auto name_of = [&](Entry e) { return stripped.nodes[e.node].name; };
  ASSERT_EQ(stripped.nodes.size(), 5u);  // x, y, z, relu, add
  const Node& relu = stripped.nodes[static_cast<size_t>(stripped.find("relu"))];
  const Node& sum = stripped.nodes[static_cast<size_t>(stripped.find("add"))];
  EXPECT_EQ(name_of(relu.inputs[0]), "z");
  EXPECT_EQ(name_of(sum.inputs[0]), "y");  // through amp_cast(amp_cast(mc[1]))
  EXPECT_EQ(name_of(sum.inputs[1]), "x");
  ASSERT_EQ(stripped.heads.size(), 3u);
  EXPECT_EQ(name_of(stripped.heads[2]), "y");  // a head on a multicast output
}

INSTANTIATE_TEST_SUITE_P(Dtypes, AmpBehaviour, ::testing::Values(DType::Float16, DType::BFloat16),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

}  // namespace
