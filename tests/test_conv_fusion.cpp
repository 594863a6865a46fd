// Prepared convolutions (runtime/conv_plan.h) and the nodes fused behind them (runtime/fusion.h):
// the prepared convolution agrees with the reference kernel on every geometry, 16-bit weights stay
// 16-bit, and fusion never changes a bit of any output, in float32, float16 and bfloat16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/attrs.h"
#include "mixprec/half.h"
#include "mixprec/mxnet.h"
#include "runtime/conv_plan.h"
#include "runtime/session.h"

using namespace mixprec;
using runtime::Buf;
using runtime::Session;

namespace {

const std::string kModels = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/";

Buf wave(runtime::Shape shape, float phase, float scale = 1.0f) {
  Buf b;
  b.shape = std::move(shape);
  b.v.resize(static_cast<size_t>(b.numel()));
  for (size_t i = 0; i < b.v.size(); ++i) b.v[i] = scale * std::sin(0.61f * static_cast<float>(i) + phase);
  return b;
}

Node conv_node(const std::string& kernel, const std::string& stride, const std::string& pad, const std::string& dilate, int filters,
               int groups, bool no_bias) {
  Node n;
  n.op = "Convolution";
  n.name = "conv";
  n.attrs = {{"kernel", kernel}, {"stride", stride}, {"pad", pad}, {"dilate", dilate}, {"num_filter", std::to_string(filters)},
             {"num_group", std::to_string(groups)}, {"no_bias", no_bias ? "True" : "False"}};
  return n;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct ConvCase {
  const char *kernel, *stride, *pad, *dilate;
  int C, F, G;
  runtime::Shape data;
  bool no_bias;
};

// The prepared convolution against the registry's reference kernel (im2col GEMM), which
// test_kernels_nn checks against a double-precision loop.
TEST(ConvPlan, AgreesWithTheReferenceKernelOnEveryGeometry) {
  const ConvCase cases[] = {
      {"(3,3)", "(1,1)", "(1,1)", "(1,1)", 16, 32, 1, {1, 16, 14, 14}, false},   // ResNet 3x3
      {"(1,1)", "(1,1)", "(0,0)", "(1,1)", 64, 24, 1, {2, 64, 7, 9}, true},      // pointwise, batch 2
      {"(7,7)", "(2,2)", "(3,3)", "(1,1)", 3, 16, 1, {1, 3, 30, 30}, false},     // stem
      {"(3,3)", "(2,2)", "(1,1)", "(1,1)", 12, 12, 12, {1, 12, 15, 15}, false},  // depthwise, stride 2
      {"(3,3)", "(1,1)", "(2,2)", "(2,2)", 8, 8, 2, {1, 8, 11, 13}, true},       // grouped, dilated
      {"(3,5)", "(2,1)", "(0,2)", "(1,1)", 5, 7, 1, {1, 5, 9, 10}, false},       // rectangular, odd sizes
      {"(3,)", "(1,)", "(1,)", "(1,)", 6, 10, 1, {2, 6, 17}, false},             // 1-D
  };
  for (const ConvCase& c : cases) {
    const Node n = conv_node(c.kernel, c.stride, c.pad, c.dilate, c.F, c.G, c.no_bias);
    const runtime::KernelDef* k = runtime::kernels().find("Convolution");
    const bool one_d = c.data.size() == 3;
    runtime::Shape wshape = {c.F, c.C / c.G};
    const auto kdims = attrs::parse_tuple(c.kernel, "kernel");
    wshape.insert(wshape.end(), kdims.begin(), kdims.end());
    std::vector<runtime::Shape> in_shapes = {c.data, wshape};
    if (!c.no_bias) in_shapes.push_back({c.F});
    const runtime::Shape out_shape = k->infer_shape(n, in_shapes)[0];
    const Buf x = wave(c.data, 0.3f), w = wave(wshape, 1.1f, 0.2f), bias = wave({c.F}, 2.0f, 0.5f);
    Buf ref;
    ref.shape = out_shape;
    ref.v.assign(static_cast<size_t>(ref.numel()), 0.0f);
    runtime::KernelArgs args{n, {&x, &w}, {&ref}};
    if (!c.no_bias) args.in.push_back(&bias);
    k->run(args);

    runtime::Epilogue none;
    none.add({});
    runtime::ConvPlan plan(n, c.data, out_shape, w, c.no_bias ? nullptr : &bias, none);
    Buf y;
    y.shape = out_shape;
    y.v.assign(ref.v.size(), 0.0f);
    runtime::ConvScratch scratch;
    plan.run(x, y, {}, scratch);
    // Both sum the same K = C/G prod(kernel) (+ bias) products in float32, in different orders: each
    // is within gamma_K S of the exact sum (Higham Thm 3.1), S = sum|terms| per output, which the
    // reference kernel computes from the magnitudes (itself within gamma_K S of S: factor 1 + gamma_K).
    Buf ax = x, aw = w, ab = bias, S;
    for (Buf* b : {&ax, &aw, &ab})
      for (float& v : b->v) v = std::fabs(v);
    S.shape = out_shape;
    S.v.assign(ref.v.size(), 0.0f);
    runtime::KernelArgs sargs{n, {&ax, &aw}, {&S}};
    if (!c.no_bias) sargs.in.push_back(&ab);
    k->run(sargs);
    double K = static_cast<double>(c.C / c.G + (c.no_bias ? 0 : 0));
    for (int64_t d : kdims) K *= static_cast<double>(d);
    K += c.no_bias ? 0 : 1;
    const double gamma = K * std::ldexp(1.0, -24) / (1 - K * std::ldexp(1.0, -24));
    double worst = 0, scale = 0;
    for (size_t i = 0; i < y.v.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(y.v[i]) - ref.v[i]) / (2 * gamma * (1 + gamma) * S.v[i] + 1e-30));
      scale = std::max(scale, static_cast<double>(std::fabs(ref.v[i])));
    }
    EXPECT_LE(worst, 1.0) << c.kernel << " groups " << c.G << (one_d ? " 1-D" : "") << " via " << plan.impl();
    EXPECT_GT(scale, 0.1);
  }
}

