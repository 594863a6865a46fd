// Bit-exact conversions between float32 and the 16-bit float formats.
// float32 -> float16 and float32 -> bfloat16 round to nearest, ties to even; values beyond the
// largest finite 16-bit value become +-inf; NaN stays NaN (quiet). Widening is exact.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mixprec {

uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);
float bfloat16_to_float(uint16_t b);

// Bulk forms (vectorised where the CPU allows); `n` elements.
void floats_to_halves(const float* src, uint16_t* dst, size_t n);
void halves_to_floats(const uint16_t* src, float* dst, size_t n);
void floats_to_bfloat16s(const float* src, uint16_t* dst, size_t n);
void bfloat16s_to_floats(const uint16_t* src, float* dst, size_t n);

// In place: each value becomes the float32 of its nearest 16-bit value, exactly what the
// conversion there and back gives, in one pass (the engine's per-node rounding).
void round_floats_to_halves(float* v, size_t n);
// Whether the CPU (and OS) support F16C with AVX: the vector paths above and in the engine use it.
bool cpu_has_f16c();
void round_floats_to_bfloat16s(float* v, size_t n);

}  // namespace mixprec
