// The run-time side of MXNet's AMP behaviours (../shared/reference/mxnet_amp_behaviours.md §2):
// what amp_cast (rule 25) and amp_multicast (rule 26) do to values and dtypes in the engine, and
// MXNet's own numerical acceptance tests reproduced with their tolerances (rule 27, §1.2, §1.4,
// §1.5), each next to the bound derived for the same case.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "reference_evaluator.h"
#include "runtime/session.h"
#include "sanitizer_util.h"

using namespace mixprec;
using runtime::Buf;
namespace ref = mixprec::testing::ref;

namespace {

std::string name(DType t) { return std::string(dtype_name(t)); }

Buf values(std::vector<float> v) { return Buf{{static_cast<int64_t>(v.size())}, std::move(v)}; }

// 1 + 2^-12 is a float32 that float16 (ulp 2^-10 at 1) and bfloat16 (2^-7) both round to 1;
// 1 + 2^-9 is a float16 that bfloat16 rounds to 1; 100001 is past float16's range and not a bfloat16.
const float kFine = 1.0f + 0x1p-12f, kHalfOnly = 1.0f + 0x1p-9f, kBig = 100001.0f;

// ---- rule 25 -----------------------------------------------------------------------------------

// amp_cast converts float32, float16 and bfloat16 only: a float64 or an integer tensor comes out
// unchanged, with its own dtype (an amp_cast to float16 of an int32 100001 stays 100001, not inf).
TEST(AmpRuntimeRules, Rule25AmpCastPassesNonAmpTypesThroughAtRunTime) {
  for (DType to : {DType::Float16, DType::BFloat16}) {
    for (DType in : {DType::Float64, DType::Int32, DType::Float32}) {
      GraphBuilder b;
      Entry x = b.var("x");
      const Graph g = b.build({b.op("amp_cast", "c", {x}, {{"dtype", name(to)}})});
      runtime::SessionOptions o;
      o.input_shapes["x"] = {3};
      o.input_dtypes["x"] = in;
      runtime::Session s(g, {}, {}, o);
      const std::vector<float> v = in == DType::Int32 ? std::vector<float>{kBig, -7.0f, 65537.0f} : std::vector<float>{kFine, kBig, -3.0f};
      const Buf out = s.run({{"x", values(v)}})[0];
      const std::string what = name(in) + " -> " + name(to);
      if (in == DType::Float32) {  // the control: these are converted
        EXPECT_EQ(s.output_dtypes()[0], to) << what;
        EXPECT_EQ(out.v[0], 1.0f) << what;
        EXPECT_EQ(out.v[1], to == DType::Float16 ? INFINITY : 99840.0f) << what;
      } else {
        EXPECT_EQ(s.output_dtypes()[0], in) << what;
        EXPECT_EQ(out.v, v) << what;
      }
    }
  }
  // A float64 parameter read through amp_cast (computed at load) is not rounded either.
  GraphBuilder b;
  Entry w = b.var("w");
  const Graph g = b.build({b.op("amp_cast", "c", {w}, {{"dtype", "float16"}})});
  Tensor t;
  t.dtype = DType::Float64;
  t.shape = {2};
  const std::vector<double> wv{1.0 + 0x1p-12, 1e5};
  t.data.resize(16);
  std::memcpy(t.data.data(), wv.data(), 16);
  runtime::Session s(g, {{"w", t}}, {});
  EXPECT_EQ(s.output_dtypes()[0], DType::Float64);
  EXPECT_EQ(s.run({})[0].v, (std::vector<float>{kFine, 1e5f}));
}

// ---- rule 26 -----------------------------------------------------------------------------------

struct Multicast {
  Graph graph;
  std::map<std::string, Buf> in;
};

// amp_multicast over `types` (each input is `data_k` cast to that type, or an int32 input), outputs as heads.
Multicast multicast(const std::vector<DType>& types, const std::vector<float>& v, bool narrow) {
  GraphBuilder b;
  std::vector<Entry> ins;
  Multicast m;
  for (size_t k = 0; k < types.size(); ++k) {
    const std::string var = "data" + std::to_string(k);
    Entry x = b.var(var);
    m.in[var] = values({v[k]});
    if (types[k] == DType::Float16 || types[k] == DType::BFloat16) x = b.op("amp_cast", "to_" + var, {x}, {{"dtype", name(types[k])}});
    ins.push_back(x);
  }
  AttrMap a{{"num_outputs", std::to_string(types.size())}};
  if (narrow) a["cast_narrow"] = "True";
  const Entry mc = b.op("amp_multicast", "mc", ins, a);
  std::vector<Entry> heads;
  for (uint32_t k = 0; k < types.size(); ++k) heads.push_back(GraphBuilder::out(mc, k));
  m.graph = b.build(heads);
  return m;
}

std::pair<std::vector<DType>, std::vector<float>> run(const Multicast& m, const std::vector<DType>& types) {
  runtime::SessionOptions o;
  for (size_t k = 0; k < types.size(); ++k) {
    o.input_shapes["data" + std::to_string(k)] = {1};
    if (types[k] == DType::Int32) o.input_dtypes["data" + std::to_string(k)] = DType::Int32;
  }
  runtime::Session s(m.graph, {}, {}, o);
  std::vector<float> out;
  for (const Buf& b : s.run(m.in)) out.push_back(b.v.at(0));
  return {s.output_dtypes(), out};
}

// Every float input (float16, bfloat16, float32) goes to float32 if any input is float32 (widening
// is exact), else to input 0's type (so bfloat16 + float16 is bfloat16, float16 + bfloat16 is
// float16); with cast_narrow to the 16-bit type instead; an int32 input passes through.
TEST(AmpRuntimeRules, Rule26MulticastWidensOrTakesInputZerosTypeAtRunTime) {
  const DType F16 = DType::Float16, BF16 = DType::BFloat16, F32 = DType::Float32, I32 = DType::Int32;
  {  // float16 + float32: float32; the float16 value widened exactly, the float32 one not rounded.
    const auto [t, v] = run(multicast({F16, F32}, {kHalfOnly, kFine}, false), {F16, F32});
    EXPECT_EQ(t, (std::vector<DType>{F32, F32}));
    EXPECT_EQ(v, (std::vector<float>{kHalfOnly, kFine}));
  }
  {  // bfloat16 + float16: input 0's bfloat16, so the float16 1 + 2^-9 becomes 1.
    const auto [t, v] = run(multicast({BF16, F16}, {2.0f, kHalfOnly}, false), {BF16, F16});
    EXPECT_EQ(t, (std::vector<DType>{BF16, BF16}));
    EXPECT_EQ(v, (std::vector<float>{2.0f, 1.0f}));
  }
  {  // float16 + bfloat16: float16; 100001 as bfloat16 is 99840, beyond float16: inf.
    const auto [t, v] = run(multicast({F16, BF16}, {kHalfOnly, kBig}, false), {F16, BF16});
    EXPECT_EQ(t, (std::vector<DType>{F16, F16}));
    EXPECT_EQ(v[0], kHalfOnly);
    EXPECT_TRUE(std::isinf(v[1]));
  }
  {  // cast_narrow: float32 + float16 go to float16, the float32 input rounded.
    const auto [t, v] = run(multicast({F32, F16}, {kFine, kHalfOnly}, true), {F32, F16});
    EXPECT_EQ(t, (std::vector<DType>{F16, F16}));
    EXPECT_EQ(v, (std::vector<float>{1.0f, kHalfOnly}));
  }
  {  // an int32 input is left alone; the float inputs still widen.
    const auto [t, v] = run(multicast({I32, F16, F32}, {kBig, kHalfOnly, kFine}, false), {I32, F16, F32});
    EXPECT_EQ(t, (std::vector<DType>{I32, F32, F32}));
    EXPECT_EQ(v, (std::vector<float>{kBig, kHalfOnly, kFine}));
  }
}

// ---- rule 27: MXNet's tolerances ---------------------------------------------------------------

// MXNet's assert_almost_equal: |a - b| <= atol + rtol |b| everywhere.
double worst_allclose(const std::vector<float>& got, const std::vector<float>& want, double rtol, double atol) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]) / (atol + rtol * std::fabs(static_cast<double>(want[i]))));
  return worst;
}

