// Seeded synthetic weights for zoo models. Each value is a pure function of (seed, parameter name,
// element index) through a counter-based generator (splitmix64), so a parameter's values do not depend
// on which parameters were generated before it, and any one can be regenerated alone.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mixprec/tensor.h"

namespace mixprec::zoo {

// How a parameter is initialised; scales chosen to look like trained weights.
enum class Init : uint8_t {
  HeNormal,     // conv / FC weights: N(0, sqrt(2 / fan_in))
  Bias,         // N(0, 0.01)
  BnGamma,      // 1 + U(-0.1, 0.1)
  BnBeta,       // N(kBatchNormShift, 0.05): see below
  RunningMean,  // N(0, 0.1)
  RunningVar,   // U(0.5, 1.5): positive, so inference never divides by ~0
  Embedding,    // N(0, 0.02), as BERT initialises its tables
  Ones,         // LayerNorm gamma; BatchNorm gamma when fix_gamma ignores it anyway
  Zeros,        // LayerNorm beta; BatchNorm beta with center=False
  Normal,       // N(0, 1): calibration inputs (zoo/calibrate.h)
  Uniform,      // U(0, 1): calibration token ids, before scaling to the vocabulary
};

// BatchNorm's beta is centred here rather than at 0. Once calibration (zoo/calibrate.h) makes every
// normalised value N(0, 1), a beta of 0 puts half of each layer's inputs below ReLU's kink, and a
// random network of such layers is chaotic: the part of a perturbation that the next layer's
// centring does not remove grows by ~1.21 per layer (1 / (1 - 1/pi), the half-rectified Gaussian's
// mean-square over its variance, under a square root), so rounding errors grow exponentially with
// depth (measured: 0.1 % input noise moved resnet152_v1's logits by 42 %). Trained networks are not
// chaotic. With beta = 1.5 most units are active and the factor is ~1.025 per layer (P(z > -1.5) /
// Var(relu(z + 1.5)) under the square root), which keeps the error growth of a 150-layer network
// at the scale trained ones show (resnet152_v1: 0.1 % noise now moves the logits by 0.01 %).
inline constexpr float kBatchNormShift = 1.5f;

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  Init init = Init::Zeros;
  int64_t fan_in = 1;  // HeNormal only
  bool aux = false;    // lives in aux_params (BatchNorm running statistics)
};

// The float32 tensor for `spec` under `seed`.
Tensor make_param(uint64_t seed, const ParamSpec& spec);

}  // namespace mixprec::zoo
