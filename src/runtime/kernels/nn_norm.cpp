// Normalisation layers, inference semantics: BatchNorm (and BatchNorm_v1, _contrib_SyncBatchNorm,
// _contrib_BatchNormWithReLU) use the moving statistics; LayerNorm, InstanceNorm and GroupNorm
// compute theirs from the data.
#include <algorithm>
#include <cmath>

#include "runtime/epilogue.h"
#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

// Sum of `count` values `stride` apart. Eight partial sums in a fixed order: vectorisable for
// stride 1, more accurate than one running sum, and the same result on any thread count.
float sum_of(const float* p, int64_t count, int64_t stride, float shift = 0.0f, bool squares = false) {
  float part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int l = 0; l < 8; ++l) {
      const float v = p[(i + l) * stride] - shift;
      part[l] += squares ? v * v : v;
    }
  float s = 0.0f;
  for (; i < count; ++i) {
    const float v = p[i * stride] - shift;
    s += squares ? v * v : v;
  }
  for (int l = 0; l < 8; ++l) s += part[l];
  return s;
}

// Mean and (population) variance; the variance is taken around the mean, in a second pass.
void moments(const float* p, int64_t count, int64_t stride, float& mean, float& var) {
  const float n = static_cast<float>(std::max<int64_t>(count, 1));
  mean = sum_of(p, count, stride) / n;
  var = sum_of(p, count, stride, mean, true) / n;
}

// ---- BatchNorm ----

struct BnParams {
  size_t axis = 1;
  double eps = 1e-3;
  bool fix_gamma = true, relu = false;
};

BnParams bn_params(const Node& n, size_t ndim) {
  BnParams p;
  const bool has_axis = n.op == "BatchNorm" || n.op == "_contrib_BatchNormWithReLU";
  p.axis = resolve_axis(n, has_axis ? attr_int(n, "axis", 1) : 1, ndim);
  p.eps = attr_float(n, "eps", 1e-3);
  p.fix_gamma = attr_bool(n, "fix_gamma", true);
  p.relu = n.op == "_contrib_BatchNormWithReLU";
  return p;
}

std::vector<Shape> bn_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 5, 5);
  const Shape& d = in[0];
  if (d.empty()) fail(n, "data must have at least one dimension");
  const BnParams p = bn_params(n, d.size());
  const int64_t C = d[p.axis];
  const char* names[] = {"gamma", "beta", "moving_mean", "moving_var"};
  for (size_t i = 1; i < 5; ++i)
    if (numel(in[i]) != C || in[i].size() != 1)
      fail(n, std::string(names[i - 1]) + " " + shape_str(in[i]) + " does not fit " + std::to_string(C) + " channels of data " + shape_str(d));
  std::vector<Shape> out = outputs_like(n, Shape{C});
  out[0] = d;
  return out;
}

void bn_run(const KernelArgs& args) {
  const Buf& x = *args.in[0];
  const BnParams p = bn_params(args.node, x.shape.size());
  const int64_t C = x.shape[p.axis];
  const int64_t outer = numel(Shape(x.shape.begin(), x.shape.begin() + static_cast<int64_t>(p.axis)));
  const int64_t inner = numel(Shape(x.shape.begin() + static_cast<int64_t>(p.axis) + 1, x.shape.end()));
  const float* gamma = args.in[1]->v.data();
  const float* beta = args.in[2]->v.data();
  const float* mean = args.in[3]->v.data();
  const float* var = args.in[4]->v.data();
  // Per channel: out = (x - mean) * scale + beta, scale = gamma / sqrt(var + eps) (gamma = 1 when fixed).
  // The fused convolution epilogue computes the same scale with the same function (bit-identical runs).
  const std::vector<float> scale = batchnorm_scale(gamma, var, C, p.eps, p.fix_gamma);
  std::vector<float> invstd(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) invstd[static_cast<size_t>(c)] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + p.eps));
  const float* xs = x.v.data();
  float* ys = args.out[0]->v.data();
#pragma omp parallel for schedule(static) if (x.numel() > (1 << 15))
  for (int64_t oc = 0; oc < outer * C; ++oc) {
    const int64_t c = oc % C;
    const float m = mean[c], s = scale[static_cast<size_t>(c)], b = beta[c];
    const float* xi = xs + oc * inner;
    float* yi = ys + oc * inner;
    for (int64_t i = 0; i < inner; ++i) yi[i] = (xi[i] - m) * s + b;
    if (p.relu)
      for (int64_t i = 0; i < inner; ++i) yi[i] = std::max(yi[i], 0.0f);
  }
  // Hidden outputs: the statistics used, mean and inverse std as MXNet's output_mean_var documents.
  if (args.out.size() > 1) std::copy_n(mean, C, args.out[1]->v.data());
  if (args.out.size() > 2) std::copy(invstd.begin(), invstd.end(), args.out[2]->v.data());
}

// ---- LayerNorm ----

std::vector<Shape> ln_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 3, 3);
  const Shape& d = in[0];
  if (d.empty()) fail(n, "data must have at least one dimension");
  const size_t axis = resolve_axis(n, attr_int(n, "axis", -1), d.size());
  for (size_t i = 1; i < 3; ++i)
    if (in[i] != Shape{d[axis]})
      fail(n, std::string(i == 1 ? "gamma " : "beta ") + shape_str(in[i]) + " does not fit axis " + std::to_string(axis) + " of data " +
                  shape_str(d));
  Shape stat = d;
  stat[axis] = 1;
  std::vector<Shape> out = outputs_like(n, stat);
  out[0] = d;
  return out;
}

