// The nn kernel family against straightforward references written here (naive loops in double),
// on small random inputs, plus a few cases worked out by hand. Kernels come from a local registry
// so that these tests do not depend on other kernel families.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mixprec/error.h"
#include "mixprec/half.h"
#include "kernel_test_util.h"
#include "runtime/kernel.h"
#include "runtime/kernels/nn_util.h"

using namespace mixprec;
using namespace mixprec::runtime;
using mixprec::testing::count;
using mixprec::testing::make_buf;
using mixprec::testing::make_node;
using mixprec::testing::random_buf;

namespace {

const KernelRegistry& registry() {
  static const KernelRegistry r = [] {
    KernelRegistry k;
    register_nn_kernels(k);
    return k;
  }();
  return r;
}

std::vector<Shape> shapes_of(const std::vector<Buf>& in) {
  std::vector<Shape> s;
  for (const Buf& b : in) s.push_back(b.shape);
  return s;
}

// Infers the output shapes and runs the kernel. Outputs start as NaN so that an unwritten value shows.
std::vector<Buf> run_op(const Node& n, const std::vector<Buf>& in) {
  const KernelDef* k = registry().find(n.op);
  if (!k) throw std::runtime_error("no kernel for " + n.op);
  const std::vector<Shape> os = k->infer_shape(n, shapes_of(in));
  std::vector<Buf> out(os.size());
  KernelArgs args{n, {}, {}};
  for (const Buf& b : in) args.in.push_back(&b);
  for (size_t i = 0; i < os.size(); ++i) {
    out[i].shape = os[i];
    out[i].v.assign(static_cast<size_t>(count(os[i])), std::numeric_limits<float>::quiet_NaN());
    args.out.push_back(&out[i]);
  }
  k->run(args);
  return out;
}

std::vector<Shape> infer(const Node& n, const std::vector<Shape>& in) { return registry().find(n.op)->infer_shape(n, in); }

// |got - ref| <= tol * max(1, |ref|) everywhere. The default 1e-5 is derived for the kernels that
// use it, with u = 2^-24 and the inputs of this file (random_buf: [-1, 1] unless given):
//  - BatchNorm: <= 8 roundings on |x s| + |mean s| + |beta| <= 6.3 + 6.3 + 1 (s = gamma / sqrt(var +
//    eps) <= 2 / sqrt(0.1)): 8 u 13.6 = 6.5e-6;
//  - softmax family over m <= 12 values spanning r <= 6: (m + 4 r + 6) u |y| <= 2.5e-6 |y|;
//  - activations (library float functions, <= 2 ulp, plus <= 4 operations): 6 u |y| = 3.6e-7 |y|;
//  - sum / average pooling windows of <= 9 values: 10 u sum|x| <= 5.4e-6 (global pooling: below);
//  - copies, max, relu, dropout: exact.
// Dot products (convolution, FullyConnected) are checked against gamma_K sum|terms| instead
// (expect_within_gamma) and the norms with kNormTol.
void expect_close(const Buf& got, const std::vector<double>& ref, double tol = 1e-5) {
  ASSERT_EQ(got.v.size(), ref.size());
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = got.v[i], r = ref[i];
    if (!(std::fabs(g - r) <= tol * std::max(1.0, std::fabs(r)))) {
      if (++bad <= 5) ADD_FAILURE() << "at " << i << ": got " << g << ", expected " << r;
    }
  }
  EXPECT_EQ(bad, 0);
}

// Hand-computed values: small integers and exact binary fractions, so float32 arithmetic on them
// is exact or within a few roundings of values <= 50: 1e-6 relative (2^-20) covers 16 roundings.
void expect_values(const Buf& got, const std::vector<float>& want, double tol = 1e-6) {
  std::vector<double> ref(want.begin(), want.end());
  expect_close(got, ref, tol);
}

// Every value replaced by its magnitude: a reference run on magnitudes gives sum|terms| per output.
Buf magnitudes(Buf b) {
  for (float& v : b.v) v = std::fabs(v);
  return b;
}

// A float32 K-term sum in any order (blocking, vector lanes, FMA) is within gamma_K S of the exact
// sum, S the sum of the terms' magnitudes (Higham, Accuracy and Stability, Thm 3.1):
// gamma_K = K u / (1 - K u), u = 2^-24. K counts the products and the bias.
void expect_within_gamma(const Buf& got, const std::vector<double>& ref, const std::vector<double>& S, int64_t K) {
  ASSERT_EQ(got.v.size(), ref.size());
  ASSERT_EQ(S.size(), ref.size());
  const double u = std::ldexp(1.0, -24), gamma = static_cast<double>(K) * u / (1 - static_cast<double>(K) * u);
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(std::fabs(got.v[i] - ref[i]) <= gamma * S[i]) && ++bad <= 5)
      ADD_FAILURE() << "at " << i << ": got " << got.v[i] << ", expected " << ref[i] << " within " << gamma * S[i];
  EXPECT_EQ(bad, 0);
}

// LayerNorm / InstanceNorm / GroupNorm over n <= 24 values: the mean takes n roundings, the variance
// 2n + 2, the normalisation and the affine step <= 6, on |x_hat| <= sqrt(n) (|gamma|, |beta| <= 1):
// (3n + 8) u sqrt(n) <= 2.4e-5 for n = 24.
constexpr double kNormTol = 2.5e-5;

// Expects a mixprec::Error naming the node and containing `text`.
template <class F>
void expect_error(F&& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "no error, expected one mentioning '" << text << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(e.place().find("my_"), std::string::npos) << msg;
    EXPECT_NE(msg.find(text), std::string::npos) << msg;
  }
}

std::string tuple2(int64_t a, int64_t b) {
  std::string s = "(";
  s += std::to_string(a);
  s += ", ";
  s += std::to_string(b);
  s += ")";
  return s;
}

// ---------------------------------------------------------------- convolution references

struct ConvCase {
  int64_t N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, G;
  bool bias;
};

std::vector<double> conv_ref(const ConvCase& c, const Buf& x, const Buf& w, const Buf* b, int64_t OH, int64_t OW) {
  const int64_t Cg = c.C / c.G, Fg = c.F / c.G;
  std::vector<double> out(static_cast<size_t>(c.N * c.F * OH * OW));
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t f = 0; f < c.F; ++f)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double s = b ? b->v[static_cast<size_t>(f)] : 0.0;
          const int64_t g = f / Fg;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ky = 0; ky < c.kh; ++ky)
              for (int64_t kx = 0; kx < c.kw; ++kx) {
                const int64_t iy = oy * c.sh - c.ph + ky * c.dh, ix = ox * c.sw - c.pw + kx * c.dw;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                const double xv = x.v[static_cast<size_t>(((n * c.C + g * Cg + ci) * c.H + iy) * c.W + ix)];
                const double wv = w.v[static_cast<size_t>(((f * Cg + ci) * c.kh + ky) * c.kw + kx)];
                s += xv * wv;
              }
          out[static_cast<size_t>(((n * c.F + f) * OH + oy) * OW + ox)] = s;
        }
  return out;
}