// Float16 weights stay float16 in memory and give exactly what their float32 values give.
TEST(ConvPlan, SixteenBitWeightsStaySixteenBit) {
  const Node n = conv_node("(3,3)", "(1,1)", "(1,1)", "(1,1)", 32, 1, false);
  const runtime::Shape data{1, 16, 10, 10}, out{1, 32, 10, 10};
  Buf w32 = wave({32, 16, 3, 3}, 0.7f, 0.3f);
  for (DType t : {DType::Float16, DType::BFloat16}) {
    Buf w16;
    w16.shape = w32.shape;
    w16.storage = t;
    w16.lp.resize(w32.v.size());
    Buf widened = w32;
    for (size_t i = 0; i < w32.v.size(); ++i) {
      w16.lp[i] = t == DType::Float16 ? float_to_half(w32.v[i]) : float_to_bfloat16(w32.v[i]);
      widened.v[i] = t == DType::Float16 ? half_to_float(w16.lp[i]) : bfloat16_to_float(w16.lp[i]);
    }
    const Buf x = wave(data, 0.2f), bias = wave({32}, 0.9f);
    runtime::Epilogue none;
    none.add({});
    runtime::ConvPlan low(n, data, out, w16, &bias, none), wide(n, data, out, widened, &bias, none);
    EXPECT_LE(low.weight_bytes() * 2, wide.weight_bytes() + 64) << dtype_name(t);
    Buf a, b;
    a.shape = b.shape = out;
    a.v.assign(32 * 100, 0.0f);
    b.v = a.v;
    runtime::ConvScratch s;
    low.run(x, a, {}, s);
    wide.run(x, b, {}, s);
    EXPECT_TRUE(same_bits(a.v, b.v)) << dtype_name(t);
  }
}

