// Convolution and Deconvolution (1-D and 2-D, NCW / NCHW), inference only.
// Convolution is a GEMM per group and image: weights (F/g × C/g·kh·kw) times the image's im2col
// columns, packed on the fly. Depthwise layers (one input channel per group) run a direct loop
// instead, since their GEMM would be one row deep. Deconvolution is the transposed product
// (weightsᵀ · image) into a column buffer, scattered back with col2im.
#include <algorithm>

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

struct ConvParams {
  int64_t nd = 2;  // spatial dimensions of the attributes (1-D runs as 2-D with height 1)
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t adjh = 0, adjw = 0;
  std::vector<int64_t> target;  // Deconvolution's target_shape; empty when unused
  int64_t filters = 0, groups = 1;
  bool no_bias = false;
};

ConvParams conv_params(const Node& n, bool deconv) {
  ConvParams p;
  const auto kernel = attr_tuple(n, "kernel", {});
  if (kernel.empty()) fail(n, "attribute 'kernel' is required");
  if (kernel.size() > 2) fail(n, std::to_string(kernel.size()) + "-D kernels are not supported (1-D and 2-D only)");
  p.nd = static_cast<int64_t>(kernel.size());
  const size_t nd = kernel.size();
  auto spatial = [&](const char* key, int64_t fallback) {
    auto v = attr_tuple(n, key, std::vector<int64_t>(nd, fallback));
    if (v.size() != nd) fail(n, "attribute '" + std::string(key) + "' " + shape_str(v) + " does not match kernel " + shape_str(kernel));
    return v;
  };
  const auto stride = spatial("stride", 1), dilate = spatial("dilate", 1), pad = spatial("pad", 0);
  const auto adj = deconv ? spatial("adj", 0) : std::vector<int64_t>(nd, 0);
  for (size_t i = 0; i < nd; ++i) {
    if (kernel[i] <= 0 || stride[i] <= 0 || dilate[i] <= 0 || pad[i] < 0 || adj[i] < 0)
      fail(n, "kernel, stride and dilate must be positive and pad, adj non-negative");
  }
  if (nd == 2) {
    p.kh = kernel[0], p.kw = kernel[1], p.sh = stride[0], p.sw = stride[1];
    p.ph = pad[0], p.pw = pad[1], p.dh = dilate[0], p.dw = dilate[1], p.adjh = adj[0], p.adjw = adj[1];
  } else {
    p.kw = kernel[0], p.sw = stride[0], p.pw = pad[0], p.dw = dilate[0], p.adjw = adj[0];
  }
  if (deconv) {
    p.target = attr_tuple(n, "target_shape", {});
    if (std::all_of(p.target.begin(), p.target.end(), [](int64_t v) { return v == 0; })) p.target.clear();
    if (!p.target.empty() && p.target.size() != nd)
      fail(n, "attribute 'target_shape' " + shape_str(p.target) + " does not match kernel " + shape_str(kernel));
  }
  p.filters = attr_int(n, "num_filter", 0);
  if (p.filters <= 0) fail(n, "attribute 'num_filter' is required and must be positive");
  p.groups = attr_int(n, "num_group", 1);
  if (p.groups <= 0) fail(n, "attribute 'num_group' must be positive");
  p.no_bias = attr_bool(n, "no_bias", deconv);  // MXNet: Deconvolution defaults to no bias
  const std::string layout = attr_str(n, "layout", "");
  if (!layout.empty() && layout != (nd == 2 ? "NCHW" : "NCW")) fail(n, "layout " + layout + " is not supported");
  return p;
}

// Checks data/weight/bias ranks and returns data viewed as (N, C, H, W).
std::vector<int64_t> data_nchw(const Node& n, const ConvParams& p, const std::vector<Shape>& in) {
  expect_inputs(n, in, p.no_bias ? 2 : 3, p.no_bias ? 2 : 3);
  const Shape& d = in[0];
  if (static_cast<int64_t>(d.size()) != p.nd + 2)
    fail(n, "data " + shape_str(d) + " must have " + std::to_string(p.nd + 2) + " dimensions for a " + std::to_string(p.nd) +
                "-D kernel");
  return p.nd == 2 ? std::vector<int64_t>{d[0], d[1], d[2], d[3]} : std::vector<int64_t>{d[0], d[1], 1, d[2]};
}

