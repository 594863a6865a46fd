// Elementwise activations: Activation, LeakyReLU (all its act_types) and Dropout (identity at
// inference; its mask output is all ones).
#include <algorithm>
#include <cmath>

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

// y[i] = f(x[i]) over the whole buffer.
template <class F>
void map(const Buf& x, Buf& y, F f) {
  const float* xs = x.v.data();
  float* ys = y.v.data();
  const int64_t count = x.numel();
#pragma omp parallel for schedule(static) if (count > kParallelMin)
  for (int64_t i = 0; i < count; ++i) ys[i] = f(xs[i]);
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }
// log(1 + e^v) without overflow for large v.
float softrelu(float v) { return v > 20.0f ? v : std::log1p(std::exp(v)); }

// ---- Activation ----

std::vector<Shape> act_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 1, 1);
  const std::string t = attr_str(n, "act_type", "");
  if (t.empty()) fail(n, "attribute 'act_type' is required");
  if (t != "relu" && t != "sigmoid" && t != "tanh" && t != "softrelu" && t != "softsign" && t != "log_sigmoid" && t != "mish")
    fail(n, "act_type '" + t + "' is not supported");
  return outputs_like(n, in[0]);
}

void act_run(const KernelArgs& args) {
  const std::string t = attr_str(args.node, "act_type", "");
  const Buf& x = *args.in[0];
  Buf& y = *args.out[0];
  if (t == "relu") {
    map(x, y, [](float v) { return v > 0.0f ? v : 0.0f; });
  } else if (t == "sigmoid") {
    map(x, y, sigmoid);
  } else if (t == "tanh") {
    map(x, y, [](float v) { return std::tanh(v); });
  } else if (t == "softrelu") {
    map(x, y, softrelu);
  } else if (t == "softsign") {
    map(x, y, [](float v) { return v / (1.0f + std::fabs(v)); });
  } else if (t == "log_sigmoid") {
    map(x, y, [](float v) { return -softrelu(-v); });
  } else if (t == "mish") {
    map(x, y, [](float v) { return v * std::tanh(softrelu(v)); });
  }
}

// ---- LeakyReLU ----

std::vector<Shape> leaky_infer(const Node& n, const std::vector<Shape>& in) {
  const std::string t = attr_str(n, "act_type", "leaky");
  if (t == "prelu") {
    expect_inputs(n, in, 2, 2);
    const int64_t k = numel(in[1]);
    // One slope for everything, or one per channel (axis 1).
    if (k != 1 && (in[0].size() < 2 || k != in[0][1]))
      fail(n, "gamma " + shape_str(in[1]) + " does not fit the channels of data " + shape_str(in[0]));
  } else if (t == "leaky" || t == "elu" || t == "selu" || t == "gelu" || t == "gelu_tanh" || t == "rrelu") {
    expect_inputs(n, in, 1, 1);
  } else {
    fail(n, "act_type '" + t + "' is not supported");
  }
  return outputs_like(n, in[0]);
}

void leaky_run(const KernelArgs& args) {
  const Node& n = args.node;
  const std::string t = attr_str(n, "act_type", "leaky");
  const Buf& x = *args.in[0];
  Buf& y = *args.out[0];
  if (t == "prelu") {
    const Buf& g = *args.in[1];
    const int64_t C = g.numel() == 1 ? 1 : x.shape[1];
    const int64_t inner = C == 1 ? x.numel() : numel(Shape(x.shape.begin() + 2, x.shape.end()));
    const int64_t planes = inner == 0 ? 0 : x.numel() / inner;
#pragma omp parallel for schedule(static) if (x.numel() > kParallelMin)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const float a = g.v[static_cast<size_t>(pl % C)];
      const float* xs = x.v.data() + pl * inner;
      float* ys = y.v.data() + pl * inner;
      for (int64_t i = 0; i < inner; ++i) ys[i] = xs[i] > 0.0f ? xs[i] : a * xs[i];
    }
  } else if (t == "leaky" || t == "rrelu") {
    // rrelu at inference uses the middle of its random range.
    const float a = t == "leaky" ? static_cast<float>(attr_float(n, "slope", 0.25))
                                 : static_cast<float>((attr_float(n, "lower_bound", 0.125) + attr_float(n, "upper_bound", 0.334)) / 2);
    map(x, y, [a](float v) { return v > 0.0f ? v : a * v; });
  } else if (t == "elu") {
    const float a = static_cast<float>(attr_float(n, "slope", 0.25));
    map(x, y, [a](float v) { return v > 0.0f ? v : a * std::expm1(v); });
  } else if (t == "selu") {
    constexpr float alpha = 1.6732632423543772f, lambda = 1.0507009873554805f;
    map(x, y, [](float v) { return lambda * (v > 0.0f ? v : alpha * std::expm1(v)); });
  } else if (t == "gelu") {
    map(x, y, [](float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f)); });
  } else if (t == "gelu_tanh") {
    map(x, y, [](float v) { return 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v))); });
  }
  // rrelu's mask output, when the graph has one: the slope applied to every element.
  const float mask = static_cast<float>((attr_float(n, "lower_bound", 0.125) + attr_float(n, "upper_bound", 0.334)) / 2);
  for (size_t o = 1; o < args.out.size(); ++o) std::fill(args.out[o]->v.begin(), args.out[o]->v.end(), mask);
}

// ---- Dropout ----

std::vector<Shape> dropout_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 1, 1);
  return outputs_like(n, in[0]);
}

void dropout_run(const KernelArgs& args) {
  std::copy(args.in[0]->v.begin(), args.in[0]->v.end(), args.out[0]->v.begin());
  for (size_t o = 1; o < args.out.size(); ++o) std::fill(args.out[o]->v.begin(), args.out[o]->v.end(), 1.0f);
}

}  // namespace

void register_activation(KernelRegistry& r) {
  r.add({"Activation", act_infer, act_run});
  r.add({"LeakyReLU", leaky_infer, leaky_run});
  r.add({"Dropout", dropout_infer, dropout_run});
}

}  // namespace mixprec::runtime::nn
