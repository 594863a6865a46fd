// The reference evaluator (see reference_evaluator.h). Written from MXNet's operator documentation
// (src/operator/nn/*.cc parameter descriptions and the formulas in its docstrings), not from
// src/runtime: plain loops over NCHW indices, double accumulation, no blocking, no threads.
#include "reference_evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace mixprec::testing::ref {
namespace {

[[noreturn]] void fail(const Node& n, const std::string& why) {
  throw std::runtime_error("reference evaluator: node '" + n.name + "' (" + n.op + "): " + why);
}

// ---- attributes, parsed here (MXNet writes them as strings: "(3, 3)", "(3,3)", "True", "1e-05") ----

const std::string* find_attr(const Node& n, const char* key) {
  auto it = n.attrs.find(key);
  return it == n.attrs.end() ? nullptr : &it->second;
}

bool bool_attr(const Node& n, const char* key, bool fallback) {
  const std::string* s = find_attr(n, key);
  if (!s) return fallback;
  if (*s == "True" || *s == "true" || *s == "1") return true;
  if (*s == "False" || *s == "false" || *s == "0") return false;
  fail(n, std::string("attribute ") + key + " is not a boolean: " + *s);
}

int64_t int_attr(const Node& n, const char* key, int64_t fallback) {
  const std::string* s = find_attr(n, key);
  if (!s || *s == "None") return fallback;
  return std::stoll(*s);
}

double float_attr(const Node& n, const char* key, double fallback) {
  const std::string* s = find_attr(n, key);
  if (!s || *s == "None") return fallback;
  return std::stod(*s);
}

std::string str_attr(const Node& n, const char* key, const std::string& fallback) {
  const std::string* s = find_attr(n, key);
  return s ? *s : fallback;
}

// "(3, 3)", "(3,3)", "[3, 3]", "3", "(3,)" -> {3, 3} / {3}.
std::vector<int64_t> tuple_attr(const Node& n, const char* key, std::vector<int64_t> fallback) {
  const std::string* s = find_attr(n, key);
  if (!s || *s == "None" || *s == "()") return fallback;
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < s->size()) {
    const char c = (*s)[i];
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t used = 0;
      out.push_back(std::stoll(s->substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
  return out;
}

int64_t product(const std::vector<int64_t>& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

Array make(std::vector<int64_t> shape, DType dtype) {
  Array a;
  a.shape = std::move(shape);
  a.dtype = dtype;
  const auto n = static_cast<size_t>(product(a.shape, 0, a.shape.size()));
  a.v.assign(n, 0.0);
  a.bound.assign(n, 0.0);
  return a;
}

// Round to nearest, ties to even, with `bits` significant bits, normals from 2^min_exp (below:
// the fixed quantum of the subnormals) and overflow past `max_finite`. Exact in double for the
// formats used here (every step is a scaling by a power of two or an integer comparison).
double round_format(double x, int bits, int min_exp, double max_finite) {
  if (std::isnan(x) || std::isinf(x) || x == 0.0) return x;
  int e = 0;
  std::frexp(std::fabs(x), &e);  // |x| = m 2^e, m in [0.5, 1): floor(log2 |x|) = e - 1
  const int exponent = std::max(e - 1, min_exp);
  const double quantum = std::ldexp(1.0, exponent - (bits - 1));
  const double q = std::fabs(x) / quantum;
  double whole = std::floor(q);
  const double frac = q - whole;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(whole, 2.0) != 0.0)) whole += 1.0;
  const double r = whole * quantum;
  if (r > max_finite) return std::copysign(std::numeric_limits<double>::infinity(), x);
  return std::copysign(r, x);
}

// ---- operators ----

std::vector<Array> convolution(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const Array& w = *in.at(1);
  if (x.shape.size() != 4 || w.shape.size() != 4) fail(n, "only 2-D (NCHW) convolution is written here");
  const bool no_bias = bool_attr(n, "no_bias", false);
  const Array* b = no_bias ? nullptr : in.at(2);
  const auto kernel = tuple_attr(n, "kernel", {});
  const auto stride = tuple_attr(n, "stride", {1, 1});
  const auto dilate = tuple_attr(n, "dilate", {1, 1});
  const auto pad = tuple_attr(n, "pad", {0, 0});
  const int64_t groups = int_attr(n, "num_group", 1);
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t F = w.shape[0], Cg = w.shape[1], KH = w.shape[2], KW = w.shape[3];
  if (kernel.size() != 2 || kernel[0] != KH || kernel[1] != KW || Cg * groups != C || F % groups != 0)
    fail(n, "weight shape does not match the attributes");
  const int64_t OH = (H + 2 * pad[0] - dilate[0] * (KH - 1) - 1) / stride[0] + 1;
  const int64_t OW = (W + 2 * pad[1] - dilate[1] * (KW - 1) - 1) / stride[1] + 1;
  Array y = make({N, F, OH, OW}, x.dtype);
  const int64_t Fg = F / groups;
  const double terms = static_cast<double>(Cg * KH * KW + (b ? 1 : 0));
  for (int64_t s = 0; s < N; ++s)
    for (int64_t f = 0; f < F; ++f) {
      const int64_t g = f / Fg;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double sum = b ? b->v[static_cast<size_t>(f)] : 0.0;
          double mag = std::fabs(sum);
          for (int64_t c = 0; c < Cg; ++c) {
            const double* xc = x.v.data() + (s * C + g * Cg + c) * H * W;
            const double* wc = w.v.data() + (f * Cg + c) * KH * KW;
            for (int64_t i = 0; i < KH; ++i) {
              const int64_t ih = oh * stride[0] - pad[0] + i * dilate[0];
              if (ih < 0 || ih >= H) continue;  // zero padding
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t iw = ow * stride[1] - pad[1] + j * dilate[1];
                if (iw < 0 || iw >= W) continue;
                const double p = xc[ih * W + iw] * wc[i * KW + j];
                sum += p;
                mag += std::fabs(p);
              }
            }
          }
          const auto o = static_cast<size_t>(((s * F + f) * OH + oh) * OW + ow);
          y.v[o] = sum;
          y.bound[o] = gamma32(terms) * mag;
        }
    }
  return {y};
}