void check_conv(const ConvCase& c, uint32_t seed) {
  SCOPED_TRACE("conv C=" + std::to_string(c.C) + " F=" + std::to_string(c.F) + " k=" + tuple2(c.kh, c.kw) + " s=" + tuple2(c.sh, c.sw) +
               " p=" + tuple2(c.ph, c.pw) + " d=" + tuple2(c.dh, c.dw) + " G=" + std::to_string(c.G));
  AttrMap a{{"kernel", tuple2(c.kh, c.kw)}, {"num_filter", std::to_string(c.F)}};
  if (c.sh != 1 || c.sw != 1) a["stride"] = tuple2(c.sh, c.sw);
  if (c.ph != 0 || c.pw != 0) a["pad"] = tuple2(c.ph, c.pw);
  if (c.dh != 1 || c.dw != 1) a["dilate"] = tuple2(c.dh, c.dw);
  if (c.G != 1) a["num_group"] = std::to_string(c.G);
  if (!c.bias) a["no_bias"] = "True";
  const Node n = make_node("Convolution", a);
  std::vector<Buf> in = {random_buf({c.N, c.C, c.H, c.W}, seed), random_buf({c.F, c.C / c.G, c.kh, c.kw}, seed + 1)};
  if (c.bias) in.push_back(random_buf({c.F}, seed + 2));
  const auto out = run_op(n, in);
  const int64_t OH = (c.H + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  const int64_t OW = (c.W + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].shape, (Shape{c.N, c.F, OH, OW}));
  const Buf mb = c.bias ? magnitudes(in[2]) : Buf{};
  expect_within_gamma(out[0], conv_ref(c, in[0], in[1], c.bias ? &in[2] : nullptr, OH, OW),
                      conv_ref(c, magnitudes(in[0]), magnitudes(in[1]), c.bias ? &mb : nullptr, OH, OW),
                      c.C / c.G * c.kh * c.kw + (c.bias ? 1 : 0));
}

}  // namespace

// ---------------------------------------------------------------- registry

TEST(KernelNnRegistry, RegistersEveryOp) {
  for (const char* op : {"Convolution", "Deconvolution", "FullyConnected", "BatchNorm", "BatchNorm_v1", "_contrib_SyncBatchNorm",
                         "_contrib_BatchNormWithReLU", "LayerNorm", "InstanceNorm", "GroupNorm", "Activation", "LeakyReLU", "Pooling",
                         "softmax", "log_softmax", "softmin", "SoftmaxActivation", "SoftmaxOutput", "Dropout", "Embedding"})
    EXPECT_NE(registry().find(op), nullptr) << op;
}

// ---------------------------------------------------------------- Convolution

