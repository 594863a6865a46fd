// Elementwise ops as data: one table of unary functions and one of binary functions, the latter
// used four ways (equal shapes, numpy broadcasting, tensor-scalar, scalar-tensor). Each table entry
// becomes a kernel instantiated with its function as a compile-time constant, so the loops inline
// it and vectorise where the function allows.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "runtime/kernels/tensor_util.h"

namespace mixprec::runtime::tensor {
namespace {

using Shapes = std::vector<Shape>;
using UnaryFn = float (*)(float);
using BinaryFn = float (*)(float, float);

constexpr float truth(bool b) { return b ? 1.0f : 0.0f; }

// MXNet's mod follows Python: the result takes the divisor's sign; x mod 0 is 0.
float py_mod(float a, float b) {
  if (b == 0.0f) return 0.0f;
  const float r = std::fmod(a, b);
  return r != 0.0f && (r < 0.0f) != (b < 0.0f) ? r + b : r;
}

// MXNet's rint sends halves towards -inf (1.5 -> 1, -1.5 -> -2), unlike C's rint.
float mx_rint(float x) {
  const float f = std::floor(x);
  return x - f <= 0.5f ? f : f + 1.0f;
}

struct Unary {
  std::string_view op;
  UnaryFn f;
};

constexpr Unary kUnary[] = {
    {"exp", [](float x) { return std::exp(x); }},
    {"expm1", [](float x) { return std::expm1(x); }},
    {"log", [](float x) { return std::log(x); }},
    {"log1p", [](float x) { return std::log1p(x); }},
    {"log2", [](float x) { return std::log2(x); }},
    {"log10", [](float x) { return std::log10(x); }},
    {"sqrt", [](float x) { return std::sqrt(x); }},
    {"rsqrt", [](float x) { return 1.0f / std::sqrt(x); }},
    {"cbrt", [](float x) { return std::cbrt(x); }},
    {"rcbrt", [](float x) { return 1.0f / std::cbrt(x); }},
    {"square", [](float x) { return x * x; }},
    {"abs", [](float x) { return std::fabs(x); }},
    {"sign", [](float x) { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f; }},
    {"negative", [](float x) { return -x; }},
    {"reciprocal", [](float x) { return 1.0f / x; }},
    {"sigmoid", [](float x) { return 1.0f / (1.0f + std::exp(-x)); }},
    {"log_sigmoid", [](float x) { return -std::log1p(std::exp(-x)); }},
    {"softsign", [](float x) { return x / (1.0f + std::fabs(x)); }},
    {"relu", [](float x) { return x > 0.0f ? x : 0.0f; }},
    {"tanh", [](float x) { return std::tanh(x); }},
    {"sin", [](float x) { return std::sin(x); }},
    {"cos", [](float x) { return std::cos(x); }},
    {"tan", [](float x) { return std::tan(x); }},
    {"arcsin", [](float x) { return std::asin(x); }},
    {"arccos", [](float x) { return std::acos(x); }},
    {"arctan", [](float x) { return std::atan(x); }},
    {"sinh", [](float x) { return std::sinh(x); }},
    {"cosh", [](float x) { return std::cosh(x); }},
    {"arcsinh", [](float x) { return std::asinh(x); }},
    {"arccosh", [](float x) { return std::acosh(x); }},
    {"arctanh", [](float x) { return std::atanh(x); }},
    {"degrees", [](float x) { return x * 180.0f / std::numbers::pi_v<float>; }},
    {"radians", [](float x) { return x * std::numbers::pi_v<float> / 180.0f; }},
    {"erf", [](float x) { return std::erf(x); }},
    {"gamma", [](float x) { return std::tgamma(x); }},
    {"gammaln", [](float x) { return std::lgamma(x); }},
    {"floor", [](float x) { return std::floor(x); }},
    {"ceil", [](float x) { return std::ceil(x); }},
    {"round", [](float x) { return std::round(x); }},  // halves away from zero
    {"rint", mx_rint},
    {"fix", [](float x) { return std::trunc(x); }},
    {"trunc", [](float x) { return std::trunc(x); }},
    {"logical_not", [](float x) { return truth(x == 0.0f); }},
    {"zeros_like", [](float) { return 0.0f; }},
    {"ones_like", [](float) { return 1.0f; }},
};

// How a binary function meets its operands.
enum class Form {
  Same,       // two inputs of one shape (elemwise_add, _maximum, ...)
  Broadcast,  // two inputs, numpy broadcasting (broadcast_add, ...)
  Scalar,     // f(x, scalar)
  RScalar,    // f(scalar, x): _rminus_scalar, _rdiv_scalar, ...
};

struct Binary {
  std::string_view op;
  BinaryFn f;
  Form form;
};

constexpr BinaryFn kAdd = [](float a, float b) { return a + b; };
constexpr BinaryFn kSub = [](float a, float b) { return a - b; };
constexpr BinaryFn kMul = [](float a, float b) { return a * b; };
constexpr BinaryFn kDiv = [](float a, float b) { return a / b; };
constexpr BinaryFn kMod = py_mod;
constexpr BinaryFn kPow = [](float a, float b) { return std::pow(a, b); };
constexpr BinaryFn kMax = [](float a, float b) { return a > b || std::isnan(a) ? a : b; };
constexpr BinaryFn kMin = [](float a, float b) { return a < b || std::isnan(a) ? a : b; };
constexpr BinaryFn kHypot = [](float a, float b) { return std::hypot(a, b); };
constexpr BinaryFn kEq = [](float a, float b) { return truth(a == b); };
constexpr BinaryFn kNe = [](float a, float b) { return truth(a != b); };
constexpr BinaryFn kGt = [](float a, float b) { return truth(a > b); };
constexpr BinaryFn kGe = [](float a, float b) { return truth(a >= b); };
constexpr BinaryFn kLt = [](float a, float b) { return truth(a < b); };
constexpr BinaryFn kLe = [](float a, float b) { return truth(a <= b); };
constexpr BinaryFn kAnd = [](float a, float b) { return truth(a != 0.0f && b != 0.0f); };
constexpr BinaryFn kOr = [](float a, float b) { return truth(a != 0.0f || b != 0.0f); };
constexpr BinaryFn kXor = [](float a, float b) { return truth((a != 0.0f) != (b != 0.0f)); };

using F = Form;
constexpr Binary kBinary[] = {
    {"elemwise_add", kAdd, F::Same},         {"broadcast_add", kAdd, F::Broadcast},
    {"_plus_scalar", kAdd, F::Scalar},       {"_grad_add", kAdd, F::Same},
    {"elemwise_sub", kSub, F::Same},         {"broadcast_sub", kSub, F::Broadcast},
    {"_minus_scalar", kSub, F::Scalar},      {"_rminus_scalar", kSub, F::RScalar},
    {"elemwise_mul", kMul, F::Same},         {"broadcast_mul", kMul, F::Broadcast},
    {"_mul_scalar", kMul, F::Scalar},
    {"elemwise_div", kDiv, F::Same},         {"broadcast_div", kDiv, F::Broadcast},
    {"_div_scalar", kDiv, F::Scalar},        {"_rdiv_scalar", kDiv, F::RScalar},
    {"_mod", kMod, F::Same},                 {"broadcast_mod", kMod, F::Broadcast},
    {"_mod_scalar", kMod, F::Scalar},        {"_rmod_scalar", kMod, F::RScalar},
    {"_power", kPow, F::Same},               {"broadcast_power", kPow, F::Broadcast},
    {"_power_scalar", kPow, F::Scalar},      {"_rpower_scalar", kPow, F::RScalar},
    {"_maximum", kMax, F::Same},             {"broadcast_maximum", kMax, F::Broadcast},
    {"_maximum_scalar", kMax, F::Scalar},
    {"_minimum", kMin, F::Same},             {"broadcast_minimum", kMin, F::Broadcast},
    {"_minimum_scalar", kMin, F::Scalar},
    {"_hypot", kHypot, F::Same},             {"broadcast_hypot", kHypot, F::Broadcast},
    {"_hypot_scalar", kHypot, F::Scalar},
    {"_equal", kEq, F::Same},                {"broadcast_equal", kEq, F::Broadcast},
    {"_equal_scalar", kEq, F::Scalar},
    {"_not_equal", kNe, F::Same},            {"broadcast_not_equal", kNe, F::Broadcast},
    {"_not_equal_scalar", kNe, F::Scalar},
    {"_greater", kGt, F::Same},              {"broadcast_greater", kGt, F::Broadcast},
    {"_greater_scalar", kGt, F::Scalar},
    {"_greater_equal", kGe, F::Same},        {"broadcast_greater_equal", kGe, F::Broadcast},
    {"_greater_equal_scalar", kGe, F::Scalar},
    {"_lesser", kLt, F::Same},               {"broadcast_lesser", kLt, F::Broadcast},
    {"_lesser_scalar", kLt, F::Scalar},
    {"_lesser_equal", kLe, F::Same},         {"broadcast_lesser_equal", kLe, F::Broadcast},
    {"_lesser_equal_scalar", kLe, F::Scalar},
    {"_logical_and", kAnd, F::Same},         {"broadcast_logical_and", kAnd, F::Broadcast},
    {"_logical_and_scalar", kAnd, F::Scalar},
    {"_logical_or", kOr, F::Same},           {"broadcast_logical_or", kOr, F::Broadcast},
    {"_logical_or_scalar", kOr, F::Scalar},
    {"_logical_xor", kXor, F::Same},         {"broadcast_logical_xor", kXor, F::Broadcast},
    {"_logical_xor_scalar", kXor, F::Scalar},
};

// Cheap functions are memory bound; threads pay off only on long arrays.
constexpr int64_t kWork = 4;

Shapes infer_unary(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  return {in[0]};
}

template <size_t I>
void run_unary(const KernelArgs& a) {
  constexpr UnaryFn f = kUnary[I].f;
  const float* x = a.in[0]->v.data();
  float* y = a.out[0]->v.data();
  parallel_for(a.out[0]->numel(), kWork, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

Shapes infer_binary(const Node& n, const Shapes& in) {
  const Binary* def = nullptr;
  for (const Binary& b : kBinary)
    if (b.op == n.op) def = &b;
  if (def->form == Form::Scalar || def->form == Form::RScalar) {
    expect_inputs(n, in, 1);
    attr_float(n, "scalar", 1.0);  // malformed text fails here, before anything runs
    return {in[0]};
  }
  expect_inputs(n, in, 2);
  if (def->form == Form::Broadcast) return {broadcast_shape(n, in[0], in[1])};
  if (in[0] != in[1]) fail(n, n.op + " needs equal shapes, got " + str(in[0]) + " and " + str(in[1]));
  return {in[0]};
}

// out = f(x, z) over one row: unit or zero strides get their own loops so that they vectorise.
template <BinaryFn f>
void binary_row(float* o, const float* x, int64_t sx, const float* z, int64_t sz, int64_t b, int64_t e) {
  if (sx == 1 && sz == 1) {
    for (int64_t j = b; j < e; ++j) o[j] = f(x[j], z[j]);
  } else if (sx == 1 && sz == 0) {
    const float c = z[0];
    for (int64_t j = b; j < e; ++j) o[j] = f(x[j], c);
  } else if (sx == 0 && sz == 1) {
    const float c = x[0];
    for (int64_t j = b; j < e; ++j) o[j] = f(c, z[j]);
  } else {
    for (int64_t j = b; j < e; ++j) o[j] = f(x[j * sx], z[j * sz]);
  }
}

template <BinaryFn f>
void broadcast_apply(const Buf& x, const Buf& z, Buf& out) {
  const Shape& s = out.shape;
  const Loop<3> L = make_loop<3>(s, {contiguous_strides(s), broadcast_strides(x.shape, s), broadcast_strides(z.shape, s)});
  const int64_t n = L.inner(), sx = L.strides[1].back(), sz = L.strides[2].back();
  float* o = out.v.data();
  if (L.rows() == 1) {  // one long row (equal shapes, or a scalar operand): split the row itself
    parallel_for(n, kWork, [&](int64_t b, int64_t e) { binary_row<f>(o, x.v.data(), sx, z.v.data(), sz, b, e); });
    return;
  }
  parallel_for(L.rows(), n * kWork, [&](int64_t r0, int64_t r1) {
    for_rows(L, r0, r1, [&](const std::array<int64_t, 3>& off) {
      binary_row<f>(o + off[0], x.v.data() + off[1], sx, z.v.data() + off[2], sz, 0, n);
    });
  });
}

template <size_t I>
void run_binary(const KernelArgs& a) {
  constexpr BinaryFn f = kBinary[I].f;
  constexpr Form form = kBinary[I].form;
  if constexpr (form == Form::Scalar || form == Form::RScalar) {
    // MXNet applies the scalar in the array's type (float32 here); its default is 1.
    const float s = static_cast<float>(attr_float(a.node, "scalar", 1.0));
    const float* x = a.in[0]->v.data();
    float* y = a.out[0]->v.data();
    parallel_for(a.out[0]->numel(), kWork, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = form == Form::Scalar ? f(x[i], s) : f(s, x[i]);
    });
  } else {
    broadcast_apply<f>(*a.in[0], *a.in[1], *a.out[0]);
  }
}

// ---- ops with their own attributes or input counts ----

Shapes infer_clip(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  if (attr_float(n, "a_min") > attr_float(n, "a_max")) fail(n, "clip: a_min is greater than a_max");
  return {in[0]};
}

void run_clip(const KernelArgs& a) {
  const auto lo = static_cast<float>(attr_float(a.node, "a_min")), hi = static_cast<float>(attr_float(a.node, "a_max"));
  const float* x = a.in[0]->v.data();
  float* y = a.out[0]->v.data();
  parallel_for(a.out[0]->numel(), kWork, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
  });
}

Shapes infer_add_n(const Node& n, const Shapes& in) {
  if (in.empty()) fail(n, n.op + " needs at least one input");
  if (auto k = attr_opt_int(n, "num_args"); k && *k != static_cast<int64_t>(in.size()))
    fail(n, "num_args is " + std::to_string(*k) + " but the node has " + std::to_string(in.size()) + " inputs");
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i] != in[0]) fail(n, n.op + " needs equal shapes, input " + std::to_string(i) + " is " + str(in[i]) + ", input 0 " + str(in[0]));
  return {in[0]};
}

