// Resizing ops of MXNet 1.x: UpSampling (nearest neighbour, one or several inputs; bilinear, a fixed
// depthwise transposed convolution) and the legacy Crop (to h_w, or to a second input's size).
// Both take NCHW data.
#include <algorithm>
#include <cstring>

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

// ---------------------------------------------------------------- UpSampling

struct UpSamplingParams {
  bool bilinear = false;
  int64_t scale_h = 1, scale_w = 1;
  bool sum = false;  // multi_input_mode: sum instead of concat
  int64_t num_args = 1;
  int64_t num_filter = 0;
};

UpSamplingParams upsampling_params(const Node& n, size_t inputs) {
  UpSamplingParams p;
  const std::string type = attr_str(n, "sample_type", "");
  if (type != "nearest" && type != "bilinear") fail(n, "attribute 'sample_type' must be nearest or bilinear, not '" + type + "'");
  p.bilinear = type == "bilinear";
  // 1.x writes one integer; 2.x allows (h, w) and (n, c, h, w) for nearest.
  const auto scale = attr_tuple(n, "scale", {});
  if (scale.size() == 1) {
    p.scale_h = p.scale_w = scale[0];
  } else if (scale.size() == 2 || scale.size() == 4) {
    p.scale_h = scale[scale.size() - 2], p.scale_w = scale.back();
  } else {
    fail(n, "attribute 'scale' must be an integer, (h, w) or (n, c, h, w), not " + shape_str(scale));
  }
  // MXNet 1.x's range; it also keeps scaled sizes far from overflowing.
  if (p.scale_h < 1 || p.scale_w < 1 || p.scale_h > 1000 || p.scale_w > 1000) fail(n, "scale must be between 1 and 1000");
  const std::string mode = attr_str(n, "multi_input_mode", "concat");
  if (mode != "concat" && mode != "sum") fail(n, "attribute 'multi_input_mode' must be concat or sum, not '" + mode + "'");
  p.sum = mode == "sum";
  p.num_args = attr_int(n, "num_args", static_cast<int64_t>(inputs));
  p.num_filter = attr_int(n, "num_filter", 0);
  return p;
}

// MXNet's bilinear kernel for an integer scale: a kernel this size, stride `scale`, this padding,
// gives exactly scale × the input size.
int64_t bilinear_kernel(int64_t scale) { return 2 * scale - scale % 2; }
int64_t bilinear_pad(int64_t scale) { return scale / 2; }  // ceil((scale - 1) / 2)

std::vector<Shape> upsampling_infer(const Node& n, const std::vector<Shape>& in) {
  const UpSamplingParams p = upsampling_params(n, in.size());
  if (p.bilinear) {
    expect_inputs(n, in, 2, 2);  // data, weight
    const Shape& d = in[0];
    if (d.size() != 4) fail(n, "data " + shape_str(d) + " must be 4-D (batch, channel, y, x)");
    if (p.scale_h != p.scale_w) fail(n, "bilinear upsampling needs the same scale along both dimensions");
    // MXNet runs it as a deconvolution with num_group = num_filter, which only fits when both are C.
    if (p.num_filter != d[1]) fail(n, "num_filter " + std::to_string(p.num_filter) + " must equal the data's channels " + std::to_string(d[1]));
    const int64_t k = bilinear_kernel(p.scale_h);
    const Shape want_w{d[1], 1, k, k};
    if (in[1] != want_w) fail(n, "weight " + shape_str(in[1]) + " does not fit: expected " + shape_str(want_w));
    return {Shape{d[0], d[1], d[2] * p.scale_h, d[3] * p.scale_w}};
  }
  if (p.num_args < 1 || static_cast<size_t>(p.num_args) != in.size())
    fail(n, "num_args " + std::to_string(p.num_args) + " does not match its " + std::to_string(in.size()) + " inputs");
  for (const Shape& s : in)
    if (s.size() != 4) fail(n, "input " + shape_str(s) + " must be 4-D (batch, channel, y, x)");
  // The first input sets the size; every input is scaled up to it by a whole factor.
  const int64_t OH = in[0][2] * p.scale_h, OW = in[0][3] * p.scale_w;
  int64_t channels = 0;
  for (const Shape& s : in) {
    if (s[0] != in[0][0]) fail(n, "input " + shape_str(s) + " has another batch size than " + shape_str(in[0]));
    if (s[2] <= 0 || s[3] <= 0 || OH % s[2] != 0 || OW % s[3] != 0)
      fail(n, "input " + shape_str(s) + " does not divide the output size " + shape_str({OH, OW}));
    if (p.sum && channels != 0 && s[1] != channels)
      fail(n, "multi_input_mode sum needs the same channels in every input: " + shape_str(s) + " vs " + shape_str(in[0]));
    channels = p.sum ? s[1] : channels + s[1];
  }
  return {Shape{in[0][0], channels, OH, OW}};
}

// dst[x] = src[x / rw] for x < W·rw (or += with `add`).
void widen_row(const float* src, int64_t W, int64_t rw, float* dst, bool add) {
  for (int64_t x = 0; x < W; ++x) {
    const float v = src[x];
    float* d = dst + x * rw;
    for (int64_t r = 0; r < rw; ++r) d[r] = add ? d[r] + v : v;
  }
}

