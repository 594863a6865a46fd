// A dense, C-contiguous array owned in memory: dtype, shape and raw little-endian bytes.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mixprec/dtype.h"

namespace mixprec {

struct Tensor {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // numel() * dtype_size(dtype) bytes

  int64_t numel() const;
  size_t nbytes() const { return data.size(); }

  // A copy converted to `to`. Float-to-float conversions round to nearest even (see half.h);
  // non-float dtypes are supported only as the identity. Throws mixprec::Error otherwise.
  Tensor astype(DType to) const;

  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(data.data()); }
  template <typename T>
  T* as() { return reinterpret_cast<T*>(data.data()); }

  static Tensor from_floats(std::vector<int64_t> shape, const std::vector<float>& values);
  bool operator==(const Tensor& o) const = default;
};

// Parameters by name, as MXNet's arg_params / aux_params dicts (names without "arg:"/"aux:").
using TensorMap = std::map<std::string, Tensor>;

}  // namespace mixprec
