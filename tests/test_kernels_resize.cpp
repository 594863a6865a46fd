// UpSampling (nearest, one or several inputs, concat or sum; bilinear) and Crop against references
// written here as plain loops in double, MXNet's documented examples, and the shape errors MXNet
// raises. Bilinear is checked against an explicit transposed convolution with the weights MXNet's
// Bilinear initializer writes. A small graph checks the op table and the AMP lists end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"
#include "ops/op_table.h"
#include "kernel_test_util.h"
#include "runtime/kernel.h"
#include "runtime/session.h"

using namespace mixprec;
using namespace mixprec::runtime;
using mixprec::testing::count;
using mixprec::testing::make_buf;
using mixprec::testing::make_node;
using mixprec::testing::random_buf;

namespace {

std::vector<Shape> infer(const Node& n, const std::vector<Shape>& in) { return kernels().find(n.op)->infer_shape(n, in); }

// Infers the output shape and runs the kernel; the output starts as NaN so that an unwritten value shows.
Buf run_op(const Node& n, const std::vector<Buf>& in) {
  std::vector<Shape> shapes;
  for (const Buf& b : in) shapes.push_back(b.shape);
  const std::vector<Shape> os = infer(n, shapes);
  EXPECT_EQ(os.size(), 1u);
  Buf out;
  out.shape = os[0];
  out.v.assign(static_cast<size_t>(count(os[0])), std::numeric_limits<float>::quiet_NaN());
  KernelArgs args{n, {}, {&out}};
  for (const Buf& b : in) args.in.push_back(&b);
  kernels().find(n.op)->run(args);
  return out;
}

// |got - ref| <= tol * max(1, |ref|). The default 1e-5 (168 u, u = 2^-24) covers the bilinear
// (depthwise deconvolution) cases: at most ceil(k / scale)^2 <= 4 products of |x|, |w| <= 1 reach an
// output, gamma_4 * 4 = 9.5e-7. Nearest and crop are copies (exact, tol 0); sums of 3 maps: 2
// roundings on <= 3, 3.6e-7 (tol 1e-6).
void expect_close(const Buf& got, const std::vector<double>& ref, double tol = 1e-5) {
  ASSERT_EQ(got.v.size(), ref.size());
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(std::fabs(got.v[i] - ref[i]) <= tol * std::max(1.0, std::fabs(ref[i]))) && ++bad <= 5)
      ADD_FAILURE() << "at " << i << ": got " << got.v[i] << ", expected " << ref[i];
  EXPECT_EQ(bad, 0);
}

// Expects a mixprec::Error naming the node and containing `text`.
template <class F>
void expect_error(F&& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "no error, expected one mentioning '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(e.place().find("my_"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

double at(const Buf& b, int64_t n, int64_t c, int64_t y, int64_t x) {
  return b.v[static_cast<size_t>(((n * b.shape[1] + c) * b.shape[2] + y) * b.shape[3] + x)];
}

// Nearest upsampling of several inputs to (first input's size × scale), concatenated on channels or
// summed: each output pixel reads the input pixel it falls in.
std::vector<double> nearest_ref(const std::vector<Buf>& in, int64_t sh, int64_t sw, bool sum) {
  const int64_t N = in[0].shape[0], OH = in[0].shape[2] * sh, OW = in[0].shape[3] * sw;
  int64_t OC = 0;
  for (const Buf& b : in) OC = sum ? b.shape[1] : OC + b.shape[1];
  std::vector<double> out(static_cast<size_t>(N * OC * OH * OW), 0.0);
  int64_t first = 0;
  for (const Buf& b : in) {
    const int64_t rh = OH / b.shape[2], rw = OW / b.shape[3];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < b.shape[1]; ++c)
        for (int64_t y = 0; y < OH; ++y)
          for (int64_t x = 0; x < OW; ++x) out[static_cast<size_t>(((n * OC + first + c) * OH + y) * OW + x)] += at(b, n, c, y / rh, x / rw);
    if (!sum) first += b.shape[1];
  }
  return out;
}

