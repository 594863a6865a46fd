// FullyConnected: y = x · Wᵀ + b with W stored (num_hidden, K). One input row runs as a GEMV
// (memory-bound, parallel over output rows); more rows run as a GEMM with x as the packed operand.
// The session may hand the weight over still in float16 / bfloat16 (Buf::storage): both paths widen
// it on the fly, so the weight bytes read per inference halve.
#include <algorithm>

#include "runtime/gemv.h"
#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

struct FcParams {
  int64_t hidden = 0;
  bool no_bias = false, flatten = true;
};

FcParams fc_params(const Node& n) {
  FcParams p;
  p.hidden = attr_int(n, "num_hidden", 0);
  if (p.hidden <= 0) fail(n, "attribute 'num_hidden' is required and must be positive");
  p.no_bias = attr_bool(n, "no_bias", false);
  p.flatten = attr_bool(n, "flatten", true);
  return p;
}

// Inner size K of the product: everything after the batch axis (flatten) or the last axis.
int64_t fc_depth(const FcParams& p, const Shape& d) {
  if (d.empty()) return 1;
  if (p.flatten) return numel(Shape(d.begin() + 1, d.end()));
  return d.back();
}

std::vector<Shape> fc_infer(const Node& n, const std::vector<Shape>& in) {
  const FcParams p = fc_params(n);
  expect_inputs(n, in, p.no_bias ? 2 : 3, p.no_bias ? 2 : 3);
  const Shape& d = in[0];
  if (d.empty()) fail(n, "data must have at least one dimension");
  const int64_t K = fc_depth(p, d);
  if (in[1] != Shape{p.hidden, K})
    fail(n, "weight " + shape_str(in[1]) + " does not fit data " + shape_str(d) + ": expected " + shape_str({p.hidden, K}));
  if (!p.no_bias && in[2] != Shape{p.hidden}) fail(n, "bias " + shape_str(in[2]) + " does not fit: expected " + shape_str({p.hidden}));
  Shape out;
  if (p.flatten) {
    out = {d[0], p.hidden};
  } else {
    out.assign(d.begin(), d.end() - 1);
    out.push_back(p.hidden);
  }
  return {out};
}

void fc_run(const KernelArgs& args) {
  const FcParams p = fc_params(args.node);
  const Buf& x = *args.in[0];
  const Buf& wb = *args.in[1];
  const int64_t K = fc_depth(p, x.shape), H = p.hidden;
  const int64_t rows = K == 0 ? 0 : x.numel() / K;
  const float* bias = p.no_bias ? nullptr : args.in[2]->v.data();
  float* y = args.out[0]->v.data();
  const bool f16 = wb.storage == DType::Float16, bf16 = wb.storage == DType::BFloat16;
  if (!f16 && !bf16 && wb.storage != DType::Float32) fail(args.node, "weight storage must be float32, float16 or bfloat16");
  if (rows == 1) {
    if (f16) {
      gemv_f16(wb.lp.data(), x.v.data(), bias, y, H, K);
    } else if (bf16) {
      gemv_bf16(wb.lp.data(), x.v.data(), bias, y, H, K);
    } else {
      gemv_f32(wb.v.data(), x.v.data(), bias, y, H, K);
    }
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (bias) {
      std::copy_n(bias, H, y + r * H);
    } else {
      std::fill(y + r * H, y + (r + 1) * H, 0.0f);
    }
  }
  const PackedA a(rows, K, MatView{x.v.data(), K, 1});
  // B(k, h) = W[h][k]: the weight read transposed.
  if (f16 || bf16) {
    gemm(a, H, MatView16{wb.lp.data(), 1, K, bf16}, y, H);
  } else {
    gemm(a, H, MatView{wb.v.data(), 1, K}, y, H);
  }
}

}  // namespace

void register_dense(KernelRegistry& r) { r.add({"FullyConnected", fc_infer, fc_run}); }

}  // namespace mixprec::runtime::nn
