// Which nodes run fused behind a Convolution. A chain conv -> BatchNorm -> relu -> add(residual) ->
// relu (and amp_cast anywhere in it) becomes one prepared convolution whose epilogue computes the
// rest (runtime/epilogue.h), bit for bit as the separate kernels would. A node joins the chain only
// when the previous one's output has no other reader and is not a graph output.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "mixprec/graph.h"
#include "runtime/epilogue.h"
#include "runtime/kernel.h"

namespace mixprec::runtime {

struct ConvGroup {
  uint32_t conv = 0;
  std::vector<uint32_t> absorbed;  // the nodes after the convolution, in chain order
  std::vector<Entry> residuals;    // the other operand of each add, in chain order
  uint32_t tail() const { return absorbed.empty() ? conv : absorbed.back(); }
};

// What the planner needs to know of the session's plan, slot = offset[node] + output index.
struct FusionView {
  const Graph& graph;
  const std::vector<uint32_t>& offset;
  const std::vector<DType>& dtypes;
  const std::vector<Shape>& shapes;
  const std::vector<int>& uses;                      // readers per slot, graph outputs counted
  std::function<const Buf*(Entry)> param;            // the parameter behind an entry, or null
};

// One group per Convolution whose weights (and bias) are parameters; with `fuse` false every group
// is the convolution alone.
std::vector<ConvGroup> plan_conv_groups(const FusionView& v, bool fuse);

// The steps that compute the group's absorbed nodes, each ending rounded to that node's dtype.
Epilogue build_epilogue(const FusionView& v, const ConvGroup& group);

}  // namespace mixprec::runtime
