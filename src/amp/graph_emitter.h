// Builds the converted graph: copies original nodes in order and inserts amp_cast /
// amp_multicast nodes on demand, one cast per (tensor, dtype), named as MXNet names them.
#pragma once
#include <map>
#include <deque>
#include <string_view>
#include <unordered_set>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"

namespace mixprec::amp {

class GraphEmitter {
 public:
  explicit GraphEmitter(const Graph& source);

  // Appends a copy of original node `id` with the given (already mapped) inputs.
  void copy_node(uint32_t id, std::vector<Entry> mapped_inputs);
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
  const Graph& src_;
  Graph out_;
  std::vector<uint32_t> map_;  // original node id -> new node id
  std::map<std::pair<Entry, DType>, Entry> casts_;
  std::unordered_set<std::string_view> names_;  // views into src_ and new_names_ (stable storage)
  std::deque<std::string> new_names_;
};

}  // namespace mixprec::amp