// MXNet's Bilinear initializer for a (C, 1, k, k) weight: every channel gets the same kernel.
Buf bilinear_weight(int64_t C, int64_t k) {
  Buf w;
  w.shape = {C, 1, k, k};
  const double f = std::ceil(static_cast<double>(k) / 2.0), c = (2 * f - 1 - std::fmod(f, 2.0)) / (2.0 * f);
  for (int64_t i = 0; i < C * k * k; ++i) {
    const double x = static_cast<double>(i % k), y = static_cast<double>((i / k) % k);
    w.v.push_back(static_cast<float>((1 - std::fabs(x / f - c)) * (1 - std::fabs(y / f - c))));
  }
  return w;
}

// A depthwise transposed convolution spelled out: each input pixel scatters its kernel, scaled, onto
// the output at (y·stride - pad + ky, x·stride - pad + kx).
std::vector<double> depthwise_deconv_ref(const Buf& x, const Buf& w, int64_t stride, int64_t pad, int64_t OH, int64_t OW) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], k = w.shape[2];
  std::vector<double> out(static_cast<size_t>(N * C * OH * OW), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t iy = 0; iy < H; ++iy)
        for (int64_t ix = 0; ix < W; ++ix)
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t oy = iy * stride - pad + ky, ox = ix * stride - pad + kx;
              if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
              out[static_cast<size_t>(((n * C + c) * OH + oy) * OW + ox)] += at(x, n, c, iy, ix) * w.v[static_cast<size_t>((c * k + ky) * k + kx)];
            }
  return out;
}

std::vector<double> crop_ref(const Buf& x, int64_t h, int64_t w, int64_t top, int64_t left) {
  std::vector<double> out;
  for (int64_t n = 0; n < x.shape[0]; ++n)
    for (int64_t c = 0; c < x.shape[1]; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) out.push_back(at(x, n, c, top + y, left + xx));
  return out;
}

}  // namespace

TEST(KernelResize, RegistersBothOps) {
  EXPECT_NE(kernels().find("UpSampling"), nullptr);
  EXPECT_NE(kernels().find("Crop"), nullptr);
  EXPECT_NE(kernels().find("UpSampling"), nullptr);  // and the engine's registry has them
  EXPECT_NE(kernels().find("Crop"), nullptr);
}

// ---------------------------------------------------------------- UpSampling, nearest