// Uniform values in [lo, hi) from a fixed LCG.
std::vector<float> uniform(int64_t n, float lo, float hi, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(seed >> 8) / 16777216.0f;
  }
  return v;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

struct Layer {
  std::string what;
  Graph graph;
  TensorMap arg;
  std::vector<int64_t> data_shape;
};

// One Convolution or FullyConnected as MXNet's test_amp_accuracy builds it: Module.init_params()'s
// default initializer (Uniform(0.01): weights in [-0.01, 0.01], bias 0), data uniform in [0, 100].
Layer conv_layer(const std::vector<int64_t>& data, int64_t kernel, int64_t filters, int64_t pad, bool bias) {
  GraphBuilder b;
  Entry x = b.var("data");
  std::vector<Entry> in{x, b.var("w")};
  if (bias) in.push_back(b.var("b"));
  AttrMap a{{"kernel", "(" + std::to_string(kernel) + ", " + std::to_string(kernel) + ")"},
            {"num_filter", std::to_string(filters)},
            {"pad", "(" + std::to_string(pad) + ", " + std::to_string(pad) + ")"},
            {"no_bias", bias ? "False" : "True"}};
  Layer l{"conv " + std::to_string(kernel) + "x" + std::to_string(kernel) + " x" + std::to_string(filters), b.build({b.op("Convolution", "conv", in, a)}), {}, data};
  const std::vector<int64_t> ws{filters, data[1], kernel, kernel};
  l.arg["w"] = Tensor::from_floats(ws, uniform(numel(ws), -0.01f, 0.01f, 3));
  if (bias) l.arg["b"] = Tensor::from_floats({filters}, std::vector<float>(static_cast<size_t>(filters), 0.0f));
  return l;
}