TEST(KernelNnConv, HandComputedOnesKernel) {
  // 3×3 image 1..9, 3×3 kernel of ones, pad 1: each output is the sum of its neighbourhood, plus bias 1.
  const Node n = make_node("Convolution", {{"kernel", "(3,3)"}, {"num_filter", "1"}, {"pad", "(1,1)"}});
  const auto out = run_op(n, {make_buf({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), make_buf({1, 1, 3, 3}, std::vector<float>(9, 1.0f)),
                              make_buf({1}, {1.0f})});
  ASSERT_EQ(out[0].shape, (Shape{1, 1, 3, 3}));
  expect_values(out[0], {13, 22, 17, 28, 46, 34, 25, 40, 29});
}

TEST(KernelNnConv, HandComputedDiagonalDifference) {
  // Kernel [[1, 0], [0, -1]] on 1..9: x[i][j] - x[i+1][j+1] = -4 everywhere; stride 2 keeps one output.
  const Node n = make_node("Convolution", {{"kernel", "(2, 2)"}, {"num_filter", "1"}, {"no_bias", "True"}});
  const Buf x = make_buf({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Buf w = make_buf({1, 1, 2, 2}, {1, 0, 0, -1});
  expect_values(run_op(n, {x, w})[0], {-4, -4, -4, -4});
  Node s = n;
  s.attrs["stride"] = "(2, 2)";
  const auto out = run_op(s, {x, w});
  ASSERT_EQ(out[0].shape, (Shape{1, 1, 1, 1}));
  expect_values(out[0], {-4});
}

TEST(KernelNnConv, MatchesReference) {
  const std::vector<ConvCase> cases = {
      {1, 3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},      // plain 3×3, pad 1
      {2, 3, 9, 8, 4, 3, 2, 2, 1, 1, 2, 1, 1, 1, true},      // batch 2, stride (2,1), pad (1,2), kernel (3,2)
      {1, 2, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, true},      // dilation 2
      {1, 4, 6, 7, 6, 3, 3, 1, 2, 0, 1, 1, 1, 2, true},      // 2 groups
      {1, 6, 5, 5, 9, 1, 1, 1, 1, 0, 0, 1, 1, 3, false},     // grouped 1×1, no bias
      {2, 5, 8, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5, true},      // depthwise, stride 2
      {1, 4, 7, 7, 8, 3, 3, 1, 1, 2, 2, 2, 2, 4, true},      // depthwise ×2 multiplier, dilated
      {1, 8, 6, 5, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},     // pointwise (direct GEMM on the image)
      {1, 8, 6, 5, 7, 1, 1, 2, 2, 0, 0, 1, 1, 1, false},     // 1×1 with stride: im2col path
      {1, 32, 21, 19, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},  // K = 288 > one depth block, N = 399 > one column block
      {1, 3, 5, 5, 2, 5, 5, 1, 1, 0, 0, 1, 1, 1, true},      // kernel as large as the image
      {1, 1, 4, 4, 3, 4, 4, 1, 1, 3, 3, 1, 1, 1, false},     // padding larger than half the kernel
  };
  uint32_t seed = 10;
  for (const auto& c : cases) check_conv(c, seed += 7);
}

TEST(KernelNnConv, OneDimensional) {
  const Node n = make_node("Convolution", {{"kernel", "(3,)"}, {"num_filter", "4"}, {"stride", "(2,)"}, {"pad", "(1,)"}, {"dilate", "(1,)"}});
  const Buf x = random_buf({2, 3, 11}, 1), w = random_buf({4, 3, 3}, 2), b = random_buf({4}, 3);
  const auto out = run_op(n, {x, w, b});
  ASSERT_EQ(out[0].shape, (Shape{2, 4, 6}));
  // The same thing as a 2-D convolution of height 1.
  const ConvCase c{2, 3, 1, 11, 4, 1, 3, 1, 2, 0, 1, 1, 1, 1, true};
  Buf x2 = x, w2 = w;
  x2.shape = {2, 3, 1, 11};
  w2.shape = {4, 3, 1, 3};
  const Buf mb = magnitudes(b);
  expect_within_gamma(out[0], conv_ref(c, x2, w2, &b, 1, 6), conv_ref(c, magnitudes(x2), magnitudes(w2), &mb, 1, 6), 3 * 3 + 1);
}

TEST(KernelNnConv, SameResultOnOneAndTwoThreads) {
  const Node n = make_node("Convolution", {{"kernel", "(3,3)"}, {"num_filter", "16"}, {"pad", "(1,1)"}});
  const std::vector<Buf> in = {random_buf({1, 16, 20, 20}, 5), random_buf({16, 16, 3, 3}, 6), random_buf({16}, 7)};
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = run_op(n, in);
  omp_set_num_threads(2);
  const auto two = run_op(n, in);
  const auto again = run_op(n, in);
  omp_set_num_threads(saved);
  EXPECT_EQ(one[0].v, two[0].v);
  EXPECT_EQ(two[0].v, again[0].v);
}

TEST(KernelNnConv, ShapeErrorsNameTheNode) {
  const Node n = make_node("Convolution", {{"kernel", "(3,3)"}, {"num_filter", "8"}, {"num_group", "2"}});
  expect_error([&] { infer(n, {{1, 4, 8, 8}, {8, 4, 3, 3}, {8}}); }, "weight (8, 4, 3, 3)");  // needs C/g = 2
  expect_error([&] { infer(n, {{1, 4, 8, 8}, {6, 2, 3, 3}, {8}}); }, "weight");               // F mismatch
  expect_error([&] { infer(n, {{1, 4, 8, 8}, {8, 2, 3, 3}, {7}}); }, "bias");
  expect_error([&] { infer(n, {{1, 4, 8, 8}, {8, 2, 3, 3}}); }, "inputs");                   // bias missing
  expect_error([&] { infer(n, {{1, 5, 8, 8}, {8, 2, 3, 3}, {8}}); }, "num_group");           // 5 channels, 2 groups
  expect_error([&] { infer(n, {{1, 4, 2, 2}, {8, 2, 3, 3}, {8}}); }, "larger than");         // kernel exceeds input
  expect_error([&] { infer(n, {{4, 8, 8}, {8, 2, 3, 3}, {8}}); }, "dimensions");
  const Node no_kernel = make_node("Convolution", {{"num_filter", "8"}});
  expect_error([&] { infer(no_kernel, {{1, 4, 8, 8}, {8, 4, 3, 3}, {8}}); }, "kernel");
  const Node bad_attr = make_node("Convolution", {{"kernel", "(3,x)"}, {"num_filter", "8"}});
  expect_error([&] { infer(bad_attr, {{1, 4, 8, 8}, {8, 4, 3, 3}, {8}}); }, "kernel");
  const Node nhwc = make_node("Convolution", {{"kernel", "(3,3)"}, {"num_filter", "8"}, {"layout", "NHWC"}});
  expect_error([&] { infer(nhwc, {{1, 8, 8, 4}, {8, 3, 3, 4}, {8}}); }, "layout");
}

// ---------------------------------------------------------------- Deconvolution

namespace {

struct DeconvCase {
  int64_t N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, ah, aw, G;
  bool bias;
};

void check_deconv(const DeconvCase& c, uint32_t seed) {
  SCOPED_TRACE("deconv C=" + std::to_string(c.C) + " F=" + std::to_string(c.F) + " k=" + tuple2(c.kh, c.kw) + " s=" + tuple2(c.sh, c.sw) +
               " p=" + tuple2(c.ph, c.pw) + " adj=" + tuple2(c.ah, c.aw) + " G=" + std::to_string(c.G));
  AttrMap a{{"kernel", tuple2(c.kh, c.kw)}, {"num_filter", std::to_string(c.F)}, {"stride", tuple2(c.sh, c.sw)},
            {"pad", tuple2(c.ph, c.pw)},    {"dilate", tuple2(c.dh, c.dw)},       {"adj", tuple2(c.ah, c.aw)},
            {"num_group", std::to_string(c.G)}};
  if (c.bias) a["no_bias"] = "False";  // Deconvolution's default is no bias
  const Node n = make_node("Deconvolution", a);
  const int64_t Cg = c.C / c.G, Fg = c.F / c.G;
  std::vector<Buf> in = {random_buf({c.N, c.C, c.H, c.W}, seed), random_buf({c.C, Fg, c.kh, c.kw}, seed + 1)};
  if (c.bias) in.push_back(random_buf({c.F}, seed + 2));
  const auto out = run_op(n, in);
  const int64_t OH = c.sh * (c.H - 1) + c.dh * (c.kh - 1) + 1 - 2 * c.ph + c.ah;
  const int64_t OW = c.sw * (c.W - 1) + c.dw * (c.kw - 1) + 1 - 2 * c.pw + c.aw;
  ASSERT_EQ(out[0].shape, (Shape{c.N, c.F, OH, OW}));
  // Reference: scatter every input value through the kernel; S sums the terms' magnitudes.
  std::vector<double> ref(static_cast<size_t>(c.N * c.F * OH * OW), 0.0), S(ref.size(), 0.0);
  for (int64_t n0 = 0; n0 < c.N; ++n0)
    for (int64_t f = 0; f < c.F; ++f)
      for (size_t i = 0; i < static_cast<size_t>(OH * OW); ++i) {
        ref[static_cast<size_t>((n0 * c.F + f) * OH * OW) + i] = c.bias ? in[2].v[static_cast<size_t>(f)] : 0.0;
        S[static_cast<size_t>((n0 * c.F + f) * OH * OW) + i] = c.bias ? std::fabs(in[2].v[static_cast<size_t>(f)]) : 0.0;
      }
  for (int64_t n0 = 0; n0 < c.N; ++n0)
    for (int64_t ci = 0; ci < c.C; ++ci)
      for (int64_t iy = 0; iy < c.H; ++iy)
        for (int64_t ix = 0; ix < c.W; ++ix) {
          const double xv = in[0].v[static_cast<size_t>(((n0 * c.C + ci) * c.H + iy) * c.W + ix)];
          const int64_t g = ci / Cg;
          for (int64_t fo = 0; fo < Fg; ++fo)
            for (int64_t ky = 0; ky < c.kh; ++ky)
              for (int64_t kx = 0; kx < c.kw; ++kx) {
                const int64_t oy = iy * c.sh - c.ph + ky * c.dh, ox = ix * c.sw - c.pw + kx * c.dw;
                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                const double wv = in[1].v[static_cast<size_t>(((ci * Fg + fo) * c.kh + ky) * c.kw + kx)];
                ref[static_cast<size_t>(((n0 * c.F + g * Fg + fo) * OH + oy) * OW + ox)] += xv * wv;
                S[static_cast<size_t>(((n0 * c.F + g * Fg + fo) * OH + oy) * OW + ox)] += std::fabs(xv * wv);
              }
        }
  // At most Cg kh kw products reach an output, plus the bias.
  expect_within_gamma(out[0], ref, S, Cg * c.kh * c.kw + (c.bias ? 1 : 0));
}

}  // namespace

TEST(KernelNnDeconv, HandComputed) {
  // One input value 2 through a 2×2 kernel [[1,2],[3,4]]: the kernel scaled by 2.
  const Node n = make_node("Deconvolution", {{"kernel", "(2,2)"}, {"num_filter", "1"}});
  const auto out = run_op(n, {make_buf({1, 1, 1, 1}, {2}), make_buf({1, 1, 2, 2}, {1, 2, 3, 4})});
  ASSERT_EQ(out[0].shape, (Shape{1, 1, 2, 2}));
  expect_values(out[0], {2, 4, 6, 8});
  // Two inputs [1, 10] with stride 2 and kernel (1, 3) [1, 1, 1] overlap in one column: 1 1 11 10 10.
  const Node s = make_node("Deconvolution", {{"kernel", "(1,3)"}, {"num_filter", "1"}, {"stride", "(1,2)"}});
  expect_values(run_op(s, {make_buf({1, 1, 1, 2}, {1, 10}), make_buf({1, 1, 1, 3}, {1, 1, 1})})[0], {1, 1, 11, 10, 10});
}

TEST(KernelNnDeconv, MatchesReference) {
  const std::vector<DeconvCase> cases = {
      {1, 3, 4, 5, 2, 3, 3, 1, 1, 0, 0, 1, 1, 0, 0, 1, false},
      {2, 4, 5, 4, 6, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 1, true},  // the usual ×2 upsampling
      {1, 4, 3, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, true},  // adj, 2 groups
      {1, 2, 4, 3, 3, 3, 2, 1, 2, 2, 0, 2, 1, 0, 1, 1, true},  // dilation, asymmetric everything
      {1, 6, 3, 3, 6, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 6, false}, // depthwise
  };
  uint32_t seed = 40;
  for (const auto& c : cases) check_deconv(c, seed += 5);
}

TEST(KernelNnDeconv, TargetShapeSetsPadAndAdj) {
  const Node n = make_node("Deconvolution", {{"kernel", "(4,4)"}, {"num_filter", "2"}, {"stride", "(2,2)"}, {"target_shape", "(9, 10)"}});
  const auto s = infer(n, {{1, 3, 5, 5}, {3, 2, 4, 4}});
  EXPECT_EQ(s[0], (Shape{1, 2, 9, 10}));
  // 9: total pad 12 - 9 = 3 -> pad 2, adj 1; 10: total 2 -> pad 1, adj 0. Same result spelled out:
  const Node spelled = make_node("Deconvolution", {{"kernel", "(4,4)"}, {"num_filter", "2"}, {"stride", "(2,2)"}, {"pad", "(2,1)"}, {"adj", "(1,0)"}});
  const std::vector<Buf> in = {random_buf({1, 3, 5, 5}, 3), random_buf({3, 2, 4, 4}, 4)};
  EXPECT_EQ(run_op(n, in)[0].v, run_op(spelled, in)[0].v);
  const Node too_big = make_node("Deconvolution", {{"kernel", "(4,4)"}, {"num_filter", "2"}, {"stride", "(2,2)"}, {"target_shape", "(20, 20)"}});
  expect_error([&] { infer(too_big, {{1, 3, 5, 5}, {3, 2, 4, 4}}); }, "target_shape");
  expect_error([&] { infer(n, {{1, 3, 5, 5}, {2, 3, 4, 4}}); }, "weight");
  const Node big_adj = make_node("Deconvolution", {{"kernel", "(3,3)"}, {"num_filter", "2"}, {"stride", "(2,2)"}, {"adj", "(2,0)"}});
  expect_error([&] { infer(big_adj, {{1, 3, 5, 5}, {3, 2, 3, 3}}); }, "adj");
}

// ---------------------------------------------------------------- FullyConnected

namespace {

std::vector<double> fc_ref(const Buf& x, const Buf& w, const Buf* b, int64_t rows, int64_t K, int64_t H) {
  std::vector<double> out(static_cast<size_t>(rows * H));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < H; ++h) {
      double s = b ? b->v[static_cast<size_t>(h)] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(x.v[static_cast<size_t>(r * K + k)]) * w.v[static_cast<size_t>(h * K + k)];
      out[static_cast<size_t>(r * H + h)] = s;
    }
  return out;
}

}  // namespace

TEST(KernelNnFullyConnected, HandComputed) {
  const Node n = make_node("FullyConnected", {{"num_hidden", "3"}});
  const auto out = run_op(n, {make_buf({1, 2}, {1, 2}), make_buf({3, 2}, {1, 1, 1, -1, 2, 0}), make_buf({3}, {0, 1, 2})});
  ASSERT_EQ(out[0].shape, (Shape{1, 3}));
  expect_values(out[0], {3, 0, 4});
}

TEST(KernelNnFullyConnected, FlattenAndVariants) {
  struct Case {
    Shape data;
    int64_t H;
    bool flatten, bias;
    Shape out;
  };
  const std::vector<Case> cases = {
      {{3, 4, 5}, 7, true, true, {3, 7}},          // flatten: K = 20
      {{2, 3, 5}, 6, false, true, {2, 3, 6}},      // flatten false: K = 5 over 6 rows
      {{1, 37}, 13, true, false, {1, 13}},         // batch 1: GEMV, K not a multiple of the vector width
      {{1, 300}, 70, true, true, {1, 70}},         // GEMV, rows not a multiple of 4
      {{9, 300}, 50, true, true, {9, 50}},         // GEMM, K over one depth block
      {{2, 1, 1, 8}, 5, false, false, {2, 1, 1, 5}},
      {{130, 16}, 200, true, true, {130, 200}},    // several column chunks and row blocks
  };
  uint32_t seed = 70;
  for (const auto& c : cases) {
    SCOPED_TRACE("FC data " + nn::shape_str(c.data));
    AttrMap a{{"num_hidden", std::to_string(c.H)}, {"flatten", c.flatten ? "True" : "False"}};
    if (!c.bias) a["no_bias"] = "True";
    const Node n = make_node("FullyConnected", a);
    const int64_t K = c.flatten ? count(c.data) / c.data[0] : c.data.back();
    std::vector<Buf> in = {random_buf(c.data, seed), random_buf({c.H, K}, seed + 1)};
    if (c.bias) in.push_back(random_buf({c.H}, seed + 2));
    seed += 3;
    const auto out = run_op(n, in);
    ASSERT_EQ(out[0].shape, c.out);
    const Buf mb = c.bias ? magnitudes(in[2]) : Buf{};
    expect_within_gamma(out[0], fc_ref(in[0], in[1], c.bias ? &in[2] : nullptr, count(c.data) / K, K, c.H),
                        fc_ref(magnitudes(in[0]), magnitudes(in[1]), c.bias ? &mb : nullptr, count(c.data) / K, K, c.H), K + (c.bias ? 1 : 0));
  }
}

TEST(KernelNnFullyConnected, HalfAndBfloat16Weights) {
  // The session keeps 16-bit FullyConnected weights as bits (Buf::lp); the kernel widens them.
  for (const DType t : {DType::Float16, DType::BFloat16}) {
    for (const int64_t rows : {1, 6}) {
      SCOPED_TRACE(std::string(t == DType::Float16 ? "float16" : "bfloat16") + " rows " + std::to_string(rows));
      const int64_t K = 45, H = 30;
      const Buf x = random_buf({rows, K}, 81), wf = random_buf({H, K}, 82), b = random_buf({H}, 83);
      Buf w;
      w.shape = {H, K};
      w.storage = t;
      w.lp.resize(wf.v.size());
      Buf widened = wf;
      if (t == DType::Float16) {
        floats_to_halves(wf.v.data(), w.lp.data(), wf.v.size());
        halves_to_floats(w.lp.data(), widened.v.data(), wf.v.size());
      } else {
        floats_to_bfloat16s(wf.v.data(), w.lp.data(), wf.v.size());
        bfloat16s_to_floats(w.lp.data(), widened.v.data(), wf.v.size());
      }
      const auto out = run_op(make_node("FullyConnected", {{"num_hidden", std::to_string(H)}}), {x, w, b});
      const Buf mb = magnitudes(b);
      expect_within_gamma(out[0], fc_ref(x, widened, &b, rows, K, H), fc_ref(magnitudes(x), magnitudes(widened), &mb, rows, K, H), K + 1);
    }
  }
}

TEST(KernelNnFullyConnected, ShapeErrors) {
  const Node n = make_node("FullyConnected", {{"num_hidden", "4"}});
  expect_error([&] { infer(n, {{2, 3, 5}, {4, 5}, {4}}); }, "weight");  // flatten: K = 15
  expect_error([&] { infer(n, {{2, 15}, {4, 15}, {3}}); }, "bias");
  expect_error([&] { infer(n, {{2, 15}, {4, 15}}); }, "inputs");
  expect_error([&] { infer(make_node("FullyConnected", {}), {{2, 15}, {4, 15}, {4}}); }, "num_hidden");
}

// ---------------------------------------------------------------- BatchNorm

namespace {

// (x - mean) / sqrt(var + eps) * gamma + beta along `axis`.
std::vector<double> bn_ref(const std::vector<Buf>& in, size_t axis, double eps, bool fix_gamma) {
  const Shape& s = in[0].shape;
  int64_t inner = 1;
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t C = s[axis];
  std::vector<double> out(in[0].v.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<size_t>(static_cast<int64_t>(i) / inner % C);
    const double g = fix_gamma ? 1.0 : in[1].v[c];
    out[i] = (in[0].v[i] - double(in[3].v[c])) / std::sqrt(double(in[4].v[c]) + eps) * g + in[2].v[c];
  }
  return out;
}

std::vector<Buf> bn_inputs(const Shape& data, int64_t C, uint32_t seed) {
  return {random_buf(data, seed), random_buf({C}, seed + 1, 0.5f, 2.0f), random_buf({C}, seed + 2), random_buf({C}, seed + 3),
          random_buf({C}, seed + 4, 0.1f, 2.0f)};
}

}  // namespace

TEST(KernelNnBatchNorm, HandComputed) {
  // (1 - 0) / sqrt(3 + 1) * 2 + 0.5 = 1.5
  const Node n = make_node("BatchNorm", {{"eps", "1"}, {"fix_gamma", "False"}}, 3);
  const auto out = run_op(n, {make_buf({1, 1}, {1}), make_buf({1}, {2}), make_buf({1}, {0.5f}), make_buf({1}, {0}), make_buf({1}, {3})});
  expect_values(out[0], {1.5f});
  // fix_gamma (the default) ignores gamma: 0.5 + 0.5.
  const Node fixed = make_node("BatchNorm", {{"eps", "1"}}, 3);
  expect_values(run_op(fixed, {make_buf({1, 1}, {1}), make_buf({1}, {2}), make_buf({1}, {0.5f}), make_buf({1}, {0}), make_buf({1}, {3})})[0],
                {1.0f});
}

TEST(KernelNnBatchNorm, FixGammaDefaultAndHiddenOutputs) {
  const auto in = bn_inputs({2, 3, 4, 5}, 3, 100);
  const auto out = run_op(make_node("BatchNorm", {}, 3), in);  // defaults: eps 1e-3, fix_gamma True, axis 1
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].shape, (Shape{3}));
  EXPECT_EQ(out[2].shape, (Shape{3}));
  expect_close(out[0], bn_ref(in, 1, 1e-3, true));
  // Hidden outputs: the moving mean and the inverse std.
  expect_values(out[1], in[3].v);
  std::vector<double> invstd;
  for (float v : in[4].v) invstd.push_back(1.0 / std::sqrt(double(v) + 1e-3));
  expect_close(out[2], invstd);
}

