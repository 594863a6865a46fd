// Regressions found by the structure oracle (tests/oracle/test_structure.py): where our
// `--compat mxnet1` conversion differed from MXNet 1.9.1's own convert_model on real models, each
// reduced to the smallest graph that shows it. The expected structures are what MXNet 1.9.1 builds.
#include <gtest/gtest.h>

#include "amp_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

using namespace mixprec;
using namespace mixprec::amp;
using mixprec::testing::describe_casts;
using mixprec::testing::float_params;
using mixprec::testing::v1;
using Casts = std::vector<std::string>;

namespace {

AttrMap fc_attrs() { return {{"no_bias", "True"}, {"num_hidden", "4"}}; }

// A cast inserted for one consumer gives the tensor a known precision for every later consumer:
// the add after FC(x) finds x already cast to the low type, so it runs low with no multicast
// (ResNet-style residuals, BERT's embeddings under an fp32_ops override).
TEST(AmpV1Oracle, CastForTargetOpMakesTensorKnownToLaterWidestOp) {
  for (DType t : {DType::Float16, DType::BFloat16}) {
    GraphBuilder b;
    Entry x = b.var("x");
    Entry fc = b.op("FullyConnected", "fc", {x, b.var("w")}, fc_attrs());
    const Graph g = b.build({b.op("elemwise_add", "add", {x, fc})});
    AmpResult r = convert_symbol(g, v1(t));
    const std::string n(dtype_name(t));
    EXPECT_EQ(describe_casts(r.graph), (Casts{"add->float32:@out0", "w->" + n + ":fc", "x->" + n + ":add,fc"})) << n;
    EXPECT_EQ(r.stats.multicasts, 0u);
  }
}

// A widest op runs in float32 as soon as one input has a float32 version, even when that input also
// has a low-precision cast: here relu (conditional float32) feeds both a convolution (cast low)
// and the residual add, which therefore runs float32 and casts the convolution's output up.
TEST(AmpV1Oracle, WidestOpPrefersFloat32WhenAnInputHasBothVersions) {
  GraphBuilder b;
  Entry x = b.var("x");
  AttrMap conv{{"kernel", "(1, 1)"}, {"num_filter", "2"}, {"no_bias", "True"}};
  Entry c1 = b.op("Convolution", "conv1", {x, b.var("w1")}, conv);
  Entry relu = b.op("Activation", "relu", {c1}, {{"act_type", "relu"}});
  Entry c2 = b.op("Convolution", "conv2", {relu, b.var("w2")}, conv);
  const Graph g = b.build({b.op("elemwise_add", "add", {relu, c2})});
  AmpOptions o = v1();
  o.conditional_fp32_ops = std::vector<ConditionalFp32>{{"Activation", "act_type", {"relu"}}};
  EXPECT_EQ(describe_casts(convert_symbol(g, o).graph),
            (Casts{"conv1->float32:relu", "conv2->float32:add", "relu->float16:conv2", "w1->float16:conv1",
                   "w2->float16:conv2", "x->float16:conv1"}));
}

// MXNet infers a neutral op from the map entry of its input 0, a cast included, although the op
// reads the tensor itself: relu(x) after FC(x) counts as low, so the add that meets it and a
// float32 softmax runs float32 with a cast of relu rather than a multicast of unknown inputs.
TEST(AmpV1Oracle, NeutralOpTakesPrecisionOfItsInputsCast) {
  GraphBuilder b;
  Entry x = b.var("x");
  Entry fc = b.op("FullyConnected", "fc", {x, b.var("w")}, fc_attrs());
  Entry relu = b.op("Activation", "relu", {x}, {{"act_type", "relu"}});
  Entry soft = b.op("softmax", "soft", {x});
  AmpResult r = convert_symbol(b.build({fc, b.op("elemwise_add", "add", {relu, soft})}), v1());
  EXPECT_EQ(describe_casts(r.graph), (Casts{"fc->float32:@out0", "relu->float32:add", "w->float16:fc", "x->float16:fc"}));
  EXPECT_EQ(r.stats.multicasts, 0u);
}

// Nodes are visited in MXNet's depth-first order from the outputs, not in file order: here the
// file lists fc before relu, but from the output `add` MXNet reaches relu first, while x is still
// of unknown precision, so the add needs a multicast.
TEST(AmpV1Oracle, VisitsNodesDepthFirstFromTheOutputs) {
  GraphBuilder b;
  Entry x = b.var("x");
  Entry w = b.var("w");
  Entry fc = b.op("FullyConnected", "fc", {x, w}, fc_attrs());
  Entry relu = b.op("Activation", "relu", {x}, {{"act_type", "relu"}});
  AmpResult r = convert_symbol(b.build({b.op("elemwise_add", "add", {relu, fc})}), v1());
  EXPECT_EQ(r.stats.multicasts, 1u);
  EXPECT_EQ(describe_casts(r.graph),
            (Casts{"add->float32:@out0", "relu+fc->multicast:add,add", "w->float16:fc", "x->float16:fc"}));
  // The converted graph lists nodes in that order too, each after its inputs.
  EXPECT_LT(r.graph.find("relu"), r.graph.find("fc"));
  r.graph.verify();
}

// MXNet 1.x type-checks the converted graph and refuses the conversion when an op's inputs
// disagree; so do we, naming the op. With float32 ops reduced to {} SoftmaxOutput is neutral, runs
// in the low type after FC, and its float32 label cannot follow.
TEST(AmpV1Oracle, RefusesGraphWhoseTypesDisagreeAsMxnetDoes) {
  GraphBuilder b;
  Entry fc = b.op("FullyConnected", "fc", {b.var("data"), b.var("fc_weight")}, fc_attrs());
  const Graph g = b.build({b.op("SoftmaxOutput", "softmax", {fc, b.var("softmax_label")})});
  AmpOptions o = v1();
  o.fp32_ops = std::vector<std::string>{};
  try {
    convert_model(g, float_params({"fc_weight"}), {}, o);
    FAIL() << "converted a graph MXNet 1.9.1 refuses";
  } catch (const Error& e) {
    EXPECT_EQ(e.place(), "node 'softmax' (SoftmaxOutput)");
    EXPECT_NE(e.reason().find("(input 1 (softmax_label) is float32 and input 0 (fc) float16), since labels are never cast"),
              std::string::npos)
        << e.what();
  }
  // The 2.x rules keep SoftmaxOutput in float32 here and convert.
  o.compat = Compat::MXNet2;
  EXPECT_NO_THROW(convert_model(g, float_params({"fc_weight"}), {}, o));
}

// A param beyond float16's range is never stored in float16 (a deliberate difference: MXNet 1.9.1
// stores it, as inf, wired straight into the FC). It keeps float32 storage, so it needs the runtime
// cast that every other param has without offline casting; before, it was wired straight into the
// float16 FC and the graph did not type in MXNet.
TEST(AmpV1Oracle, OfflineCastSkipsOutOfRangeParamButKeepsItsRuntimeCast) {
  GraphBuilder b;
  Entry fc = b.op("FullyConnected", "fc", {b.var("data"), b.var("fc_weight"), b.var("fc_bias")}, {{"num_hidden", "2"}});
  const Graph g = b.build({fc});
  TensorMap arg = float_params({"fc_weight", "fc_bias"});
  arg["fc_weight"] = Tensor::from_floats({2}, {1e5f, 0.5f});
  AmpOptions o = v1();
  o.cast_params_offline = true;
  AmpResult r = convert_model(g, arg, {}, o);
  EXPECT_EQ(describe_casts(r.graph), (Casts{"data->float16:fc", "fc->float32:@out0", "fc_weight->float16:fc"}));
  EXPECT_EQ(r.arg_params.at("fc_weight").dtype, DType::Float32);
  EXPECT_EQ(r.arg_params.at("fc_bias").dtype, DType::Float16);
  EXPECT_EQ(r.graph.nodes[r.graph.find("fc_weight")].attr("__dtype__"), "0");
  EXPECT_EQ(r.graph.nodes[r.graph.find("fc_bias")].attr("__dtype__"), "2");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("param 'fc_weight' holds values beyond the float16 range"), std::string::npos) << r.warnings[0];
}