Layer fc_layer(const std::vector<int64_t>& data, int64_t hidden) {
  GraphBuilder b;
  Entry x = b.var("data");
  Layer l{"fc x" + std::to_string(hidden), b.build({b.op("FullyConnected", "fc", {x, b.var("w"), b.var("b")}, {{"num_hidden", std::to_string(hidden)}})}), {}, data};
  l.arg["w"] = Tensor::from_floats({hidden, data[1]}, uniform(hidden * data[1], -0.01f, 0.01f, 5));
  l.arg["b"] = Tensor::from_floats({hidden}, std::vector<float>(static_cast<size_t>(hidden), 0.0f));
  return l;
}

// test_amp_accuracy (1.x, bf16, CPU): each layer converted to bfloat16 (target_dtype_ops = the
// layer's op, fp32_ops empty), offline or not, output within rtol 0.1, atol 0.2 of float32.
//
// The derived bound, per output y = sum_k x_k w_k (+ b) with S = sum_k |x_k w_k|: x and w are each
// rounded to bfloat16 (relative u = 2^-8), so each product moves by at most (2u + u^2)|x_k w_k|;
// both runs accumulate K terms in float32 (gamma_K S each, u32 = 2^-24); the output is stored in
// bfloat16 (u |y'|, y' the low-precision sum). So |y_bf16 - y_fp32| <= (2u + u^2) S + 2 gamma_K S
// + u (|y_fp32| + (2u + u^2) S + gamma_K S). MXNet's tolerance is 25-200x looser on these layers.
// Batches are cut to 64 and 16 from MXNet's 512 and 128 (no tolerance depends on the batch).
TEST(AmpRuntimeRules, Rule27MxnetBf16ConvAndFcAccuracy) {
  const int64_t big = mixprec::testing::scaled(64, 8), mid = mixprec::testing::scaled(16, 2);
  std::vector<std::pair<Layer, bool>> cases;  // layer, cast_params_offline
  cases.emplace_back(conv_layer({3, 4, 28, 28}, 3, 128, 1, false), false);
  cases.emplace_back(conv_layer({big, 10, 28, 28}, 1, 16, 0, false), true);
  cases.emplace_back(conv_layer({mid, 56, 14, 14}, 3, 28, 0, true), false);
  cases.emplace_back(fc_layer({1024, 32}, 1000), false);
  cases.emplace_back(fc_layer({40, 32}, 10), true);
  for (const auto& [layer, offline] : cases) {
    const std::vector<float> x = uniform(numel(layer.data_shape), 0.0f, 100.0f, 17);
    runtime::SessionOptions so;
    so.input_shapes["data"] = layer.data_shape;
    so.threads = 1;
    const std::map<std::string, Buf> in{{"data", Buf{layer.data_shape, x}}};
    const Buf fp32 = runtime::Session(layer.graph, layer.arg, {}, so).run(in)[0];
    amp::AmpOptions o;
    o.target_dtype = DType::BFloat16;
    o.target_dtype_ops = std::vector<std::string>{layer.graph.nodes.back().op};
    o.fp32_ops = std::vector<std::string>{};
    o.cast_params_offline = offline;
    amp::AmpResult r = amp::convert_model(layer.graph, layer.arg, {}, o);
    ASSERT_EQ(r.stats.lp_nodes, 1u) << layer.what;
    const Buf bf16 = runtime::Session(r.graph, r.arg_params, r.aux_params, so).run(in)[0];
    const double mxnet = worst_allclose(bf16.v, fp32.v, 0.1, 0.2);
    EXPECT_LE(mxnet, 1.0) << layer.what << ": MXNet's rtol 0.1, atol 0.2";
    // S per output: the same layer on |w| (x >= 0, bias 0), evaluated exactly by the reference.
    TensorMap abs_arg = layer.arg;
    std::vector<float> wabs(static_cast<size_t>(numel(abs_arg["w"].shape)));
    std::memcpy(wabs.data(), abs_arg["w"].data.data(), wabs.size() * 4);
    for (float& w : wabs) w = std::fabs(w);
    abs_arg["w"] = Tensor::from_floats(abs_arg["w"].shape, wabs);
    const ref::Evaluation s = ref::evaluate(layer.graph, abs_arg, {}, {{"data", ref::from_floats(layer.data_shape, x)}}, false);
    const double u = 0x1p-8;
    const int64_t K = numel(layer.arg.at("w").shape) / layer.arg.at("w").shape[0] + 1;
    const double g = ref::gamma32(static_cast<double>(K));
    double worst = 0;
    for (size_t i = 0; i < fp32.v.size(); ++i) {
      const double S = s.outputs[0].v[i];
      const double bound = (2 * u + u * u) * S + 2 * g * S + u * (std::fabs(fp32.v[i]) + (2 * u + u * u) * S + g * S);
      worst = std::max(worst, std::fabs(static_cast<double>(bf16.v[i]) - fp32.v[i]) / bound);
    }
    EXPECT_LE(worst, 1.0) << layer.what;
    std::printf("[ rule 27  ] bf16 %-16s %s: worst error / MXNet tolerance %.3f, / derived bound %.3f\n", layer.what.c_str(),
                offline ? "offline" : "runtime", mxnet, worst);
  }
}

