#include "runtime/conv_plan.h"

#include <algorithm>
#include <cstring>

#include "mixprec/half.h"
#include "runtime/kernels/nn_util.h"

#if MIXPREC_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace mixprec::runtime {

namespace {

// Widens n 16-bit values to float32, in parallel: per call this is the price of 16-bit weights.
void widen(const uint16_t* src, float* dst, size_t n, DType t) {
  const auto chunks = static_cast<int64_t>((n + 65535) / 65536);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t i = 0; i < chunks; ++i) {
    const size_t at = static_cast<size_t>(i) * 65536, count = std::min<size_t>(65536, n - at);
    if (t == DType::Float16) {
      halves_to_floats(src + at, dst + at, count);
    } else {
      bfloat16s_to_floats(src + at, dst + at, count);
    }
  }
}

std::vector<float> values_of(const Buf& b) {
  if (b.storage == DType::Float32) return b.v;
  std::vector<float> v(b.lp.size());
  widen(b.lp.data(), v.data(), v.size(), b.storage);
  return v;
}

// The same, taking float32 values over instead of copying them.
std::vector<float> values_of(Buf&& b) {
  if (b.storage == DType::Float32) return std::move(b.v);
  std::vector<float> v = values_of(b);
  std::vector<uint16_t>().swap(b.lp);  // `= {}` would keep the capacity
  return v;
}

}  // namespace

#if MIXPREC_HAVE_DNNL

bool have_dnnl() { return true; }

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

}  // namespace

struct ConvPlan::Impl {
  nn::ConvGeometry g{};
  Epilogue epilogue;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward conv;
  dnnl::memory::desc src_plain, dst_plain;
  bool reorder_src = false, reorder_dst = false;
  dnnl::reorder src_reorder, dst_reorder;
  DType weight_type = DType::Float32;
  std::vector<float> w32;     // weights in pd.weights_desc() order (float32 storage)
  std::vector<uint16_t> w16;  // or the same order in 16 bits
  std::vector<float> bias;
};

ConvPlan::ConvPlan(const Node& conv, const Shape& data, const Shape& out, Buf weight, const Buf* bias, Epilogue epilogue)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.g = nn::conv_geometry(conv, data, out);
  m.epilogue = std::move(epilogue);
  const nn::ConvGeometry& g = m.g;
  auto& eng = cpu_engine();
  m.src_plain = dnnl::memory::desc({g.N, g.C, g.H, g.W}, dt::f32, tag::nchw);
  m.dst_plain = dnnl::memory::desc({g.N, g.F, g.OH, g.OW}, dt::f32, tag::nchw);
  const dims wdims = g.G == 1 ? dims{g.F, g.C, g.kh, g.kw} : dims{g.G, g.F / g.G, g.C / g.G, g.kh, g.kw};
  const dnnl::memory::desc w_plain(wdims, dt::f32, g.G == 1 ? tag::oihw : tag::goihw);
  const dnnl::memory::desc src_any({g.N, g.C, g.H, g.W}, dt::f32, tag::any), dst_any({g.N, g.F, g.OH, g.OW}, dt::f32, tag::any);
  const dnnl::memory::desc w_any(wdims, dt::f32, tag::any), b_desc({g.F}, dt::f32, tag::x);
  const dims strides{g.sh, g.sw}, dilates{g.dh - 1, g.dw - 1}, pad{g.ph, g.pw};
  // Right padding as oneDNN wants it: whatever makes the output size come out as inferred.
  const dims pad_r{(g.OH - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.H - g.ph, (g.OW - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.W - g.pw};
  auto desc = g.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                                       w_any, b_desc, dst_any, strides, dilates, pad, pad_r)
                     : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                                       w_any, dst_any, strides, dilates, pad, pad_r);
  m.pd = dnnl::convolution_forward::primitive_desc(desc, eng);
  m.conv = dnnl::convolution_forward(m.pd);
  m.reorder_src = m.pd.src_desc() != m.src_plain;
  m.reorder_dst = m.pd.dst_desc() != m.dst_plain;
  if (m.reorder_src) m.src_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, m.src_plain, eng, m.pd.src_desc()));
  if (m.reorder_dst) m.dst_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, m.pd.dst_desc(), eng, m.dst_plain));

  // Weights: plain float32 -> the primitive's layout, once; then kept in the stored precision.
  const DType stored = weight.storage;
  std::vector<float> plain = values_of(std::move(weight));
  std::vector<float> blocked(m.pd.weights_desc().get_size() / sizeof(float));
  dnnl::stream s(eng);
  dnnl::memory from(w_plain, eng, plain.data()), to(m.pd.weights_desc(), eng, blocked.data());
  dnnl::reorder(from, to).execute(s, from, to);
  s.wait();
  std::vector<float>().swap(plain);  // freed before the 16-bit copy is made: one weight's transients at a time
  m.weight_type = stored;
  if (is_low_precision(stored)) {
    m.w16.resize(blocked.size());
    // Exact: every value came from a 16-bit one (padding is zero).
    if (stored == DType::Float16) {
      floats_to_halves(blocked.data(), m.w16.data(), blocked.size());
    } else {
      floats_to_bfloat16s(blocked.data(), m.w16.data(), blocked.size());
    }
  } else {
    m.w32 = std::move(blocked);
  }
  if (g.bias) m.bias = values_of(*bias);
}