void ln_run(const KernelArgs& args) {
  const Buf& x = *args.in[0];
  const Node& n = args.node;
  const size_t axis = resolve_axis(n, attr_int(n, "axis", -1), x.shape.size());
  const float eps = static_cast<float>(attr_float(n, "eps", 1e-5));
  const int64_t C = x.shape[axis];
  const int64_t inner = numel(Shape(x.shape.begin() + static_cast<int64_t>(axis) + 1, x.shape.end()));
  const int64_t rows = C == 0 ? 0 : x.numel() / C;
  const float* g = args.in[1]->v.data();
  const float* b = args.in[2]->v.data();
  float* mean_out = args.out.size() > 1 ? args.out[1]->v.data() : nullptr;
  float* std_out = args.out.size() > 2 ? args.out[2]->v.data() : nullptr;
#pragma omp parallel for schedule(static) if (x.numel() > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    // Row r: outer index r / inner, inner offset r % inner; its C values are `inner` apart.
    const int64_t base = r / inner * C * inner + r % inner;
    const float* xi = x.v.data() + base;
    float* yi = args.out[0]->v.data() + base;
    float mean = 0.0f, var = 0.0f;
    moments(xi, C, inner, mean, var);
    const float sd = std::sqrt(var + eps);
    for (int64_t c = 0; c < C; ++c) yi[c * inner] = (xi[c * inner] - mean) / sd * g[c] + b[c];
    if (mean_out) mean_out[r] = mean;
    if (std_out) std_out[r] = sd;
  }
}

// ---- InstanceNorm and GroupNorm: statistics per (image, channel group) over the rest ----

std::vector<Shape> group_infer(const Node& n, const std::vector<Shape>& in, int64_t groups) {
  expect_inputs(n, in, 3, 3);
  const Shape& d = in[0];
  if (d.size() < 3) fail(n, "data " + shape_str(d) + " must have at least 3 dimensions (N, C, ...)");
  const int64_t C = d[1];
  if (groups <= 0 || C % groups != 0) fail(n, std::to_string(C) + " channels are not divisible into " + std::to_string(groups) + " groups");
  for (size_t i = 1; i < 3; ++i) {
    const int64_t k = numel(in[i]);
    // GroupNorm's gamma/beta were per group before MXNet 1.7 and per channel since.
    if (in[i].size() != 1 || (k != C && !(n.op == "GroupNorm" && k == groups)))
      fail(n, std::string(i == 1 ? "gamma " : "beta ") + shape_str(in[i]) + " does not fit " + std::to_string(C) + " channels");
  }
  std::vector<Shape> out = outputs_like(n, Shape{d[0], groups});
  out[0] = d;
  return out;
}

// stat_std: write std (GroupNorm) rather than variance (InstanceNorm) to the third output.
void group_run(const KernelArgs& args, int64_t groups, float eps, bool stat_std) {
  const Buf& x = *args.in[0];
  const int64_t N = x.shape[0], C = x.shape[1];
  const int64_t spatial = numel(Shape(x.shape.begin() + 2, x.shape.end()));
  const int64_t cg = C / groups, block = cg * spatial;
  const float* g = args.in[1]->v.data();
  const float* b = args.in[2]->v.data();
  const bool per_group = numel(args.in[1]->shape) != C;
  float* mean_out = args.out.size() > 1 ? args.out[1]->v.data() : nullptr;
  float* var_out = args.out.size() > 2 ? args.out[2]->v.data() : nullptr;
#pragma omp parallel for schedule(static) if (x.numel() > (1 << 15))
  for (int64_t i = 0; i < N * groups; ++i) {
    const float* xi = x.v.data() + i * block;
    float* yi = args.out[0]->v.data() + i * block;
    float mean = 0.0f, var = 0.0f;
    moments(xi, block, 1, mean, var);
    const float sd = std::sqrt(var + eps);
    for (int64_t c = 0; c < cg; ++c) {
      const int64_t ch = i % groups * cg + c, pi = per_group ? i % groups : ch;
      for (int64_t s = 0; s < spatial; ++s) yi[c * spatial + s] = (xi[c * spatial + s] - mean) / sd * g[pi] + b[pi];
    }
    if (mean_out) mean_out[i] = mean;
    if (var_out) var_out[i] = stat_std ? sd : var;
  }
}

std::vector<Shape> in_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 3, 3);
  if (in[0].size() < 3) fail(n, "data " + shape_str(in[0]) + " must have at least 3 dimensions (N, C, ...)");
  return group_infer(n, in, in[0][1]);
}

void in_run(const KernelArgs& args) {
  group_run(args, args.in[0]->shape[1], static_cast<float>(attr_float(args.node, "eps", 1e-3)), false);
}

std::vector<Shape> gn_infer(const Node& n, const std::vector<Shape>& in) { return group_infer(n, in, attr_int(n, "num_groups", 1)); }

void gn_run(const KernelArgs& args) {
  group_run(args, attr_int(args.node, "num_groups", 1), static_cast<float>(attr_float(args.node, "eps", 1e-5)), true);
}

}  // namespace

void register_norm(KernelRegistry& r) {
  for (const char* op : {"BatchNorm", "BatchNorm_v1", "_contrib_SyncBatchNorm", "_contrib_BatchNormWithReLU"})
    r.add({op, bn_infer, bn_run});
  r.add({"LayerNorm", ln_infer, ln_run});
  r.add({"InstanceNorm", in_infer, in_run});
  r.add({"GroupNorm", gn_infer, gn_run});
}

}  // namespace mixprec::runtime::nn