std::vector<Array> fully_connected(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const Array& w = *in.at(1);
  const bool no_bias = bool_attr(n, "no_bias", false);
  const Array* b = no_bias ? nullptr : in.at(2);
  const int64_t hidden = int_attr(n, "num_hidden", -1);
  const bool flatten = bool_attr(n, "flatten", true);
  const int64_t D = flatten ? product(x.shape, 1, x.shape.size()) : x.shape.back();
  const int64_t rows = x.numel() / D;
  if (w.shape.size() != 2 || w.shape[0] != hidden || w.shape[1] != D) fail(n, "weight shape does not match the input");
  std::vector<int64_t> shape = flatten ? std::vector<int64_t>{x.shape[0], hidden} : x.shape;
  if (!flatten) shape.back() = hidden;
  Array y = make(shape, x.dtype);
  const double terms = static_cast<double>(D + (b ? 1 : 0));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < hidden; ++h) {
      double sum = b ? b->v[static_cast<size_t>(h)] : 0.0;
      double mag = std::fabs(sum);
      for (int64_t d = 0; d < D; ++d) {
        const double p = x.v[static_cast<size_t>(r * D + d)] * w.v[static_cast<size_t>(h * D + d)];
        sum += p;
        mag += std::fabs(p);
      }
      y.v[static_cast<size_t>(r * hidden + h)] = sum;
      y.bound[static_cast<size_t>(r * hidden + h)] = gamma32(terms) * mag;
    }
  return {y};
}

