// A Convolution prepared once per session: the primitive chosen for its shapes, its weights laid
// out (once, at load) in the order that primitive reads, and the epilogue of nodes fused behind it.
//
// With oneDNN (MIXPREC_HAVE_DNNL) the convolution runs oneDNN's JIT kernels on blocked layouts
// (nChw8c on AVX2): activations stay plain NCHW between nodes, so the input is reordered in and the
// output out around each convolution, into scratch that all convolutions of a session share.
// Weights stored as float16/bfloat16 stay 16-bit in memory (in blocked order) and are widened into
// scratch per call: half the weight memory, a few per cent of the time. Without oneDNN the
// packed im2col GEMM of kernels/nn_conv.cpp runs instead.
#pragma once
#include <memory>
#include <vector>

#include "mixprec/graph.h"
#include "runtime/epilogue.h"
#include "runtime/kernel.h"

namespace mixprec::runtime {

// Scratch shared by every convolution of a session (grown to the largest request, never shrunk).
struct ConvScratch {
  std::vector<float> src, dst, weights;
};

class ConvPlan {
 public:
  // `weight` (and `bias`, null when no_bias) are the node's parameters as the session holds them:
  // float32 values, or float16/bfloat16 bits (Buf::storage). The weight is taken by value so that
  // the session can hand its copy over: float32 values are then reordered from it, not copied first.
  ConvPlan(const Node& conv, const Shape& data, const Shape& out, Buf weight, const Buf* bias, Epilogue epilogue);
  ~ConvPlan();
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;

  // y (sized by the caller to the output shape) = epilogue(conv(x)). `residuals` as Epilogue::apply.
  void run(const Buf& x, Buf& y, const std::vector<const float*>& residuals, ConvScratch& scratch) const;

  // Bytes of weights this plan holds (the padded blocked layout included).
  size_t weight_bytes() const;
  // Which implementation runs: oneDNN's name for it ("jit:avx2", ...) or "im2col-gemm".
  const char* impl() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether the engine was built with oneDNN.
bool have_dnnl();

}  // namespace mixprec::runtime