// Every step of the epilogue on hand-checked values, float16 overflow included.
TEST(Epilogue, StepsComputeWhatTheirKernelsCompute) {
  runtime::Epilogue e;
  e.add({});  // conv output in float32
  runtime::EpilogueStep bn;
  bn.kind = runtime::EpilogueStep::Kind::BatchNorm;
  bn.mean = {1.0f, -2.0f};
  bn.scale = {2.0f, 0.5f};
  bn.beta = {0.5f, 0.0f};
  e.add(bn);
  runtime::EpilogueStep relu;
  relu.kind = runtime::EpilogueStep::Kind::Relu;
  e.add(relu);
  runtime::EpilogueStep add;
  add.kind = runtime::EpilogueStep::Kind::Add;
  add.residual = 0;
  add.dtype = DType::Float16;
  e.add(add);
  EXPECT_EQ(e.residual_count(), 1);
  // 2 channels x 3 positions.
  std::vector<float> y = {1.0f, 1.0f, 3.0f, -2.0f, 2.0f, -10.0f};
  const std::vector<float> r = {0.25f, 65520.0f, 1.0f / 3.0f, 1.0f, 65504.0f, 0.0f};
  e.apply(y.data(), 1, 2, 3, {r.data()});
  EXPECT_EQ(y[0], 0.75f);                                             // (1-1)*2+0.5, + 0.25
  EXPECT_TRUE(std::isinf(y[1]));                                      // 0.5 + 65520 rounds past float16's largest
  EXPECT_EQ(y[2], half_to_float(float_to_half(4.5f + 1.0f / 3.0f)));  // (3-1)*2+0.5, + 1/3 in float16
  EXPECT_EQ(y[3], 1.0f);                                              // (-2+2)*0.5 = 0, + 1
  EXPECT_EQ(y[4], 65504.0f);                                          // 2 + 65504 rounds back down
  EXPECT_EQ(y[5], 0.0f);                                              // (-10+2)*0.5 = -4, relu 0
}

struct Model {
  Graph graph;
  TensorMap arg, aux;
};

Model load(const std::string& stem) {
  Model m;
  m.graph = mxnet::read_symbol_json(kModels + stem + "-symbol.json");
  mxnet::split_params(mxnet::read_params(kModels + stem + "-0000.params"), m.arg, m.aux);
  return m;
}

std::vector<Buf> run(const Model& m, bool fuse, size_t* fused = nullptr, size_t* weights = nullptr) {
  runtime::SessionOptions o;
  o.input_shapes["data"] = {2, 3, 32, 32};
  o.fuse = fuse;
  Session s(m.graph, m.arg, m.aux, o);
  if (fused) *fused = s.fused_nodes();
  if (weights) *weights = s.weight_bytes();
  return s.run({{"data", wave({2, 3, 32, 32}, 0.0f, 2.0f)}});
}

// Fusion is an optimisation, never a change of numerics: fused and unfused runs agree bit for bit on
// real models, in float32 and converted to float16 / bfloat16 (runtime and offline casts).
TEST(ConvFusion, BitIdenticalToUnfusedOnRealModels) {
  for (const char* stem : {"gluoncv_cifar_resnet20_v1/cifar_resnet20_v1", "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2"}) {
    const Model m = load(stem);
    size_t fused = 0;
    EXPECT_TRUE(same_bits(run(m, true, &fused)[0].v, run(m, false)[0].v)) << stem;
    if (std::string(stem).find("v1") != std::string::npos) {
      // 21 convolutions: the stem's BatchNorm (1); in 7 blocks conv1's BatchNorm + relu and conv2's
      // BatchNorm + add + relu (7 x 5); in the 2 downsampling blocks the downsample conv comes first
      // in node order, so its chain takes BatchNorm + add + relu, conv1 BatchNorm + relu, conv2
      // only its BatchNorm (2 x 6).
      EXPECT_EQ(fused, 48u);
    } else {
      EXPECT_GT(fused, 0u);
    }
    for (DType t : {DType::Float16, DType::BFloat16})
      for (bool offline : {false, true}) {
        amp::AmpOptions a;
        a.target_dtype = t;
        a.cast_params_offline = offline;
        amp::AmpResult r = amp::convert_model(m.graph, m.arg, m.aux, a);
        const Model c{std::move(r.graph), std::move(r.arg_params), std::move(r.aux_params)};
        size_t n = 0;
        EXPECT_TRUE(same_bits(run(c, true, &n)[0].v, run(c, false)[0].v)) << stem << " " << dtype_name(t) << " offline " << offline;
        EXPECT_GT(n, 0u);
      }
  }
}