// Inference: y = (x - moving_mean) / sqrt(moving_var + eps) * gamma + beta, per channel of `axis`.
std::vector<Array> batch_norm(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const Array &gamma = *in.at(1), &beta = *in.at(2), &mean = *in.at(3), &var = *in.at(4);
  const double eps = float_attr(n, "eps", 1e-3);  // MXNet's default
  const bool fix_gamma = bool_attr(n, "fix_gamma", true);  // MXNet's default: gamma is taken as 1
  int64_t axis = int_attr(n, "axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(x.shape.size());
  const int64_t C = x.shape[static_cast<size_t>(axis)];
  const int64_t outer = product(x.shape, 0, static_cast<size_t>(axis));
  const int64_t inner = product(x.shape, static_cast<size_t>(axis) + 1, x.shape.size());
  Array y = make(x.shape, x.dtype);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const auto k = static_cast<size_t>(c);
      const double scale = (fix_gamma ? 1.0 : gamma.v[k]) / std::sqrt(var.v[k] + eps);
      for (int64_t i = 0; i < inner; ++i) {
        const auto at = static_cast<size_t>((o * C + c) * inner + i);
        y.v[at] = (x.v[at] - mean.v[k]) * scale + beta.v[k];
        // sqrt, division, the scale's product, the subtraction, the product and the sum: at most 8
        // roundings on the magnitudes involved, however the float32 kernel orders them.
        y.bound[at] = gamma32(8) * (std::fabs(x.v[at] * scale) + std::fabs(mean.v[k] * scale) + std::fabs(beta.v[k]));
      }
    }
  Array m = make({C}, DType::Float32), v = make({C}, DType::Float32);  // hidden statistics outputs
  m.v = mean.v;
  v.v = var.v;
  return {y, m, v};
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<Array> activation(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const std::string act = str_attr(n, "act_type", "");
  Array y = make(x.shape, x.dtype);
  for (size_t i = 0; i < x.v.size(); ++i) {
    const double a = x.v[i];
    double r = 0;
    double roundings = 0;  // relu is exact; the others: the library function (<= 2 ulp) and a few operations
    if (act == "relu") {
      r = a > 0 ? a : 0.0;
    } else if (act == "sigmoid") {
      r = sigmoid(a);
      roundings = 6;
    } else if (act == "tanh") {
      r = std::tanh(a);
      roundings = 4;
    } else if (act == "softrelu") {
      r = a > 20 ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a));
      roundings = 6;
    } else if (act == "softsign") {
      r = a / (1.0 + std::fabs(a));
      roundings = 3;
    } else {
      fail(n, "act_type '" + act + "'");
    }
    y.v[i] = r;
    // Functions of one argument: the argument's own float32 rounding is inherited, not counted here.
    y.bound[i] = gamma32(roundings) * std::fabs(r);
  }
  return {y};
}

std::vector<Array> leaky_relu(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const std::string act = str_attr(n, "act_type", "leaky");
  const double slope = float_attr(n, "slope", 0.25);
  Array y = make(x.shape, x.dtype);
  const Array* gamma = act == "prelu" ? in.at(1) : nullptr;
  const int64_t C = x.shape.size() > 1 ? x.shape[1] : 1;
  const int64_t inner = product(x.shape, 2, x.shape.size());
  constexpr double kAlpha = 1.6732632423543772848170429916717, kLambda = 1.0507009873554804934193349852946;  // SELU's
  for (size_t i = 0; i < x.v.size(); ++i) {
    const double a = x.v[i];
    double r = a, roundings = 0;
    if (act == "leaky") {
      r = a > 0 ? a : slope * a;
      roundings = 1;
    } else if (act == "prelu") {
      const int64_t c = gamma->v.size() == 1 ? 0 : (static_cast<int64_t>(i) / inner) % C;
      r = a > 0 ? a : gamma->v[static_cast<size_t>(c)] * a;
      roundings = 1;
    } else if (act == "elu") {
      r = a > 0 ? a : slope * std::expm1(a);
      roundings = 4;
    } else if (act == "selu") {
      r = kLambda * (a > 0 ? a : kAlpha * std::expm1(a));
      roundings = 5;
    } else {
      fail(n, "act_type '" + act + "'");
    }
    y.v[i] = r;
    y.bound[i] = gamma32(roundings) * std::fabs(r);
  }
  return {y};
}