// test_bf16_op (2.x, dnnl): an op fed bfloat16 inputs against the same op fed the same values in
// float32, rtol 0.01. With inputs that are bfloat16 values already, the only difference is the
// bfloat16 rounding of the output, u = 2^-8 = 0.0039 relative, plus both runs' float32 evaluation
// (2 gamma_K sum|terms|, negligible next to u for these sizes): within MXNet's 0.01 with room.
// The derived check: |y_bf16 - y_fp32| <= u |y_fp32| + 2 gamma_K S_max, per element.
TEST(AmpRuntimeRules, Rule27MxnetBf16PerOpTolerance) {
  struct OpCase {
    std::string op;
    AttrMap attrs;
    std::vector<std::vector<int64_t>> shapes;  // data inputs; params: none
  };
  const std::vector<OpCase> ops = {
      {"Activation", {{"act_type", "sigmoid"}}, {{4, 8}}},
      {"Activation", {{"act_type", "tanh"}}, {{4, 8}}},
      {"softmax", {{"axis", "-1"}}, {{4, 8}}},
      {"elemwise_add", {}, {{4, 8}, {4, 8}}},
      {"Pooling", {{"kernel", "(2, 2)"}, {"pool_type", "avg"}, {"stride", "(2, 2)"}}, {{2, 3, 8, 8}}},
      {"Concat", {{"dim", "1"}, {"num_args", "2"}}, {{2, 3}, {2, 5}}},
  };
  const double u = 0x1p-8, K = 8;
  for (const OpCase& c : ops) {
    GraphBuilder b;
    std::vector<Entry> ins;
    std::map<std::string, Buf> feed;
    runtime::SessionOptions so;
    for (size_t k = 0; k < c.shapes.size(); ++k) {
      const std::string var = std::string(1, 'x') + std::to_string(k);
      ins.push_back(b.var(var));
      std::vector<float> v = uniform(numel(c.shapes[k]), -3.0f, 3.0f, static_cast<uint32_t>(11 + k));
      for (float& f : v) f = static_cast<float>(ref::round_to_bfloat16(f));  // bfloat16 values
      feed[var] = Buf{c.shapes[k], v};
      so.input_shapes[var] = c.shapes[k];
    }
    const Graph g = b.build({b.op(c.op, "op", ins, c.attrs)});
    const Buf fp32 = runtime::Session(g, {}, {}, so).run(feed)[0];
    // The op in bfloat16: its inputs cast (exactly) to bfloat16, its output cast back.
    amp::AmpOptions o;
    o.target_dtype = DType::BFloat16;
    o.target_dtype_ops = std::vector<std::string>{c.op};
    o.fp32_ops = std::vector<std::string>{};
    if (c.op == "elemwise_add" || c.op == "Concat") o.widest_dtype_ops = std::vector<std::string>{};
    if (c.op == "Activation") o.conditional_fp32_ops = std::vector<amp::ConditionalFp32>{};
    amp::AmpResult r = amp::convert_model(g, {}, {}, o);
    ASSERT_EQ(r.stats.lp_nodes, 1u) << c.op;
    const Buf bf16 = runtime::Session(r.graph, {}, {}, so).run(feed)[0];
    EXPECT_LE(worst_allclose(bf16.v, fp32.v, 0.01, 1e-20), 1.0) << c.op << ": MXNet's rtol 0.01";
    double scale = 0;
    for (const auto& [n, buf] : feed)
      for (float v : buf.v) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    for (size_t i = 0; i < fp32.v.size(); ++i)
      EXPECT_LE(std::fabs(static_cast<double>(bf16.v[i]) - fp32.v[i]), u * std::fabs(fp32.v[i]) + 2 * ref::gamma32(K) * scale * K)
          << c.op << " element " << i;
  }
}

