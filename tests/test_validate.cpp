// The figures `mixprec compare` reports and its verdict: nothing non-finite is skipped, top-1 only
// where outputs hold class scores, every limit checked, and the per-node report on a graph that
// overflows float16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/graph_builder.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"
#include "runtime/session.h"
#include "validate/accuracy_gate.h"
#include "validate/metrics.h"
#include "validate/model_compare.h"

using namespace mixprec;
using runtime::Buf;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

Buf buf(runtime::Shape shape, std::vector<float> v) { return Buf{std::move(shape), std::move(v)}; }

TEST(Metrics, IdenticalOutputsArePerfect) {
  const Buf r = buf({2, 3}, {1, 2, 3, -1, 0.5f, 4});
  const auto m = validate::compare(r, r);
  EXPECT_EQ(m.max_abs, 0);
  EXPECT_EQ(m.nmse, 0);
  EXPECT_DOUBLE_EQ(m.cosine, 1.0);
  EXPECT_EQ(m.nonfinite_mismatches(), 0);
  ASSERT_TRUE(m.class_axis);
  EXPECT_EQ(m.samples, 2);
  EXPECT_EQ(m.top1_agreement, 1.0);
}

TEST(Metrics, CandidateInfWhereReferenceIsFiniteIsNeverHidden) {
  // The bug this guards against: an all-inf candidate reported as max abs 0, NMSE 0, cosine 1.
  const Buf r = buf({1, 4}, {1, 2, 3, 4});
  const Buf c = buf({1, 4}, {kInf, kInf, kInf, kInf});
  const auto m = validate::compare(r, c);
  EXPECT_EQ(m.cand_nonfinite_where_ref_finite, 4);
  EXPECT_TRUE(std::isinf(m.max_abs));
  EXPECT_TRUE(std::isinf(m.max_rel));
  EXPECT_TRUE(std::isinf(m.nmse));
  EXPECT_TRUE(std::isnan(m.cosine));
  EXPECT_EQ(m.top1_agreement, 0.0);  // the argmax of an inf row agrees with nothing
}

TEST(Metrics, OneNonFiniteAmongFiniteValuesStillCounts) {
  const Buf r = buf({1, 4}, {1, 2, 3, 4});
  const Buf c = buf({1, 4}, {1, 2, kNaN, 4});
  const auto m = validate::compare(r, c);
  EXPECT_EQ(m.cand_nonfinite_where_ref_finite, 1);
  EXPECT_TRUE(std::isinf(m.nmse));
  EXPECT_TRUE(std::isnan(m.cosine));
  EXPECT_EQ(m.top1_agreement, 0.0);
}

TEST(Metrics, NonFiniteDifferentlyCountsButTheSameNonFiniteAgrees) {
  const Buf r = buf({4}, {kInf, -kInf, kNaN, 1});
  const Buf same = buf({4}, {kInf, -kInf, kNaN, 1});
  const auto ok = validate::compare(r, same);
  EXPECT_EQ(ok.nonfinite_mismatches(), 0);
  EXPECT_EQ(ok.nmse, 0);
  EXPECT_EQ(ok.ref_nonfinite, 3);
  const Buf other = buf({4}, {-kInf, kNaN, kNaN, 1});
  const auto bad = validate::compare(r, other);
  EXPECT_EQ(bad.nonfinite_differently, 2);
  EXPECT_TRUE(std::isinf(bad.max_abs));
  const Buf finite = buf({4}, {1, 2, 3, 1});
  EXPECT_EQ(validate::compare(r, finite).ref_nonfinite_where_cand_finite, 3);
}

TEST(Metrics, ErrorsAreMeasuredOnFiniteOutputs) {
  const Buf r = buf({2}, {3, 4});
  const Buf c = buf({2}, {3, 4.5f});
  const auto m = validate::compare(r, c);
  EXPECT_DOUBLE_EQ(m.max_abs, 0.5);
  EXPECT_DOUBLE_EQ(m.max_rel, 0.5 / 4);
  EXPECT_DOUBLE_EQ(m.nmse, 0.25 / 25);
  EXPECT_NEAR(m.cosine, (9 + 18) / (5 * std::sqrt(9 + 20.25)), 1e-12);  // a few double roundings: ~1e-15
  EXPECT_FALSE(m.class_axis);  // a vector holds no per-sample class scores
}