std::vector<Array> pooling(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  if (x.shape.size() != 4) fail(n, "only 2-D (NCHW) pooling is written here");
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const bool global = bool_attr(n, "global_pool", false);
  const std::string type = str_attr(n, "pool_type", "max");
  const bool full = str_attr(n, "pooling_convention", "valid") == "full";
  const bool include_pad = bool_attr(n, "count_include_pad", true);
  std::vector<int64_t> kernel = global ? std::vector<int64_t>{H, W} : tuple_attr(n, "kernel", {});
  std::vector<int64_t> stride = global ? std::vector<int64_t>{1, 1} : tuple_attr(n, "stride", {1, 1});
  std::vector<int64_t> pad = global ? std::vector<int64_t>{0, 0} : tuple_attr(n, "pad", {0, 0});
  if (kernel.size() != 2) fail(n, "kernel must have 2 dimensions");
  auto out_size = [&](int64_t in_size, size_t d) {
    const int64_t span = in_size + 2 * pad[d] - kernel[d];
    // "valid" floors, "full" ceils (MXNet's pooling_convention).
    return 1 + (full ? (span + stride[d] - 1) / stride[d] : span / stride[d]);
  };
  const int64_t OH = out_size(H, 0), OW = out_size(W, 1);
  Array y = make({N, C, OH, OW}, x.dtype);
  for (int64_t s = 0; s < N; ++s)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t h0 = oh * stride[0] - pad[0], w0 = ow * stride[1] - pad[1];
          int64_t h1 = std::min(h0 + kernel[0], H + pad[0]), w1 = std::min(w0 + kernel[1], W + pad[1]);
          const int64_t padded_area = (h1 - h0) * (w1 - w0);
          h0 = std::max<int64_t>(h0, 0);
          w0 = std::max<int64_t>(w0, 0);
          h1 = std::min(h1, H);
          w1 = std::min(w1, W);
          const auto o = static_cast<size_t>(((s * C + c) * OH + oh) * OW + ow);
          if (type == "max") {
            double m = -std::numeric_limits<double>::infinity();
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) m = std::max(m, x.v[static_cast<size_t>(((s * C + c) * H + h) * W + w)]);
            y.v[o] = m;
          } else if (type == "avg" || type == "sum") {
            double sum = 0, mag = 0;
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) {
                sum += x.v[static_cast<size_t>(((s * C + c) * H + h) * W + w)];
                mag += std::fabs(x.v[static_cast<size_t>(((s * C + c) * H + h) * W + w)]);
              }
            const int64_t count = (h1 - h0) * (w1 - w0);
            const double div = type == "sum" ? 1.0 : static_cast<double>(include_pad ? padded_area : count);
            y.v[o] = sum / div;
            y.bound[o] = gamma32(static_cast<double>(count + 1)) * mag / div;  // count - 1 additions and a division
          } else {
            fail(n, "pool_type '" + type + "'");
          }
        }
  return {y};
}

// softmax over lines of m elements `inner` apart: element (o, j, i) at (o * m + j) * inner + i.
Array softmax_lines(const Array& x, int64_t outer, int64_t m, int64_t inner, double temperature) {
  Array y = make(x.shape, x.dtype);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return static_cast<size_t>((o * m + j) * inner + i); };
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < m; ++j) mx = std::max(mx, x.v[at(j)]);
      double sum = 0, range = 0;
      for (int64_t j = 0; j < m; ++j) {
        sum += std::exp((x.v[at(j)] - mx) / temperature);
        range = std::max(range, std::fabs(x.v[at(j)] - mx) / temperature);
      }
      for (int64_t j = 0; j < m; ++j) {
        const double r = std::exp((x.v[at(j)] - mx) / temperature) / sum;
        y.v[at(j)] = r;
        // Each exp's argument carries 2 roundings relative to its size (the subtraction and the
        // scaling), which exp turns into an absolute error of the exponent: <= 2 u range; the exp
        // itself <= 2 u; the m-term sum gamma_m; the division u. Relative to the result.
        y.bound[at(j)] = gamma32(static_cast<double>(m) + 4.0 * range + 6.0) * r;
      }
    }
  return y;
}