TEST(KernelNnBatchNorm, VariantsMatchReference) {
  const auto in = bn_inputs({2, 3, 4, 5}, 3, 200);
  expect_close(run_op(make_node("BatchNorm", {{"fix_gamma", "False"}, {"eps", "1e-5"}}, 3), in)[0], bn_ref(in, 1, 1e-5, false));
  expect_close(run_op(make_node("BatchNorm_v1", {{"fix_gamma", "False"}}, 3), in)[0], bn_ref(in, 1, 1e-3, false));
  expect_close(run_op(make_node("_contrib_SyncBatchNorm", {}, 3), in)[0], bn_ref(in, 1, 1e-3, true));
  // Channels last (axis -1) on 3-D data.
  const auto last = bn_inputs({2, 5, 4}, 4, 300);
  expect_close(run_op(make_node("BatchNorm", {{"axis", "-1"}, {"fix_gamma", "False"}}, 3), last)[0], bn_ref(last, 2, 1e-3, false));
  // BatchNormWithReLU clamps at zero.
  auto ref = bn_ref(in, 1, 1e-3, false);
  for (double& v : ref) v = std::max(v, 0.0);
  expect_close(run_op(make_node("_contrib_BatchNormWithReLU", {{"fix_gamma", "False"}}, 3), in)[0], ref);
}

