// What a graph takes and gives: its data inputs and its outputs (the heads), with shapes where
// they can be derived, and every op node's dtype after type inference.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "inspect/graph_shapes.h"
#include "inspect/param_table.h"
#include "mixprec/dtype.h"
#include "mixprec/graph.h"

namespace mixprec::inspect {

struct InputFacts {
  std::string name;
  std::optional<Shape> shape;  // from --shape or the variable's __shape__
  bool label = false;          // read only as a loss op's label (inference does not need it)
};

struct OutputFacts {
  std::string node;  // the head's node name
  uint32_t index = 0;  // which output of it
  DType dtype = DType::Unknown;
  std::optional<Shape> shape;
};

struct NodeFacts {
  std::string name, op;
  std::vector<DType> dtypes;   // of each visible output (BatchNorm: 1 of 3)
  std::optional<Shape> shape;  // of output 0
};

struct GraphInterface {
  bool inputs_from_params = false;  // false: told apart by the graph alone (see data_inputs.h)
  std::vector<InputFacts> inputs;   // in node order
  std::vector<OutputFacts> outputs;  // in head order
  std::vector<NodeFacts> nodes;     // op nodes, in graph order
  std::string shapes_unknown_why;   // why some output's shape is unknown; "" when all are known
};

// `params`: the named arrays of the params files given, or null when there are none. Types are
// inferred with params in their stored dtype (without a params table: the variable's
// `__amp_dtype__` or `__dtype__`, else float32) and data inputs in float32. `input_shapes` names
// data inputs' shapes, overriding their `__shape__`.
GraphInterface describe_graph(const Graph& graph, const ParamTable* params, const std::map<std::string, Shape>& input_shapes);

}  // namespace mixprec::inspect
