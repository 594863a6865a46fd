// Node order for graphs read from symbol JSON. nnvm links nodes by pointer after reading them
// all, so MXNet loads a file whose nodes are acyclic but out of order (and writes it back in DFS
// order); we do the same by re-sorting instead of rejecting. A true cycle is an error.
#pragma once
#include <string>

#include "mixprec/graph.h"

namespace mixprec::mxnet::detail {

// Puts `g`'s nodes into topological order (inputs and control deps before their users), keeping
// the file order wherever it is already valid, and remaps every id (inputs, control deps, heads).
// Node ids must already be in range. On a cycle throws mixprec::Error(source, "<where> nodes[i]
// ('name')", ...) naming a node on it, with ids as in the file. Iterative: no recursion per node.
void sort_topologically(Graph& g, const std::string& source, const std::string& where);

}  // namespace mixprec::mxnet::detail