// With offline float16 params the session holds the convolution weights in 16 bits.
TEST(ConvFusion, ConvertedWeightsTakeHalfTheMemory) {
  const Model m = load("gluoncv_cifar_resnet20_v1/cifar_resnet20_v1");
  amp::AmpOptions a;
  a.cast_params_offline = true;
  amp::AmpResult r = amp::convert_model(m.graph, m.arg, m.aux, a);
  const Model c{std::move(r.graph), std::move(r.arg_params), std::move(r.aux_params)};
  size_t w32 = 0, w16 = 0;
  run(m, true, nullptr, &w32);
  run(c, true, nullptr, &w16);
  EXPECT_LT(static_cast<double>(w16), 0.55 * static_cast<double>(w32)) << w16 << " vs " << w32;
}

// A residual produced after the convolution (in node order) and float16 overflow inside the chain:
// the fused chain runs when its last node's turn comes, and overflows exactly where unfused does.
TEST(ConvFusion, LateResidualAndOverflowMatchUnfused) {
  GraphBuilder b;
  Entry x = b.var("data");
  Entry xl = b.op("amp_cast", "x16", {x}, {{"dtype", "float16"}});
  Entry w = b.var("w"), bias = b.var("b");
  Entry conv = b.op("Convolution", "conv", {xl, w, bias}, {{"kernel", "(3,3)"}, {"pad", "(1,1)"}, {"num_filter", "4"}});
  Entry g = b.var("g"), be = b.var("be"), mu = b.var("mu"), var = b.var("var");
  Entry bn = b.op("BatchNorm", "bn", {conv, g, be, mu, var}, {{"fix_gamma", "False"}, {"eps", "1e-5"}});
  Entry relu = b.op("Activation", "relu", {bn}, {{"act_type", "relu"}});
  Entry side = b.op("_mul_scalar", "side", {xl}, {{"scalar", "3"}});  // computed after the conv
  Entry sum = b.op("elemwise_add", "add", {side, relu});
  Entry out = b.op("amp_cast", "out32", {sum}, {{"dtype", "float32"}});
  const Graph graph = b.build({out});
  TensorMap arg;
  auto put = [&](const std::string& name, const Buf& v, DType t) {
    const Tensor f = Tensor::from_floats(v.shape, v.v);
    arg[name] = t == DType::Float32 ? f : f.astype(t);
  };
  put("w", wave({4, 4, 3, 3}, 0.5f, 0.4f), DType::Float16);
  put("b", wave({4}, 0.1f), DType::Float16);
  put("g", wave({4}, 0.4f, 3e4f), DType::Float32);  // large enough that some outputs overflow float16
  put("be", wave({4}, 0.8f), DType::Float32);
  put("mu", wave({4}, 1.3f, 0.1f), DType::Float32);
  Buf v = wave({4}, 2.0f, 0.2f);
  for (float& f : v.v) f = std::fabs(f) + 0.01f;
  put("var", v, DType::Float32);
  std::vector<float> outs[2];
  size_t observed[2] = {0, 0};
  for (bool fuse : {false, true}) {
    runtime::SessionOptions o;
    o.input_shapes["data"] = {1, 4, 6, 6};
    o.fuse = fuse;
    Session s(graph, arg, {}, o);
    EXPECT_EQ(s.fused_nodes(), fuse ? 4u : 0u);  // bn, relu, add, out32
    outs[fuse] = s.run({{"data", wave({1, 4, 6, 6}, 0.0f, 2.0f)}}, [&](uint32_t, const std::vector<const Buf*>&) { ++observed[fuse]; })[0].v;
  }
  EXPECT_TRUE(same_bits(outs[0], outs[1]));
  EXPECT_EQ(observed[0] - observed[1], 4u);  // the fused nodes are not observed
  size_t infs = 0;
  for (float f : outs[1]) infs += std::isinf(f);
  EXPECT_GT(infs, 0u);  // BatchNorm's large gamma overflows float16 inside the chain
  EXPECT_LT(infs, outs[1].size());
}

}  // namespace
