#include "amp/exclusions.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace mixprec::amp {
namespace {

constexpr long kDisableAmpBit = 1;  // OptConstraint::DisableAMP in MXNet 2.x

bool has_disable_amp(const Node& n) {
  const std::string& v = n.attr("__opt_constraint__");
  long flags = 0;
  std::from_chars(v.data(), v.data() + v.size(), flags);
  if (flags & kDisableAmpBit) return true;
  for (const Graph& sub : n.subgraphs)
    for (const Node& inner : sub.nodes)
      if (has_disable_amp(inner)) return true;
  return false;
}

}  // namespace

Exclusions find_exclusions(const Graph& g, const OpCategories& cats, const std::vector<std::string>& names,
                           std::vector<std::string>& warnings) {
  const std::set<std::string> wanted(names.begin(), names.end());
  std::set<std::string> found;
  Exclusions ex{std::vector<bool>(g.nodes.size()), std::vector<bool>(g.nodes.size())};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (wanted.count(n.name)) {
      found.insert(n.name);
      ex.by_name_or_flag[i] = true;
    }
    if (!n.is_variable() && has_disable_amp(n)) ex.by_name_or_flag[i] = true;
    // Attribute strings are compared as written; an attribute that is not written never matches.
    for (const ConditionalFp32& c : cats.conditions(n.op)) {
      auto it = n.attrs.find(c.attr);
      if (it != n.attrs.end() && std::find(c.values.begin(), c.values.end(), it->second) != c.values.end())
        ex.by_condition[i] = true;
    }
  }
  for (const auto& name : names) {
    if (found.count(name)) continue;
    std::string hint;
    if (g.find(name + "_fwd") >= 0) hint = "; did you mean '" + name + "_fwd'? (Gluon exports name a layer's op NAME_fwd)";
    warnings.push_back("excluded_sym_names: '" + name + "' is not a node of the graph" + hint);
  }
  return ex;
}

}  // namespace mixprec::amp
