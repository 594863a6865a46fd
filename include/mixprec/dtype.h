// Element types, numbered as MXNet's mshadow TypeFlag (the codes stored in .params files).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mixprec {

enum class DType : int32_t {
  Unknown = -1,
  Float32 = 0,
  Float64 = 1,
  Float16 = 2,
  UInt8 = 3,
  Int32 = 4,
  Int8 = 5,
  Int64 = 6,
  Bool = 7,
  Int16 = 8,
  UInt16 = 9,
  UInt32 = 10,
  UInt64 = 11,
  BFloat16 = 12,
};

// Bytes per element; 0 for Unknown.
size_t dtype_size(DType t);
// numpy-style name ("float32", "bfloat16", ...); "unknown" for Unknown.
std::string_view dtype_name(DType t);
// Accepts numpy names; nullopt for anything else.
std::optional<DType> dtype_from_name(std::string_view name);
// Accepts the mshadow codes 0..12; nullopt otherwise.
std::optional<DType> dtype_from_code(int64_t code);
// float16, bfloat16, float32, float64.
bool is_float(DType t);
// The two 16-bit float types AMP converts to.
inline bool is_low_precision(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

}  // namespace mixprec