// Nearest neighbour: out(y, x) = in(y / rh, x / rw), each input at its own factor.
void upsample_nearest(const KernelArgs& args, bool sum) {
  Buf& y = *args.out[0];
  const int64_t N = y.shape[0], OC = y.shape[1], OH = y.shape[2], OW = y.shape[3];
  int64_t first_channel = 0;
  for (size_t i = 0; i < args.in.size(); ++i) {
    const Buf& x = *args.in[i];
    const int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3], rh = OH / H, rw = OW / W;
    const bool add = sum && i > 0;  // inputs are summed in order, as MXNet does
#pragma omp parallel for schedule(static) if (N * C * OH * OW > (1 << 15))
    for (int64_t plane = 0; plane < N * C; ++plane) {
      const int64_t b = plane / C, c = plane % C;
      const float* src = x.v.data() + plane * H * W;
      float* dst = y.v.data() + (b * OC + (sum ? 0 : first_channel) + c) * OH * OW;
      for (int64_t iy = 0; iy < H; ++iy) {
        float* row = dst + iy * rh * OW;
        widen_row(src + iy * W, W, rw, row, add);
        // The other rh - 1 rows repeat it (or add the same values).
        for (int64_t r = 1; r < rh; ++r) {
          if (add) {
            widen_row(src + iy * W, W, rw, row + r * OW, true);
          } else {
            std::memcpy(row + r * OW, row, static_cast<size_t>(OW) * sizeof(float));
          }
        }
      }
    }
    if (!sum) first_channel += C;
  }
}

void upsampling_run(const KernelArgs& args) {
  const Node& n = args.node;
  const UpSamplingParams p = upsampling_params(n, args.in.size());
  if (!p.bilinear) {
    upsample_nearest(args, p.sum);
    return;
  }
  // Bilinear: MXNet's depthwise Deconvolution with the weight input as its kernel, no bias.
  const Buf& x = *args.in[0];
  Buf& y = *args.out[0];
  const int64_t s = p.scale_h, k = bilinear_kernel(s), pad = bilinear_pad(s), C = x.shape[1];
  const ConvGeometry g{x.shape[0], C, x.shape[2], x.shape[3], C, C, k, k, s, s, pad, pad, 1, 1, y.shape[2], y.shape[3], false};
  deconvolve(g, x.v.data(), args.in[1]->v.data(), nullptr, y.v.data());
}

// ---------------------------------------------------------------- Crop

struct CropWindow {
  int64_t h, w, top, left;
};

CropWindow crop_window(const Node& n, const std::vector<Shape>& in) {
  const int64_t num_args = attr_int(n, "num_args", static_cast<int64_t>(in.size()));
  if (num_args != 1 && num_args != 2) fail(n, "num_args must be 1 (crop to h_w) or 2 (crop like the second input), not " + std::to_string(num_args));
  expect_inputs(n, in, static_cast<size_t>(num_args), static_cast<size_t>(num_args));
  const Shape& d = in[0];
  if (d.size() != 4) fail(n, "data " + shape_str(d) + " must be 4-D (batch, channel, y, x)");
  const int64_t H = d[2], W = d[3];
  CropWindow c{};
  if (num_args == 1) {
    const auto hw = attr_tuple(n, "h_w", {0, 0});
    if (hw.size() != 2) fail(n, "attribute 'h_w' must be (h, w), not " + shape_str(hw));
    if (hw[0] < 1 || hw[0] > H || hw[1] < 1 || hw[1] > W)
      fail(n, "h_w " + shape_str(hw) + " must be at least (1, 1) and at most the data's " + shape_str({H, W}));
    c.h = hw[0], c.w = hw[1];
  } else {
    // crop_like: only its height and width (dimensions 2 and 3) are read, never its values.
    const Shape& like = in[1];
    if (like.size() < 4) fail(n, "crop_like " + shape_str(like) + " must have (batch, channel, y, x) dimensions");
    if (like[2] > H || like[3] > W)
      fail(n, "crop_like " + shape_str(like) + " is larger than the data " + shape_str(d) + " in height or width");
    c.h = like[2], c.w = like[3];
  }
  if (attr_bool(n, "center_crop", false)) {
    c.top = (H - c.h) / 2, c.left = (W - c.w) / 2;
  } else {
    const auto offset = attr_tuple(n, "offset", {0, 0});
    if (offset.size() != 2) fail(n, "attribute 'offset' must be (y, x), not " + shape_str(offset));
    if (offset[0] < 0 || offset[0] > H - c.h || offset[1] < 0 || offset[1] > W - c.w)
      fail(n, "offset " + shape_str(offset) + " puts the " + shape_str({c.h, c.w}) + " window outside the data's " + shape_str({H, W}));
    c.top = offset[0], c.left = offset[1];
  }
  return c;
}

std::vector<Shape> crop_infer(const Node& n, const std::vector<Shape>& in) {
  const CropWindow c = crop_window(n, in);
  return {Shape{in[0][0], in[0][1], c.h, c.w}};
}

void crop_run(const KernelArgs& args) {
  std::vector<Shape> shapes;
  for (const Buf* b : args.in) shapes.push_back(b->shape);
  const CropWindow c = crop_window(args.node, shapes);
  const Buf& x = *args.in[0];
  const int64_t planes = x.shape[0] * x.shape[1], H = x.shape[2], W = x.shape[3];
  float* out = args.out[0]->v.data();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < c.h; ++r)
      std::memcpy(out + (p * c.h + r) * c.w, x.v.data() + (p * H + c.top + r) * W + c.left, static_cast<size_t>(c.w) * sizeof(float));
}

}  // namespace

void register_resize(KernelRegistry& r) {
  r.add({"UpSampling", upsampling_infer, upsampling_run});
  r.add({"Crop", crop_infer, crop_run});
}

}  // namespace mixprec::runtime::nn
