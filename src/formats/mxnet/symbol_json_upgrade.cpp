#include "formats/mxnet/symbol_json_upgrade.h"

#include <array>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mixprec/error.h"
#include "ops/op_table.h"

namespace mixprec::mxnet::detail {
namespace {

constexpr std::array<std::string_view, 5> kLegacyHiddenKeys = {"ctx_group", "lr_mult", "wd_mult",
                                                               "force_mirroring", "mirror_stage"};

std::string hidden(std::string_view key) { return "__" + std::string(key) + "__"; }

// The variable feeding the input named `arg` of op node `node`, or nullptr.
Node* variable_input(Graph& g, const Node& node, std::string_view arg) {
  const auto& names = ops::op_info(node.op).inputs;
  for (size_t i = 0; i < names.size() && i < node.inputs.size(); ++i)
    if (names[i] == arg) {
      Node& in = g.nodes[node.inputs[i].node];
      return in.is_variable() ? &in : nullptr;
    }
  return nullptr;
}

// Moves a `<argname>_<legacy key>` attr of an op node onto its input variable; false if none.
bool move_to_input(Graph& g, const Node& node, const std::string& key, const std::string& value) {
  for (std::string_view legacy : kLegacyHiddenKeys) {
    if (key.size() <= legacy.size() + 1 || !key.ends_with(legacy) || key[key.size() - legacy.size() - 1] != '_')
      continue;
    Node* var = variable_input(g, node, std::string_view(key).substr(0, key.size() - legacy.size() - 1));
    if (var == nullptr) return false;
    var->attrs[hidden(legacy)] = value;
    return true;
  }
  return false;
}

// Whether `key` is a legacy hidden key or ends with "_<legacy key>".
bool is_legacy_key(const std::string& key) {
  for (std::string_view legacy : kLegacyHiddenKeys)
    if (key.ends_with(legacy) && (key.size() == legacy.size() || key[key.size() - legacy.size() - 1] == '_')) return true;
  return false;
}

void fix_hidden_keys(Graph& g) {
  for (Node& node : g.nodes) {
    bool any = false;
    for (const auto& kv : node.attrs) any = any || is_legacy_key(kv.first);
    if (!any) continue;  // the common case: no map to rebuild
    AttrMap fixed;
    for (auto& [key, value] : node.attrs) {
      bool renamed = false;
      for (std::string_view legacy : kLegacyHiddenKeys)
        if (key == legacy) {
          // Sorted order puts any existing "__x__" first, so the legacy value wins, as in MXNet.
          fixed[hidden(legacy)] = value;
          renamed = true;
        }
      if (renamed) continue;
      // Inputs come before their users, so `node` is never the variable written to here.
      if (!node.is_variable() && move_to_input(g, node, key, value)) continue;
      fixed.insert_or_assign(key, std::move(value));
    }
    node.attrs = std::move(fixed);
  }
}

// The count of missing trailing inputs to synthesise: nonzero only when all are aux states.
size_t missing_aux(const Node& node) {
  if (node.is_variable()) return 0;
  const ops::OpInfo* info = ops::find_op(node.op);
  if (info == nullptr || node.inputs.size() >= info->inputs.size()) return 0;
  for (size_t s = node.inputs.size(); s < info->inputs.size(); ++s)
    if (!ops::is_mutable_input(node, static_cast<uint32_t>(s))) return 0;
  return info->inputs.size() - node.inputs.size();
}

void synthesise_aux(Graph& g, const std::string& source) {
  size_t extra = 0;
  for (const Node& node : g.nodes) extra += missing_aux(node);
  if (extra == 0) return;

  std::unordered_set<std::string> names;
  for (const Node& node : g.nodes)
    if (node.is_variable()) names.insert(node.name);

  std::vector<Node> out;
  out.reserve(g.nodes.size() + extra);
  std::vector<uint32_t> new_id(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node node = std::move(g.nodes[i]);
    for (Entry& e : node.inputs) e.node = new_id[e.node];
    for (uint32_t& c : node.control_deps) c = new_id[c];
    if (const size_t missing = missing_aux(node)) {
      const auto& arg_names = ops::op_info(node.op).inputs;
      for (size_t s = arg_names.size() - missing; s < arg_names.size(); ++s) {
        Node var;
        var.op = "null";
        var.name = node.name + "_" + std::string(arg_names[s]);
        var.attrs = node.attrs;
        if (!names.insert(var.name).second)
          throw Error(source, "nodes[" + std::to_string(i) + "] ('" + node.name + "')",
                      "cannot add its missing aux input '" + std::string(arg_names[s]) + "': a variable named '" +
                          var.name + "' already exists");
        node.inputs.push_back({static_cast<uint32_t>(out.size()), 0, 1});
        out.push_back(std::move(var));
      }
    }
    new_id[i] = static_cast<uint32_t>(out.size());
    out.push_back(std::move(node));
  }
  g.nodes = std::move(out);
  for (Entry& e : g.heads) e.node = new_id[e.node];
}

// The initializer a 0.9.4+ MXNet attaches to variable input `index` of an `op` node when it is
// composed (the ops' FSetInputVarAttrOnCompose hooks in 1.9.1, observed by loading versionless
// files): null when none.
const char* input_init(const std::string& op, size_t index) {
  if (op == "BatchNorm" || op == "BatchNorm_v1" || op == "CuDNNBatchNorm" || op == "_contrib_SyncBatchNorm" ||
      op == "_contrib_BatchNormWithReLU")
    return index == 3 ? R"(["zero", {}])" : index == 4 ? R"(["one", {}])" : nullptr;
  if (index != 1) return nullptr;
  if (op == "LeakyReLU") return R"(["Constant", {"value": 0.25}])";  // any act_type, as MXNet's hook
  if (op == "UpSampling") return R"(["bilinear", {}])";
  if (op == "IdentityAttachKLSparseReg") return R"(["zero", {}])";
  return nullptr;
}

// 0.9.4 moved initializers onto the variables: MXNet re-runs each op's hook on its variable inputs,
// which sets `__init__` where the variable has none. Nodes go in file (topological) order; MXNet
// visits them depth-first from the heads, which differs only for a variable that two hooked ops
// of different kinds share.
void set_input_var_inits(Graph& g) {
  for (const Node& node : g.nodes) {
    if (node.is_variable()) continue;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      Node& in = g.nodes[node.inputs[i].node];
      const char* init = in.is_variable() && !in.attrs.count("__init__") ? input_init(node.op, i) : nullptr;
      if (init != nullptr) in.attrs["__init__"] = init;
    }
  }
}

// axis became optional in 0.9.5; "-1" used to mean "none".
void drop_argmax_default_axis(Graph& g) {
  for (Node& node : g.nodes)
    if ((node.op == "argmax" || node.op == "argmin") && node.attr("axis") == "-1") node.attrs.erase("axis");
}

}  // namespace

void upgrade_symbol_graph(Graph& g, int version, const std::string& source) {
  fix_hidden_keys(g);
  if (version < 900) synthesise_aux(g, source);
  if (version < 904) set_input_var_inits(g);
  if (version < 905) drop_argmax_default_axis(g);
}

}  // namespace mixprec::mxnet::detail