TEST(KernelNnBatchNorm, ShapeErrors) {
  const Node n = make_node("BatchNorm", {}, 3);
  expect_error([&] { infer(n, {{2, 3, 4, 4}, {4}, {3}, {3}, {3}}); }, "gamma");
  expect_error([&] { infer(n, {{2, 3, 4, 4}, {3}, {3}, {3}, {2}}); }, "moving_var");
  expect_error([&] { infer(n, {{2, 3, 4, 4}, {3}, {3}}); }, "inputs");
  expect_error([&] { infer(make_node("BatchNorm", {{"axis", "4"}}, 3), {{2, 3, 4, 4}, {3}, {3}, {3}, {3}}); }, "axis");
}

// ---------------------------------------------------------------- LayerNorm, InstanceNorm, GroupNorm

namespace {

// Normalises groups of elements: `key(i)` names the group of element i; gamma/beta index `param(i)`.
template <class Key, class Param>
std::vector<double> norm_ref(const Buf& x, const Buf& g, const Buf& b, double eps, int64_t groups, Key key, Param param,
                             std::vector<double>* mean_out = nullptr, std::vector<double>* var_out = nullptr) {
  std::vector<double> sum(static_cast<size_t>(groups)), sq(static_cast<size_t>(groups)), cnt(static_cast<size_t>(groups));
  for (size_t i = 0; i < x.v.size(); ++i) sum[key(i)] += x.v[i], cnt[key(i)] += 1;
  for (size_t k = 0; k < sum.size(); ++k) sum[k] /= cnt[k];
  for (size_t i = 0; i < x.v.size(); ++i) sq[key(i)] += (x.v[i] - sum[key(i)]) * (x.v[i] - sum[key(i)]);
  for (size_t k = 0; k < sq.size(); ++k) sq[k] /= cnt[k];
  std::vector<double> out(x.v.size());
  for (size_t i = 0; i < x.v.size(); ++i)
    out[i] = (x.v[i] - sum[key(i)]) / std::sqrt(sq[key(i)] + eps) * g.v[param(i)] + b.v[param(i)];
  if (mean_out) *mean_out = sum;
  if (var_out) *var_out = sq;
  return out;
}

}  // namespace

TEST(KernelNnLayerNorm, LastAxisAndMiddleAxis) {
  const Buf x = random_buf({2, 3, 8}, 1), g8 = random_buf({8}, 2), b8 = random_buf({8}, 3);
  const auto out = run_op(make_node("LayerNorm", {}, 3), {x, g8, b8});  // axis -1, eps 1e-5
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].shape, (Shape{2, 3, 1}));
  EXPECT_EQ(out[2].shape, (Shape{2, 3, 1}));
  std::vector<double> mean, var;
  expect_close(out[0], norm_ref(x, g8, b8, 1e-5, 6, [](size_t i) { return i / 8; }, [](size_t i) { return i % 8; }, &mean, &var), kNormTol);
  expect_close(out[1], mean, kNormTol);
  for (double& v : var) v = std::sqrt(v + 1e-5);
  expect_close(out[2], var, kNormTol);  // the third output is the std

  const Buf g3 = random_buf({3}, 4), b3 = random_buf({3}, 5);
  const auto mid = run_op(make_node("LayerNorm", {{"axis", "1"}, {"eps", "1e-3"}}, 3), {x, g3, b3});
  EXPECT_EQ(mid[1].shape, (Shape{2, 1, 8}));
  expect_close(mid[0], norm_ref(x, g3, b3, 1e-3, 16, [](size_t i) { return i / 24 * 8 + i % 8; }, [](size_t i) { return i / 8 % 3; }), kNormTol);
  expect_error([&] { infer(make_node("LayerNorm", {}, 3), {{2, 3, 8}, {3}, {3}}); }, "gamma");
}

