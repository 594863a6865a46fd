// Matrix-vector products for batch-1 linear layers, the memory-bound case where storing weights
// in float16 / bfloat16 halves the bytes read. Weights are widened to float32 in registers, 8 at a
// time, and accumulated in float32; rows are split across OpenMP threads (deterministic: each row
// is summed by one thread in a fixed order).
#pragma once
#include <cstdint>

namespace mixprec::runtime {

// y[r] = sum_c W[r, c] * x[c] (+ bias[r] when bias is not null). W is row-major rows x cols.
void gemv_f32(const float* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols);
void gemv_f16(const uint16_t* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols);
void gemv_bf16(const uint16_t* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols);

// This machine's float32 FMA peak with `threads` threads, in GFLOP/s, measured by a register-only
// loop of independent fused multiply-adds (the ceiling a convolution can approach).
double measure_fma_peak_gflops(int threads);

}  // namespace mixprec::runtime