std::vector<Array> softmax(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = int_attr(n, "axis", -1);
  if (axis < 0) axis += rank;
  const double t = float_attr(n, "temperature", 1.0);
  const auto a = static_cast<size_t>(axis);
  return {softmax_lines(x, product(x.shape, 0, a), x.shape[a], product(x.shape, a + 1, x.shape.size()), t)};
}

std::vector<Array> softmax_activation(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  if (str_attr(n, "mode", "instance") == "channel")
    return {softmax_lines(x, x.shape[0], x.shape[1], product(x.shape, 2, x.shape.size()), 1.0)};
  return {softmax_lines(x, x.shape[0], product(x.shape, 1, x.shape.size()), 1, 1.0)};
}

// Inference: the softmax of the data; the label is not read.
std::vector<Array> softmax_output(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  if (bool_attr(n, "multi_output", false))
    return {softmax_lines(x, x.shape[0], x.shape[1], product(x.shape, 2, x.shape.size()), 1.0)};
  if (bool_attr(n, "preserve_shape", false))
    return {softmax_lines(x, product(x.shape, 0, x.shape.size() - 1), x.shape.back(), 1, 1.0)};
  return {softmax_lines(x, x.shape[0], product(x.shape, 1, x.shape.size()), 1, 1.0)};
}

Array copy_of(const Array& x, std::vector<int64_t> shape, DType dtype) {
  Array y = make(std::move(shape), dtype);
  y.v = x.v;
  return y;
}

std::vector<Array> slice_channel(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const int64_t parts = int_attr(n, "num_outputs", 1);
  int64_t axis = int_attr(n, "axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(x.shape.size());
  const bool squeeze = bool_attr(n, "squeeze_axis", false);
  const auto a = static_cast<size_t>(axis);
  if (x.shape[a] % parts != 0) fail(n, "axis size is not a multiple of num_outputs");
  const int64_t outer = product(x.shape, 0, a), each = x.shape[a] / parts, inner = product(x.shape, a + 1, x.shape.size());
  std::vector<Array> out;
  for (int64_t p = 0; p < parts; ++p) {
    std::vector<int64_t> shape = x.shape;
    shape[a] = each;
    if (squeeze && each == 1) shape.erase(shape.begin() + axis);
    Array y = make(shape, x.dtype);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < each; ++k)
        for (int64_t i = 0; i < inner; ++i)
          y.v[static_cast<size_t>((o * each + k) * inner + i)] = x.v[static_cast<size_t>((o * x.shape[a] + p * each + k) * inner + i)];
    out.push_back(std::move(y));
  }
  return out;
}

std::vector<Array> concat(const Node& n, const std::vector<const Array*>& in) {
  const Array& x0 = *in.at(0);
  int64_t axis = int_attr(n, "dim", 1);
  if (axis < 0) axis += static_cast<int64_t>(x0.shape.size());
  const auto a = static_cast<size_t>(axis);
  std::vector<int64_t> shape = x0.shape;
  shape[a] = 0;
  for (const Array* x : in) shape[a] += x->shape[a];
  Array y = make(shape, x0.dtype);
  const int64_t outer = product(shape, 0, a), inner = product(shape, a + 1, shape.size());
  int64_t offset = 0;
  for (const Array* x : in) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < x->shape[a]; ++k)
        for (int64_t i = 0; i < inner; ++i)
          y.v[static_cast<size_t>((o * shape[a] + offset + k) * inner + i)] = x->v[static_cast<size_t>((o * x->shape[a] + k) * inner + i)];
    offset += x->shape[a];
  }
  return {y};
}