std::vector<Shape> input_shapes(const KernelArgs& args) {
  std::vector<Shape> s;
  for (const Buf* b : args.in) s.push_back(b->shape);
  return s;
}

Shape spatial_shape(const ConvParams& p, int64_t N, int64_t C, int64_t H, int64_t W) {
  return p.nd == 2 ? Shape{N, C, H, W} : Shape{N, C, W};
}

void check_weight_bias(const Node& n, const ConvParams& p, const std::vector<Shape>& in, const Shape& want_w) {
  if (in[1] != want_w) fail(n, "weight " + shape_str(in[1]) + " does not fit: expected " + shape_str(want_w));
  if (!p.no_bias && in[2] != Shape{p.filters}) fail(n, "bias " + shape_str(in[2]) + " does not fit: expected " + shape_str({p.filters}));
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) { return (in + 2 * pad - (d * (k - 1) + 1)) / s + 1; }

std::vector<Shape> conv_infer(const Node& n, const std::vector<Shape>& in) {
  const ConvParams p = conv_params(n, false);
  const auto d = data_nchw(n, p, in);
  const int64_t N = d[0], C = d[1], H = d[2], W = d[3];
  if (C % p.groups != 0) fail(n, "data has " + std::to_string(C) + " channels, not divisible by num_group " + std::to_string(p.groups));
  if (p.filters % p.groups != 0) fail(n, "num_filter " + std::to_string(p.filters) + " is not divisible by num_group " + std::to_string(p.groups));
  const Shape want_w = p.nd == 2 ? Shape{p.filters, C / p.groups, p.kh, p.kw} : Shape{p.filters, C / p.groups, p.kw};
  check_weight_bias(n, p, in, want_w);
  const int64_t OH = conv_out(H, p.kh, p.sh, p.ph, p.dh), OW = conv_out(W, p.kw, p.sw, p.pw, p.dw);
  if (H + 2 * p.ph < p.dh * (p.kh - 1) + 1 || W + 2 * p.pw < p.dw * (p.kw - 1) + 1 || OH <= 0 || OW <= 0)
    fail(n, "the dilated kernel is larger than the padded input " + shape_str(in[0]));
  return {spatial_shape(p, N, p.filters, OH, OW)};
}

// out plane (OH × OW) += one filter, row by row and tap by tap: an output row stays in L1 while its
// taps accumulate, and the inner loop runs over contiguous output columns.
__attribute__((always_inline)) inline void depthwise_body(const ConvParams& p, const float* img, int64_t H, int64_t W, const float* w,
                                                          float* out, int64_t OH, int64_t OW) {
  for (int64_t oy = 0; oy < OH; ++oy) {
    float* o = out + oy * OW;
    for (int64_t ky = 0; ky < p.kh; ++ky) {
      const int64_t iy = oy * p.sh - p.ph + ky * p.dh;
      if (iy < 0 || iy >= H) continue;
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        const float wv = w[ky * p.kw + kx];
        const int64_t offx = kx * p.dw - p.pw;
        // Output columns whose input column ox·sw + offx lies inside [0, W).
        const int64_t lo = offx >= 0 ? 0 : (-offx + p.sw - 1) / p.sw;
        const int64_t hi = std::min(OW, W - offx <= 0 ? 0 : (W - offx - 1) / p.sw + 1);
        if (hi <= lo) continue;
        const float* src = img + iy * W + lo * p.sw + offx;  // input under output column `lo`
        float* ol = o + lo;
        if (p.sw == 1) {
          for (int64_t j = 0; j < hi - lo; ++j) ol[j] += wv * src[j];
        } else {
          for (int64_t j = 0; j < hi - lo; ++j) ol[j] += wv * src[j * p.sw];
        }
      }
    }
  }
}

using DepthwiseFn = void (*)(const ConvParams& p, const float* img, int64_t H, int64_t W, const float* w, float* out, int64_t OH,
                            int64_t OW);

void depthwise_base(const ConvParams& p, const float* img, int64_t H, int64_t W, const float* w, float* out, int64_t OH, int64_t OW) {
  depthwise_body(p, img, H, W, w, out, OH, OW);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) void depthwise_avx2(const ConvParams& p, const float* img, int64_t H, int64_t W, const float* w,
                                                        float* out, int64_t OH, int64_t OW) {
  depthwise_body(p, img, H, W, w, out, OH, OW);
}
#endif

