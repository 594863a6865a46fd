#include "runtime/epilogue.h"

#include <algorithm>
#include <cmath>

#include "mixprec/half.h"

namespace mixprec::runtime {
namespace {

// Rounds a row in place to float16/bfloat16 with the same routines the session uses.
void round_row(float* v, int64_t n, DType t) {
  if (t == DType::Float16) round_floats_to_halves(v, static_cast<size_t>(n));
  if (t == DType::BFloat16) round_floats_to_bfloat16s(v, static_cast<size_t>(n));
}

}  // namespace

int Epilogue::residual_count() const {
  int n = 0;
  for (const auto& s : steps_) n = std::max(n, s.residual + 1);
  return n;
}

std::vector<float> batchnorm_scale(const float* gamma, const float* var, int64_t C, double eps, bool fix_gamma) {
  std::vector<float> scale(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    scale[static_cast<size_t>(c)] = static_cast<float>((fix_gamma ? 1.0 : static_cast<double>(gamma[c])) * inv);
  }
  return scale;
}

void Epilogue::apply(float* y, int64_t N, int64_t C, int64_t HW, const std::vector<const float*>& residuals) const {
  const bool nothing = std::all_of(steps_.begin(), steps_.end(), [](const EpilogueStep& s) {
    return (s.kind == EpilogueStep::Kind::Round || s.kind == EpilogueStep::Kind::Cast) && !is_low_precision(s.dtype);
  });
  if (nothing) return;  // a float32 convolution with nothing fused behind it
#pragma omp parallel for schedule(static) if (N * C * HW > (1 << 14))
  for (int64_t row = 0; row < N * C; ++row) {
    const auto c = static_cast<size_t>(row % C);
    float* v = y + row * HW;
    for (const EpilogueStep& s : steps_) {
      switch (s.kind) {
        case EpilogueStep::Kind::Round:
        case EpilogueStep::Kind::Cast:
          break;
        case EpilogueStep::Kind::BatchNorm: {
          const float m = s.mean[c], k = s.scale[c], b = s.beta[c];
          for (int64_t i = 0; i < HW; ++i) v[i] = (v[i] - m) * k + b;
          if (s.relu)
            for (int64_t i = 0; i < HW; ++i) v[i] = std::max(v[i], 0.0f);
          break;
        }
        case EpilogueStep::Kind::Relu:
          for (int64_t i = 0; i < HW; ++i) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
          break;
        case EpilogueStep::Kind::Add: {
          const float* r = residuals[static_cast<size_t>(s.residual)] + row * HW;
          for (int64_t i = 0; i < HW; ++i) v[i] = v[i] + r[i];
          break;
        }
      }
      round_row(v, HW, s.dtype);
    }
  }
}

}  // namespace mixprec::runtime