TEST(KernelNnInstanceNorm, MatchesReference) {
  const Buf x = random_buf({2, 3, 4, 5}, 7), g = random_buf({3}, 8), b = random_buf({3}, 9);
  const auto out = run_op(make_node("InstanceNorm", {}, 3), {x, g, b});  // eps 1e-3
  EXPECT_EQ(out[1].shape, (Shape{2, 3}));
  std::vector<double> mean, var;
  expect_close(out[0], norm_ref(x, g, b, 1e-3, 6, [](size_t i) { return i / 20; }, [](size_t i) { return i / 20 % 3; }, &mean, &var), kNormTol);
  expect_close(out[1], mean, kNormTol);
  expect_close(out[2], var, kNormTol);
}

TEST(KernelNnGroupNorm, PerChannelAndPerGroupGamma) {
  const Buf x = random_buf({2, 6, 3, 3}, 11), g6 = random_buf({6}, 12), b6 = random_buf({6}, 13);
  const Node n = make_node("GroupNorm", {{"num_groups", "3"}}, 3);  // eps 1e-5
  const auto out = run_op(n, {x, g6, b6});
  EXPECT_EQ(out[1].shape, (Shape{2, 3}));
  expect_close(out[0], norm_ref(x, g6, b6, 1e-5, 6, [](size_t i) { return i / 18; }, [](size_t i) { return i / 9 % 6; }), kNormTol);
  const Buf g3 = random_buf({3}, 14), b3 = random_buf({3}, 15);
  expect_close(run_op(n, {x, g3, b3})[0], norm_ref(x, g3, b3, 1e-5, 6, [](size_t i) { return i / 18; }, [](size_t i) { return i / 18 % 3; }), kNormTol);
  expect_error([&] { infer(make_node("GroupNorm", {{"num_groups", "4"}}, 3), {{2, 6, 3, 3}, {6}, {6}}); }, "groups");
}

// ---------------------------------------------------------------- Pooling

namespace {

struct PoolCase {
  std::string type;
  int64_t H, W, kh, kw, sh, sw, ph, pw;
  bool full, include_pad;
};

void check_pool(const PoolCase& c, uint32_t seed) {
  SCOPED_TRACE(c.type + " k=" + tuple2(c.kh, c.kw) + " s=" + tuple2(c.sh, c.sw) + " p=" + tuple2(c.ph, c.pw) + (c.full ? " full" : " valid") +
               (c.include_pad ? "" : " exclude-pad"));
  AttrMap a{{"kernel", tuple2(c.kh, c.kw)}, {"pool_type", c.type}, {"stride", tuple2(c.sh, c.sw)}, {"pad", tuple2(c.ph, c.pw)}};
  if (c.full) a["pooling_convention"] = "full";
  if (!c.include_pad) a["count_include_pad"] = "False";
  const Buf x = random_buf({2, 3, c.H, c.W}, seed);
  const auto out = run_op(make_node("Pooling", a), {x});
  auto size = [&](int64_t in, int64_t k, int64_t s, int64_t p) {
    const double span = double(in + 2 * p - k) / double(s);
    return 1 + static_cast<int64_t>(c.full ? std::ceil(span) : std::floor(span));
  };
  const int64_t OH = size(c.H, c.kh, c.sh, c.ph), OW = size(c.W, c.kw, c.sw, c.pw);
  ASSERT_EQ(out[0].shape, (Shape{2, 3, OH, OW}));
  std::vector<double> ref;
  for (int64_t pl = 0; pl < 6; ++pl)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        double mx = -1e300, sum = 0;
        int64_t real = 0, padded = 0;
        for (int64_t ky = 0; ky < c.kh; ++ky)
          for (int64_t kx = 0; kx < c.kw; ++kx) {
            const int64_t iy = oy * c.sh - c.ph + ky, ix = ox * c.sw - c.pw + kx;
            // Window cells beyond the padded border do not count at all.
            if (iy >= c.H + c.ph || ix >= c.W + c.pw) continue;
            ++padded;
            if (iy < 0 || ix < 0 || iy >= c.H || ix >= c.W) continue;
            ++real;
            const double v = x.v[static_cast<size_t>((pl * c.H + iy) * c.W + ix)];
            mx = std::max(mx, v);
            sum += v;
          }
        if (c.type == "max") ref.push_back(mx);
        if (c.type == "sum") ref.push_back(sum);
        if (c.type == "avg") ref.push_back(sum / double(c.include_pad ? padded : real));
      }
  expect_close(out[0], ref);
}

}  // namespace

TEST(KernelNnPooling, HandComputed) {
  Buf x = make_buf({1, 1, 4, 4}, {});
  for (int i = 0; i < 16; ++i) x.v.push_back(float(i));
  expect_values(run_op(make_node("Pooling", {{"kernel", "(2,2)"}, {"stride", "(2,2)"}}), {x})[0], {5, 7, 13, 15});  // max by default
  expect_values(run_op(make_node("Pooling", {{"kernel", "(2,2)"}, {"stride", "(2,2)"}, {"pool_type", "avg"}}), {x})[0], {2.5, 4.5, 10.5, 12.5});
  // Corner of a 3×3 pad-1 window: 0 + 1 + 4 + 5 = 10, over 9 cells (padding counted) or 4.
  const AttrMap corner{{"kernel", "(3,3)"}, {"pad", "(1,1)"}, {"pool_type", "avg"}};
  EXPECT_FLOAT_EQ(run_op(make_node("Pooling", corner), {x})[0].v[0], 10.0f / 9.0f);
  AttrMap excl = corner;
  excl["count_include_pad"] = "False";
  EXPECT_FLOAT_EQ(run_op(make_node("Pooling", excl), {x})[0].v[0], 2.5f);
  const auto g = run_op(make_node("Pooling", {{"global_pool", "True"}, {"pool_type", "avg"}, {"kernel", "(1,1)"}}), {x});
  ASSERT_EQ(g[0].shape, (Shape{1, 1, 1, 1}));
  expect_values(g[0], {7.5});
}

TEST(KernelNnPooling, MatchesReference) {
  const std::vector<PoolCase> cases = {
      {"max", 9, 9, 3, 3, 2, 2, 1, 1, false, true},  // ResNet stem
      {"max", 5, 5, 2, 2, 2, 2, 0, 0, true, true},   // full: 3×3 output, last window half outside
      {"max", 7, 6, 3, 2, 2, 1, 1, 0, true, true},
      {"avg", 8, 7, 3, 3, 2, 2, 1, 1, false, true},
      {"avg", 8, 7, 3, 3, 2, 2, 1, 1, false, false},
      {"avg", 6, 6, 3, 3, 2, 2, 0, 0, true, true},   // full: windows past the border are clipped from the count
      {"avg", 6, 7, 3, 3, 2, 2, 1, 1, true, false},
      {"sum", 5, 6, 2, 3, 1, 2, 1, 1, false, true},
      {"sum", 5, 5, 3, 3, 2, 2, 1, 1, true, true},
  };
  uint32_t seed = 500;
  for (const auto& c : cases) check_pool(c, ++seed);
}

