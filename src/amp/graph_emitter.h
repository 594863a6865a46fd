// Builds the converted graph: copies original nodes in order and inserts amp_cast /
// amp_multicast nodes on demand, one cast per (tensor, dtype), named as MXNet names them.
#pragma once
#include <map>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"

namespace mixprec::amp {

class GraphEmitter {
 public:
  // `source` may be consumed: move_node takes nodes out of it.
  explicit GraphEmitter(Graph& source);

  // Appends a copy of original node `id` with the given (already mapped) inputs.
  void copy_node(uint32_t id, std::vector<Entry> mapped_inputs);
  // The same, moving the node out of the source graph (no copy of its name and attributes).
  void move_node(uint32_t id, std::vector<Entry> mapped_inputs);
  // The new-graph entry of an original tensor (its producer must have been copied).
  Entry mapped(Entry original) const;
  // An amp_cast of the original tensor to `to`, created once and shared by every consumer.
  Entry cast(Entry original, DType to);
  // An amp_multicast over `originals` (raw producers); returns its N outputs.
  std::vector<Entry> multicast(const std::vector<Entry>& originals);
  Node& new_node(uint32_t original_id) { return out_.nodes[map_.at(original_id)]; }

  Graph finish(std::vector<Entry> heads);

 private:
  std::string unique_name(std::string base);
  void append(uint32_t id, Node n, std::vector<Entry> mapped_inputs);
  const std::string& name_of(uint32_t original_id) const { return out_.nodes[map_.at(original_id)].name; }
  Graph& src_;
  Graph out_;
  std::vector<uint32_t> map_;  // original node id -> new node id
  std::unordered_map<uint64_t, Entry> casts_;  // (tensor, dtype) -> its cast
  // Hashes of every name in use: a clash of hashes only costs an extra "_k" suffix, never a duplicate.
  std::unordered_set<size_t> names_;
};

}  // namespace mixprec::amp
