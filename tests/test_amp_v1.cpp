// MXNet 1.x compatibility mode (`--compat mxnet1`): the structure the 1.x pass builds
// (mxnet_amp_behaviours.md §1.1 and rules marked [v1]).
#include <gtest/gtest.h>

#include "amp_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/mxnet.h"
#include "runtime/session.h"

using namespace mixprec;
using namespace mixprec::amp;
using mixprec::testing::describe_casts;
using mixprec::testing::float_params;
using mixprec::testing::v1;
using Casts = std::vector<std::string>;

namespace {

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

// test_fp16_casting / test_bf16_casting cases 5-8. MXNet's convert_symbol treats a variable that
// declares __dtype__ as a model param (its dtype decided by inference, the declaration ignored) and
// one without it as a data input, forced to float32; here params are the variables given values.
TEST(AmpV1, Fp16CastingCase5MulticastOverTypedAndUntypedInputsKeepsTheDataInputFp32) {
  for (DType t : {DType::Float16, DType::BFloat16}) {
    GraphBuilder b;
    Entry d = b.var("data"), d2 = b.var("data2"), d3 = b.var("data3");
    const Graph g = b.build({b.op("amp_multicast", "m", {d, d2, d3}, {{"num_outputs", "3"}})});
    AmpOptions o = v1(t);
    o.target_dtype_ops = std::vector<std::string>{};
    o.fp32_ops = std::vector<std::string>{};
    o.cast_params_offline = true;
    TensorMap p = float_params({"data", "data2"});
    p["data"] = p["data"].astype(t);  // declared low; data2 declared float32; data3 undeclared: a data input
    AmpResult r = convert_model(g, p, {}, o);
    EXPECT_EQ(r.arg_params.count("data3"), 0u);
    EXPECT_EQ(r.graph.nodes[static_cast<size_t>(r.graph.find("data3"))].attr("__dtype__"), "");  // not a param: float32 input
    // The params, all read by a multicast of variables only, take the target type (AMPInferUnknown).
    EXPECT_EQ(r.arg_params.at("data").dtype, t);
    EXPECT_EQ(r.arg_params.at("data2").dtype, t);
    // Run: data3 is float32, so the multicast widens every output to float32 (rule 26).
    runtime::SessionOptions so;
    so.input_shapes["data3"] = {2};
    runtime::Session s(r.graph, r.arg_params, r.aux_params, so);
    EXPECT_EQ(s.dtype_of({static_cast<uint32_t>(r.graph.find("data3")), 0, 0}), DType::Float32);
    for (DType out : s.output_dtypes()) EXPECT_EQ(out, DType::Float32);
  }
}

// Cases 6 and 7: a param read by a multicast of variables and by an amp_cast to the target type
// takes the target type, whatever it declared (float16/bfloat16 in case 6, float32 in case 7).
TEST(AmpV1, Fp16CastingCases6And7MulticastAndCastAgreeOnTheTarget) {
  for (DType t : {DType::Float16, DType::BFloat16})
    for (bool declared_low : {true, false}) {
      GraphBuilder b;
      Entry d = b.var("data"), d2 = b.var("data2");
      Entry m = b.op("amp_multicast", "m", {d, d2}, {{"num_outputs", "2"}});
      Entry c = b.op("amp_cast", "c", {d}, {{"dtype", std::string(dtype_name(t))}});
      const Graph g = b.build({m, GraphBuilder::out(m, 1), c});
      AmpOptions o = v1(t);
      o.target_dtype_ops = std::vector<std::string>{};
      o.fp32_ops = std::vector<std::string>{};
      o.cast_params_offline = true;
      TensorMap p = float_params({"data", "data2"});
      p[declared_low ? "data" : "data2"] = p[declared_low ? "data" : "data2"].astype(t);
      AmpResult r = convert_model(g, p, {}, o);
      EXPECT_EQ(r.arg_params.at("data").dtype, t) << (declared_low ? "case 6" : "case 7");
      EXPECT_EQ(r.graph.nodes[static_cast<size_t>(r.graph.find("data"))].attr("__dtype__"), std::to_string(static_cast<int>(t)));
    }
}

// MXNet's CheckAndUpdateInferredDtypes: a variable that two casts/multicasts want in different types
// keeps its original (float32) type, whichever comes first in the graph.
TEST(AmpV1, Fp16CastingConflictingDemandsKeepFloat32) {
  for (bool multicast_first : {true, false}) {
    GraphBuilder b;
    Entry d = b.var("data"), d2 = b.var("data2");
    Entry m, c;
    if (multicast_first) {
      m = b.op("amp_multicast", "m", {d, d2}, {{"num_outputs", "2"}});
      c = b.op("amp_cast", "c", {d}, {{"dtype", "float32"}});
    } else {
      c = b.op("amp_cast", "c", {d}, {{"dtype", "float32"}});
      m = b.op("amp_multicast", "m", {d, d2}, {{"num_outputs", "2"}});
    }
    const Graph g = b.build({m, GraphBuilder::out(m, 1), c});
    AmpOptions o = v1();
    o.target_dtype_ops = std::vector<std::string>{};
    o.fp32_ops = std::vector<std::string>{};
    o.cast_params_offline = true;
    AmpResult r = convert_model(g, float_params({"data", "data2"}), {}, o);
    EXPECT_EQ(r.arg_params.at("data").dtype, DType::Float32) << "multicast_first=" << multicast_first;
    EXPECT_EQ(r.arg_params.at("data2").dtype, DType::Float16) << "multicast_first=" << multicast_first;
  }
}

// Case 8: variables declaring __dtype__ "-1" (unknown) feeding concat then split convert without
// error: 1.x wraps the concat's inputs of unknown precision in one multicast and casts both split
// outputs (unknown precision) back to float32.
TEST(AmpV1, Fp16CastingCase8UnknownDtypeVariablesThroughConcatAndSplit) {
  for (DType t : {DType::Float16, DType::BFloat16}) {
    GraphBuilder b;
    Entry d = b.var("data", {{"__dtype__", "-1"}}), d2 = b.var("data2", {{"__dtype__", "-1"}});
    Entry cat = b.op("Concat", "concat", {d, d2}, {{"dim", "1"}, {"num_args", "2"}});
    Entry split = b.op("SliceChannel", "split", {cat}, {{"axis", "1"}, {"num_outputs", "2"}});
    const Graph g = b.build({split, GraphBuilder::out(split, 1)});
    AmpResult r;
    ASSERT_NO_THROW(r = convert_symbol(g, v1(t))) << dtype_name(t);
    if (t == DType::Float16)  // Concat is a widest-type op in 1.x's float16 lists
      EXPECT_EQ(describe_casts(r.graph), (Casts{"data+data2->multicast:concat,concat", "split->float32:@out0", "split->float32:@out1"}));
    else  // neutral in its bfloat16 lists, where SliceChannel is a float32 op: its input of unknown
          // precision is cast to float32, and its outputs are then known float32
      EXPECT_EQ(describe_casts(r.graph), (Casts{"concat->float32:split"}));
    EXPECT_EQ(r.graph.heads.size(), 2u);
  }
}

// Rule 20 [v1]: every output not known to be float32 is cast to float32, also a non-float one
// (an int32 input through a neutral op): amp_cast leaves it int32 at run time, unchanged.
// [v2]: outputs keep their original dtype, so neither output gets a cast.
TEST(AmpV1, Rule20OutputCastIsANoOpOnNonFloatOutputs) {
  GraphBuilder b;
  Entry ids = b.var("ids"), x = b.var("data");
  Entry flat = b.op("Flatten", "flat", {ids});
  Entry r = b.op("Activation", "relu", {x}, {{"act_type", "relu"}});
  const Graph g = b.build({flat, r});
  AmpOptions o = v1();
  o.input_dtypes = {{"ids", DType::Int32}};
  AmpResult c1 = convert_symbol(g, o);
  EXPECT_EQ(describe_casts(c1.graph), (Casts{"flat->float32:@out0", "relu->float32:@out1"}));
  runtime::SessionOptions so;
  so.input_shapes = {{"ids", {3}}, {"data", {3}}};
  so.input_dtypes = {{"ids", DType::Int32}};
  runtime::Session s(c1.graph, {}, {}, so);
  EXPECT_EQ(s.output_dtypes(), (std::vector<DType>{DType::Int32, DType::Float32}));
  runtime::Buf ids_in{{3}, {100001.0f, -7.0f, 65537.0f}}, x_in{{3}, {1.0f, -2.0f, 3.0f}};
  const std::vector<runtime::Buf> out = s.run({{"ids", ids_in}, {"data", x_in}});
  EXPECT_EQ(out[0].v, ids_in.v);  // not rounded to float16 (100001 would become inf) nor to bfloat16
  AmpOptions o2;
  o2.input_dtypes = o.input_dtypes;
  EXPECT_TRUE(describe_casts(convert_symbol(g, o2).graph).empty());
}

// Rule 23 [v1]: every param gets a numeric __dtype__: "12" for bfloat16 ("2" float16) where it is
// stored low, "0" for BatchNorm's gamma/beta and moving statistics, which stay float32; the params
// file then holds those codes. [v2]: __amp_dtype__ names the type, on the params stored low only.
TEST(AmpV1, Rule23NumericDtypeAttributesAndParamsFileCodes) {
  for (DType t : {DType::BFloat16, DType::Float16}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry c = b.op("Convolution", "conv", {x, b.var("conv_weight"), b.var("conv_bias")}, {{"kernel", "(1, 1)"}, {"num_filter", "2"}});
    Entry bn = b.op("BatchNorm", "bn", {c, b.var("bn_gamma"), b.var("bn_beta"), b.var("bn_moving_mean"), b.var("bn_moving_var")});
    const Graph g = b.build({bn});
    const TensorMap arg = float_params({"conv_weight", "conv_bias", "bn_gamma", "bn_beta"}), aux = float_params({"bn_moving_mean", "bn_moving_var"});
    AmpOptions o = v1(t);
    o.cast_params_offline = true;
    AmpResult r = convert_model(g, arg, aux, o);
    const std::string code = std::to_string(static_cast<int>(t));
    ASSERT_EQ(code, t == DType::BFloat16 ? "12" : "2");
    auto attr = [&](const std::string& v, const char* key) { return r.graph.nodes[static_cast<size_t>(r.graph.find(v))].attr(key); };
    EXPECT_EQ(attr("conv_weight", "__dtype__"), code);
    EXPECT_EQ(attr("conv_bias", "__dtype__"), code);
    for (const char* bnp : {"bn_gamma", "bn_beta", "bn_moving_mean", "bn_moving_var"}) EXPECT_EQ(attr(bnp, "__dtype__"), "0") << bnp;
    EXPECT_EQ(attr("data", "__dtype__"), "");
    // The params file: dtype codes as written.
    const std::vector<uint8_t> bytes = mxnet::write_params(mxnet::make_checkpoint(r.arg_params, r.aux_params));
    const mxnet::ParamsFile f = mxnet::parse_params(bytes.data(), bytes.size());
    std::map<std::string, DType> stored;
    for (const auto& a : f.arrays) stored[a.name] = a.tensor.dtype;
    EXPECT_EQ(stored.at("arg:conv_weight"), t);
    EXPECT_EQ(stored.at("arg:bn_gamma"), DType::Float32);
    EXPECT_EQ(stored.at("aux:bn_moving_var"), DType::Float32);
    // 2.x: a dtype name on the params stored low, nothing on the others.
    AmpOptions o2;
    o2.target_dtype = t;
    o2.cast_params_offline = true;
    AmpResult r2 = convert_model(g, arg, aux, o2);
    EXPECT_EQ(r2.graph.nodes[static_cast<size_t>(r2.graph.find("conv_weight"))].attr("__amp_dtype__"), std::string(dtype_name(t)));
    EXPECT_EQ(r2.graph.nodes[static_cast<size_t>(r2.graph.find("bn_gamma"))].attr("__amp_dtype__"), "");
    EXPECT_EQ(r2.graph.nodes[static_cast<size_t>(r2.graph.find("conv_weight"))].attr("__dtype__"), "");
  }
}

// Rule 24 on the real GluonCV CIFAR ResNet-20 v1 (test_amp_conversion / check_amp_convert_model /
// test_module_backward_compatibility): a convolution weight stays float32 by default and is stored
// low with offline casting; with target_dtype_ops=["Convolution"], 1.x stores the FC weight low even
// without offline casting (the FC runs low as a neutral op and type inference types its weight);
// 2.x casts it at run time instead.
TEST(AmpV1, Rule24ConvAndFcWeightDtypesOnCifarResNet20) {
  const std::string base = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/gluoncv_cifar_resnet20_v1/cifar_resnet20_v1";
  const Graph g = mxnet::read_symbol_json(base + "-symbol.json");
  TensorMap arg, aux;
  mxnet::split_params(mxnet::read_params(base + "-0000.params"), arg, aux);
  const std::string conv = "cifarresnetv10_stage2_conv1_weight", fc = "cifarresnetv10_dense0_weight";
  for (DType t : {DType::Float16, DType::BFloat16})
    for (Compat compat : {Compat::MXNet1, Compat::MXNet2}) {
      const std::string what = std::string(dtype_name(t)) + (compat == Compat::MXNet1 ? " mxnet1" : " mxnet2");
      AmpOptions o;
      o.target_dtype = t;
      o.compat = compat;
      EXPECT_EQ(convert_model(g, arg, aux, o).arg_params.at(conv).dtype, DType::Float32) << what;
      o.cast_params_offline = true;
      EXPECT_EQ(convert_model(g, arg, aux, o).arg_params.at(conv).dtype, t) << what;
      o.cast_params_offline = false;
      o.target_dtype_ops = std::vector<std::string>{"Convolution"};
      const AmpResult r = convert_model(g, arg, aux, o);
      EXPECT_EQ(r.arg_params.at(fc).dtype, compat == Compat::MXNet1 ? t : DType::Float32) << what;
      EXPECT_EQ(r.arg_params.at(conv).dtype, DType::Float32) << what;
    }
}

}  // namespace