ConvPlan::~ConvPlan() = default;

size_t ConvPlan::weight_bytes() const { return impl_->w32.size() * 4 + impl_->w16.size() * 2; }

const char* ConvPlan::impl() const { return impl_->pd.impl_info_str(); }

void ConvPlan::run(const Buf& x, Buf& y, const std::vector<const float*>& residuals, ConvScratch& scratch) const {
  const Impl& m = *impl_;
  auto& eng = cpu_engine();
  dnnl::stream s(eng);
  auto grow = [](std::vector<float>& v, size_t bytes) {
    if (v.size() * sizeof(float) < bytes) v.resize(bytes / sizeof(float) + 1);
    return v.data();
  };
  auto* x_data = const_cast<float*>(x.v.data());  // oneDNN's handles are non-const; the source is only read
  dnnl::memory src(m.src_plain, eng, x_data);
  if (m.reorder_src) {
    dnnl::memory to(m.pd.src_desc(), eng, grow(scratch.src, m.pd.src_desc().get_size()));
    m.src_reorder.execute(s, src, to);
    src = to;
  }
  float* w_data = const_cast<float*>(m.w32.data());
  if (!m.w16.empty()) {
    w_data = grow(scratch.weights, m.w16.size() * sizeof(float));
    widen(m.w16.data(), w_data, m.w16.size(), m.weight_type);
  }
  dnnl::memory w(m.pd.weights_desc(), eng, w_data);
  dnnl::memory y_plain(m.dst_plain, eng, y.v.data());
  dnnl::memory dst = m.reorder_dst ? dnnl::memory(m.pd.dst_desc(), eng, grow(scratch.dst, m.pd.dst_desc().get_size())) : y_plain;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}};
  if (m.g.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory({{m.g.F}, dt::f32, tag::x}, eng, const_cast<float*>(m.bias.data())));
  m.conv.execute(s, args);
  if (m.reorder_dst) m.dst_reorder.execute(s, dst, y_plain);
  s.wait();
  m.epilogue.apply(y.v.data(), m.g.N, m.g.F, m.g.OH * m.g.OW, residuals);
}

#else  // without oneDNN: the kernel registry's Convolution (packed im2col GEMM)

bool have_dnnl() { return false; }

struct ConvPlan::Impl {
  Node node;
  nn::ConvGeometry g{};
  Epilogue epilogue;
  Buf weight, bias;
};

ConvPlan::ConvPlan(const Node& conv, const Shape& data, const Shape& out, Buf weight, const Buf* bias, Epilogue epilogue)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.node = conv;
  m.g = nn::conv_geometry(conv, data, out);
  m.epilogue = std::move(epilogue);
  m.weight.shape = weight.shape;
  m.weight.v = values_of(std::move(weight));
  if (bias) {
    m.bias.shape = bias->shape;
    m.bias.v = values_of(*bias);
  }
}

ConvPlan::~ConvPlan() = default;

size_t ConvPlan::weight_bytes() const { return impl_->weight.v.size() * 4; }

const char* ConvPlan::impl() const { return "im2col-gemm"; }

void ConvPlan::run(const Buf& x, Buf& y, const std::vector<const float*>& residuals, ConvScratch&) const {
  const Impl& m = *impl_;
  KernelArgs args{m.node, {&x, &m.weight}, {&y}};
  if (m.g.bias) args.in.push_back(&m.bias);
  kernels().find("Convolution")->run(args);
  m.epilogue.apply(y.v.data(), m.g.N, m.g.F, m.g.OH * m.g.OW, residuals);
}

#endif

}  // namespace mixprec::runtime
