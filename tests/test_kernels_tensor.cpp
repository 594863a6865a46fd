// The tensor kernels (layout, elementwise, reductions, matrix products) against references written
// here with naive index arithmetic in double, and against MXNet's documented examples.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <numbers>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "ir/graph_builder.h"
#include "mixprec/error.h"
#include "runtime/kernel.h"
#include "runtime/session.h"

using mixprec::AttrMap;
using mixprec::DType;
using mixprec::Node;
using mixprec::runtime::Buf;
using mixprec::runtime::KernelArgs;
using mixprec::runtime::KernelRegistry;
using mixprec::runtime::Shape;

namespace {

const KernelRegistry& reg() {
  static const KernelRegistry r = [] {
    KernelRegistry k;
    mixprec::runtime::register_tensor_kernels(k);
    return k;
  }();
  return r;
}

Node make_node(const std::string& op, const AttrMap& attrs, uint32_t outputs = 1) {
  Node n;
  n.op = op;
  n.name = "node0";
  n.attrs = attrs;
  n.num_outputs = outputs;
  return n;
}

Buf make(const Shape& s, std::vector<float> v) {
  Buf b;
  b.shape = s;
  b.v = std::move(v);
  return b;
}

int64_t count(const Shape& s) {
  int64_t k = 1;
  for (int64_t d : s) k *= d;
  return k;
}

// Deterministic values in [-2, 2), all distinct enough to catch misplaced elements.
Buf filled(const Shape& s, uint32_t seed = 1) {
  Buf b = make(s, {});
  uint32_t x = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < count(s); ++i) {
    x = x * 1664525u + 1013904223u;
    b.v.push_back(static_cast<float>(x >> 8) / static_cast<float>(1 << 24) * 4.0f - 2.0f);
  }
  return b;
}

Buf iota(const Shape& s) {
  Buf b = make(s, {});
  for (int64_t i = 0; i < count(s); ++i) b.v.push_back(static_cast<float>(i));
  return b;
}

std::vector<Shape> infer(const std::string& op, const AttrMap& attrs, const std::vector<Shape>& in) {
  const auto* k = reg().find(op);
  if (!k) throw std::runtime_error("no kernel for " + op);
  return k->infer_shape(make_node(op, attrs), in);
}

// Infers, allocates and runs like the session does.
std::vector<Buf> run(const std::string& op, const AttrMap& attrs, const std::vector<Buf>& in) {
  std::vector<Shape> shapes;
  for (const Buf& b : in) shapes.push_back(b.shape);
  const auto* k = reg().find(op);
  if (!k) throw std::runtime_error("no kernel for " + op);
  const std::vector<Shape> out_shapes = infer(op, attrs, shapes);
  const Node n = make_node(op, attrs, static_cast<uint32_t>(out_shapes.size()));
  std::vector<Buf> out(out_shapes.size());
  KernelArgs args{n, {}, {}};
  for (const Buf& b : in) args.in.push_back(&b);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].shape = out_shapes[i];
    out[i].v.assign(static_cast<size_t>(count(out_shapes[i])), std::nanf(""));  // catches unwritten outputs
    args.out.push_back(&out[i]);
  }
  k->run(args);
  return out;
}

Buf run1(const std::string& op, const AttrMap& attrs, const std::vector<Buf>& in) { return run(op, attrs, in).at(0); }

// Expects infer_shape to throw mixprec::Error placed at the node and mentioning `text`.
void expect_error(const std::string& op, const AttrMap& attrs, const std::vector<Shape>& in, const std::string& text) {
  try {
    infer(op, attrs, in);
    ADD_FAILURE() << op << " accepted its inputs";
  } catch (const mixprec::Error& e) {
    EXPECT_EQ(e.place(), "node0") << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

// |got - want| <= tol * max(1, |want|). The default 1e-5 (= 168 u, u = 2^-24) covers the elementwise
// and layout kernels it is used for: one or two exact float inputs through a library float function
// (<= 4 ulp) or a few arithmetic roundings, <= 8 u max(1, |y|). Sums and products are checked
// against gamma_K sum|terms| instead (expect_within).
void expect_values(const Buf& got, const Shape& shape, const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.v.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got.v[i])) << "at " << i;
      continue;
    }
    if (std::isinf(want[i])) {
      EXPECT_EQ(got.v[i], want[i]) << "at " << i;
      continue;
    }
    EXPECT_NEAR(got.v[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "at " << i;
  }
}

std::vector<double> as_double(const Buf& b) { return {b.v.begin(), b.v.end()}; }

Buf magnitudes(Buf b) {
  for (float& v : b.v) v = std::fabs(v);
  return b;
}

// gamma_k = k u / (1 - k u), u = 2^-24: a float32 k-term sum or product in any order is within
// gamma_k sum|terms| (resp. gamma_k |product|) of the exact one (Higham, Thm 3.1 and Lemma 3.1).
double gamma32(double k) {
  const double ku = k * std::ldexp(1.0, -24);
  return ku / (1 - ku);
}

// |got - want| <= bound per element.
void expect_within(const Buf& got, const Shape& shape, const std::vector<double>& want, const std::vector<double>& bound) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.v.size(), want.size());
  ASSERT_EQ(bound.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_LE(std::fabs(got.v[i] - want[i]), bound[i]) << "at " << i << ": got " << got.v[i] << ", expected " << want[i];
}

std::vector<double> scaled(std::vector<double> v, double k) {
  for (double& x : v) x = std::fabs(x) * k;
  return v;
}

// Multi-index helpers for the references.
std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = i % s[d];
    i /= s[d];
  }
  return idx;
}

int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t i = 0;
  for (size_t d = 0; d < s.size(); ++d) i = i * s[d] + idx[d];
  return i;
}

// The element of `b` that broadcasting reads for output index `idx` (right-aligned, size-1 dims repeat).
double bcast_at(const Buf& b, const std::vector<int64_t>& idx) {
  std::vector<int64_t> own(b.shape.size());
  const size_t lead = idx.size() - b.shape.size();
  for (size_t d = 0; d < own.size(); ++d) own[d] = b.shape[d] == 1 ? 0 : idx[lead + d];
  return b.v[static_cast<size_t>(ravel(own, b.shape))];
}

// ================= layout =================

