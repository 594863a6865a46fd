// Runs a reference model (usually FP32) and a candidate (its mixed-precision conversion) on the
// same inputs and says how far apart they are, output by output and node by node.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/session.h"
#include "validate/metrics.h"

namespace mixprec::validate {

struct NodeError {
  std::string name, op;
  double nmse = 0;   // of the node's first output against the same-named reference node
  double jump = 0;   // nmse divided by the largest nmse among the node's inputs
};

struct Comparison {
  std::vector<OutputMetrics> outputs;  // one per graph output
  std::vector<NodeError> nodes;        // every op node found in both, in candidate order
  std::vector<NodeError> first_jumps;  // the first nodes where the error grows by 10x or more
};

// Per-node errors need every node's output: build both sessions with SessionOptions::fuse = false
// (fusion never changes results, only which nodes are observed).
Comparison compare_models(runtime::Session& reference, runtime::Session& candidate,
                          const std::map<std::string, runtime::Buf>& inputs, size_t max_jumps = 5);

}  // namespace mixprec::validate
