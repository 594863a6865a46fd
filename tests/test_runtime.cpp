// The inference engine end to end: real models in FP32 and converted to float16/bfloat16, the
// overflow that only float16 shows, op coverage errors, determinism.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"
#include "mixprec/zoo.h"
#include "reference_evaluator.h"
#include "runtime/session.h"
#include "sanitizer_util.h"
#include "validate/model_compare.h"

using namespace mixprec;
using runtime::Buf;
using runtime::Session;

namespace {

const std::string kModels = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/";

struct Model {
  Graph graph;
  TensorMap arg, aux;
};

Model load(const std::string& stem, const std::string& epoch = "0000") {
  Model m;
  m.graph = mxnet::read_symbol_json(kModels + stem + "-symbol.json");
  mxnet::split_params(mxnet::read_params(kModels + stem + "-" + epoch + ".params"), m.arg, m.aux);
  return m;
}

Buf pattern(runtime::Shape shape, float scale = 1.0f) {
  Buf b;
  b.shape = std::move(shape);
  b.v.resize(static_cast<size_t>(b.numel()));
  for (size_t i = 0; i < b.v.size(); ++i) b.v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return b;
}

runtime::SessionOptions shapes(const std::string& input, runtime::Shape s) {
  runtime::SessionOptions o;
  o.input_shapes[input] = std::move(s);
  return o;
}

validate::Comparison convert_and_compare(const Model& m, DType t, bool offline, const runtime::SessionOptions& o,
                                         const std::map<std::string, Buf>& in) {
  amp::AmpOptions a;
  a.target_dtype = t;
  a.cast_params_offline = offline;
  amp::AmpResult r = amp::convert_model(m.graph, m.arg, m.aux, a);
  runtime::SessionOptions unfused = o;
  unfused.fuse = false;  // per-node errors need every node's output
  Session ref(m.graph, m.arg, m.aux, unfused);
  unfused.observe_unrounded = true;  // own rounding error per candidate node
  Session cand(std::move(r.graph), r.arg_params, r.aux_params, unfused);
  return validate::compare_models(ref, cand, in);
}

TEST(Runtime, CifarResNet20ConvertedStaysCloseToFp32) {
  for (const char* stem : {"gluoncv_cifar_resnet20_v1/cifar_resnet20_v1", "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2"}) {
    const Model m = load(stem);
    const runtime::Shape shape{mixprec::testing::kUnderSanitizer ? 1 : 4, 3, 32, 32};  // ASan at -O0: one image, 4x faster
    const auto o = shapes("data", shape);
    const std::map<std::string, Buf> in{{"data", pattern(shape)}};
    Session fp32(m.graph, m.arg, m.aux, o);
    const std::vector<Buf> out = fp32.run(in);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].shape, (runtime::Shape{shape[0], 10}));
    for (float v : out[0].v) EXPECT_TRUE(std::isfinite(v));
    for (DType t : {DType::Float16, DType::BFloat16})
      for (bool offline : {false, true}) {
        const validate::Comparison c = convert_and_compare(m, t, offline, o, in);
        const auto& r = c.outputs[0];
        // Each rounding to a type of unit roundoff u adds a relative error of variance u^2 / 3
        // (uniform in +-u): along ResNet-20's longest path there are R <= 60 rounded nodes (conv, BN,
        // relu, add per block, the casts), and calibrated residual networks do not amplify a
        // perturbation (gain G <= 2 in energy): NMSE <= R G u^2 / 3 = 9.5e-6 for float16 (u = 2^-11)
        // and 6.1e-4 for bfloat16 (u = 2^-8); 1 - cosine = NMSE / 2 for small errors: 4.8e-6 and 3e-4.
        // (Measured: NMSE 3e-7-9e-7 and 5e-5-6e-5, test_reference_engine.cpp.)
        EXPECT_GT(r.cosine, t == DType::Float16 ? 0.9999 : 0.999) << stem << " " << dtype_name(t);
        EXPECT_LT(r.nmse, t == DType::Float16 ? 1e-5 : 1e-3) << stem << " " << dtype_name(t);
        EXPECT_EQ(r.top1_agreement, 1.0) << stem << " " << dtype_name(t);
        EXPECT_EQ(r.cand_nonfinite, 0);
        // Own errors were measured on the low-precision nodes: rounding to nearest costs at most half
        // an ulp, so no node's relative rms error can exceed the unit roundoff (no under/overflow here).
        ASSERT_FALSE(c.largest_own_errors.empty());
        EXPECT_EQ(c.largest_own_errors.front().dtype, t);
        EXPECT_GT(c.largest_own_errors.front().in_roundoff, 0.05);
        EXPECT_LE(c.largest_own_errors.front().in_roundoff, 1.0) << c.largest_own_errors.front().name;
        EXPECT_FALSE(c.first_nonfinite.has_value());
      }
  }
}