TEST(KernelTensorReshape, DocumentedCodes) {
  const Shape in{2, 3, 4};
  const std::vector<std::pair<std::string, Shape>> cases = {
      {"(4, 0, 2)", {4, 3, 2}},   {"(2, 0, 0)", {2, 3, 4}},     {"(6, 1, -1)", {6, 1, 4}},   {"(3, -1, 8)", {3, 1, 8}},
      {"(-1,)", {24}},            {"(2, -1)", {2, 12}},         {"(-2,)", {2, 3, 4}},        {"(2, -2)", {2, 3, 4}},
      {"(-2, 1, 1)", {2, 3, 4, 1, 1}}, {"(-3, 4)", {6, 4}},     {"(0, -3)", {2, 12}},        {"(-3, -2)", {6, 4}},
      {"(-4, 1, 2, -2)", {1, 2, 3, 4}}, {"(2, -4, -1, 3, -2)", {2, 1, 3, 4}}, {"(-4, -1, 1, 0, 0)", {2, 1, 3, 4}},
  };
  for (const auto& [code, want] : cases) EXPECT_EQ(infer("Reshape", {{"shape", code}}, {in}).at(0), want) << code;
  EXPECT_EQ(infer("Reshape", {{"shape", "(-3, -3)"}}, {{2, 3, 4, 5}}).at(0), (Shape{6, 20}));
  // reverse matches the codes from the right (MXNet's example: (40, 5) without, (50, 4) with).
  EXPECT_EQ(infer("Reshape", {{"shape", "(-1, 0)"}}, {{10, 5, 4}}).at(0), (Shape{40, 5}));
  EXPECT_EQ(infer("Reshape", {{"shape", "(-1, 0)"}, {"reverse", "True"}}, {{10, 5, 4}}).at(0), (Shape{50, 4}));
  EXPECT_EQ(infer("Reshape", {{"shape", "(0, -1)"}, {"reverse", "False"}}, {{10, 5, 4}}).at(0), (Shape{10, 20}));
  // The legacy target_shape: 0 is the dim to infer; keep_highest keeps the first input dim.
  EXPECT_EQ(infer("Reshape", {{"target_shape", "(0, 4)"}}, {in}).at(0), (Shape{6, 4}));
  EXPECT_EQ(infer("Reshape", {{"target_shape", "(5, 0)"}, {"keep_highest", "True"}}, {in}).at(0), (Shape{2, 12}));
  // Values keep their order.
  const Buf x = filled(in);
  expect_values(run1("Reshape", {{"shape", "(-1, 6)"}}, {x}), {4, 6}, as_double(x), 0);
}

TEST(KernelTensorReshape, Errors) {
  expect_error("Reshape", {{"shape", "(5, 5)"}}, {{2, 3, 4}}, "cannot reshape");
  expect_error("Reshape", {{"shape", "(-1, -1)"}}, {{2, 3, 4}}, "more than one -1");
  expect_error("Reshape", {{"shape", "(5, -1)"}}, {{2, 3, 4}}, "does not divide");
  expect_error("Reshape", {{"shape", "(-4, 5, -1, -2)"}}, {{2, 3, 4}}, "-4 cannot split");
  expect_error("Reshape", {{"shape", "(0, 0, 0, 0)"}}, {{2, 3, 4}}, "no input dim");
  expect_error("Reshape", {{"shape", "(2, -7)"}}, {{2, 3, 4}}, "unknown code");
  expect_error("Reshape", {{"shape", "(2, x)"}}, {{2, 3, 4}}, "attribute 'shape'");
}

TEST(KernelTensorLayout, FlattenExpandSqueeze) {
  EXPECT_EQ(infer("Flatten", {}, {{2, 3, 4}}).at(0), (Shape{2, 12}));
  EXPECT_EQ(infer("Flatten", {}, {{5}}).at(0), (Shape{5, 1}));
  EXPECT_EQ(infer("expand_dims", {{"axis", "1"}}, {{2, 3}}).at(0), (Shape{2, 1, 3}));
  EXPECT_EQ(infer("expand_dims", {{"axis", "-1"}}, {{2, 3}}).at(0), (Shape{2, 3, 1}));
  EXPECT_EQ(infer("expand_dims", {{"axis", "0"}}, {{2, 3}}).at(0), (Shape{1, 2, 3}));
  expect_error("expand_dims", {{"axis", "4"}}, {{2, 3}}, "out of range");
  expect_error("expand_dims", {}, {{2, 3}}, "missing required attribute 'axis'");
  EXPECT_EQ(infer("squeeze", {}, {{1, 3, 1, 2}}).at(0), (Shape{3, 2}));
  EXPECT_EQ(infer("squeeze", {{"axis", "None"}}, {{1, 3, 1, 2}}).at(0), (Shape{3, 2}));
  EXPECT_EQ(infer("squeeze", {{"axis", "(2,)"}}, {{1, 3, 1, 2}}).at(0), (Shape{1, 3, 2}));
  EXPECT_EQ(infer("squeeze", {{"axis", "(-4, 2)"}}, {{1, 3, 1, 2}}).at(0), (Shape{3, 2}));
  EXPECT_EQ(infer("squeeze", {}, {{1, 1}}).at(0), (Shape{1}));
  expect_error("squeeze", {{"axis", "1"}}, {{1, 3, 1, 2}}, "size is not 1");
  const Buf x = filled({2, 3, 4});
  for (const char* op : {"Flatten", "_copy", "identity", "BlockGrad", "stop_gradient", "MakeLoss", "Cast", "amp_cast"})
    EXPECT_EQ(run1(op, {{"dtype", "float16"}}, {x}).v, x.v) << op;
}

TEST(KernelTensorLayout, Transpose) {
  const Buf x = filled({2, 3, 4, 5});
  auto reference = [&](const std::vector<size_t>& perm) {
    Shape os;
    for (size_t p : perm) os.push_back(x.shape[p]);
    std::vector<double> want(static_cast<size_t>(count(os)));
    for (int64_t i = 0; i < count(os); ++i) {
      const auto o = unravel(i, os);
      std::vector<int64_t> src(perm.size());
      for (size_t d = 0; d < perm.size(); ++d) src[perm[d]] = o[d];
      want[static_cast<size_t>(i)] = x.v[static_cast<size_t>(ravel(src, x.shape))];
    }
    return std::make_pair(os, want);
  };
  for (const auto& [axes, perm] : std::vector<std::pair<std::string, std::vector<size_t>>>{
           {"(0, 2, 1, 3)", {0, 2, 1, 3}}, {"(3, 1, 0, 2)", {3, 1, 0, 2}}, {"(0, -1, 1, 2)", {0, 3, 1, 2}}, {"()", {3, 2, 1, 0}}}) {
    const auto [os, want] = reference(perm);
    expect_values(run1("transpose", {{"axes", axes}}, {x}), os, want, 0);
  }
  const auto [os, want] = reference({3, 2, 1, 0});
  expect_values(run1("transpose", {}, {x}), os, want, 0);  // no axes: reversed
  const auto [ss, swapped] = reference({0, 3, 2, 1});
  expect_values(run1("SwapAxis", {{"dim1", "1"}, {"dim2", "3"}}, {x}), ss, swapped, 0);
  // Large enough for the tiled path (a dim read contiguously that is not the innermost).
  for (const auto& [shape, axes, perm] : std::vector<std::tuple<Shape, std::string, std::vector<size_t>>>{
           {{3, 40, 50}, "(0, 2, 1)", {0, 2, 1}}, {{2, 9, 10, 11}, "(0, 2, 3, 1)", {0, 2, 3, 1}}, {{70, 33}, "(1, 0)", {1, 0}}}) {
    const Buf big = filled(shape, 5);
    Shape bs;
    for (size_t p : perm) bs.push_back(shape[p]);
    std::vector<double> expect;
    for (int64_t i = 0; i < count(bs); ++i) {
      const auto o = unravel(i, bs);
      std::vector<int64_t> src(perm.size());
      for (size_t d = 0; d < perm.size(); ++d) src[perm[d]] = o[d];
      expect.push_back(big.v[static_cast<size_t>(ravel(src, shape))]);
    }
    expect_values(run1("transpose", {{"axes", axes}}, {big}), bs, expect, 0);
  }
  expect_error("transpose", {{"axes", "(0, 1, 1, 2)"}}, {{2, 3, 4, 5}}, "not a permutation");
  expect_error("transpose", {{"axes", "(0, 1)"}}, {{2, 3, 4, 5}}, "do not match");
}

