#include "zoo/weights.h"

#include <cmath>

namespace mixprec::zoo {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// splitmix64's output function: a bijective 64-bit mixer.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// Uniform in [0, 1) from the top 24 bits: exactly representable as float.
float unit(uint64_t r) { return static_cast<float>(r >> 40) * 0x1p-24f; }

// Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), centred and scaled.
// No transcendental per element keeps 100M-parameter models at a fraction of a second; tails end at
// +-3.46 sigma, harmless for synthetic weights.
float normal(uint64_t r) {
  const auto s = static_cast<int64_t>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
  constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(3) / 2^16: unit variance
  return static_cast<float>(s - 131070) * kScale;
}

// Fills out[i] = a + b * draw(r_i), with draw = normal (gaussian) or unit (uniform).
template <bool Gaussian>
void fill(float* out, int64_t n, uint64_t key, float a, float b) {
  uint64_t state = key;
  for (int64_t i = 0; i < n; ++i) {
    state += kGolden;
    const uint64_t r = mix64(state);
    out[i] = a + b * (Gaussian ? normal(r) : unit(r));
  }
}

}  // namespace

Tensor make_param(uint64_t seed, const ParamSpec& spec) {
  Tensor t;
  t.dtype = DType::Float32;
  t.shape = spec.shape;
  const int64_t n = t.numel();
  t.data.resize(static_cast<size_t>(n) * sizeof(float));
  float* out = t.as<float>();
  const uint64_t key = mix64(mix64(seed + kGolden) ^ fnv1a(spec.name));
  switch (spec.init) {
    case Init::HeNormal:
      fill<true>(out, n, key, 0.0f, std::sqrt(2.0f / static_cast<float>(spec.fan_in > 0 ? spec.fan_in : 1)));
      break;
    case Init::Bias: fill<true>(out, n, key, 0.0f, 0.01f); break;
    case Init::BnGamma: fill<false>(out, n, key, 0.9f, 0.2f); break;
    case Init::BnBeta: fill<true>(out, n, key, kBatchNormShift, 0.05f); break;
    case Init::RunningMean: fill<true>(out, n, key, 0.0f, 0.1f); break;
    case Init::RunningVar: fill<false>(out, n, key, 0.5f, 1.0f); break;
    case Init::Embedding: fill<true>(out, n, key, 0.0f, 0.02f); break;
    case Init::Normal: fill<true>(out, n, key, 0.0f, 1.0f); break;
    case Init::Uniform: fill<false>(out, n, key, 0.0f, 1.0f); break;
    case Init::Ones:
      for (int64_t i = 0; i < n; ++i) out[i] = 1.0f;
      break;
    case Init::Zeros:
      for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
      break;
  }
  return t;
}

}  // namespace mixprec::zoo
