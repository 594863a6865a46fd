#include "mixprec/tensor.h"

#include <cstring>

#include "mixprec/error.h"
#include "mixprec/half.h"

namespace mixprec {

int64_t Tensor::numel() const {
  // A zero dimension makes the tensor empty whatever the others are, so check for it first:
  // multiplying in order could overflow before reaching it.
  for (int64_t d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) throw Error("tensor shape has a negative or overflowing element count");
  return n;
}

Tensor Tensor::from_floats(std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor t;
  t.dtype = DType::Float32;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<int64_t>(values.size()))
    throw Error("Tensor::from_floats: shape holds " + std::to_string(t.numel()) + " elements, got " +
                std::to_string(values.size()));
  t.data.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

namespace {

// Widens any float dtype to float32 (float64 narrows with the FPU's round-to-nearest-even).
std::vector<float> to_f32(const Tensor& t) {
  const auto n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  switch (t.dtype) {
    case DType::Float32: std::memcpy(out.data(), t.data.data(), n * 4); break;
    case DType::Float16: halves_to_floats(t.as<uint16_t>(), out.data(), n); break;
    case DType::BFloat16: bfloat16s_to_floats(t.as<uint16_t>(), out.data(), n); break;
    case DType::Float64:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(t.as<double>()[i]);
      break;
    default: break;
  }
  return out;
}

}  // namespace

Tensor Tensor::astype(DType to) const {
  if (to == dtype) return *this;
  if (!is_float(dtype) || !is_float(to))
    throw Error("cannot convert a " + std::string(dtype_name(dtype)) + " tensor to " + std::string(dtype_name(to)));
  Tensor r;
  r.dtype = to;
  r.shape = shape;
  const auto n = static_cast<size_t>(numel());
  r.data.resize(n * dtype_size(to));
  if (n == 0) return r;  // nothing to convert (and the empty buffers' data() may be null)
  if (to == DType::Float64 && dtype != DType::Float32) {
    const std::vector<float> f = to_f32(*this);
    for (size_t i = 0; i < n; ++i) r.as<double>()[i] = f[i];
    return r;
  }
  if (to == DType::Float64) {
    for (size_t i = 0; i < n; ++i) r.as<double>()[i] = as<float>()[i];
    return r;
  }
  // Narrowing from float64 goes through float32; the double rounding this can cause is confined
  // to values exactly between two float16 values after the first rounding, which MXNet shares.
  std::vector<float> tmp;
  const float* src = as<float>();
  if (dtype != DType::Float32) {
    tmp = to_f32(*this);
    src = tmp.data();
  }
  switch (to) {
    case DType::Float32: std::memcpy(r.data.data(), src, n * 4); break;
    case DType::Float16: floats_to_halves(src, r.as<uint16_t>(), n); break;
    case DType::BFloat16: floats_to_bfloat16s(src, r.as<uint16_t>(), n); break;
    default: break;
  }
  return r;
}

}  // namespace mixprec