DepthwiseFn depthwise_for_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2_fma()) return depthwise_avx2;
#endif
  return depthwise_base;
}

void conv_run(const KernelArgs& args) {
  const Node& n = args.node;
  const ConvParams p = conv_params(n, false);
  const Buf& x = *args.in[0];
  const float* w = args.in[1]->v.data();
  const float* bias = p.no_bias ? nullptr : args.in[2]->v.data();
  const auto d = data_nchw(n, p, input_shapes(args));
  const int64_t N = d[0], C = d[1], H = d[2], W = d[3];
  Buf& y = *args.out[0];
  const int64_t OW = y.shape.back(), OH = p.nd == 2 ? y.shape[2] : 1;
  const int64_t G = p.groups, Cg = C / G, Fg = p.filters / G, HW = H * W, OHW = OH * OW;
  const int64_t Kg = Cg * p.kh * p.kw;
  float* out = y.v.data();

  // Start every output plane at its bias; the products accumulate onto it.
  for (int64_t i = 0; i < N * p.filters; ++i)
    std::fill(out + i * OHW, out + (i + 1) * OHW, bias ? bias[i % p.filters] : 0.0f);

  if (Cg == 1 && Fg <= 4) {
    static const DepthwiseFn depthwise_plane = depthwise_for_cpu();
#pragma omp parallel for schedule(static) if (N * p.filters * OHW * Kg > (1 << 15))
    for (int64_t i = 0; i < N * p.filters; ++i) {
      const int64_t b = i / p.filters, f = i % p.filters;
      depthwise_plane(p, x.v.data() + (b * C + f / Fg) * HW, H, W, w + f * Kg, out + i * OHW, OH, OW);
    }
    return;
  }
  const bool pointwise = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.ph == 0 && p.pw == 0;
  for (int64_t g = 0; g < G; ++g) {
    const PackedA a(Fg, Kg, MatView{w + g * Fg * Kg, Kg, 1});
    for (int64_t b = 0; b < N; ++b) {
      const float* img = x.v.data() + (b * C + g * Cg) * HW;
      float* o = out + (b * p.filters + g * Fg) * OHW;
      if (pointwise) {
        gemm(a, OHW, MatView{img, HW, 1}, o, OHW);
      } else {
        gemm(a, OHW, Im2Col{img, Cg, H, W, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, OH, OW}, o, OHW);
      }
    }
  }
}

}  // namespace

ConvGeometry conv_geometry(const Node& n, const Shape& data, const Shape& out) {
  const ConvParams p = conv_params(n, false);
  const bool two = p.nd == 2;
  return ConvGeometry{data[0], data[1], two ? data[2] : 1, data.back(), p.filters, p.groups, p.kh, p.kw, p.sh, p.sw,
                      p.ph, p.pw, p.dh, p.dw, two ? out[2] : 1, out.back(), !p.no_bias};
}

void deconvolve(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* out) {
  const int64_t G = g.G, Cg = g.C / G, Fg = g.F / G, HW = g.H * g.W, OHW = g.OH * g.OW;
  const int64_t taps = g.kh * g.kw, Mg = Fg * taps;
  for (int64_t i = 0; i < g.N * g.F; ++i)
    std::fill(out + i * OHW, out + (i + 1) * OHW, bias ? bias[i % g.F] : 0.0f);

  std::vector<float> cols(static_cast<size_t>(Mg * HW));
  for (int64_t grp = 0; grp < G; ++grp) {
    // Weight rows are input channels: (C, F/g·kh·kw). The product needs their transpose.
    const PackedA a(Mg, Cg, MatView{w + grp * Cg * Mg, 1, Mg});
    for (int64_t b = 0; b < g.N; ++b) {
      std::fill(cols.begin(), cols.end(), 0.0f);
      gemm(a, HW, MatView{x + (b * g.C + grp * Cg) * HW, HW, 1}, cols.data(), HW);
      float* o = out + (b * g.F + grp * Fg) * OHW;
      // col2im: each output channel gathers only its own rows, so threads never share a plane.
#pragma omp parallel for schedule(static) if (Mg * HW > (1 << 14))
      for (int64_t f = 0; f < Fg; ++f) {
        float* plane = o + f * OHW;
        for (int64_t t = 0; t < taps; ++t) {
          const float* row = cols.data() + (f * taps + t) * HW;
          const int64_t ky = t / g.kw, kx = t % g.kw;
          for (int64_t iy = 0; iy < g.H; ++iy) {
            const int64_t oy = iy * g.sh - g.ph + ky * g.dh;
            if (oy < 0 || oy >= g.OH) continue;
            for (int64_t ix = 0; ix < g.W; ++ix) {
              const int64_t ox = ix * g.sw - g.pw + kx * g.dw;
              if (ox >= 0 && ox < g.OW) plane[oy * g.OW + ox] += row[iy * g.W + ix];
            }
          }
        }
      }
    }
  }
}

