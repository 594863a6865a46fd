#include "mixprec/dtype.h"

#include <array>

namespace mixprec {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};

// mshadow TypeFlag codes 0..12 (mxnet_formats.md §B.4), indexed by code.
constexpr std::array<DTypeInfo, 13> kTypes = {{
    {DType::Float32, "float32", 4},
    {DType::Float64, "float64", 8},
    {DType::Float16, "float16", 2},
    {DType::UInt8, "uint8", 1},
    {DType::Int32, "int32", 4},
    {DType::Int8, "int8", 1},
    {DType::Int64, "int64", 8},
    {DType::Bool, "bool", 1},
    {DType::Int16, "int16", 2},
    {DType::UInt16, "uint16", 2},
    {DType::UInt32, "uint32", 4},
    {DType::UInt64, "uint64", 8},
    {DType::BFloat16, "bfloat16", 2},
}};

const DTypeInfo* info(DType t) {
  auto code = static_cast<int32_t>(t);
  return code >= 0 && code < static_cast<int32_t>(kTypes.size()) ? &kTypes[static_cast<size_t>(code)] : nullptr;
}

}  // namespace

size_t dtype_size(DType t) {
  const DTypeInfo* i = info(t);
  return i ? i->size : 0;
}

std::string_view dtype_name(DType t) {
  const DTypeInfo* i = info(t);
  return i ? i->name : "unknown";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& i : kTypes)
    if (i.name == name) return i.type;
  return std::nullopt;
}

std::optional<DType> dtype_from_code(int64_t code) {
  if (code < 0 || code >= static_cast<int64_t>(kTypes.size())) return std::nullopt;
  return kTypes[static_cast<size_t>(code)].type;
}

bool is_float(DType t) {
  return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16 || t == DType::Float64;
}

}  // namespace mixprec