TEST(KernelTensorLayout, Concat) {
  const Buf a = filled({2, 3, 4}, 1), b = filled({2, 5, 4}, 2), c = filled({2, 1, 4}, 3);
  const Buf out = run1("Concat", {{"num_args", "3"}}, {a, b, c});  // dim defaults to 1
  ASSERT_EQ(out.shape, (Shape{2, 9, 4}));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    auto idx = unravel(i, out.shape);
    const Buf* src = idx[1] < 3 ? &a : idx[1] < 8 ? &b : &c;
    idx[1] -= idx[1] < 3 ? 0 : idx[1] < 8 ? 3 : 8;
    EXPECT_EQ(out.v[static_cast<size_t>(i)], src->v[static_cast<size_t>(ravel(idx, src->shape))]) << i;
  }
  const Buf x = filled({2, 3}, 4), y = filled({2, 2}, 5);
  expect_values(run1("Concat", {{"dim", "-1"}, {"num_args", "2"}}, {x, y}), {2, 5},
                {x.v[0], x.v[1], x.v[2], y.v[0], y.v[1], x.v[3], x.v[4], x.v[5], y.v[2], y.v[3]}, 0);
  expect_values(run1("Concat", {{"dim", "0"}}, {x, x}), {4, 3},
                {x.v[0], x.v[1], x.v[2], x.v[3], x.v[4], x.v[5], x.v[0], x.v[1], x.v[2], x.v[3], x.v[4], x.v[5]}, 0);
  expect_error("Concat", {{"dim", "1"}}, {{2, 3}, {3, 3}}, "input 1 has shape (3, 3)");
  expect_error("Concat", {}, {{2, 3}, {2, 3, 1}}, "input 1");
  expect_error("Concat", {{"num_args", "3"}}, {{2, 3}, {2, 3}}, "num_args");
}

TEST(KernelTensorLayout, SliceChannel) {
  const Buf x = iota({2, 6, 3});
  const auto parts = run("SliceChannel", {{"num_outputs", "3"}}, {x});  // axis defaults to 1
  ASSERT_EQ(parts.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    ASSERT_EQ(parts[k].shape, (Shape{2, 2, 3}));
    for (int64_t i = 0; i < 12; ++i) {
      auto idx = unravel(i, parts[k].shape);
      idx[1] += static_cast<int64_t>(k) * 2;
      EXPECT_EQ(parts[k].v[static_cast<size_t>(i)], x.v[static_cast<size_t>(ravel(idx, x.shape))]);
    }
  }
  const auto sq = run("SliceChannel", {{"num_outputs", "3"}, {"axis", "-1"}, {"squeeze_axis", "True"}}, {x});
  ASSERT_EQ(sq.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    ASSERT_EQ(sq[k].shape, (Shape{2, 6}));
    for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(sq[k].v[static_cast<size_t>(i)], static_cast<float>(i * 3 + static_cast<int64_t>(k)));
  }
  EXPECT_EQ(infer("SliceChannel", {{"num_outputs", "2"}, {"axis", "0"}, {"squeeze_axis", "1"}}, {{2, 5}}),
            (std::vector<Shape>{{5}, {5}}));
  expect_error("SliceChannel", {{"num_outputs", "4"}}, {{2, 6, 3}}, "equal parts");
  expect_error("SliceChannel", {{"num_outputs", "3"}, {"squeeze_axis", "True"}}, {{2, 6, 3}}, "squeeze_axis");
  expect_error("SliceChannel", {}, {{2, 6, 3}}, "num_outputs");
  // _split_v2 with split points (leading 0 included, as Python writes them).
  const auto pieces = run("_split_v2", {{"indices", "(0, 1, 4)"}, {"axis", "1"}}, {x});
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].shape, (Shape{2, 1, 3}));
  EXPECT_EQ(pieces[1].shape, (Shape{2, 3, 3}));
  EXPECT_EQ(pieces[2].shape, (Shape{2, 2, 3}));
  EXPECT_EQ(pieces[2].v[0], 12.0f);
  EXPECT_EQ(pieces[1].v[9], 21.0f);
  EXPECT_EQ(run("_split_v2", {{"indices", "()"}, {"sections", "2"}, {"axis", "0"}}, {x}).at(1).v[0], 18.0f);
}

// Python's slice semantics on one dim, as the reference for slice/slice_axis.
std::vector<int64_t> py_range(int64_t len, std::optional<int64_t> b, std::optional<int64_t> e, int64_t step) {
  std::vector<int64_t> r;
  int64_t lo = b ? (*b < 0 ? *b + len : *b) : (step > 0 ? 0 : len - 1);
  int64_t hi = e ? (*e < 0 ? *e + len : *e) : (step > 0 ? len : -1);
  for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) r.push_back(i);
  return r;
}

Buf slice_reference(const Buf& x, const std::vector<std::vector<int64_t>>& picks) {
  Buf out;
  for (const auto& p : picks) out.shape.push_back(static_cast<int64_t>(p.size()));
  for (int64_t i = 0; i < count(out.shape); ++i) {
    auto idx = unravel(i, out.shape);
    for (size_t d = 0; d < idx.size(); ++d) idx[d] = picks[d][static_cast<size_t>(idx[d])];
    out.v.push_back(x.v[static_cast<size_t>(ravel(idx, x.shape))]);
  }
  return out;
}

TEST(KernelTensorSlice, SliceAxis) {
  const Buf x = filled({4, 6, 3});
  auto check = [&](const AttrMap& attrs, size_t axis, std::optional<int64_t> b, std::optional<int64_t> e) {
    std::vector<std::vector<int64_t>> picks;
    for (size_t d = 0; d < 3; ++d) picks.push_back(d == axis ? py_range(x.shape[d], b, e, 1) : py_range(x.shape[d], {}, {}, 1));
    const Buf want = slice_reference(x, picks);
    expect_values(run1("slice_axis", attrs, {x}), want.shape, as_double(want), 0);
  };
  check({{"axis", "1"}, {"begin", "1"}, {"end", "4"}}, 1, 1, 4);
  check({{"axis", "1"}, {"begin", "-4"}, {"end", "None"}}, 1, -4, std::nullopt);
  check({{"axis", "-1"}, {"begin", "0"}, {"end", "-1"}}, 2, 0, -1);
  check({{"axis", "0"}, {"begin", "3"}}, 0, 3, std::nullopt);
  expect_error("slice_axis", {{"axis", "1"}, {"begin", "4"}, {"end", "2"}}, {{4, 6, 3}}, "empty");
  expect_error("slice_axis", {{"axis", "1"}, {"begin", "0"}, {"end", "7"}}, {{4, 6, 3}}, "out of range");
  expect_error("slice_axis", {{"axis", "3"}, {"begin", "0"}, {"end", "1"}}, {{4, 6, 3}}, "axis 3");
}