TEST(KernelResizeUpSamplingNearest, DocumentedExample) {
  // MXNet's doc: a 3×3 image of ones, scale 2, is a 6×6 image of ones. Distinct values show the layout.
  const Node n = make_node("UpSampling", {{"scale", "2"}, {"sample_type", "nearest"}, {"num_args", "1"}});
  const Buf out = run_op(n, {make_buf({1, 1, 2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(out.shape, (Shape{1, 1, 4, 4}));
  EXPECT_EQ(out.v, (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(KernelResizeUpSamplingNearest, OneInputOddSizesMatchReference) {
  for (int64_t scale : {1, 2, 3, 5}) {
    SCOPED_TRACE("scale " + std::to_string(scale));
    const Node n = make_node("UpSampling", {{"scale", std::to_string(scale)}, {"sample_type", "nearest"}, {"num_args", "1"}});
    const std::vector<Buf> in = {random_buf({2, 3, 5, 7}, static_cast<uint32_t>(scale))};
    const Buf out = run_op(n, in);
    EXPECT_EQ(out.shape, (Shape{2, 3, 5 * scale, 7 * scale}));
    expect_close(out, nearest_ref(in, scale, scale, false), 0.0);  // copies: exact
  }
  // MXNet 2.x spells a per-dimension scale as (h, w) or (n, c, h, w).
  for (const char* scale : {"(2, 3)", "(1, 1, 2, 3)"}) {
    const Node n = make_node("UpSampling", {{"scale", scale}, {"sample_type", "nearest"}, {"num_args", "1"}});
    const std::vector<Buf> in = {random_buf({1, 2, 3, 5}, 7)};
    const Buf out = run_op(n, in);
    EXPECT_EQ(out.shape, (Shape{1, 2, 6, 15})) << scale;
    expect_close(out, nearest_ref(in, 2, 3, false), 0.0);
  }
}

TEST(KernelResizeUpSamplingNearest, SeveralInputsConcatenatedOnChannels) {
  // The output is the first input's size × 2 = 6 × 10; the others are scaled up to it by (2, 2), (6, 5)
  // and (1, 1).
  const Node n = make_node("UpSampling", {{"scale", "2"}, {"sample_type", "nearest"}, {"num_args", "4"}});
  const std::vector<Buf> in = {random_buf({2, 2, 3, 5}, 1), random_buf({2, 3, 3, 5}, 2), random_buf({2, 1, 1, 2}, 3),
                               random_buf({2, 2, 6, 10}, 4)};
  const Buf out = run_op(n, in);
  EXPECT_EQ(out.shape, (Shape{2, 8, 6, 10}));
  expect_close(out, nearest_ref(in, 2, 2, false), 0.0);
  // concat is the default multi_input_mode; spelled out it gives the same.
  Node spelled = n;
  spelled.attrs["multi_input_mode"] = "concat";
  EXPECT_EQ(run_op(spelled, in).v, out.v);
}

TEST(KernelResizeUpSamplingNearest, SeveralInputsSummed) {
  // FPN-style: a coarse map upsampled and added to a finer one (itself at scale 1 of the output).
  const Node n = make_node("UpSampling", {{"scale", "3"}, {"sample_type", "nearest"}, {"num_args", "3"}, {"multi_input_mode", "sum"}});
  const std::vector<Buf> in = {random_buf({1, 4, 3, 3}, 5), random_buf({1, 4, 9, 9}, 6), random_buf({1, 4, 1, 3}, 7)};
  const Buf out = run_op(n, in);
  EXPECT_EQ(out.shape, (Shape{1, 4, 9, 9}));
  expect_close(out, nearest_ref(in, 3, 3, true), 1e-6);
}

TEST(KernelResizeUpSamplingNearest, ShapeErrorsNameTheNode) {
  auto node = [](AttrMap a) {
    a.emplace("sample_type", "nearest");
    return make_node("UpSampling", a);
  };
  expect_error([&] { infer(node({{"scale", "2"}, {"num_args", "2"}}), {{1, 1, 4, 4}, {1, 1, 3, 3}}); }, "does not divide the output size");
  expect_error([&] { infer(node({{"scale", "2"}, {"num_args", "2"}, {"multi_input_mode", "sum"}}), {{1, 2, 4, 4}, {1, 3, 4, 4}}); },
               "same channels");
  expect_error([&] { infer(node({{"scale", "2"}, {"num_args", "2"}}), {{1, 2, 4, 4}, {2, 2, 4, 4}}); }, "batch size");
  expect_error([&] { infer(node({{"scale", "2"}, {"num_args", "3"}}), {{1, 2, 4, 4}, {1, 2, 4, 4}}); }, "num_args 3");
  expect_error([&] { infer(node({{"scale", "2"}, {"num_args", "1"}}), {{1, 2, 4}}); }, "4-D");
  expect_error([&] { infer(node({{"scale", "0"}, {"num_args", "1"}}), {{1, 2, 4, 4}}); }, "scale must be between 1 and 1000");
  expect_error([&] { infer(node({{"scale", "1001"}, {"num_args", "1"}}), {{1, 2, 4, 4}}); }, "scale must be between 1 and 1000");
  expect_error([&] { infer(node({{"num_args", "1"}}), {{1, 2, 4, 4}}); }, "scale");
  expect_error([&] { infer(node({{"scale", "(1, 2, 3)"}, {"num_args", "1"}}), {{1, 2, 4, 4}}); }, "scale");
  expect_error([&] { infer(node({{"scale", "2"}, {"num_args", "1"}, {"multi_input_mode", "max"}}), {{1, 2, 4, 4}}); }, "multi_input_mode");
  expect_error([&] { infer(make_node("UpSampling", {{"scale", "2"}, {"sample_type", "bicubic"}}), {{1, 2, 4, 4}}); }, "sample_type");
}

// ---------------------------------------------------------------- UpSampling, bilinear

TEST(KernelResizeUpSamplingBilinear, DocumentedExample) {
  // MXNet's doc: a 3×3 image of ones through a 4×4 kernel of ones at scale 2.
  const Node n = make_node("UpSampling", {{"scale", "2"}, {"sample_type", "bilinear"}, {"num_filter", "1"}, {"num_args", "2"}});
  const Buf out = run_op(n, {make_buf({1, 1, 3, 3}, std::vector<float>(9, 1.0f)), make_buf({1, 1, 4, 4}, std::vector<float>(16, 1.0f))});
  EXPECT_EQ(out.shape, (Shape{1, 1, 6, 6}));
  const std::vector<float> want = {1, 2, 2, 2, 2, 1, 2, 4, 4, 4, 4, 2, 2, 4, 4, 4, 4, 2,
                                   2, 4, 4, 4, 4, 2, 2, 4, 4, 4, 4, 2, 1, 2, 2, 2, 2, 1};
  EXPECT_EQ(out.v, want);
}

TEST(KernelResizeUpSamplingBilinear, IsADepthwiseDeconvolutionWithMxnetsBilinearWeights) {
  for (int64_t scale : {1, 2, 3, 4}) {
    SCOPED_TRACE("scale " + std::to_string(scale));
    const int64_t k = 2 * scale - scale % 2, pad = static_cast<int64_t>(std::ceil(static_cast<double>(scale - 1) / 2.0));
    const int64_t C = 3, H = 5, W = 4;
    const Node n = make_node("UpSampling", {{"scale", std::to_string(scale)}, {"sample_type", "bilinear"}, {"num_filter", std::to_string(C)},
                                            {"num_args", "2"}});
    const Buf x = random_buf({2, C, H, W}, static_cast<uint32_t>(10 + scale));
    const Buf w = bilinear_weight(C, k);
    const Buf out = run_op(n, {x, w});
    ASSERT_EQ(out.shape, (Shape{2, C, H * scale, W * scale}));
    expect_close(out, depthwise_deconv_ref(x, w, scale, pad, H * scale, W * scale));
    // Per-channel weights are honoured too (not just MXNet's identical ones).
    const Buf w2 = random_buf({C, 1, k, k}, 99);
    expect_close(run_op(n, {x, w2}), depthwise_deconv_ref(x, w2, scale, pad, H * scale, W * scale));
  }
}

TEST(KernelResizeUpSamplingBilinear, InterpolatesAConstantImageToItselfAwayFromTheBorder) {
  // The bilinear kernel at an even scale sums to 1 over each output phase: a constant stays constant.
  const Node n = make_node("UpSampling", {{"scale", "2"}, {"sample_type", "bilinear"}, {"num_filter", "1"}, {"num_args", "2"}});
  const Buf out = run_op(n, {make_buf({1, 1, 4, 4}, std::vector<float>(16, 3.0f)), bilinear_weight(1, 4)});
  for (int64_t y = 1; y < 7; ++y)
    for (int64_t x = 1; x < 7; ++x) EXPECT_FLOAT_EQ(static_cast<float>(at(out, 0, 0, y, x)), 3.0f) << y << "," << x;
}

TEST(KernelResizeUpSamplingBilinear, ShapeErrorsNameTheNode) {
  auto node = [](const std::string& scale, const std::string& filters) {
    return make_node("UpSampling", {{"scale", scale}, {"sample_type", "bilinear"}, {"num_filter", filters}, {"num_args", "2"}});
  };
  expect_error([&] { infer(node("2", "3"), {{1, 3, 4, 4}, {3, 1, 3, 3}}); }, "weight (3, 1, 3, 3) does not fit: expected (3, 1, 4, 4)");
  expect_error([&] { infer(node("2", "2"), {{1, 3, 4, 4}, {3, 1, 4, 4}}); }, "num_filter 2 must equal the data's channels 3");
  expect_error([&] { infer(node("(2, 3)", "3"), {{1, 3, 4, 4}, {3, 1, 4, 4}}); }, "same scale");
  expect_error([&] { infer(node("2", "3"), {{1, 3, 4, 4}}); }, "expects 2 inputs");
  expect_error([&] { infer(node("2", "3"), {{3, 4, 4}, {3, 1, 4, 4}}); }, "4-D");
}

// ---------------------------------------------------------------- Crop

TEST(KernelResizeCrop, ToHeightAndWidthAtAnOffset) {
  const Buf x = random_buf({2, 3, 7, 9}, 21);
  const Node n = make_node("Crop", {{"num_args", "1"}, {"h_w", "(4, 5)"}, {"offset", "(2, 3)"}});
  const Buf out = run_op(n, {x});
  EXPECT_EQ(out.shape, (Shape{2, 3, 4, 5}));
  expect_close(out, crop_ref(x, 4, 5, 2, 3), 0.0);
  // Default offset (0, 0); the whole image is allowed.
  expect_close(run_op(make_node("Crop", {{"num_args", "1"}, {"h_w", "(3, 2)"}}), {x}), crop_ref(x, 3, 2, 0, 0), 0.0);
  expect_close(run_op(make_node("Crop", {{"num_args", "1"}, {"h_w", "(7, 9)"}}), {x}), crop_ref(x, 7, 9, 0, 0), 0.0);
  // The largest offset that still fits.
  expect_close(run_op(make_node("Crop", {{"num_args", "1"}, {"h_w", "(4, 5)"}, {"offset", "(3, 4)"}}), {x}), crop_ref(x, 4, 5, 3, 4), 0.0);
}

TEST(KernelResizeCrop, CenterCropRoundsTheOffsetDown) {
  const Buf x = random_buf({1, 2, 7, 8}, 22);
  // (7 - 4) / 2 = 1 and (8 - 5) / 2 = 1; the offset attribute is ignored.
  const Node n = make_node("Crop", {{"num_args", "1"}, {"h_w", "(4, 5)"}, {"center_crop", "True"}, {"offset", "(3, 3)"}});
  expect_close(run_op(n, {x}), crop_ref(x, 4, 5, 1, 1), 0.0);
}

TEST(KernelResizeCrop, LikeASecondInputReadsOnlyItsShape) {
  const Buf x = random_buf({1, 3, 9, 11}, 23);
  Buf like = random_buf({1, 5, 6, 7}, 24);  // other channels: only height and width count
  const Node n = make_node("Crop", {{"num_args", "2"}, {"offset", "(1, 2)"}, {"h_w", "(2, 2)"}});  // h_w is ignored here
  const Buf out = run_op(n, {x, like});
  EXPECT_EQ(out.shape, (Shape{1, 3, 6, 7}));
  expect_close(out, crop_ref(x, 6, 7, 1, 2), 0.0);
  std::fill(like.v.begin(), like.v.end(), std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(run_op(n, {x, like}).v, out.v);  // its values are never read
  const Node center = make_node("Crop", {{"num_args", "2"}, {"center_crop", "1"}});
  expect_close(run_op(center, {x, like}), crop_ref(x, 6, 7, 1, 2), 0.0);  // (9-6)/2, (11-7)/2
}

TEST(KernelResizeCrop, ShapeErrorsNameTheNode) {
  const std::vector<Shape> one = {{1, 2, 5, 6}};
  expect_error([&] { infer(make_node("Crop", {{"num_args", "1"}, {"h_w", "(6, 2)"}}), one); }, "h_w (6, 2)");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "1"}}), one); }, "h_w (0, 0)");  // MXNet's default h_w is not a size
  expect_error([&] { infer(make_node("Crop", {{"num_args", "1"}, {"h_w", "(4, 4)"}, {"offset", "(2, 0)"}}), one); }, "offset (2, 0)");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "1"}, {"h_w", "(4, 4)"}, {"offset", "(-1, 0)"}}), one); }, "offset (-1, 0)");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "1"}, {"h_w", "(4, 4)"}, {"offset", "(1)"}}), one); }, "offset");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "2"}}), {{1, 2, 5, 6}, {1, 2, 6, 6}}); }, "larger than the data");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "2"}}), {{1, 2, 5, 6}, {5, 6}}); }, "crop_like (5, 6)");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "2"}}), one); }, "expects 2 inputs");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "3"}}), {{1, 2, 5, 6}, {1, 2, 5, 6}, {1, 2, 5, 6}}); }, "num_args must be 1");
  expect_error([&] { infer(make_node("Crop", {{"num_args", "1"}, {"h_w", "(2, 2)"}}), {{2, 5, 6}}); }, "4-D");
}

