#include "amp/dtype_inference.h"

#include <algorithm>

#include "ops/op_table.h"

namespace mixprec::amp {

static bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

bool follows_data_dtype(const Node& node, uint32_t slot) {
  const ops::OpInfo& info = ops::op_info(node.op);
  return !contains(info.index_inputs, slot) && !contains(info.fp32_inputs, slot);
}

bool amp_cast_converts(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16; }

std::vector<DType> forward_type_rule(const Node& node, const std::vector<DType>& in) {
  const ops::OpInfo& info = ops::op_info(node.op);
  std::vector<DType> out(node.num_outputs, DType::Unknown);
  switch (info.rule) {
    case ops::TypeRule::Cast: {
      const auto to = dtype_from_name(node.attr("dtype"));
      const DType src = in.empty() ? DType::Unknown : in[0];
      // amp_cast leaves every type but float32/float16/bfloat16 alone (float64 and integers pass
      // through, MXNet's AMPCastType); Cast converts anything.
      const bool converts = node.op == "Cast" || src == DType::Unknown || amp_cast_converts(src);
      out[0] = to && converts ? *to : src;
      break;
    }
    case ops::TypeRule::MultiCast: {
      const bool narrow = node.attr("cast_narrow") == "True" || node.attr("cast_narrow") == "true" || node.attr("cast_narrow") == "1";
      DType common = DType::Unknown;
      for (DType t : in) {
        if (!amp_cast_converts(t)) continue;
        if (common == DType::Unknown) common = t;
        else if (!narrow && t == DType::Float32) common = t;
        else if (narrow && is_low_precision(t)) common = t;
      }
      for (size_t i = 0; i < out.size() && i < in.size(); ++i) out[i] = amp_cast_converts(in[i]) ? common : in[i];
      break;
    }
    case ops::TypeRule::Uniform: {
      // The op's dtype is that of its first data input (float preferred); outputs follow it,
      // except statistics outputs that stay float32 (BatchNorm mean/var).
      DType d = DType::Unknown;
      for (uint32_t s = 0; s < in.size() && d == DType::Unknown; ++s)
        if (follows_data_dtype(node, s) && is_float(in[s])) d = in[s];
      for (uint32_t s = 0; s < in.size() && d == DType::Unknown; ++s)
        if (follows_data_dtype(node, s)) d = in[s];
      if (d == DType::Unknown && in.empty()) d = dtype_from_name(node.attr("dtype")).value_or(DType::Float32);
      for (uint32_t o = 0; o < out.size(); ++o)
        out[o] = contains(info.fp32_outputs, o) && d != DType::Float64 && d != DType::Unknown ? DType::Float32 : d;
      break;
    }
  }
  return out;
}

FlatDTypes infer_dtypes_flat(const Graph& g, const std::function<DType(uint32_t)>& variable_dtype) {
  FlatDTypes t;
  t.offset.reserve(g.nodes.size() + 1);
  t.offset.push_back(0);
  t.dtypes.reserve(g.nodes.size() + g.nodes.size() / 8);
  std::vector<DType> in;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) {
      t.dtypes.insert(t.dtypes.end(), n.num_outputs, variable_dtype(i));
    } else {
      in.clear();
      for (const Entry& e : n.inputs) in.push_back(t.at(e));
      const std::vector<DType> out = forward_type_rule(n, in);
      t.dtypes.insert(t.dtypes.end(), out.begin(), out.end());
    }
    t.offset.push_back(static_cast<uint32_t>(t.dtypes.size()));
  }
  return t;
}

DTypeTable infer_dtypes(const Graph& g, const std::function<DType(uint32_t)>& variable_dtype) {
  const FlatDTypes f = infer_dtypes_flat(g, variable_dtype);
  DTypeTable t(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) t[i].assign(f.dtypes.begin() + f.offset[i], f.dtypes.begin() + f.offset[i + 1]);
  return t;
}

}  // namespace mixprec::amp
