// MXNet 1.x compatibility mode (`--compat mxnet1`): the structure the 1.x pass builds
// (mxnet_amp_behaviours.md §1.1 and rules marked [v1]).
#include <gtest/gtest.h>

#include "amp_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/amp.h"

using namespace mixprec;
using namespace mixprec::amp;
using mixprec::testing::describe_casts;
using mixprec::testing::float_params;
using Casts = std::vector<std::string>;

namespace {

AmpOptions v1(DType t = DType::Float16) {
  AmpOptions o;
  o.compat = Compat::MXNet1;
  o.target_dtype = t;
  return o;
}

// test_amp_conversion: z = FC(x, y), s = sin(y), out = z + s.
TEST(AmpV1, FullyConnectedPlusFp32SinMatchesIntendedStructure) {
  for (DType t : {DType::Float16, DType::BFloat16}) {
    GraphBuilder b;
    Entry x = b.var("x"), y = b.var("y");
    Entry z = b.op("FullyConnected", "fc", {x, y}, {{"no_bias", "True"}, {"num_hidden", "4"}});
    Entry s = b.op("sin", "sin", {y});
    Entry add = b.op("elemwise_add", "add", {z, s});
    const Graph g = b.build({add});
    AmpOptions o = v1(t);
    o.target_dtype_ops = std::vector<std::string>{"FullyConnected"};
    o.fp32_ops = std::vector<std::string>{"sin"};
    AmpResult r = convert_symbol(g, o);
    const std::string n(dtype_name(t));
    // No cast on y for sin, no trailing cast: the output is already float32.
    EXPECT_EQ(describe_casts(r.graph), (Casts{"fc->float32:add", "x->" + n + ":fc", "y->" + n + ":fc"})) << n;
  }
}

Graph fc_no_bias() {
  GraphBuilder b;
  Entry x = b.var("x"), y = b.var("y");
  return b.build({b.op("FullyConnected", "fc", {x, y}, {{"no_bias", "True"}, {"num_hidden", "4"}})});
}

TEST(AmpV1, ConditionalNotMetLeavesFcButCastsUnknownOutput) {
  AmpOptions o = v1();
  o.target_dtype_ops = std::vector<std::string>{};
  o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"FullyConnected", "no_bias", {"False"}}};
  EXPECT_EQ(describe_casts(convert_symbol(fc_no_bias(), o).graph), (Casts{"fc->float32:@out0"}));
}

TEST(AmpV1, ConditionalMetCastsEveryInputIncludingVariables) {
  AmpOptions o = v1();
  o.target_dtype_ops = std::vector<std::string>{};
  o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"FullyConnected", "no_bias", {"True"}}};
  EXPECT_EQ(describe_casts(convert_symbol(fc_no_bias(), o).graph), (Casts{"x->float32:fc", "y->float32:fc"}));
  // The 2.x rules treat a match as an exclusion: variables are never cast.
  o.compat = Compat::MXNet2;
  EXPECT_TRUE(describe_casts(convert_symbol(fc_no_bias(), o).graph).empty());
}

// Rule 16: a widest op over inputs of unknown precision gets one amp_multicast.
TEST(AmpV1, WidestOpOverUnknownInputsGetsMulticast) {
  GraphBuilder b;
  Entry x = b.var("x"), y = b.var("y");
  const Graph g = b.build({b.op("elemwise_add", "add", {x, y})});
  AmpResult r = convert_symbol(g, v1());
  EXPECT_EQ(describe_casts(r.graph), (Casts{"add->float32:@out0", "x+y->multicast:add,add"}));  // add reads both outputs
  EXPECT_EQ(r.stats.multicasts, 1u);
  const Node& mc = r.graph.nodes[r.graph.find("x_0_amp_multicast")];
  EXPECT_EQ(mc.attr("num_outputs"), "2");
  EXPECT_EQ(mc.num_outputs, 2u);
  // 2.x never inserts a multicast: nothing is low, so nothing changes.
  AmpOptions o2;
  EXPECT_TRUE(describe_casts(convert_symbol(g, o2).graph).empty());
}

