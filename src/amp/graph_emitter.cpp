#include "amp/graph_emitter.h"

#include <limits>

namespace mixprec::amp {

static constexpr uint32_t kUnmapped = std::numeric_limits<uint32_t>::max();

GraphEmitter::GraphEmitter(Graph& source) : src_(source), map_(source.nodes.size(), kUnmapped) {
  out_.attrs = source.attrs;
  out_.nodes.reserve(source.nodes.size() + source.nodes.size() / 4);
  names_.reserve(source.nodes.size() * 2);
  for (const Node& n : source.nodes) names_.insert(std::hash<std::string_view>{}(n.name));
}

void GraphEmitter::copy_node(uint32_t id, std::vector<Entry> mapped_inputs) { append(id, src_.nodes[id], std::move(mapped_inputs)); }

void GraphEmitter::move_node(uint32_t id, std::vector<Entry> mapped_inputs) {
  append(id, std::move(src_.nodes[id]), std::move(mapped_inputs));
}

void GraphEmitter::append(uint32_t id, Node n, std::vector<Entry> mapped_inputs) {
  n.inputs = std::move(mapped_inputs);
  for (uint32_t& c : n.control_deps) c = map_.at(c);
  map_[id] = static_cast<uint32_t>(out_.nodes.size());
  out_.nodes.push_back(std::move(n));
}

Entry GraphEmitter::mapped(Entry e) const { return {map_.at(e.node), e.index, e.version}; }

std::string GraphEmitter::unique_name(std::string base) {
  std::string name = base;
  const std::hash<std::string_view> h;
  for (int k = 1; names_.count(h(name)); ++k) name = base + "_" + std::to_string(k);
  names_.insert(h(name));
  return name;
}

Entry GraphEmitter::cast(Entry e, DType to) {
  const uint64_t key = (uint64_t{e.node} << 32) | (uint64_t{e.index} << 8) | static_cast<uint8_t>(to);
  auto it = casts_.find(key);
  if (it != casts_.end()) return it->second;
  Node c;
  c.op = "amp_cast";
  c.name = unique_name(name_of(e.node) + "_" + std::to_string(e.index) + "_amp_cast_" + std::string(dtype_name(to)));
  c.attrs["dtype"] = std::string(dtype_name(to));
  c.inputs = {mapped(e)};
  out_.nodes.push_back(std::move(c));
  const Entry made{static_cast<uint32_t>(out_.nodes.size() - 1), 0, 0};
  casts_.emplace(key, made);
  return made;
}

std::vector<Entry> GraphEmitter::multicast(const std::vector<Entry>& originals) {
  Node m;
  m.op = "amp_multicast";
  m.name = unique_name(name_of(originals.at(0).node) + "_" + std::to_string(originals[0].index) + "_amp_multicast");
  m.attrs["num_outputs"] = std::to_string(originals.size());
  for (const Entry& e : originals) m.inputs.push_back(mapped(e));
  m.num_outputs = static_cast<uint32_t>(originals.size());
  out_.nodes.push_back(std::move(m));
  const auto id = static_cast<uint32_t>(out_.nodes.size() - 1);
  std::vector<Entry> outs;
  for (uint32_t i = 0; i < originals.size(); ++i) outs.push_back({id, i, 0});
  return outs;
}

Graph GraphEmitter::finish(std::vector<Entry> heads) {
  out_.heads = std::move(heads);
  return std::move(out_);
}

}  // namespace mixprec::amp