TEST(Metrics, TopOneOnlyOverClassAxes) {
  // (N, C) and (N, C, 1, 1): one argmax per sample.
  EXPECT_EQ(validate::default_class_axis({8, 1000}), 1);
  EXPECT_EQ(validate::default_class_axis({8, 1000, 1, 1}), 1);
  // Not class scores: a detector's map (argmax across width), hidden states, a single score.
  EXPECT_FALSE(validate::default_class_axis({1, 2, 235, 315}));
  EXPECT_FALSE(validate::default_class_axis({1, 128, 768}));
  EXPECT_FALSE(validate::default_class_axis({8, 1}));
  EXPECT_FALSE(validate::default_class_axis({1000}));

  const Buf r = buf({1, 2, 2, 3}, {0, 5, 0, 1, 0, 0, /**/ 1, 0, 2, 0, 1, 0});
  const auto none = validate::compare(r, r);
  EXPECT_FALSE(none.class_axis);
  EXPECT_EQ(none.samples, 0);
  // --class-axis 1: one argmax over the 2 channels at each of the 6 positions.
  Buf c = r;
  c.v[6] = -1;  // position (0,0): the reference says channel 1, the candidate channel 0
  const auto over_channels = validate::compare(r, c, 1);
  EXPECT_EQ(over_channels.class_axis, 1);
  EXPECT_EQ(over_channels.samples, 6);
  EXPECT_DOUBLE_EQ(over_channels.top1_agreement, 5.0 / 6);
  // Negative axes count from the end; an axis the output does not have is an error.
  EXPECT_EQ(validate::compare(r, c, -1).samples, 4);
  EXPECT_THROW(validate::compare(r, c, 4), Error);
}

TEST(Metrics, TopOneCountsSamplesThatDisagree) {
  const Buf r = buf({3, 3}, {0, 1, 2, /**/ 5, 1, 0, /**/ 0, 9, 1});
  const Buf c = buf({3, 3}, {0, 1, 2, /**/ 0, 1, 5, /**/ 0, 9, 1});
  const auto m = validate::compare(r, c);
  EXPECT_EQ(m.samples, 3);
  EXPECT_DOUBLE_EQ(m.top1_agreement, 2.0 / 3);
}

TEST(Metrics, ShapesMustAgree) { EXPECT_THROW(validate::compare(buf({2}, {1, 2}), buf({1, 2}, {1, 2})), Error); }

validate::Comparison comparison_of(const Buf& r, const Buf& c) {
  validate::Comparison cmp;
  cmp.outputs.push_back(validate::compare(r, c));
  cmp.reference.push_back(r);
  cmp.candidate.push_back(c);
  return cmp;
}

const validate::GateCheck* find_check(const std::vector<validate::GateCheck>& checks, const std::string& name) {
  for (const auto& c : checks)
    if (c.check == name) return &c;
  return nullptr;
}

TEST(Gate, EveryLimitPassesAndFailsWhereItShould) {
  const Buf r = buf({2, 2}, {1, 2, 3, 4});
  const Buf c = buf({2, 2}, {1.01f, 2, 3, 4.2f});  // second sample: argmax still 1
  const auto cmp = comparison_of(r, c);
  validate::GateLimits l;
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(cmp, l)));  // only the non-finite check
  l.atol = 0.25;
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(cmp, l)));
  l.atol = 0.1;
  auto checks = validate::evaluate_gate(cmp, l);
  ASSERT_NE(find_check(checks, "allclose"), nullptr);
  EXPECT_FALSE(find_check(checks, "allclose")->passed);
  EXPECT_EQ(find_check(checks, "allclose")->value, 1);  // only 4.2 vs 4 is off by more than 0.1
  EXPECT_NE(find_check(checks, "allclose")->detail.find("(1, 1)"), std::string::npos) << find_check(checks, "allclose")->detail;
  l.rtol = 0.05;  // 0.1 + 0.05 * 4 = 0.3 covers it
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(cmp, l)));

  validate::GateLimits n;
  n.max_nmse = 2e-3;  // NMSE = (0.01^2 + 0.2^2) / 30 = 1.34e-3
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(cmp, n)));
  n.max_nmse = 1e-3;
  EXPECT_FALSE(validate::all_passed(validate::evaluate_gate(cmp, n)));

  validate::GateLimits cos;
  cos.min_cosine = 0.999;
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(cmp, cos)));
  cos.min_cosine = 0.99999;
  EXPECT_FALSE(validate::all_passed(validate::evaluate_gate(cmp, cos)));

  validate::GateLimits top;
  top.min_top1 = 1.0;
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(cmp, top)));
  const Buf flipped = buf({2, 2}, {1, 2, 5, 4});
  top.min_top1 = 0.6;
  EXPECT_FALSE(validate::all_passed(validate::evaluate_gate(comparison_of(r, flipped), top)));
  top.min_top1 = 0.5;
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(comparison_of(r, flipped), top)));
}