TEST(KernelTensorSlice, SliceWithNoneNegativeAndSteps) {
  const Buf x = filled({5, 6, 4});
  struct Case {
    std::string begin, end, step;
    std::vector<std::optional<int64_t>> b, e;
    std::vector<int64_t> s;
  };
  const auto none = std::nullopt;
  const std::vector<Case> cases = {
      {"(1, 2)", "(4, 5)", "", {1, 2}, {4, 5}, {1, 1}},
      {"(None, -3)", "(None, None)", "", {none, -3}, {none, none}, {1, 1}},
      {"(-1, None, 1)", "(None, None, 3)", "(-1, 2, 1)", {-1, none, 1}, {none, none, 3}, {-1, 2, 1}},
      {"(None,)", "(None,)", "(-2,)", {none}, {none}, {-2}},
      {"[0, 5]", "[5, 0]", "[2, -2]", {0, 5}, {5, 0}, {2, -2}},
      {"(4, 1)", "(0, -1)", "(-3, None)", {4, 1}, {0, -1}, {-3, 1}},
  };
  for (const Case& c : cases) {
    std::vector<std::vector<int64_t>> picks;
    for (size_t d = 0; d < 3; ++d)
      picks.push_back(d < c.b.size() ? py_range(x.shape[d], c.b[d], c.e[d], c.s[d]) : py_range(x.shape[d], none, none, 1));
    const Buf want = slice_reference(x, picks);
    AttrMap attrs{{"begin", c.begin}, {"end", c.end}};
    if (!c.step.empty()) attrs["step"] = c.step;
    expect_values(run1("slice", attrs, {x}), want.shape, as_double(want), 0);
  }
  expect_error("slice", {{"begin", "(1,)"}, {"end", "(1,)"}}, {{5, 6}}, "empty");
  expect_error("slice", {{"begin", "(0, 0)"}, {"end", "(1,)"}}, {{5, 6}}, "differ in length");
  expect_error("slice", {{"begin", "(0,)"}, {"end", "(2,)"}, {"step", "(0,)"}}, {{5, 6}}, "step cannot be 0");
  expect_error("slice", {{"begin", "(7,)"}, {"end", "(8,)"}}, {{5, 6}}, "out of range");
}

