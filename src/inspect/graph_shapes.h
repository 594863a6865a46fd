// Every tensor's shape from the variables' shapes, with the engine's per-op shape rules (the
// runtime kernels' infer_shape): no parameter values and no session needed.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mixprec/graph.h"

namespace mixprec::inspect {

using Shape = std::vector<int64_t>;

struct ShapeTable {
  std::vector<uint32_t> offset;              // output k of node n is at shapes[offset[n] + k]
  std::vector<std::optional<Shape>> shapes;  // nullopt: not derivable
  std::string unknown_why;                   // why the first op without a shape has none; "" when all have one
  const std::optional<Shape>& at(Entry e) const { return shapes[offset[e.node] + e.index]; }
};

// `variable_shape(node)` gives each variable's shape, or nullopt when it is not known. An op's
// outputs are known when all its inputs are and the engine has a shape rule for it that accepts them.
ShapeTable infer_shapes(const Graph& graph, const std::function<std::optional<Shape>(uint32_t node)>& variable_shape);

// A shape a file may declare that the shape rules can work with: at most limits::kMaxNdim
// dimensions, each positive, and at most 2^40 elements (shapes beyond that cannot be real, and
// the rules' arithmetic is not meant for them). nullopt otherwise.
std::optional<Shape> plausible_shape(Shape shape);

}  // namespace mixprec::inspect