TEST(Gate, NonFiniteAlwaysFailsUnlessAllowed) {
  const Buf r = buf({1, 3}, {1, 2, 3});
  const Buf c = buf({1, 3}, {1, kInf, 3});
  validate::GateLimits l;
  auto checks = validate::evaluate_gate(comparison_of(r, c), l);
  ASSERT_NE(find_check(checks, "nonfinite"), nullptr);
  EXPECT_FALSE(find_check(checks, "nonfinite")->passed);
  l.allow_nonfinite = true;
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(comparison_of(r, c), l)));
  l.max_nmse = 1.0;  // still: an inf NMSE is above any limit
  EXPECT_FALSE(validate::all_passed(validate::evaluate_gate(comparison_of(r, c), l)));
}

TEST(Gate, ATopOneLimitWithNoClassScoresFails) {
  // A limit that nothing is checked against must not pass silently.
  const Buf r = buf({1, 2, 4, 4}, std::vector<float>(32, 1.0f));
  validate::GateLimits l;
  l.min_top1 = 0.9;
  const auto checks = validate::evaluate_gate(comparison_of(r, r), l);
  EXPECT_FALSE(validate::all_passed(checks));
  EXPECT_NE(find_check(checks, "top1")->detail.find("--class-axis"), std::string::npos);
}

// data (1, 4) -> FullyConnected "fc" (weights 200) -> relu "act": 4 * 100 * 200 = 80000 overflows
// float16 (largest finite 65504) at fc; bfloat16 holds it.
struct Overflowing {
  Graph graph;
  TensorMap arg, aux;
  std::map<std::string, Buf> inputs{{"data", buf({1, 4}, {100, 100, 100, 100})}};
  Overflowing() {
    GraphBuilder b;
    const Entry x = b.var("data");
    const Entry w = b.var("fc_weight"), bias = b.var("fc_bias");
    const Entry fc = b.op("FullyConnected", "fc", {x, w, bias}, {{"num_hidden", "3"}});
    graph = b.build({b.op("Activation", "act", {fc}, {{"act_type", "relu"}})});
    arg["fc_weight"] = Tensor::from_floats({3, 4}, std::vector<float>(12, 200.0f));
    arg["fc_bias"] = Tensor::from_floats({3}, {0, 0, 0});
  }
};

validate::Comparison compare_converted(const Overflowing& m, DType target) {
  amp::AmpOptions o;
  o.target_dtype = target;
  amp::AmpResult r = amp::convert_model(m.graph, m.arg, m.aux, o);
  runtime::SessionOptions so;
  so.fuse = false;
  so.input_shapes["data"] = {1, 4};
  runtime::Session ref(m.graph, m.arg, m.aux, so);
  so.observe_unrounded = true;
  runtime::Session cand(std::move(r.graph), r.arg_params, r.aux_params, so);
  return validate::compare_models(ref, cand, m.inputs);
}