TEST(KernelTensorLayout, CropTileRepeatBroadcastTo) {
  const Buf x = filled({2, 3, 6, 5});
  auto crop_ref = [&](int64_t oh, int64_t ow, int64_t h, int64_t w) {
    return slice_reference(x, {py_range(2, {}, {}, 1), py_range(3, {}, {}, 1), py_range(6, oh, oh + h, 1), py_range(5, ow, ow + w, 1)});
  };
  Buf want = crop_ref(1, 2, 4, 3);
  expect_values(run1("Crop", {{"num_args", "1"}, {"h_w", "(4, 3)"}, {"offset", "(1, 2)"}}, {x}), want.shape, as_double(want), 0);
  want = crop_ref(1, 1, 4, 3);
  expect_values(run1("Crop", {{"num_args", "1"}, {"h_w", "(4, 3)"}, {"center_crop", "True"}}, {x}), want.shape, as_double(want), 0);
  want = crop_ref(0, 0, 2, 2);
  expect_values(run1("Crop", {{"num_args", "2"}}, {x, filled({1, 1, 2, 2})}), want.shape, as_double(want), 0);
  expect_error("Crop", {{"num_args", "1"}, {"h_w", "(7, 3)"}}, {{2, 3, 6, 5}}, "cannot crop");

  const Buf y = iota({2, 3});
  expect_values(run1("tile", {{"reps", "(2, 2)"}}, {y}), {4, 6},
                {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, 0);
  expect_values(run1("tile", {{"reps", "(2,)"}}, {y}), {2, 6}, {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, 0);
  expect_values(run1("tile", {{"reps", "(2, 1, 1)"}}, {y}), {2, 2, 3}, {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, 0);
  expect_values(run1("repeat", {{"repeats", "2"}}, {y}), {12}, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, 0);
  expect_values(run1("repeat", {{"repeats", "2"}, {"axis", "0"}}, {y}), {4, 3}, {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, 0);
  expect_values(run1("repeat", {{"repeats", "2"}, {"axis", "-1"}}, {y}), {2, 6}, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, 0);

  const Buf col = iota({2, 1});
  expect_values(run1("broadcast_to", {{"shape", "(0, 3)"}}, {col}), {2, 3}, {0, 0, 0, 1, 1, 1}, 0);
  expect_values(run1("broadcast_axis", {{"axis", "(1,)"}, {"size", "(2,)"}}, {col}), {2, 2}, {0, 0, 1, 1}, 0);
  expect_values(run1("broadcast_like", {}, {col, filled({2, 4})}), {2, 4}, {0, 0, 0, 0, 1, 1, 1, 1}, 0);
  expect_error("broadcast_to", {{"shape", "(3, 3)"}}, {{2, 1}}, "cannot broadcast");
  expect_error("broadcast_axis", {{"axis", "0"}, {"size", "3"}}, {{2, 1}}, "is not 1");
}

// amp_multicast: output i is input i (the kernel), in the common type (the session rounds it):
// float16 + float32 come out float32, the float16 value widened exactly and the float32 one not
// rounded; with cast_narrow both come out float16. (All dtype cases: test_amp_runtime_rules.cpp.)
TEST(KernelTensorLayout, AmpMulticast) {
  const Buf a = filled({2, 3}, 1), b = filled({4}, 2), c = filled({1}, 3);
  const auto out = run("amp_multicast", {{"num_outputs", "3"}, {"cast_narrow", "False"}}, {a, b, c});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].shape, a.shape);
  EXPECT_EQ(out[0].v, a.v);
  EXPECT_EQ(out[1].shape, b.shape);
  EXPECT_EQ(out[1].v, b.v);
  EXPECT_EQ(out[2].v, c.v);
  expect_error("amp_multicast", {{"num_outputs", "3"}}, {{2}, {2}}, "num_outputs");

  const float half_value = 1.0f + 0x1p-9f, fine = 1.0f + 0x1p-12f;  // a float16; a float32 that float16 rounds to 1
  for (bool narrow : {false, true}) {
    mixprec::GraphBuilder g;
    const mixprec::Entry x = g.var("x"), y = g.var("y");
    const mixprec::Entry m = g.op("amp_multicast", "mc", {g.op("amp_cast", "to16", {x}, {{"dtype", "float16"}}), y},
                                  {{"num_outputs", "2"}, {"cast_narrow", narrow ? "True" : "False"}});
    mixprec::runtime::SessionOptions o;
    o.input_shapes = {{"x", {2}}, {"y", {2}}};
    mixprec::runtime::Session s(g.build({m, mixprec::GraphBuilder::out(m, 1)}), {}, {}, o);
    const auto got = s.run({{"x", Buf{{2}, {half_value, 3.0f}}}, {"y", Buf{{2}, {fine, 70000.0f}}}});
    const DType want = narrow ? DType::Float16 : DType::Float32;
    EXPECT_EQ(s.output_dtypes(), (std::vector<DType>{want, want})) << "cast_narrow=" << narrow;
    EXPECT_EQ(got[0].v, (std::vector<float>{half_value, 3.0f})) << "cast_narrow=" << narrow;
    if (narrow) {
      EXPECT_EQ(got[1].v[0], 1.0f);
      EXPECT_TRUE(std::isinf(got[1].v[1]));
    } else {
      EXPECT_EQ(got[1].v, (std::vector<float>{fine, 70000.0f}));
    }
  }
}

// ================= elementwise =================

TEST(KernelTensorElementwise, Unary) {
  using D = double (*)(double);
  struct Ref {
    const char* op;
    D f;
    double lo, hi;  // input range where the function is defined
  };
  const std::vector<Ref> refs = {
      {"exp", [](double x) { return std::exp(x); }, -5, 5},
      {"expm1", [](double x) { return std::expm1(x); }, -5, 5},
      {"log", [](double x) { return std::log(x); }, 0.01, 10},
      {"log1p", [](double x) { return std::log1p(x); }, -0.9, 10},
      {"log2", [](double x) { return std::log2(x); }, 0.01, 10},
      {"log10", [](double x) { return std::log10(x); }, 0.01, 10},
      {"sqrt", [](double x) { return std::sqrt(x); }, 0, 10},
      {"rsqrt", [](double x) { return 1 / std::sqrt(x); }, 0.01, 10},
      {"cbrt", [](double x) { return std::cbrt(x); }, -10, 10},
      {"rcbrt", [](double x) { return 1 / std::cbrt(x); }, 0.01, 10},
      {"square", [](double x) { return x * x; }, -5, 5},
      {"abs", [](double x) { return std::fabs(x); }, -5, 5},
      {"sign", [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }, -5, 5},
      {"negative", [](double x) { return -x; }, -5, 5},
      {"reciprocal", [](double x) { return 1 / x; }, 0.01, 10},
      {"sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }, -30, 30},
      {"log_sigmoid", [](double x) { return std::log(1 / (1 + std::exp(-x))); }, -30, 30},
      {"softsign", [](double x) { return x / (1 + std::fabs(x)); }, -5, 5},
      {"relu", [](double x) { return std::max(x, 0.0); }, -5, 5},
      {"tanh", [](double x) { return std::tanh(x); }, -5, 5},
      {"sin", [](double x) { return std::sin(x); }, -5, 5},
      {"cos", [](double x) { return std::cos(x); }, -5, 5},
      {"tan", [](double x) { return std::tan(x); }, -1.5, 1.5},
      {"arcsin", [](double x) { return std::asin(x); }, -1, 1},
      {"arccos", [](double x) { return std::acos(x); }, -1, 1},
      {"arctan", [](double x) { return std::atan(x); }, -5, 5},
      {"sinh", [](double x) { return std::sinh(x); }, -5, 5},
      {"cosh", [](double x) { return std::cosh(x); }, -5, 5},
      {"arcsinh", [](double x) { return std::asinh(x); }, -5, 5},
      {"arccosh", [](double x) { return std::acosh(x); }, 1, 10},
      {"arctanh", [](double x) { return std::atanh(x); }, -0.99, 0.99},
      {"degrees", [](double x) { return x * 180 / std::numbers::pi; }, -5, 5},
      {"radians", [](double x) { return x * std::numbers::pi / 180; }, -500, 500},
      {"erf", [](double x) { return std::erf(x); }, -3, 3},
      {"gamma", [](double x) { return std::tgamma(x); }, 0.1, 6},
      {"gammaln", [](double x) { return std::lgamma(x); }, 0.1, 10},
      {"floor", [](double x) { return std::floor(x); }, -5, 5},
      {"ceil", [](double x) { return std::ceil(x); }, -5, 5},
      {"round", [](double x) { return std::round(x); }, -5, 5},
      {"rint", [](double x) { return x - std::floor(x) > 0.5 ? std::ceil(x) : std::floor(x); }, -5, 5},
      {"fix", [](double x) { return std::trunc(x); }, -5, 5},
      {"trunc", [](double x) { return std::trunc(x); }, -5, 5},
      {"logical_not", [](double x) { return x == 0 ? 1.0 : 0.0; }, -1, 1},
      {"zeros_like", [](double) { return 0.0; }, -1, 1},
      {"ones_like", [](double) { return 1.0; }, -1, 1},
  };
  for (const Ref& r : refs) {
    Buf x = make({3, 7}, {});
    for (int i = 0; i < 21; ++i) x.v.push_back(static_cast<float>(r.lo + (r.hi - r.lo) * i / 20.0));
    x.v[10] = std::max(static_cast<float>(r.lo), std::min(static_cast<float>(r.hi), 0.0f));  // zero where allowed
    std::vector<double> want;
    for (float v : x.v) want.push_back(r.f(v));
    SCOPED_TRACE(r.op);
    expect_values(run1(r.op, {}, {x}), x.shape, want, 2e-6);
  }
  // MXNet's documented rounding examples.
  const Buf h = make({7}, {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 1.7f});
  expect_values(run1("rint", {}, {h}), {7}, {-3, -2, -1, 0, 1, 2, 2}, 0);
  expect_values(run1("round", {}, {h}), {7}, {-3, -2, -1, 1, 2, 3, 2}, 0);
  const Buf c = make({6}, {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f, 5.0f});
  expect_values(run1("clip", {{"a_min", "-1.5"}, {"a_max", "2"}}, {c}), {6}, {-1.5, -1, 0, 0.5, 2, 2}, 0);
  expect_error("clip", {{"a_min", "0"}}, {{6}}, "a_max");
  expect_error("exp", {}, {{2}, {2}}, "takes 1 input");
}

using BinRef = double (*)(double, double);
double py_mod(double a, double b) { return b == 0 ? 0 : a - b * std::floor(a / b); }
const std::map<std::string, BinRef>& binary_refs() {
  static const std::map<std::string, BinRef> m = {
      {"add", [](double a, double b) { return a + b; }},
      {"sub", [](double a, double b) { return a - b; }},
      {"mul", [](double a, double b) { return a * b; }},
      {"div", [](double a, double b) { return a / b; }},
      {"mod", py_mod},
      {"power", [](double a, double b) { return std::pow(std::fabs(a), b); }},  // |a|: fractional powers
      {"maximum", [](double a, double b) { return std::max(a, b); }},
      {"minimum", [](double a, double b) { return std::min(a, b); }},
      {"hypot", [](double a, double b) { return std::hypot(a, b); }},
      {"equal", [](double a, double b) { return a == b ? 1.0 : 0.0; }},
      {"not_equal", [](double a, double b) { return a != b ? 1.0 : 0.0; }},
      {"greater", [](double a, double b) { return a > b ? 1.0 : 0.0; }},
      {"greater_equal", [](double a, double b) { return a >= b ? 1.0 : 0.0; }},
      {"lesser", [](double a, double b) { return a < b ? 1.0 : 0.0; }},
      {"lesser_equal", [](double a, double b) { return a <= b ? 1.0 : 0.0; }},
      {"logical_and", [](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; }},
      {"logical_or", [](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; }},
      {"logical_xor", [](double a, double b) { return (a != 0) != (b != 0) ? 1.0 : 0.0; }},
  };
  return m;
}

// Values with repeats and zeros so that comparisons and logic see equal and zero operands.
Buf coarse(const Shape& s, uint32_t seed, bool positive = false) {
  Buf b = filled(s, seed);
  for (float& v : b.v) v = positive ? std::fabs(std::round(v * 2.0f)) / 2.0f + 0.5f : std::round(v * 2.0f) / 2.0f;
  return b;
}

std::string elemwise_name(const std::string& f) {
  if (f == "add" || f == "sub" || f == "mul" || f == "div") return "elemwise_" + f;
  return "_" + f;
}

TEST(KernelTensorElementwise, BinarySameAndBroadcast) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{1}, {2, 3}},       {{2, 1, 4}, {1, 3, 1}},
      {{4}, {2, 3, 4}},       {{2, 3, 1, 5}, {3, 4, 1}}, {{5, 1}, {1}}, {{300, 7}, {300, 1}},
  };
  for (const auto& [f, ref] : binary_refs()) {
    const bool pow = f == "power";
    for (const auto& [sa, sb] : shapes) {
      Buf a = coarse(sa, 3, pow), b = coarse(sb, 4);
      if (f == "div" || f == "mod")
        for (float& v : b.v) v = v == 0 ? 0.5f : v;
      const Buf out = run1("broadcast_" + f, {}, {a, b});
      Shape os(std::max(sa.size(), sb.size()));
      for (size_t d = 0; d < os.size(); ++d) {
        const int64_t x = d + sa.size() < os.size() ? 1 : sa[d + sa.size() - os.size()];
        const int64_t y = d + sb.size() < os.size() ? 1 : sb[d + sb.size() - os.size()];
        os[d] = std::max(x, y);
      }
      std::vector<double> want;
      for (int64_t i = 0; i < count(os); ++i) {
        const auto idx = unravel(i, os);
        want.push_back(ref(bcast_at(a, idx), bcast_at(b, idx)));
      }
      SCOPED_TRACE("broadcast_" + f);
      expect_values(out, os, want, 2e-6);
      if (sa == sb) expect_values(run1(elemwise_name(f), {}, {a, b}), os, want, 2e-6);
    }
  }
  expect_error("broadcast_add", {}, {{2, 3}, {3, 2}}, "cannot be broadcast");
  expect_error("broadcast_mul", {}, {{2, 3, 4}, {2, 4}}, "cannot be broadcast");
  expect_error("elemwise_add", {}, {{2, 3}, {1, 3}}, "equal shapes");
  expect_error("_maximum", {}, {{2, 3}}, "takes 2 input");
  // NaN wins in maximum/minimum, as in MXNet.
  const Buf n = make({2}, {std::nanf(""), 1.0f}), one = make({2}, {0.0f, std::nanf("")});
  expect_values(run1("_maximum", {}, {n, one}), {2}, {std::nan(""), std::nan("")});
  expect_values(run1("broadcast_minimum", {}, {n, one}), {2}, {std::nan(""), std::nan("")});
}