// ---------------------------------------------------------------- in a graph, converted

TEST(KernelResize, OpTableKnowsTheInputs) {
  // Crop's second input is a shape reference: no dtype of its own to follow or cast.
  const ops::OpInfo& crop = ops::op_info("Crop");
  ASSERT_EQ(crop.inputs.size(), 2u);
  EXPECT_EQ(crop.index_inputs, (std::vector<uint32_t>{1}));
  EXPECT_EQ(ops::canonical_op_name("crop"), "Crop");
  const ops::OpInfo& up = ops::op_info("UpSampling");
  ASSERT_EQ(up.inputs.size(), 2u);
  EXPECT_EQ(up.inputs[1], "weight");
  EXPECT_TRUE(up.index_inputs.empty() && up.fp32_inputs.empty());  // the weight follows the data's dtype
}

TEST(KernelResize, FpnStyleGraphConvertsAndRuns) {
  // conv -> nearest ×2 summed with a finer map -> bilinear ×2 -> crop like the input image.
  GraphBuilder b;
  const Entry data = b.var("data"), fine = b.var("fine");
  const Entry conv = b.op("Convolution", "conv", {data, b.var("conv_weight")}, {{"kernel", "(3, 3)"}, {"stride", "(2, 2)"}, {"pad", "(1, 1)"},
                                                                             {"num_filter", "4"}, {"no_bias", "True"}});
  const Entry up = b.op("UpSampling", "up", {conv, fine}, {{"scale", "2"}, {"sample_type", "nearest"}, {"num_args", "2"}, {"multi_input_mode", "sum"}});
  const Entry bil = b.op("UpSampling", "bil", {up, b.var("bil_weight")},
                         {{"scale", "2"}, {"sample_type", "bilinear"}, {"num_filter", "4"}, {"num_args", "2"}});
  const Entry crop = b.op("Crop", "crop", {bil, data}, {{"num_args", "2"}, {"center_crop", "True"}});
  const Graph g = b.build({crop});
  TensorMap arg;
  const Buf cw = random_buf({4, 3, 3, 3}, 31), bw = bilinear_weight(4, 4);
  arg["conv_weight"] = Tensor::from_floats(cw.shape, cw.v);
  arg["bil_weight"] = Tensor::from_floats(bw.shape, bw.v);
  SessionOptions o;
  o.input_shapes = {{"data", {1, 3, 11, 13}}, {"fine", {1, 4, 12, 14}}};
  const std::map<std::string, Buf> in = {{"data", random_buf({1, 3, 11, 13}, 32)}, {"fine", random_buf({1, 4, 12, 14}, 33)}};
  Session fp32(g, arg, {}, o);
  const std::vector<Buf> ref = fp32.run(in);
  ASSERT_EQ(ref[0].shape, (Shape{1, 4, 11, 13}));
  for (DType t : {DType::Float16, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(t));
    amp::AmpOptions a;
    a.target_dtype = t;
    amp::AmpResult r = amp::convert_model(g, arg, {}, a);
    // Crop's shape reference is wired straight from the data input, never through a cast.
    for (const Node& n : r.graph.nodes) {
      if (n.op == "Crop") {
        EXPECT_EQ(r.graph.nodes[n.inputs[1].node].name, "data");
      }
    }
    Session s(std::move(r.graph), std::move(r.arg_params), std::move(r.aux_params), o);
    const std::vector<Buf> out = s.run(in);
    ASSERT_EQ(out[0].shape, ref[0].shape);
    double err = 0, norm = 0;
    for (size_t i = 0; i < out[0].v.size(); ++i) {
      err += std::pow(out[0].v[i] - ref[0].v[i], 2);
      norm += std::pow(ref[0].v[i], 2);
    }
    // R = 6 rounded nodes on the path (input cast, conv, nearest sum, bilinear, crop, output cast),
    // each adding u^2 / 3 of relative variance: NMSE ~ 6 u^2 / 3 = 4.8e-7 (float16) and 3.1e-5
    // (bfloat16); the limits allow a gain of 20 and 30 through the 3x3 convolution and the sums.
    EXPECT_LT(err / norm, t == DType::Float16 ? 1e-5 : 1e-3);
  }
}