// MXNet's loader gives a pre-0.9.4 file's variables the initializer hints of the ops reading them
// (FSetInputVarAttrOnCompose); MXNet's converted MTCNN graphs keep them on the PReLU gammas even
// where a conditional float32 cast then stands between variable and op.
TEST(AmpV1Oracle, PreNineFourFilesGetInitializerHintsAsMxnetLoadsThem) {
  const std::string old_file = R"({
  "nodes": [
    {"op": "null", "param": {}, "name": "data", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "prelu_gamma", "inputs": [], "backward_source_id": -1},
    {"op": "LeakyReLU", "param": {"act_type": "prelu"}, "name": "prelu", "inputs": [[0, 0], [1, 0]], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "bn_gamma", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "bn_beta", "inputs": [], "backward_source_id": -1},
    {"op": "BatchNorm", "param": {}, "name": "bn", "inputs": [[2, 0], [3, 0], [4, 0]], "backward_source_id": -1}
  ],
  "arg_nodes": [0, 1, 3, 4],
  "heads": [[5, 0]]
})";
  const Graph g = mxnet::parse_symbol_json(old_file);
  auto init = [&](const std::string& name) { return g.nodes[static_cast<size_t>(g.find(name))].attr("__init__"); };
  EXPECT_EQ(init("prelu_gamma"), R"(["Constant", {"value": 0.25}])");
  EXPECT_EQ(init("bn_moving_mean"), R"(["zero", {}])");  // synthesised aux states get theirs too
  EXPECT_EQ(init("bn_moving_var"), R"(["one", {}])");
  EXPECT_EQ(init("bn_gamma"), "");
  EXPECT_EQ(init("data"), "");
  // A hint already written is kept, and files from 0.9.4 on are left as they are.
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = old_file;
    text.replace(text.find(from), from.size(), to);
    return mxnet::parse_symbol_json(text);
  };
  const Graph hinted = replaced(R"("param": {}, "name": "prelu_gamma")", R"("param": {"__init__": "zeros"}, "name": "prelu_gamma")");
  EXPECT_EQ(hinted.nodes[static_cast<size_t>(hinted.find("prelu_gamma"))].attr("__init__"), "zeros");
  const Graph newer = replaced(R"("heads": [[5, 0]])", R"("heads": [[2, 0]], "attrs": {"mxnet_version": ["int", 10901]})");
  EXPECT_EQ(newer.nodes[static_cast<size_t>(newer.find("prelu_gamma"))].attr("__init__"), "");
}

// MXNet 1.9.1's convert_symbol without params types every input float32 (data_names: the inputs
// without __dtype__, which is all of them in MTCNN's file) and then fails on PReLU: "Error in
// operator prelu1: Type inconsistent, Provided = float32, inferred type = float16". We refuse too.
TEST(AmpV1Oracle, SymbolOnlyMtcnnIsRefusedAsMxnetRefusesIt) {
  const Graph g =
      mxnet::read_symbol_json(std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/insightface_mtcnn/det1-symbol.json");
  for (DType t : {DType::Float16, DType::BFloat16}) {
    try {
      convert_symbol(g, v1(t));
      FAIL() << "converted a graph MXNet 1.9.1 refuses";
    } catch (const Error& e) {
      EXPECT_EQ(e.place(), "node 'prelu1' (LeakyReLU)");
    }
  }
}

}  // namespace