TEST(ModelCompare, NamesTheFirstNodeThatOverflows) {
  const Overflowing m;
  const validate::Comparison c = compare_converted(m, DType::Float16);
  ASSERT_TRUE(c.first_nonfinite.has_value());
  EXPECT_EQ(c.first_nonfinite->name, "fc");
  EXPECT_EQ(c.first_nonfinite->op, "FullyConnected");
  EXPECT_EQ(c.first_nonfinite->dtype, DType::Float16);
  EXPECT_EQ(c.first_nonfinite->count, 3);
  EXPECT_DOUBLE_EQ(c.first_nonfinite->reference_peak, 80000.0);
  EXPECT_GT(c.first_nonfinite->reference_peak, validate::largest_finite(DType::Float16));
  EXPECT_EQ(c.outputs[0].cand_nonfinite_where_ref_finite, 3);
  // The node's own error is infinite (it rounded finite values to inf); the relu after it, which
  // passes inf through, inherits the inf but adds no error of its own.
  ASSERT_FALSE(c.largest_own_errors.empty());
  EXPECT_EQ(c.largest_own_errors.front().name, "fc");
  EXPECT_TRUE(std::isinf(c.largest_own_errors.front().in_roundoff));
  const auto act = std::find_if(c.largest_own_errors.begin(), c.largest_own_errors.end(),
                                [](const validate::OwnError& e) { return e.name == "act"; });
  ASSERT_NE(act, c.largest_own_errors.end());
  EXPECT_EQ(act->relative, 0.0);
  EXPECT_FALSE(validate::all_passed(validate::evaluate_gate(c, {})));
}

TEST(ModelCompare, BFloat16HoldsWhatFloat16Cannot) {
  const validate::Comparison c = compare_converted(Overflowing{}, DType::BFloat16);
  EXPECT_FALSE(c.first_nonfinite.has_value());
  EXPECT_EQ(c.outputs[0].cand_nonfinite, 0);
  // bfloat16's spacing at 80000 is 2^9 = 512: 80000 = 156.25 * 512 rounds to 79872.
  EXPECT_EQ(c.outputs[0].max_abs, 128.0);
  EXPECT_TRUE(validate::all_passed(validate::evaluate_gate(c, {})));
}

TEST(ModelCompare, OwnErrorIsTheRoundingAtTheNode) {
  // 1/3 in float16 is 0.333251953125: relative error 1.46e-4 = 0.30 unit roundoffs (2^-11).
  GraphBuilder b;
  const Entry x = b.var("data");
  Graph g = b.build({b.op("FullyConnected", "fc", {x, b.var("w"), b.var("b")}, {{"num_hidden", "1"}})});
  TensorMap arg{{"w", Tensor::from_floats({1, 1}, {1.0f})}, {"b", Tensor::from_floats({1}, {0.0f})}};
  amp::AmpOptions o;
  amp::AmpResult r = amp::convert_model(g, arg, {}, o);
  runtime::SessionOptions so;
  so.fuse = false;
  so.input_shapes["data"] = {1, 1};
  runtime::Session ref(g, arg, {}, so);
  so.observe_unrounded = true;
  runtime::Session cand(std::move(r.graph), r.arg_params, r.aux_params, so);
  const auto c = validate::compare_models(ref, cand, {{"data", buf({1, 1}, {1.0f / 3})}});
  // Two float16 nodes: the cast of the input (its rounding of 1/3) and fc (exact given that input).
  ASSERT_EQ(c.largest_own_errors.size(), 2u);
  const auto& top = c.largest_own_errors.front();
  EXPECT_NE(top.name.find("amp_cast"), std::string::npos) << top.name;
  const double expected = std::fabs(0.333251953125 - static_cast<double>(1.0f / 3)) / static_cast<double>(1.0f / 3);
  // The metric is computed in double from float values: error ~1e-16 relative; 1e-9 leaves room for
  // it being computed through float32 (2^-24 = 6e-8 relative of expected ~2e-4: 1.2e-11).
  EXPECT_NEAR(top.relative, expected, 1e-9);
  EXPECT_NEAR(top.in_roundoff, expected * 2048, 1e-6);
  EXPECT_EQ(c.largest_own_errors[1].name, "fc");
  EXPECT_EQ(c.largest_own_errors[1].relative, 0.0);
}

}  // namespace
