// softmax / log_softmax / softmin (axis, temperature, optional length input), SoftmaxActivation and
// SoftmaxOutput at inference (the label is ignored). All of them reduce to: for every row of M
// values `stride` apart, exp((x - max) / T) normalised.
#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

// The data viewed as (outer, M, inner); rows are the outer × inner lines along M.
struct Lines {
  int64_t outer = 1, M = 1, inner = 1;
};

Lines lines_at(const Shape& s, size_t axis) {
  Lines l;
  l.outer = numel(Shape(s.begin(), s.begin() + static_cast<int64_t>(axis)));
  l.M = s[axis];
  l.inner = numel(Shape(s.begin() + static_cast<int64_t>(axis) + 1, s.end()));
  return l;
}

// lengths (optional): per line, how many leading values take part; the rest are written as 0.
// negate: softmin, the softmax of -x.
void softmax_lines(const float* x, float* y, const Lines& l, float temperature, bool log, const float* lengths, bool negate = false) {
  const int64_t rows = l.outer * l.inner;
  const float inv_t = (negate ? -1.0f : 1.0f) / temperature;
#pragma omp parallel for schedule(static) if (rows * l.M > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = r / l.inner * l.M * l.inner + r % l.inner, st = l.inner;
    const float* xi = x + base;
    float* yi = y + base;
    int64_t m = l.M;
    if (lengths) {
      const float len = lengths[r];
      // Compared as floats first, so that huge values, negatives and NaN convert safely.
      m = len >= static_cast<float>(l.M) ? l.M : len > 0.0f ? static_cast<int64_t>(len) : 0;
    }
    // The largest exponent comes from the max of x (the min, for softmin, whose inv_t is negative).
    float mx = negate ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < m; ++j) mx = negate ? std::min(mx, xi[j * st]) : std::max(mx, xi[j * st]);
    float sum = 0.0f;
    for (int64_t j = 0; j < m; ++j) {
      const float e = std::exp((xi[j * st] - mx) * inv_t);
      sum += e;
      if (!log) yi[j * st] = e;
    }
    if (log) {
      const float ls = std::log(sum);
      for (int64_t j = 0; j < m; ++j) yi[j * st] = (xi[j * st] - mx) * inv_t - ls;
    } else {
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < m; ++j) yi[j * st] *= inv;
    }
    for (int64_t j = m; j < l.M; ++j) yi[j * st] = 0.0f;
  }
}

// ---- softmax, log_softmax, softmin ----

std::vector<Shape> softmax_infer(const Node& n, const std::vector<Shape>& in) {
  const bool use_length = attr_bool(n, "use_length", false);
  expect_inputs(n, in, use_length ? 2 : 1, use_length ? 2 : 1);
  const Shape& d = in[0];
  if (d.empty()) fail(n, "data must have at least one dimension");
  const size_t axis = resolve_axis(n, attr_int(n, "axis", -1), d.size());
  if (use_length) {
    Shape want = d;
    want.erase(want.begin() + static_cast<int64_t>(axis));
    if (numel(in[1]) != numel(want)) fail(n, "length " + shape_str(in[1]) + " does not fit data " + shape_str(d) + " without axis " + std::to_string(axis));
  }
  const auto t = attr_opt_float(n, "temperature");
  if (t && *t == 0.0) fail(n, "temperature must not be 0");
  return outputs_like(n, d);
}

void softmax_common(const KernelArgs& args, bool log, bool negate = false) {
  const Node& n = args.node;
  const Buf& x = *args.in[0];
  const size_t axis = resolve_axis(n, attr_int(n, "axis", -1), x.shape.size());
  const float t = static_cast<float>(attr_opt_float(n, "temperature").value_or(1.0));
  const float* lengths = attr_bool(n, "use_length", false) ? args.in[1]->v.data() : nullptr;
  softmax_lines(x.v.data(), args.out[0]->v.data(), lines_at(x.shape, axis), t, log, lengths, negate);
}

void softmax_run(const KernelArgs& args) { softmax_common(args, false); }
void log_softmax_run(const KernelArgs& args) { softmax_common(args, true); }
void softmin_run(const KernelArgs& args) { softmax_common(args, false, true); }

// ---- SoftmaxActivation: mode "instance" (all but the batch axis) or "channel" (axis 1) ----

std::vector<Shape> softmax_act_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 1, 1);
  const std::string mode = attr_str(n, "mode", "instance");
  if (mode != "instance" && mode != "channel") fail(n, "mode '" + mode + "' is not supported");
  if (in[0].empty() || (mode == "channel" && in[0].size() < 2)) fail(n, "data " + shape_str(in[0]) + " has too few dimensions");
  return outputs_like(n, in[0]);
}

void softmax_act_run(const KernelArgs& args) {
  const Buf& x = *args.in[0];
  Lines l;
  if (attr_str(args.node, "mode", "instance") == "channel") {
    l = lines_at(x.shape, 1);
  } else {
    l.outer = x.shape[0];
    l.M = l.outer == 0 ? 0 : x.numel() / l.outer;
  }
  softmax_lines(x.v.data(), args.out[0]->v.data(), l, 1.0f, false, nullptr);
}

// ---- SoftmaxOutput: multi_output -> axis 1; preserve_shape -> last axis; else all but axis 0 ----

std::vector<Shape> softmax_out_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 1, 2);
  const Shape& d = in[0];
  if (d.empty()) fail(n, "data must have at least one dimension");
  if (attr_bool(n, "multi_output", false) && d.size() < 2) fail(n, "multi_output needs data with a class axis 1, got " + shape_str(d));
  return outputs_like(n, d);
}

void softmax_out_run(const KernelArgs& args) {
  const Node& n = args.node;
  const Buf& x = *args.in[0];
  Lines l;
  if (attr_bool(n, "multi_output", false)) {
    l = lines_at(x.shape, 1);
  } else if (attr_bool(n, "preserve_shape", false)) {
    l = lines_at(x.shape, x.shape.size() - 1);
  } else {
    l.outer = x.shape[0];
    l.M = l.outer == 0 ? 0 : x.numel() / l.outer;
  }
  softmax_lines(x.v.data(), args.out[0]->v.data(), l, 1.0f, false, nullptr);
}

}  // namespace

void register_softmax(KernelRegistry& r) {
  r.add({"softmax", softmax_infer, softmax_run});
  r.add({"log_softmax", softmax_infer, log_softmax_run});
  r.add({"softmin", softmax_infer, softmin_run});
  r.add({"SoftmaxActivation", softmax_act_infer, softmax_act_run});
  r.add({"SoftmaxOutput", softmax_out_infer, softmax_out_run});
}

}  // namespace mixprec::runtime::nn