TEST(Runtime, MtcnnNetsRunAndConvert) {
  const std::vector<std::pair<std::string, runtime::Shape>> nets = {
      {"det1", {1, 3, 12, 12}}, {"det2", {1, 3, 24, 24}}, {"det3", {1, 3, 48, 48}}, {"det4", {1, 15, 24, 24}}};
  for (const auto& [name, shape] : nets) {
    const Model m = load("insightface_mtcnn/" + name, "0001");
    const auto o = shapes("data", shape);
    const std::map<std::string, Buf> in{{"data", pattern(shape)}};
    const validate::Comparison c = convert_and_compare(m, DType::Float16, false, o, in);
    ASSERT_FALSE(c.outputs.empty()) << name;
    for (const auto& r : c.outputs) {
      // MTCNN: R <= 15 rounded nodes per path, float16: NMSE <= 15 G u^2 / 3 = 1.2e-6 G, 1 - cosine
      // = NMSE / 2: 0.999 allows a gain G of 1600, far above what 4-7 layers amplify (measured
      // NMSE <= 1.7e-6, test_reference_engine.cpp).
      EXPECT_GT(r.cosine, 0.999) << name;
      EXPECT_EQ(r.cand_nonfinite, 0) << name;
    }
  }
}

// An activation above 65504 is inf in float16 and finite in bfloat16.
TEST(Runtime, Float16OverflowShowsAsInf) {
  for (DType t : {DType::Float16, DType::BFloat16}) {
    GraphBuilder b;
    Entry x = b.var("data");
    Entry c = b.op("amp_cast", "to_lp", {x}, {{"dtype", std::string(dtype_name(t))}});
    Entry s = b.op("_mul_scalar", "scale", {c}, {{"scalar", "1000"}});
    Entry back = b.op("amp_cast", "to_fp32", {s}, {{"dtype", "float32"}});
    Session sess(b.build({back}), {}, {}, shapes("data", {3}));
    Buf in;
    in.shape = {3};
    in.v = {1.0f, 65.0f, 100.0f};
    const std::vector<Buf> out = sess.run({{"data", in}});
    EXPECT_EQ(out[0].v[0], 1000.0f);
    EXPECT_EQ(out[0].v[1], t == DType::Float16 ? 64992.0f : 65024.0f);  // 65000 to 11 / 8 significant bits
    if (t == DType::Float16) {
      EXPECT_TRUE(std::isinf(out[0].v[2]));
    } else {
      EXPECT_TRUE(std::isfinite(out[0].v[2]));
      EXPECT_EQ(out[0].v[2], 99840.0f);  // 100000 to 8 significant bits
    }
  }
}