TEST(KernelTensorElementwise, Scalar) {
  const Buf x = coarse({3, 5}, 7), xp = coarse({3, 5}, 7, true);
  for (const auto& [f, ref] : binary_refs()) {
    if (f == "add" || f == "sub" || f == "mul" || f == "div") continue;  // named plus/minus/... below
    for (bool reversed : {false, true}) {
      if (reversed && f != "mod" && f != "power") continue;
      const Buf& in = f == "power" && !reversed ? xp : x;
      const double s = reversed ? 1.5 : (f == "power" ? 2.5 : 0.5);
      std::vector<double> want;
      for (float v : in.v) want.push_back(reversed ? (f == "power" ? std::pow(s, v) : py_mod(s, v)) : ref(v, s));
      const std::string op = std::string(reversed ? "_r" : "_") + f + "_scalar";
      SCOPED_TRACE(op);
      expect_values(run1(op, {{"scalar", std::to_string(s)}}, {in}), in.shape, want, 2e-6);
    }
  }
  const std::vector<std::pair<std::string, std::function<double(double)>>> arith = {
      {"_plus_scalar", [](double v) { return v + 0.5; }},  {"_minus_scalar", [](double v) { return v - 0.5; }},
      {"_rminus_scalar", [](double v) { return 0.5 - v; }}, {"_mul_scalar", [](double v) { return v * 0.5; }},
      {"_div_scalar", [](double v) { return v / 0.5; }},
  };
  for (const auto& [op, fn] : arith) {
    std::vector<double> want;
    for (float v : x.v) want.push_back(fn(v));
    expect_values(run1(op, {{"scalar", "0.5"}}, {x}), x.shape, want, 1e-6);  // one rounding: u |y|; 1e-6 = 16 u
  }
  expect_values(run1("_rdiv_scalar", {{"scalar", "3"}}, {make({3}, {2.0f, -4.0f, 0.0f})}), {3}, {1.5, -0.75, INFINITY}, 0);
  expect_values(run1("_rmod_scalar", {{"scalar", "5"}}, {make({3}, {3.0f, -3.0f, 0.0f})}), {3}, {2, -1, 0}, 0);
  expect_values(run1("_mod_scalar", {{"scalar", "-3"}}, {make({2}, {5.0f, -5.0f})}), {2}, {-1, -2}, 0);
  expect_values(run1("_mul_scalar", {}, {make({1}, {7.0f})}), {1}, {7}, 0);  // scalar defaults to 1
  expect_error("_plus_scalar", {{"scalar", "abc"}}, {{2}}, "attribute 'scalar'");
}

TEST(KernelTensorElementwise, AddN) {
  const Buf a = filled({4, 5}, 1), b = filled({4, 5}, 2), c = filled({4, 5}, 3);
  std::vector<double> want;
  for (size_t i = 0; i < a.v.size(); ++i) want.push_back(double(a.v[i]) + b.v[i] + c.v[i]);
  // Two roundings on |a| + |b| + |c| <= 6: 2 u 6 = 7e-7 <= 1e-6.
  expect_values(run1("add_n", {{"num_args", "3"}}, {a, b, c}), {4, 5}, want, 1e-6);
  expect_values(run1("ElementWiseSum", {}, {a, b, c}), {4, 5}, want, 1e-6);
  expect_error("add_n", {}, {{4, 5}, {5, 4}}, "equal shapes");
}

