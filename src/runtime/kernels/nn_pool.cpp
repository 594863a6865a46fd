// Pooling (1-D and 2-D, NCW / NCHW): max, avg and sum, valid or full convention, global pooling.
// Windows follow MXNet: max ignores padding; avg divides by the window clipped to the padded input
// (count_include_pad, the default) or to the real input; sum adds the real input only.
#include <algorithm>
#include <limits>

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

enum class PoolType { Max, Avg, Sum };

struct PoolParams {
  PoolType type = PoolType::Max;
  bool global = false, full = false, include_pad = true;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
};

PoolParams pool_params(const Node& n, const Shape& d) {
  PoolParams p;
  if (d.size() != 3 && d.size() != 4) fail(n, "data " + shape_str(d) + " must be 3-D (N, C, W) or 4-D (N, C, H, W)");
  const size_t nd = d.size() - 2;
  const std::string type = attr_str(n, "pool_type", "max");
  if (type == "max") {
    p.type = PoolType::Max;
  } else if (type == "avg") {
    p.type = PoolType::Avg;
  } else if (type == "sum") {
    p.type = PoolType::Sum;
  } else {
    fail(n, "pool_type '" + type + "' is not supported");
  }
  p.global = attr_bool(n, "global_pool", false);
  const std::string conv = attr_str(n, "pooling_convention", "valid");
  if (conv != "valid" && conv != "full") fail(n, "pooling_convention '" + conv + "' is not supported");
  p.full = conv == "full";
  p.include_pad = attr_bool(n, "count_include_pad", true);
  const std::string layout = attr_str(n, "layout", "");
  if (!layout.empty() && layout != (nd == 2 ? "NCHW" : "NCW")) fail(n, "layout " + layout + " is not supported");
  const int64_t H = nd == 2 ? d[2] : 1, W = d.back();
  if (p.global) {
    // The whole plane is one window; MXNet ignores kernel, stride and pad here.
    p.kh = H, p.kw = W;
    return p;
  }
  const auto kernel = attr_tuple(n, "kernel", {});
  if (kernel.empty()) fail(n, "attribute 'kernel' is required unless global_pool is set");
  if (kernel.size() != nd) fail(n, "kernel " + shape_str(kernel) + " does not match data " + shape_str(d));
  const auto stride = attr_tuple(n, "stride", std::vector<int64_t>(nd, 1));
  const auto pad = attr_tuple(n, "pad", std::vector<int64_t>(nd, 0));
  if (stride.size() != nd || pad.size() != nd) fail(n, "stride and pad must have as many values as kernel " + shape_str(kernel));
  for (size_t i = 0; i < nd; ++i)
    if (kernel[i] <= 0 || stride[i] <= 0 || pad[i] < 0) fail(n, "kernel and stride must be positive, pad non-negative");
  if (nd == 2) {
    p.kh = kernel[0], p.kw = kernel[1], p.sh = stride[0], p.sw = stride[1], p.ph = pad[0], p.pw = pad[1];
  } else {
    p.kw = kernel[0], p.sw = stride[0], p.pw = pad[0];
  }
  if (p.kh > H + 2 * p.ph || p.kw > W + 2 * p.pw) fail(n, "kernel " + shape_str(kernel) + " exceeds the padded input " + shape_str(d));
  return p;
}

int64_t pool_out(const PoolParams& p, int64_t in, int64_t k, int64_t s, int64_t pad) {
  const int64_t span = in + 2 * pad - k;
  return 1 + (p.full ? (span + s - 1) / s : span / s);
}

std::vector<Shape> pool_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 1, 1);
  const Shape& d = in[0];
  const PoolParams p = pool_params(n, d);
  Shape out = d;
  out.back() = pool_out(p, d.back(), p.kw, p.sw, p.pw);
  if (d.size() == 4) out[2] = pool_out(p, d[2], p.kh, p.sh, p.ph);
  return outputs_like(n, out);
}

void pool_run(const KernelArgs& args) {
  const Buf& x = *args.in[0];
  const PoolParams p = pool_params(args.node, x.shape);
  const Shape& os = args.out[0]->shape;
  const bool two_d = x.shape.size() == 4;
  const int64_t H = two_d ? x.shape[2] : 1, W = x.shape.back();
  const int64_t OH = two_d ? os[2] : 1, OW = os.back();
  const int64_t planes = x.shape[0] * x.shape[1];
  const float lowest = std::numeric_limits<float>::lowest();
#pragma omp parallel for schedule(static) if (x.numel() > (1 << 15))
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = x.v.data() + pl * H * W;
    float* dst = args.out[0]->v.data() + pl * OH * OW;
    for (int64_t oy = 0; oy < OH; ++oy) {
      const int64_t y0 = oy * p.sh - p.ph, y1p = std::min(y0 + p.kh, H + p.ph);
      const int64_t ya = std::max<int64_t>(y0, 0), yb = std::min(y1p, H);
      for (int64_t ox = 0; ox < OW; ++ox) {
        const int64_t x0 = ox * p.sw - p.pw, x1p = std::min(x0 + p.kw, W + p.pw);
        const int64_t xa = std::max<int64_t>(x0, 0), xb = std::min(x1p, W);
        float acc = p.type == PoolType::Max ? lowest : 0.0f;
        for (int64_t iy = ya; iy < yb; ++iy) {
          const float* row = src + iy * W;
          if (p.type == PoolType::Max) {
            for (int64_t ix = xa; ix < xb; ++ix) acc = std::max(acc, row[ix]);
          } else {
            for (int64_t ix = xa; ix < xb; ++ix) acc += row[ix];
          }
        }
        if (p.type == PoolType::Avg) {
          const int64_t count = p.include_pad ? (y1p - y0) * (x1p - x0) : (yb - ya) * (xb - xa);
          acc = count > 0 ? acc / static_cast<float>(count) : 0.0f;
        }
        dst[oy * OW + ox] = acc;
      }
    }
  }
}

}  // namespace

void register_pool(KernelRegistry& r) { r.add({"Pooling", pool_infer, pool_run}); }

}  // namespace mixprec::runtime::nn
