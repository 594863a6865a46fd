// Which nodes a conversion must leave in float32: excluded by name, marked with MXNet 2.x's
// `__opt_constraint__` DisableAMP bit (on the node or inside its subgraphs), or matching a
// conditional-fp32 rule.
#pragma once
#include <string>
#include <vector>

#include "amp/op_lists.h"
#include "mixprec/graph.h"

namespace mixprec::amp {

struct Exclusions {
  std::vector<bool> by_name_or_flag;  // per node
  std::vector<bool> by_condition;     // per node: a conditional-fp32 rule matched
};

// Names in `excluded_names` that are not in the graph are reported in `warnings`.
Exclusions find_exclusions(const Graph& graph, const OpCategories& categories,
                           const std::vector<std::string>& excluded_names, std::vector<std::string>& warnings);

}  // namespace mixprec::amp