// ================= reductions =================

std::vector<double> reduce_reference(const Buf& x, const std::vector<bool>& reduced, double init,
                                     const std::function<double(double, double)>& add, bool mean) {
  Shape kept;
  for (size_t d = 0; d < x.shape.size(); ++d) kept.push_back(reduced[d] ? 1 : x.shape[d]);
  std::vector<double> acc(static_cast<size_t>(count(kept)), init);
  for (int64_t i = 0; i < count(x.shape); ++i) {
    auto idx = unravel(i, x.shape);
    for (size_t d = 0; d < idx.size(); ++d)
      if (reduced[d]) idx[d] = 0;
    double& a = acc[static_cast<size_t>(ravel(idx, kept))];
    a = add(a, x.v[static_cast<size_t>(i)]);
  }
  if (mean)
    for (double& a : acc) a /= static_cast<double>(count(x.shape) / count(kept));
  return acc;
}

TEST(KernelTensorReduce, AxesKeepdimsExclude) {
  const Buf x = filled({3, 4, 5, 2}, 9);
  struct Red {
    const char* op;
    double init;
    std::function<double(double, double)> add;
    bool mean;
  };
  const std::vector<Red> reds = {
      {"sum", 0, [](double a, double v) { return a + v; }, false},
      {"mean", 0, [](double a, double v) { return a + v; }, true},
      {"prod", 1, [](double a, double v) { return a * v; }, false},
      {"max", -INFINITY, [](double a, double v) { return std::max(a, v); }, false},
      {"min", INFINITY, [](double a, double v) { return std::min(a, v); }, false},
      {"nansum", 0, [](double a, double v) { return a + v; }, false},
      {"nanprod", 1, [](double a, double v) { return a * v; }, false},
  };
  struct AxisCase {
    AttrMap attrs;
    std::vector<bool> reduced;
    Shape out;
  };
  const std::vector<AxisCase> cases = {
      {{}, {true, true, true, true}, {1}},
      {{{"axis", "()"}}, {true, true, true, true}, {1}},
      {{{"axis", "None"}, {"keepdims", "True"}}, {true, true, true, true}, {1, 1, 1, 1}},
      {{{"axis", "1"}}, {false, true, false, false}, {3, 5, 2}},
      {{{"axis", "-1"}, {"keepdims", "True"}}, {false, false, false, true}, {3, 4, 5, 1}},
      {{{"axis", "(0, 2)"}}, {true, false, true, false}, {4, 2}},
      {{{"axis", "(2, 3)"}, {"keepdims", "1"}}, {false, false, true, true}, {3, 4, 1, 1}},
      {{{"axis", "(1, -1)"}, {"exclude", "True"}}, {true, false, true, false}, {4, 2}},
      {{{"axis", "0"}, {"exclude", "True"}, {"keepdims", "True"}}, {false, true, true, true}, {3, 1, 1, 1}},
      {{{"axis", "0"}}, {true, false, false, false}, {4, 5, 2}},
  };
  for (const Red& r : reds)
    for (const AxisCase& c : cases) {
      SCOPED_TRACE(std::string(r.op) + " " + (c.attrs.count("axis") ? c.attrs.at("axis") : "-"));
      // K reduced values (a mean adds its division): gamma_{K+1} times the same reduction of |x|
      // (sum|x| for the sums, |product| for the products; max and min are exact).
      const double K = static_cast<double>(count(x.shape) / count(c.out));
      expect_within(run1(r.op, c.attrs, {x}), c.out, reduce_reference(x, c.reduced, r.init, r.add, r.mean),
                    scaled(reduce_reference(magnitudes(x), c.reduced, std::fabs(r.init) == INFINITY ? 0 : r.init, r.add, r.mean), gamma32(K + 1)));
    }
  expect_error("sum", {{"axis", "(1, 1)"}}, {{3, 4}}, "twice");
  expect_error("mean", {{"axis", "2"}}, {{3, 4}}, "out of range");
  // NaN: propagates through max, skipped by nansum.
  const Buf n = make({2, 2}, {1.0f, std::nanf(""), 3.0f, 4.0f});
  expect_values(run1("max", {{"axis", "1"}}, {n}), {2}, {std::nan(""), 4});
  expect_values(run1("nansum", {{"axis", "1"}}, {n}), {2}, {1, 7});
}

TEST(KernelTensorReduce, NormAndArg) {
  const Buf x = filled({3, 4, 5}, 11);
  auto l2 = [](double a, double v) { return a + v * v; };
  auto l1 = [](double a, double v) { return a + std::fabs(v); };
  std::vector<double> want = reduce_reference(x, {true, true, true}, 0, l2, false);
  want[0] = std::sqrt(want[0]);
  expect_values(run1("norm", {}, {x}), {1}, want);
  want = reduce_reference(x, {false, true, false}, 0, l2, false);
  for (double& w : want) w = std::sqrt(w);
  expect_values(run1("norm", {{"axis", "1"}, {"keepdims", "True"}}, {x}), {3, 1, 5}, want);
  expect_values(run1("norm", {{"ord", "1"}, {"axis", "(0, 2)"}}, {x}), {4}, reduce_reference(x, {true, false, true}, 0, l1, false));
  expect_error("norm", {{"ord", "3"}}, {{3}}, "ord");

  const Buf y = make({2, 3}, {1.0f, 5.0f, 5.0f, 7.0f, -2.0f, 0.0f});
  expect_values(run1("argmax", {{"axis", "1"}}, {y}), {2}, {1, 0}, 0);  // first of equal maxima
  expect_values(run1("argmin", {{"axis", "-1"}, {"keepdims", "True"}}, {y}), {2, 1}, {0, 1}, 0);
  expect_values(run1("argmax", {{"axis", "0"}}, {y}), {3}, {1, 0, 0}, 0);
  expect_values(run1("argmax", {}, {y}), {1}, {3}, 0);
}

// ================= matrix products =================

// C = op(A) · op(B) in double, for one batch of row-major matrices.
std::vector<double> matmul_reference(const float* a, const float* b, int64_t m, int64_t k, int64_t n, bool ta, bool tb) {
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += double(ta ? a[p * m + i] : a[i * k + p]) * double(tb ? b[j * k + p] : b[p * n + j]);
      c[static_cast<size_t>(i * n + j)] = s;
    }
  return c;
}

const char* yes(bool b) { return b ? "True" : "False"; }

TEST(KernelTensorMatmul, Dot2D) {
  // Sizes past the k/n cache blocks (128/256) and not multiples of the 4-row step.
  for (const auto& [m, k, n] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {3, 5, 2}, {37, 300, 270}, {6, 129, 7}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const Buf a = filled(ta ? Shape{k, m} : Shape{m, k}, 1), b = filled(tb ? Shape{n, k} : Shape{k, n}, 2);
        SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) + " ta=" + yes(ta) + " tb=" + yes(tb));
        const Buf ma = magnitudes(a), mb = magnitudes(b);
        expect_within(run1("dot", {{"transpose_a", yes(ta)}, {"transpose_b", yes(tb)}}, {a, b}), {m, n},
                      matmul_reference(a.v.data(), b.v.data(), m, k, n, ta, tb),
                      scaled(matmul_reference(ma.v.data(), mb.v.data(), m, k, n, ta, tb), gamma32(static_cast<double>(k))));
      }
}