// Rule 21 [v1]: a param wired into a neutral op running low (prelu gamma) is stored low even
// without offline casting; params behind a cast stay float32. All params get __dtype__.
TEST(AmpV1, PreluGammaGoesLowThroughInference) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "conv", {x, b.var("conv_weight")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}});
  Entry p = b.op("LeakyReLU", "prelu", {c, b.var("prelu_gamma")}, {{"act_type", "prelu"}});
  const Graph g = b.build({p});
  AmpResult r = convert_model(g, float_params({"conv_weight", "prelu_gamma"}), {}, v1());
  EXPECT_EQ(r.arg_params.at("prelu_gamma").dtype, DType::Float16);
  EXPECT_EQ(r.arg_params.at("conv_weight").dtype, DType::Float32);
  EXPECT_EQ(r.graph.nodes[r.graph.find("prelu_gamma")].attr("__dtype__"), "2");
  EXPECT_EQ(r.graph.nodes[r.graph.find("conv_weight")].attr("__dtype__"), "0");
  EXPECT_EQ(r.graph.nodes[r.graph.find("data")].attr("__dtype__"), "");  // data inputs are not params
  // 2.x: the gamma gets a runtime cast instead.
  AmpResult r2 = convert_model(g, float_params({"conv_weight", "prelu_gamma"}), {}, AmpOptions{});
  EXPECT_EQ(r2.arg_params.at("prelu_gamma").dtype, DType::Float32);
  EXPECT_EQ(describe_casts(r2.graph), (Casts{"conv_weight->float16:conv", "data->float16:conv", "prelu->float32:@out0", "prelu_gamma->float16:prelu"}));
}

// test_module_backward_compatibility: with only Convolution in the target list, the FC downstream
// of conv -> BN runs low as a neutral op and its weight is stored low.
TEST(AmpV1, FcWeightDownstreamOfLowChainIsStoredLow) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "convolution", {x, b.var("convolution_weight"), b.var("convolution_bias")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}});
  Entry bn = b.op("BatchNorm", "batchnorm", {c, b.var("batchnorm_gamma"), b.var("batchnorm_beta"), b.var("batchnorm_moving_mean"), b.var("batchnorm_moving_var")});
  Entry f = b.op("FullyConnected", "fullyconnected", {bn, b.var("fullyconnected_weight"), b.var("fullyconnected_bias")}, {{"num_hidden", "2"}});
  const Graph g = b.build({f});
  AmpOptions o = v1();
  o.target_dtype_ops = std::vector<std::string>{"Convolution"};
  AmpResult r = convert_model(g, float_params({"convolution_weight", "convolution_bias", "batchnorm_gamma", "batchnorm_beta", "fullyconnected_weight", "fullyconnected_bias"}),
                              float_params({"batchnorm_moving_mean", "batchnorm_moving_var"}), o);
  EXPECT_EQ(r.arg_params.at("fullyconnected_weight").dtype, DType::Float16);
  EXPECT_EQ(r.arg_params.at("convolution_weight").dtype, DType::Float32);
  EXPECT_EQ(r.arg_params.at("batchnorm_gamma").dtype, DType::Float32);
  EXPECT_EQ(r.aux_params.at("batchnorm_moving_mean").dtype, DType::Float32);
}

// test_fp16_casting cases 1-4 (AMPInferUnknown under cast_optional_params, no data inputs).
TEST(AmpV1, InferUnknownParamDtypesFromCastsAndMulticasts) {
  auto dtype_of = [](const Graph& g, const TensorMap& params, const std::string& var) {
    AmpOptions o = v1();
    o.cast_params_offline = true;
    AmpResult r = convert_model(g, params, {}, o);
    return r.arg_params.at(var).dtype;
  };
  {
    GraphBuilder b;
    Entry d = b.var("data");
    const Graph g = b.build({b.op("amp_cast", "c1", {d}, {{"dtype", "float16"}}), b.op("amp_cast", "c2", {d}, {{"dtype", "float32"}})});
    EXPECT_EQ(dtype_of(g, float_params({"data"}), "data"), DType::Float32);  // the casts disagree
  }
  {
    GraphBuilder b;
    Entry d = b.var("data");
    const Graph g = b.build({b.op("amp_cast", "c1", {d}, {{"dtype", "float16"}}), b.op("amp_cast", "c2", {d}, {{"dtype", "float16"}})});
    EXPECT_EQ(dtype_of(g, float_params({"data"}), "data"), DType::Float16);
  }
  {
    GraphBuilder b;
    Entry d = b.var("data"), d2 = b.var("data2");
    const Graph g = b.build({b.op("amp_multicast", "m", {d, d2}, {{"num_outputs", "2"}})});
    TensorMap p = float_params({"data", "data2"});
    p["data2"] = p["data2"].astype(DType::Float16);
    EXPECT_EQ(dtype_of(g, p, "data"), DType::Float16);  // all multicast inputs are variables
  }
  {
    GraphBuilder b;
    Entry d = b.var("data"), d2 = b.var("data2"), d3 = b.var("data3");
    Entry add = b.op("elemwise_add", "add", {d2, d3});
    const Graph g = b.build({b.op("amp_multicast", "m", {d, add}, {{"num_outputs", "2"}})});
    EXPECT_EQ(dtype_of(g, float_params({"data", "data2", "data3"}), "data"), DType::Float32);  // a non-variable input blocks it
  }
}

}  // namespace