std::vector<Array> elementwise_add(const Node& n, const std::vector<const Array*>& in) {
  const Array &a = *in.at(0), &b = *in.at(1);
  if (a.shape != b.shape) fail(n, "shapes differ");
  Array y = make(a.shape, a.dtype);
  for (size_t i = 0; i < a.v.size(); ++i) {
    y.v[i] = a.v[i] + b.v[i];
    y.bound[i] = gamma32(1) * (std::fabs(a.v[i]) + std::fabs(b.v[i]));
  }
  return {y};
}

std::vector<Array> clip(const Node& n, const std::vector<const Array*>& in) {
  const Array& x = *in.at(0);
  const double lo = float_attr(n, "a_min", -std::numeric_limits<double>::infinity());
  const double hi = float_attr(n, "a_max", std::numeric_limits<double>::infinity());
  Array y = make(x.shape, x.dtype);
  for (size_t i = 0; i < x.v.size(); ++i) y.v[i] = std::min(std::max(x.v[i], lo), hi);  // exact
  return {y};
}

bool amp_castable(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

}  // namespace

double unit_roundoff(DType t) {
  switch (t) {
    case DType::Float16: return std::ldexp(1.0, -11);
    case DType::BFloat16: return std::ldexp(1.0, -8);
    case DType::Float32: return std::ldexp(1.0, -24);
    case DType::Float64: return std::ldexp(1.0, -53);
    default: return 0.0;
  }
}

double gamma32(double k) {
  const double ku = k * std::ldexp(1.0, -24);
  return ku / (1.0 - ku);
}

double round_to_float16(double x) { return round_format(x, 11, -14, 65504.0); }
double round_to_bfloat16(double x) { return round_format(x, 8, -126, std::ldexp(255.0, 120)); }

double round_to(double x, DType t) {
  switch (t) {
    case DType::Float16: return round_to_float16(x);
    case DType::BFloat16: return round_to_bfloat16(x);
    case DType::Float32: return round_format(x, 24, -126, std::ldexp(16777215.0, 104));
    default: return x;
  }
}

int64_t Array::numel() const { return product(shape, 0, shape.size()); }

Array from_tensor(const Tensor& t) {
  Array a = make(t.shape, t.dtype);
  const uint8_t* p = t.data.data();
  for (size_t i = 0; i < a.v.size(); ++i) {
    double v = 0;
    switch (t.dtype) {
      case DType::Float32: {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        v = f;
        break;
      }
      case DType::Float64: std::memcpy(&v, p + 8 * i, 8); break;
      case DType::Float16: {  // 1 sign, 5 exponent (bias 15), 10 fraction bits
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        const int exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
        if (exp == 0) v = std::ldexp(frac, -24);
        else if (exp == 31) v = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
        else v = std::ldexp(1024 + frac, exp - 25);
        if (h & 0x8000) v = -v;
        break;
      }
      case DType::BFloat16: {  // the upper half of a float32
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        v = f;
        break;
      }
      case DType::Int32: {
        int32_t k;
        std::memcpy(&k, p + 4 * i, 4);
        v = k;
        break;
      }
      case DType::Int64: {
        int64_t k;
        std::memcpy(&k, p + 8 * i, 8);
        v = static_cast<double>(k);
        break;
      }
      case DType::UInt8: v = p[i]; break;
      case DType::Int8: v = static_cast<int8_t>(p[i]); break;
      default: throw std::runtime_error("reference evaluator: tensor dtype not supported");
    }
    a.v[i] = v;
  }
  return a;
}

Array from_floats(std::vector<int64_t> shape, const std::vector<float>& values, DType dtype) {
  Array a = make(std::move(shape), dtype);
  if (a.v.size() != values.size()) throw std::runtime_error("reference evaluator: shape and values disagree");
  for (size_t i = 0; i < values.size(); ++i) a.v[i] = values[i];
  return a;
}

