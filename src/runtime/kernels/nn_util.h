// Private helpers of the nn_* kernel files: MXNet attributes read with MXNet's defaults, errors that
// name the node, and the packed float32 GEMM that Convolution, Deconvolution and FullyConnected run
// on (batch-1 FullyConnected uses runtime/gemv.h instead).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace mixprec::runtime::nn {

// ---- errors and attributes ----

// Throws mixprec::Error with the node as its place.
[[noreturn]] void fail(const Node& n, const std::string& what);
std::string shape_str(const Shape& s);

// Each reader returns `fallback` when the attribute is absent; malformed text throws naming the node.
// Tuples: an empty tuple "()" also means "use the default", as MXNet's parsers treat it.
std::vector<int64_t> attr_tuple(const Node& n, const std::string& key, std::vector<int64_t> fallback);
int64_t attr_int(const Node& n, const std::string& key, int64_t fallback);
bool attr_bool(const Node& n, const std::string& key, bool fallback);
double attr_float(const Node& n, const std::string& key, double fallback);
// nullopt when absent or "None".
std::optional<double> attr_opt_float(const Node& n, const std::string& key);
std::string attr_str(const Node& n, const std::string& key, const std::string& fallback);

// Checks that the node has lo..hi inputs.
void expect_inputs(const Node& n, const std::vector<Shape>& in, size_t lo, size_t hi);
// Resolves a possibly negative axis against `ndim` dimensions.
size_t resolve_axis(const Node& n, int64_t axis, size_t ndim);
int64_t numel(const Shape& s);
// One copy of `s` per node output (ops whose hidden outputs share the data's shape).
std::vector<Shape> outputs_like(const Node& n, const Shape& s);

// ---- GEMM ----

// Whether this CPU runs AVX2 with FMA: the hot loops have a variant compiled for it, picked at run
// time, since the library itself is built for the x86-64 baseline.
bool cpu_has_avx2_fma();

// A strided matrix view: element (r, c) lives at p[r * rs + c * cs].
struct MatView {
  const float* p;
  int64_t rs, cs;
};

// The same over float16 (bfloat16 = false) or bfloat16 bits, widened to float32 while packing.
struct MatView16 {
  const uint16_t* p;
  int64_t rs, cs;
  bool bfloat16;
};

// The B operand of a convolution read straight from one image (C × H × W) as im2col would lay it
// out: row k = (c, ky, kx), column n = (oy, ox). Nothing is materialised beyond a cache-sized panel.
struct Im2Col {
  const float* img;
  int64_t C, H, W;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t OH, OW;
};

// A (M × K) as the register tiles read it, 4 rows at a time. Row-major A is read in place (only a
// last, partial group of rows is copied and zero-padded); other layouts are packed once.
class PackedA {
 public:
  // Rows 4p..4p+3 of a panel: element (i, k) at p[i * rs + k * ks].
  struct Panel {
    const float* p;
    int64_t rs, ks;
  };
  PackedA(int64_t M, int64_t K, MatView a);
  int64_t rows() const { return m_; }
  int64_t depth() const { return k_; }
  Panel panel(int64_t p) const;

 private:
  int64_t m_, k_;
  MatView raw_{nullptr, 0, 0};
  int64_t first_packed_ = 0;  // panels before this one are read from raw_
  std::vector<float> data_;
};

// C (M × N, row stride ldc) += A · B. Parallel over tiles of C (each element is summed by one thread
// in a fixed order, so results do not depend on the thread count).
void gemm(const PackedA& a, int64_t N, MatView b, float* c, int64_t ldc);
void gemm(const PackedA& a, int64_t N, MatView16 b, float* c, int64_t ldc);
void gemm(const PackedA& a, int64_t N, const Im2Col& b, float* c, int64_t ldc);

// ---- convolution geometry (shared with the prepared convolution, runtime/conv_plan.h) ----

// A convolution's or transposed convolution's sizes, 1-D kernels seen as 2-D with height 1: C input
// and F output channels in G groups, H × W in and OH × OW out.
struct ConvGeometry {
  int64_t N, C, H, W, F, G, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
  bool bias;
};
// A Convolution node's geometry; `data` and `out` are the shapes its kernel checked and inferred.
ConvGeometry conv_geometry(const Node& n, const Shape& data, const Shape& out);

// The transposed convolution Deconvolution runs (also bilinear UpSampling, a depthwise one):
// out = bias + weightsᵀ · x, scattered by col2im. Weights are laid out (C, F/G, kh, kw); `bias` is
// null when there is none (then g.bias is ignored).
void deconvolve(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* out);

// ---- per-file registration (nn_kernels.cpp calls them all) ----
void register_conv(KernelRegistry& r);
void register_dense(KernelRegistry& r);
void register_norm(KernelRegistry& r);
void register_pool(KernelRegistry& r);
void register_activation(KernelRegistry& r);
void register_softmax(KernelRegistry& r);
void register_embedding(KernelRegistry& r);
void register_resize(KernelRegistry& r);

}  // namespace mixprec::runtime::nn