namespace {

// MXNet's rule: a nonzero target_shape overrides pad and adj.
void deconv_pad(ConvParams& p, int64_t H, int64_t W) {
  if (p.target.empty()) return;
  auto fit = [](int64_t in, int64_t k, int64_t s, int64_t d, int64_t target, int64_t& pad, int64_t& adj) {
    const int64_t total = s * (in - 1) + d * (k - 1) + 1 - target;
    adj = total % 2;
    pad = (total + 1) / 2;
    return total >= 0;
  };
  bool ok = fit(W, p.kw, p.sw, p.dw, p.target.back(), p.pw, p.adjw);
  if (p.nd == 2) ok = fit(H, p.kh, p.sh, p.dh, p.target[0], p.ph, p.adjh) && ok;
  if (!ok) p.target = {-1};  // flagged for the caller's error
}

int64_t deconv_out(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t adj) {
  return s * (in - 1) + d * (k - 1) + 1 - 2 * pad + adj;
}

std::vector<Shape> deconv_infer(const Node& n, const std::vector<Shape>& in) {
  ConvParams p = conv_params(n, true);
  const auto d = data_nchw(n, p, in);
  const int64_t N = d[0], C = d[1], H = d[2], W = d[3];
  if (C % p.groups != 0) fail(n, "data has " + std::to_string(C) + " channels, not divisible by num_group " + std::to_string(p.groups));
  if (p.filters % p.groups != 0) fail(n, "num_filter " + std::to_string(p.filters) + " is not divisible by num_group " + std::to_string(p.groups));
  const Shape want_w = p.nd == 2 ? Shape{C, p.filters / p.groups, p.kh, p.kw} : Shape{C, p.filters / p.groups, p.kw};
  check_weight_bias(n, p, in, want_w);
  const auto target = p.target;
  deconv_pad(p, H, W);
  if (p.target == std::vector<int64_t>{-1}) fail(n, "target_shape " + shape_str(target) + " is larger than the output can be");
  // As MXNet checks, after target_shape has had its say.
  if (p.adjh >= p.sh || p.adjw >= p.sw) fail(n, "adj must be smaller than stride");
  const int64_t OH = deconv_out(H, p.kh, p.sh, p.ph, p.dh, p.adjh), OW = deconv_out(W, p.kw, p.sw, p.pw, p.dw, p.adjw);
  if (OH <= 0 || OW <= 0) fail(n, "the padding leaves no output for data " + shape_str(in[0]));
  return {spatial_shape(p, N, p.filters, OH, OW)};
}

void deconv_run(const KernelArgs& args) {
  const Node& n = args.node;
  ConvParams p = conv_params(n, true);
  const auto d = data_nchw(n, p, input_shapes(args));
  deconv_pad(p, d[2], d[3]);
  Buf& y = *args.out[0];
  const ConvGeometry g{d[0], d[1], d[2], d[3], p.filters, p.groups, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw,
                       p.nd == 2 ? y.shape[2] : 1, y.shape.back(), !p.no_bias};
  deconvolve(g, args.in[0]->v.data(), args.in[1]->v.data(), p.no_bias ? nullptr : args.in[2]->v.data(), y.v.data());
}

}  // namespace

void register_conv(KernelRegistry& r) {
  r.add({"Convolution", conv_infer, conv_run});
  r.add({"Deconvolution", deconv_infer, deconv_run});
}

}  // namespace mixprec::runtime::nn