std::vector<DType> output_dtypes(const Node& n, const std::vector<DType>& in) {
  const DType first = in.empty() ? DType::Float32 : in[0];
  if (n.op == "amp_cast") {
    const std::string to = str_attr(n, "dtype", "");
    DType d = first;
    if (amp_castable(first)) {
      if (to == "float16") d = DType::Float16;
      else if (to == "bfloat16") d = DType::BFloat16;
      else if (to == "float32") d = DType::Float32;
      else if (to == "float64") d = DType::Float64;
      else fail(n, "amp_cast to '" + to + "'");
    }
    return {d};
  }
  if (n.op == "amp_multicast") {
    const bool narrow = bool_attr(n, "cast_narrow", false);
    DType common = DType::Unknown;
    for (DType t : in) {
      if (!amp_castable(t)) continue;
      if (common == DType::Unknown) common = t;  // input 0's type, if it is a float
      if (!narrow && t == DType::Float32) common = DType::Float32;
      if (narrow && t != DType::Float32 && common == DType::Float32) common = t;
    }
    std::vector<DType> out;
    for (DType t : in) out.push_back(amp_castable(t) ? common : t);
    return out;
  }
  std::vector<DType> out(n.num_outputs, first);
  if (n.op == "BatchNorm")
    for (size_t o = 1; o < out.size(); ++o) out[o] = DType::Float32;
  return out;
}

std::vector<Array> eval_node(const Node& n, const std::vector<const Array*>& in) {
  std::vector<Array> out;
  const std::string& op = n.op;
  if (op == "Convolution") out = convolution(n, in);
  else if (op == "FullyConnected") out = fully_connected(n, in);
  else if (op == "BatchNorm") out = batch_norm(n, in);
  else if (op == "Activation") out = activation(n, in);
  else if (op == "LeakyReLU") out = leaky_relu(n, in);
  else if (op == "Pooling") out = pooling(n, in);
  else if (op == "softmax") out = softmax(n, in);
  else if (op == "SoftmaxActivation") out = softmax_activation(n, in);
  else if (op == "SoftmaxOutput") out = softmax_output(n, in);
  else if (op == "SliceChannel") out = slice_channel(n, in);
  else if (op == "Concat") out = concat(n, in);
  else if (op == "elemwise_add") out = elementwise_add(n, in);
  else if (op == "clip") out = clip(n, in);
  else if (op == "Flatten") out = {copy_of(*in.at(0), {in.at(0)->shape[0], in.at(0)->numel() / in.at(0)->shape[0]}, in.at(0)->dtype)};
  else if (op == "Dropout" || op == "amp_cast") out = {copy_of(*in.at(0), in.at(0)->shape, in.at(0)->dtype)};
  else if (op == "amp_multicast")
    for (const Array* x : in) out.push_back(copy_of(*x, x->shape, x->dtype));
  else fail(n, "no reference for this op");
  if (out.size() != n.num_outputs) fail(n, "wrong number of outputs");
  std::vector<DType> types;
  for (const Array* x : in) types.push_back(x->dtype);
  const std::vector<DType> d = output_dtypes(n, types);
  for (size_t o = 0; o < out.size(); ++o) out[o].dtype = d[o];
  return out;
}

Evaluation evaluate(const Graph& g, const TensorMap& arg, const TensorMap& aux, const std::map<std::string, Array>& inputs, bool round) {
  Evaluation e;
  e.values.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) {
      if (auto it = arg.find(n.name); it != arg.end()) e.values[i] = {from_tensor(it->second)};
      else if (auto a = aux.find(n.name); a != aux.end()) e.values[i] = {from_tensor(a->second)};
      else if (auto x = inputs.find(n.name); x != inputs.end()) e.values[i] = {x->second};
      else e.values[i] = {Array{}};  // a label nothing reads at inference
      continue;
    }
    std::vector<const Array*> in;
    for (const Entry& en : n.inputs) in.push_back(&e.values[en.node].at(en.index));
    e.values[i] = eval_node(n, in);
    if (round)
      for (Array& a : e.values[i])
        for (double& v : a.v) v = round_to(v, a.dtype);
  }
  for (const Entry& h : g.heads) e.outputs.push_back(e.values[h.node].at(h.index));
  return e;
}

double nmse(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? num / den : num;
}

}  // namespace mixprec::testing::ref