// Sums in input order, in float32, as MXNet does.
void run_add_n(const KernelArgs& a) {
  float* y = a.out[0]->v.data();
  parallel_for(a.out[0]->numel(), kWork * static_cast<int64_t>(a.in.size()), [&](int64_t b, int64_t e) {
    std::copy(a.in[0]->v.data() + b, a.in[0]->v.data() + e, y + b);
    for (size_t k = 1; k < a.in.size(); ++k) {
      const float* x = a.in[k]->v.data();
      for (int64_t i = b; i < e; ++i) y[i] += x[i];
    }
  });
}

template <size_t... I>
void add_unary(KernelRegistry& r, std::index_sequence<I...>) {
  (r.add({kUnary[I].op, infer_unary, run_unary<I>}), ...);
}

template <size_t... I>
void add_binary(KernelRegistry& r, std::index_sequence<I...>) {
  (r.add({kBinary[I].op, infer_binary, run_binary<I>}), ...);
}

}  // namespace

void register_elementwise_kernels(KernelRegistry& r) {
  add_unary(r, std::make_index_sequence<std::size(kUnary)>());
  add_binary(r, std::make_index_sequence<std::size(kBinary)>());
  r.add({"clip", infer_clip, run_clip});
  r.add({"add_n", infer_add_n, run_add_n});
  r.add({"ElementWiseSum", infer_add_n, run_add_n});
}

}  // namespace mixprec::runtime::tensor
