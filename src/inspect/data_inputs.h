// Which variables of a graph are data inputs (fed at run time) rather than parameters.
#pragma once
#include <cstdint>
#include <vector>

#include "inspect/param_table.h"
#include "mixprec/graph.h"

namespace mixprec::inspect {

// With a params table, a data input is a variable the table has no entry for. Without one
// (`params` null), the graph alone decides, as MXNet's conventions allow:
//   - an aux state (a mutable input, e.g. BatchNorm's moving_mean) is a parameter;
//   - a variable carrying `__dtype__`, `__amp_dtype__` or `__init__` is a parameter (Gluon and the
//     converter write these on parameters only);
//   - otherwise a variable read as some op's first input (its `data`) or as a loss op's label is
//     a data input, and one read only at later inputs (weight, bias, gamma, ...) is a parameter.
// Returns one flag per node (false for op nodes).
std::vector<bool> data_input_flags(const Graph& graph, const ParamTable* params);

// Per node: is it a variable read only as the label of loss ops (`*Output`, input 1)? The engine
// never reads such an input at inference time.
std::vector<bool> label_only_flags(const Graph& graph);

}  // namespace mixprec::inspect
