// The element-wise tail of a fused convolution: the per-channel and element-wise nodes that follow a
// Convolution (BatchNorm, ReLU, the residual add, amp_cast), applied to the convolution's output
// while it is still in cache instead of one full pass over memory per node.
//
// Fusion must not change a single bit: each step computes exactly what the node's own kernel
// computes, and after each step the value is rounded to that node's dtype, as the session rounds
// every node's output. So a fused run equals an unfused one bit for bit, in float16 and bfloat16 too.
#pragma once
#include <cstdint>
#include <vector>

#include "mixprec/dtype.h"

namespace mixprec::runtime {

struct EpilogueStep {
  enum class Kind {
    Round,      // the convolution itself: its output rounded to its dtype
    BatchNorm,  // (x - mean) * scale + beta per channel, then max(x, 0) when `relu`
    Relu,       // Activation relu: x > 0 ? x : 0
    Add,        // x + residual, the residual an NCHW tensor of the output's shape
    Cast,       // amp_cast: the value itself, rounded to `dtype`
  };
  Kind kind = Kind::Round;
  DType dtype = DType::Float32;  // the node's output dtype: every step ends rounded to it
  std::vector<float> mean, scale, beta;  // BatchNorm, per channel
  bool relu = false;                     // BatchNorm with ReLU (_contrib_BatchNormWithReLU)
  int residual = -1;                     // Add: index into the residual pointers given at run time
};

class Epilogue {
 public:
  void add(EpilogueStep s) { steps_.push_back(std::move(s)); }
  const std::vector<EpilogueStep>& steps() const { return steps_; }
  int residual_count() const;

  // Applies every step to y (N × C × HW, NCHW), channel row by channel row. `residuals[i]` is the
  // tensor that the step with residual == i adds (same shape as y).
  void apply(float* y, int64_t N, int64_t C, int64_t HW, const std::vector<const float*>& residuals) const;

 private:
  std::vector<EpilogueStep> steps_;
};

// BatchNorm's per-channel scale, computed as the BatchNorm kernel computes it:
// gamma / sqrt(var + eps) in double, then rounded to float (gamma taken as 1 when fix_gamma).
std::vector<float> batchnorm_scale(const float* gamma, const float* var, int64_t C, double eps, bool fix_gamma);

}  // namespace mixprec::runtime