// Products of at most 5 terms of |values| <= 2: gamma_5 * 5 * 4 = 6e-6 <= 1e-5 max(1, |y|).
TEST(KernelTensorMatmul, DotVectorsAndND) {
  const Buf u = filled({5}, 1), v = filled({5}, 2), mat = filled({5, 3}, 3), mat2 = filled({4, 5}, 4);
  expect_values(run1("dot", {}, {u, v}), {1}, matmul_reference(u.v.data(), v.v.data(), 1, 5, 1, false, false), 1e-5);
  expect_values(run1("dot", {}, {u, mat}), {3}, matmul_reference(u.v.data(), mat.v.data(), 1, 5, 3, false, false), 1e-5);
  expect_values(run1("dot", {}, {mat2, u}), {4}, matmul_reference(mat2.v.data(), u.v.data(), 4, 5, 1, false, false), 1e-5);
  expect_values(run1("dot", {{"transpose_a", "True"}}, {u, mat}), {3}, matmul_reference(u.v.data(), mat.v.data(), 1, 5, 3, true, false), 1e-5);
  expect_values(run1("dot", {{"transpose_b", "True"}}, {mat2, u}), {4}, matmul_reference(mat2.v.data(), u.v.data(), 4, 5, 1, false, true), 1e-5);
  // N-D: lhs (2,3,4) is (6,4); rhs (4,5,2) is (4,10); the output keeps the remaining dims.
  const Buf l = filled({2, 3, 4}, 5), r = filled({4, 5, 2}, 6);
  expect_values(run1("dot", {}, {l, r}), {2, 3, 5, 2}, matmul_reference(l.v.data(), r.v.data(), 6, 4, 10, false, false), 1e-5);
  // transpose_a on N-D: lhs (4,2,3) read as (4,6) transposed; transpose_b: rhs (5,2,4) as (10,4) transposed.
  const Buf lt = filled({4, 2, 3}, 7), rt = filled({5, 2, 4}, 8);
  expect_values(run1("dot", {{"transpose_a", "True"}, {"transpose_b", "True"}}, {lt, rt}), {2, 3, 5, 2},
                matmul_reference(lt.v.data(), rt.v.data(), 6, 4, 10, true, true), 1e-5);
  EXPECT_EQ(infer("dot", {{"transpose_a", "true"}}, {{4, 2, 3}, {4, 7}}).at(0), (Shape{2, 3, 7}));
  expect_error("dot", {}, {{2, 3}, {4, 5}}, "contracted dims 3 and 4");
  expect_error("dot", {{"transpose_a", "True"}}, {{5}, {5}}, "cannot transpose");
  expect_error("dot", {}, {{5}, {4}}, "lengths differ");
}

TEST(KernelTensorMatmul, BatchDotAndGemm2) {
  const int64_t B = 3, m = 6, k = 9, n = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Buf a = filled(ta ? Shape{B, k, m} : Shape{B, m, k}, 1), b = filled(tb ? Shape{B, n, k} : Shape{B, k, n}, 2);
      std::vector<double> want;
      for (int64_t i = 0; i < B; ++i) {
        const auto c = matmul_reference(a.v.data() + i * m * k, b.v.data() + i * k * n, m, k, n, ta, tb);
        want.insert(want.end(), c.begin(), c.end());
      }
      SCOPED_TRACE(std::string("ta=") + yes(ta) + " tb=" + yes(tb));
      // 9-term sums of |values| <= 2 (alpha 0.5 scales exactly): gamma_9 * 9 * 4 = 2.2e-5 absolute.
      const double bound = gamma32(9) * 9 * 4;
      expect_within(run1("batch_dot", {{"transpose_a", yes(ta)}, {"transpose_b", yes(tb)}}, {a, b}), {B, m, n}, want,
                    std::vector<double>(want.size(), bound));
      for (double& w : want) w *= 0.5;
      expect_within(run1("_linalg_gemm2", {{"transpose_a", yes(ta)}, {"transpose_b", yes(tb)}, {"alpha", "0.5"}}, {a, b}), {B, m, n}, want,
                    std::vector<double>(want.size(), bound / 2));
    }
  // 4-D batch (as in attention: batch, heads, seq, dim).
  EXPECT_EQ(infer("batch_dot", {{"transpose_b", "True"}}, {{2, 4, 7, 8}, {2, 4, 7, 8}}).at(0), (Shape{2, 4, 7, 7}));
  EXPECT_EQ(infer("_linalg_gemm2", {}, {{7, 8}, {8, 3}}).at(0), (Shape{7, 3}));
  expect_error("batch_dot", {}, {{2, 3, 4}, {3, 4, 5}}, "batch dims differ");
  expect_error("batch_dot", {}, {{2, 3, 4}, {2, 5, 6}}, "contracted dims 4 and 5");
  expect_error("batch_dot", {}, {{3, 4}, {4, 5}}, "at least 3-D");
  expect_error("_linalg_gemm2", {{"axis", "-3"}}, {{2, 3, 4}, {2, 4, 5}}, "axis -2");
}

// Results must not depend on the thread count (fixed summation order).
TEST(KernelTensorThreads, Deterministic) {
  const Buf a = filled({64, 200}, 1), b = filled({200, 300}, 2), x = filled({64, 4000}, 3);
  const int saved = omp_get_max_threads();
  auto all = [&] {
    std::vector<std::vector<float>> r;
    r.push_back(run1("dot", {}, {a, b}).v);
    r.push_back(run1("sum", {{"axis", "1"}}, {x}).v);
    r.push_back(run1("mean", {{"axis", "0"}}, {x}).v);
    r.push_back(run1("broadcast_mul", {}, {x, filled({1, 4000}, 4)}).v);
    r.push_back(run1("transpose", {}, {x}).v);
    return r;
  };
  omp_set_num_threads(1);
  const auto one = all();
  omp_set_num_threads(4);
  const auto four = all();
  omp_set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i], four[i]) << "result " << i;
}

TEST(KernelTensorRegistry, OpsRegisteredOnce) {
  const auto ops = reg().ops();
  const std::set<std::string> unique(ops.begin(), ops.end());
  EXPECT_EQ(unique.size(), ops.size());
  for (const char* op : {"Flatten", "Reshape", "transpose", "expand_dims", "squeeze", "Concat", "SliceChannel", "slice_axis",
                         "slice", "_copy", "BlockGrad", "elemwise_add", "broadcast_add", "add_n", "_plus_scalar", "exp", "clip",
                         "Cast", "amp_cast", "amp_multicast", "sum", "mean", "max", "min", "prod", "norm", "dot", "batch_dot"})
    EXPECT_TRUE(unique.count(op)) << op;
}

}  // namespace
