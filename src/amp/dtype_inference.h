// Forward dtype inference over a graph from its variables' dtypes, with the per-op type rules
// of ops/op_table.h. MXNet 2.x's AMP pass needs every tensor's original dtype before it starts.
#pragma once
#include <functional>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"

namespace mixprec::amp {

// dtypes[node][output]. `variable_dtype` gives each variable's dtype (Unknown allowed).
using DTypeTable = std::vector<std::vector<DType>>;
DTypeTable infer_dtypes(const Graph& graph, const std::function<DType(uint32_t node)>& variable_dtype);

// The same in one flat array: output k of node n is at dtypes[offset[n] + k] (offset has n+1 entries).
struct FlatDTypes {
  std::vector<uint32_t> offset;
  std::vector<DType> dtypes;
  DType at(Entry e) const { return dtypes[offset[e.node] + e.index]; }
};
FlatDTypes infer_dtypes_flat(const Graph& graph, const std::function<DType(uint32_t node)>& variable_dtype);

// Whether amp_cast / amp_multicast convert a tensor of this dtype: float32, float16 and bfloat16
// only (float64 and integer tensors pass through unchanged).
bool amp_cast_converts(DType t);

// The output dtypes of one op node given its input dtypes (the forward type rule).
std::vector<DType> forward_type_rule(const Node& node, const std::vector<DType>& inputs);

// Is input `slot` of `node` part of the op's shared float dtype (not an index, label or
// fixed-float32 parameter)?
bool follows_data_dtype(const Node& node, uint32_t slot);

}  // namespace mixprec::amp