TEST(KernelNnPooling, GlobalAndOneDimensional) {
  const Buf x = random_buf({2, 3, 5, 4}, 31);
  for (const char* type : {"max", "avg", "sum"}) {
    // Global pooling ignores kernel, stride and pad.
    const auto out = run_op(make_node("Pooling", {{"global_pool", "True"}, {"pool_type", type}, {"kernel", "(3,3)"}, {"pad", "(1,1)"}}), {x});
    ASSERT_EQ(out[0].shape, (Shape{2, 3, 1, 1}));
    std::vector<double> ref;
    for (int64_t pl = 0; pl < 6; ++pl) {
      double mx = -1e300, s = 0;
      for (int64_t i = 0; i < 20; ++i) mx = std::max<double>(mx, x.v[static_cast<size_t>(pl * 20 + i)]), s += x.v[static_cast<size_t>(pl * 20 + i)];
      ref.push_back(std::string(type) == "max" ? mx : std::string(type) == "avg" ? s / 20 : s);
    }
    expect_close(out[0], ref, 3e-5);  // a 20-term sum of |x| <= 1: gamma_21 * 20 = 2.5e-5
  }
  // 1-D: (N, C, W) with kernel (3,), stride 2, pad 1: window sums / 3.
  const Buf y = make_buf({1, 1, 5}, {1, 2, 3, 4, 5});
  const auto out = run_op(make_node("Pooling", {{"kernel", "(3,)"}, {"stride", "(2,)"}, {"pad", "(1,)"}, {"pool_type", "avg"}}), {y});
  ASSERT_EQ(out[0].shape, (Shape{1, 1, 3}));
  expect_values(out[0], {1.0f, 3.0f, 3.0f});
  expect_error([&] { infer(make_node("Pooling", {{"kernel", "(3,3)"}}), {{1, 1, 2, 2}}); }, "exceeds");
  expect_error([&] { infer(make_node("Pooling", {}), {{1, 1, 4, 4}}); }, "kernel");
  expect_error([&] { infer(make_node("Pooling", {{"kernel", "(2,2)"}, {"pool_type", "median"}}), {{1, 1, 4, 4}}); }, "pool_type");
}

// ---------------------------------------------------------------- Activation, LeakyReLU, Dropout

namespace {

template <class F>
std::vector<double> map_ref(const Buf& x, F f) {
  std::vector<double> r;
  for (float v : x.v) r.push_back(f(double(v)));
  return r;
}

}  // namespace

TEST(KernelNnActivation, EveryType) {
  const Buf x = random_buf({3, 4, 5}, 41, -6.0f, 6.0f);
  auto act = [&](const char* t) { return run_op(make_node("Activation", {{"act_type", t}}), {x})[0]; };
  expect_close(act("relu"), map_ref(x, [](double v) { return v > 0 ? v : 0; }));
  expect_close(act("sigmoid"), map_ref(x, [](double v) { return 1 / (1 + std::exp(-v)); }));
  expect_close(act("tanh"), map_ref(x, [](double v) { return std::tanh(v); }));
  expect_close(act("softrelu"), map_ref(x, [](double v) { return std::log(1 + std::exp(v)); }));
  expect_close(act("softsign"), map_ref(x, [](double v) { return v / (1 + std::fabs(v)); }));
  expect_values(run_op(make_node("Activation", {{"act_type", "relu"}}), {make_buf({3}, {-1, 0, 2})})[0], {0, 0, 2});
  expect_error([&] { infer(make_node("Activation", {}), {{3}}); }, "act_type");
  expect_error([&] { infer(make_node("Activation", {{"act_type", "swish"}}), {{3}}); }, "swish");
}

TEST(KernelNnLeakyReLU, EveryType) {
  const Buf x = random_buf({2, 3, 4}, 43, -4.0f, 4.0f);
  auto leaky = [&](AttrMap a) { return run_op(make_node("LeakyReLU", a), {x})[0]; };
  expect_close(leaky({}), map_ref(x, [](double v) { return v > 0 ? v : 0.25 * v; }));  // act_type leaky, slope 0.25
  expect_close(leaky({{"act_type", "leaky"}, {"slope", "0.1"}}), map_ref(x, [](double v) { return v > 0 ? v : 0.1 * v; }));
  expect_close(leaky({{"act_type", "elu"}, {"slope", "0.7"}}), map_ref(x, [](double v) { return v > 0 ? v : 0.7 * (std::exp(v) - 1); }));
  expect_close(leaky({{"act_type", "elu"}}), map_ref(x, [](double v) { return v > 0 ? v : 0.25 * (std::exp(v) - 1); }));
  const double la = 1.0507009873554804934, al = 1.6732632423543772848;
  expect_close(leaky({{"act_type", "selu"}}), map_ref(x, [&](double v) { return la * (v > 0 ? v : al * (std::exp(v) - 1)); }));
  expect_close(leaky({{"act_type", "gelu"}}), map_ref(x, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }));
  expect_close(leaky({{"act_type", "rrelu"}}), map_ref(x, [](double v) { return v > 0 ? v : (0.125 + 0.334) / 2 * v; }));
  // prelu: a slope per channel (axis 1), or one for all.
  const Buf g = make_buf({3}, {0.1f, -0.5f, 2.0f});
  const auto pc = run_op(make_node("LeakyReLU", {{"act_type", "prelu"}}), {x, g})[0];
  std::vector<double> ref;
  for (size_t i = 0; i < x.v.size(); ++i) ref.push_back(x.v[i] > 0 ? x.v[i] : double(g.v[i / 4 % 3]) * x.v[i]);
  expect_close(pc, ref);
  expect_close(run_op(make_node("LeakyReLU", {{"act_type", "prelu"}}), {x, make_buf({1}, {0.3f})})[0],
               map_ref(x, [](double v) { return v > 0 ? v : double(0.3f) * v; }));
  expect_error([&] { infer(make_node("LeakyReLU", {{"act_type", "prelu"}}), {{2, 3, 4}, {4}}); }, "gamma");
}

TEST(KernelNnDropout, IdentityWithMaskOfOnes) {
  const Buf x = random_buf({2, 5}, 47);
  const auto out = run_op(make_node("Dropout", {{"p", "0.5"}}, 2), {x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].v, x.v);
  EXPECT_EQ(out[1].shape, x.shape);
  EXPECT_EQ(out[1].v, std::vector<float>(10, 1.0f));
}

// ---------------------------------------------------------------- softmax family

namespace {

// Softmax of x / t along `axis`; log form when asked.
std::vector<double> softmax_ref(const Buf& x, size_t axis, double t = 1.0, bool log = false) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= x.shape[i];
  for (size_t i = axis + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
  const int64_t M = x.shape[axis];
  std::vector<double> out(x.v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      auto at = [&](int64_t j) { return static_cast<size_t>((o * M + j) * inner + in); };
      double mx = -1e300, s = 0;
      for (int64_t j = 0; j < M; ++j) mx = std::max<double>(mx, x.v[at(j)] / t);
      for (int64_t j = 0; j < M; ++j) s += std::exp(x.v[at(j)] / t - mx);
      for (int64_t j = 0; j < M; ++j) out[at(j)] = log ? x.v[at(j)] / t - mx - std::log(s) : std::exp(x.v[at(j)] / t - mx) / s;
    }
  return out;
}

}  // namespace