TEST(Runtime, MissingKernelsAreNamedBeforeRunning) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry u = b.op("MyCustomOp", "c1", {x});
  Entry v = b.op("OtherOp", "c2", {u});
  try {
    Session s(b.build({v}), {}, {}, shapes("data", {2}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MyCustomOp"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("OtherOp"), std::string::npos);
  }
}

TEST(Runtime, ShapeErrorsNameTheNode) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry c = b.op("Convolution", "conv_bad", {x, b.var("w")}, {{"kernel", "(3, 3)"}, {"num_filter", "4"}, {"no_bias", "True"}});
  TensorMap arg;
  arg["w"] = Tensor::from_floats({4, 5, 3, 3}, std::vector<float>(180, 0.1f));  // 5 input channels, data has 3
  try {
    Session s(b.build({c}), arg, {}, shapes("data", {1, 3, 8, 8}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_bad"), std::string::npos) << e.what();
  }
}

// Results do not depend on the thread count (README: each output element is summed by one thread
// in a fixed order): 1 and 2 threads give bit-identical outputs, in float32 and float16, and a
// second run of a session (its buffers reused from the pool) repeats the first. ResNet-20 at batch 1
// exercises the oneDNN convolutions, the fused epilogues, pooling and the batch-1 FullyConnected
// (gemv). The float32 result is also the right one: the independent reference
// (tests/reference_evaluator.h) agrees to NMSE 1e-10 (float32 accumulation over <= 577 terms,
// 20 layers deep: ~1e-13 expected; test_reference_engine.cpp).
TEST(Runtime, ResultsAreIdenticalForEveryThreadCount) {
  const Model m = load("gluoncv_cifar_resnet20_v1/cifar_resnet20_v1");
  const Buf x = pattern({1, 3, 32, 32});
  const std::map<std::string, Buf> in{{"data", x}};
  amp::AmpResult f16 = amp::convert_model(m.graph, m.arg, m.aux, amp::AmpOptions{});
  for (bool low : {false, true}) {
    const Graph& g = low ? f16.graph : m.graph;
    const TensorMap& arg = low ? f16.arg_params : m.arg;
    const TensorMap& aux = low ? f16.aux_params : m.aux;
    std::vector<float> first;
    for (int threads : {1, 2}) {
      runtime::SessionOptions o = shapes("data", {1, 3, 32, 32});
      o.threads = threads;
      Session s(g, arg, aux, o);
      const auto a = s.run(in), b2 = s.run(in);
      EXPECT_EQ(a[0].v, b2[0].v) << threads << " threads, second run";
      if (first.empty()) first = a[0].v;
      EXPECT_EQ(a[0].v, first) << threads << " threads against 1" << (low ? " (float16)" : "");
    }
    if (low) continue;
    const auto want = mixprec::testing::ref::evaluate(g, arg, aux, {{"data", mixprec::testing::ref::from_floats(x.shape, x.v)}}, false);
    EXPECT_LE(mixprec::testing::ref::nmse(std::vector<double>(first.begin(), first.end()), want.outputs[0].v), 1e-10);
  }
}

TEST(Runtime, BertStyleEncoderRunsInAllPrecisions) {
  zoo::ZooOptions zo;
  zo.seq_len = 8;
  zo.depth = 2;
  const zoo::ZooModel m = zoo::build_zoo_model("transformer_deep", zo);
  runtime::SessionOptions o;
  for (const auto& [name, shape] : m.inputs) o.input_shapes[name] = shape;
  std::map<std::string, Buf> in;
  for (const auto& [name, shape] : m.inputs) {
    Buf ids;
    ids.shape = shape;
    ids.v.resize(static_cast<size_t>(ids.numel()));
    for (size_t i = 0; i < ids.v.size(); ++i) ids.v[i] = static_cast<float>((i * 7) % 2);
    in[name] = ids;
  }
  Model mm{m.graph, m.arg_params, m.aux_params};
  for (DType t : {DType::Float16, DType::BFloat16}) {
    const validate::Comparison c = convert_and_compare(mm, t, true, o, in);
    // Two encoder layers, R <= 40 rounded nodes per path (attention: 2 batch_dots, softmax; FFN:
    // 2 FCs, gelu; 2 LayerNorms, adds, casts): 1 - cosine = R G u^2 / 6 = 1.6e-6 G (float16),
    // 1e-4 G (bfloat16); the limits allow G ~ 600 and 100: attention softmax amplifies.
    EXPECT_GT(c.outputs[0].cosine, t == DType::Float16 ? 0.999 : 0.99) << dtype_name(t);
    EXPECT_EQ(c.outputs[0].cand_nonfinite, 0);
  }
}

}  // namespace