// The oneDNN AMP subgraph tests (2.x, bf16, params offline): FC -> FC and conv -> conv networks
// within rtol 0.05, atol 1.0 of float32. Shapes and initialisation are ours (Uniform(0.07), Gluon's
// default, and data uniform in [-1, 1]); the tolerance is theirs. The derived bound, u = 2^-8: the
// first layer's output h is off by <= 3u S1 (input and weight rounding 2u + u^2, its own storage u
// relative to |h| <= S1, float32 accumulation ~1e-5 u), S1 = |W1| |x|; the second layer carries that
// through |W2| and adds its weight rounding u S2 and its storage u |y|, S2 = |W2| |h|. With
// T = |W2| (|W1| |x|) >= max(S2, |W2| S1): |y_bf16 - y_fp32| <= 3u T + 2u T + u |y| <= 8u T + u |y|.
TEST(AmpRuntimeRules, Rule27MxnetBf16FusedNetworkTolerance) {
  for (bool conv : {false, true}) {
    GraphBuilder b;
    Entry x = b.var("data");
    TensorMap arg;
    std::vector<int64_t> shape;
    Entry y;
    if (conv) {
      shape = {1, 3, 28, 28};
      AttrMap a{{"kernel", "(3, 3)"}, {"num_filter", "16"}, {"no_bias", "True"}};
      y = b.op("Convolution", "conv1", {b.op("Convolution", "conv0", {x, b.var("w0")}, a), b.var("w1")}, a);
      arg["w0"] = Tensor::from_floats({16, 3, 3, 3}, uniform(16 * 27, -0.07f, 0.07f, 1));
      arg["w1"] = Tensor::from_floats({16, 16, 3, 3}, uniform(16 * 144, -0.07f, 0.07f, 2));
    } else {
      shape = {4, 64};
      y = b.op("FullyConnected", "fc1", {b.op("FullyConnected", "fc0", {x, b.var("w0")}, {{"num_hidden", "32"}, {"no_bias", "True"}}), b.var("w1")},
               {{"num_hidden", "16"}, {"no_bias", "True"}});
      arg["w0"] = Tensor::from_floats({32, 64}, uniform(32 * 64, -0.07f, 0.07f, 1));
      arg["w1"] = Tensor::from_floats({16, 32}, uniform(16 * 32, -0.07f, 0.07f, 2));
    }
    const Graph g = b.build({y});
    const std::vector<float> xv = uniform(numel(shape), -1.0f, 1.0f, 9);
    runtime::SessionOptions so;
    so.input_shapes["data"] = shape;
    so.threads = 1;
    const std::map<std::string, Buf> in{{"data", Buf{shape, xv}}};
    const Buf fp32 = runtime::Session(g, arg, {}, so).run(in)[0];
    amp::AmpOptions o;
    o.target_dtype = DType::BFloat16;
    o.cast_params_offline = true;
    amp::AmpResult r = amp::convert_model(g, arg, {}, o);
    const Buf bf16 = runtime::Session(r.graph, r.arg_params, {}, so).run(in)[0];
    EXPECT_LE(worst_allclose(bf16.v, fp32.v, 0.05, 1.0), 1.0) << (conv ? "conv" : "fc") << ": MXNet's rtol 0.05, atol 1.0";
    // T: the same network on |x| and |w|, evaluated exactly by the reference.
    TensorMap abs_arg;
    for (const auto& [n, t] : arg) {
      std::vector<float> v(static_cast<size_t>(t.numel()));
      std::memcpy(v.data(), t.data.data(), v.size() * 4);
      for (float& f : v) f = std::fabs(f);
      abs_arg[n] = Tensor::from_floats(t.shape, v);
    }
    std::vector<float> xabs = xv;
    for (float& f : xabs) f = std::fabs(f);
    const ref::Evaluation T = ref::evaluate(g, abs_arg, {}, {{"data", ref::from_floats(shape, xabs)}}, false);
    const double u = 0x1p-8;
    for (size_t i = 0; i < fp32.v.size(); ++i)
      ASSERT_LE(std::fabs(static_cast<double>(bf16.v[i]) - fp32.v[i]), 8 * u * T.outputs[0].v[i] + u * std::fabs(fp32.v[i]))
          << (conv ? "conv" : "fc") << " element " << i;
  }
}

}  // namespace