TEST(KernelNnSoftmax, AxesTemperatureAndLog) {
  expect_values(run_op(make_node("softmax", {}), {make_buf({2}, {0.0f, std::log(3.0f)})})[0], {0.25f, 0.75f});
  const Buf x = random_buf({2, 3, 4}, 51, -3.0f, 3.0f);
  expect_close(run_op(make_node("softmax", {}), {x})[0], softmax_ref(x, 2));  // axis -1
  expect_close(run_op(make_node("softmax", {{"axis", "1"}}), {x})[0], softmax_ref(x, 1));
  expect_close(run_op(make_node("softmax", {{"axis", "0"}}), {x})[0], softmax_ref(x, 0));
  expect_close(run_op(make_node("softmax", {{"axis", "-2"}, {"temperature", "2.5"}}), {x})[0], softmax_ref(x, 1, 2.5));
  expect_close(run_op(make_node("softmax", {{"temperature", "None"}}), {x})[0], softmax_ref(x, 2));
  expect_close(run_op(make_node("log_softmax", {}), {x})[0], softmax_ref(x, 2, 1.0, true));
  expect_close(run_op(make_node("log_softmax", {{"axis", "1"}, {"temperature", "0.5"}}), {x})[0], softmax_ref(x, 1, 0.5, true));
  Buf neg = x;
  for (float& v : neg.v) v = -v;
  expect_close(run_op(make_node("softmin", {{"axis", "1"}, {"temperature", "2"}}), {x})[0], softmax_ref(neg, 1, 2.0));
  expect_error([&] { infer(make_node("softmax", {{"axis", "3"}}), {{2, 3, 4}}); }, "axis");
}

TEST(KernelNnSoftmax, UseLength) {
  const Buf x = random_buf({2, 5}, 53);
  const auto out = run_op(make_node("softmax", {{"use_length", "True"}}), {x, make_buf({2}, {3, 5})})[0];
  Buf head = make_buf({1, 3}, {x.v[0], x.v[1], x.v[2]});
  Buf row2 = make_buf({1, 5}, std::vector<float>(x.v.begin() + 5, x.v.end()));
  std::vector<double> ref = softmax_ref(head, 1);
  ref.push_back(0);
  ref.push_back(0);
  for (double v : softmax_ref(row2, 1)) ref.push_back(v);
  expect_close(out, ref);
}

TEST(KernelNnSoftmax, SoftmaxActivationModes) {
  const Buf x = random_buf({2, 3, 2, 2}, 55, -2.0f, 2.0f);
  Buf flat = x;
  flat.shape = {2, 12};
  expect_close(run_op(make_node("SoftmaxActivation", {}), {x})[0], softmax_ref(flat, 1));  // mode instance
  expect_close(run_op(make_node("SoftmaxActivation", {{"mode", "channel"}}), {x})[0], softmax_ref(x, 1));
}

TEST(KernelNnSoftmax, SoftmaxOutputIgnoresLabel) {
  const Buf x = random_buf({2, 3, 4}, 57, -2.0f, 2.0f), label = make_buf({2}, {1, 2});
  Buf flat = x;
  flat.shape = {2, 12};
  const auto out = run_op(make_node("SoftmaxOutput", {}), {x, label});
  EXPECT_EQ(out[0].shape, x.shape);
  expect_close(out[0], softmax_ref(flat, 1));
  expect_close(run_op(make_node("SoftmaxOutput", {{"multi_output", "True"}}), {x, make_buf({2, 4}, std::vector<float>(8, 0))})[0],
               softmax_ref(x, 1));
  expect_close(run_op(make_node("SoftmaxOutput", {{"preserve_shape", "True"}}), {x, label})[0], softmax_ref(x, 2));
  expect_close(run_op(make_node("SoftmaxOutput", {}), {x})[0], softmax_ref(flat, 1));  // label absent
}

// ---------------------------------------------------------------- Embedding

TEST(KernelNnEmbedding, RowsAndClipping) {
  const Node n = make_node("Embedding", {{"input_dim", "4"}, {"output_dim", "3"}});
  Buf w = make_buf({4, 3}, {});
  for (int i = 0; i < 12; ++i) w.v.push_back(float(i));
  // Fractions truncate; out-of-range indices clip to the first and last rows.
  const auto out = run_op(n, {make_buf({2, 3}, {0, 3, -2, 7, 1.7f, 2}), w});
  ASSERT_EQ(out[0].shape, (Shape{2, 3, 3}));
  expect_values(out[0], {0, 1, 2, 9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5, 6, 7, 8});
  expect_error([&] { infer(n, {{5}, {4, 2}}); }, "weight");
  expect_error([&] { infer(make_node("Embedding", {{"output_dim", "3"}}), {{5}, {4, 3}}); }, "input_dim");
}

// ---------------------------------------------------------------- GEMM internals
// (The packing and tiling edges; the convolution and FullyConnected tests cover the rest.)

TEST(KernelNnGemm, EdgeSizesAndStridedOperands) {
  struct Size {
    int64_t M, N, K;
  };
  uint32_t seed = 900;
  for (const Size& s : {Size{1, 1, 1}, Size{3, 5, 7}, Size{4, 24, 8}, Size{5, 25, 9}, Size{9, 50, 300}, Size{17, 400, 33}, Size{64, 3, 520}}) {
    SCOPED_TRACE("M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K));
    const Buf a = random_buf({s.M, s.K}, ++seed), b = random_buf({s.K, s.N}, ++seed), c0 = random_buf({s.M, s.N}, ++seed);
    // A and B row-major, then both given transposed (column strides), C accumulated onto c0.
    Buf at = make_buf({s.K, s.M}, std::vector<float>(a.v.size())), bt = make_buf({s.N, s.K}, std::vector<float>(b.v.size()));
    for (int64_t i = 0; i < s.M; ++i)
      for (int64_t k = 0; k < s.K; ++k) at.v[static_cast<size_t>(k * s.M + i)] = a.v[static_cast<size_t>(i * s.K + k)];
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t j = 0; j < s.N; ++j) bt.v[static_cast<size_t>(j * s.K + k)] = b.v[static_cast<size_t>(k * s.N + j)];
    std::vector<double> ref(c0.v.begin(), c0.v.end());
    for (int64_t i = 0; i < s.M; ++i)
      for (int64_t j = 0; j < s.N; ++j)
        for (int64_t k = 0; k < s.K; ++k)
          ref[static_cast<size_t>(i * s.N + j)] += double(a.v[static_cast<size_t>(i * s.K + k)]) * b.v[static_cast<size_t>(k * s.N + j)];
    Buf c1 = c0, c2 = c0;
    nn::gemm(nn::PackedA(s.M, s.K, nn::MatView{a.v.data(), s.K, 1}), s.N, nn::MatView{b.v.data(), s.N, 1}, c1.v.data(), s.N);
    nn::gemm(nn::PackedA(s.M, s.K, nn::MatView{at.v.data(), 1, s.M}), s.N, nn::MatView{bt.v.data(), 1, s.K}, c2.v.data(), s.N);
    expect_close(c1, ref);
    expect_close(c2, ref);
  }
}
