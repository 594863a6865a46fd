#include "ops/op_table.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_map>

// The table lists only the fields that differ from the defaults; the rest stay default on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace mixprec::ops {
namespace {

using R = TypeRule;

// Facts from MXNet 1.9's operator registrations (FListInputNames, FMutateInputs, FNumOutputs,
// FNumVisibleOutputs, FInferType); see ../shared/reference/mxnet_formats.md §A.6.
const std::vector<OpInfo>& table() {
  static const std::vector<OpInfo> t = {
      {"null", {}, {}, {}, {}, {}, 1},
      {"Convolution", {"data", "weight", "bias"}},
      {"Deconvolution", {"data", "weight", "bias"}},
      // Bilinear's names (its weight follows the data's dtype); nearest names its inputs arg0, arg1, ...
      {"UpSampling", {"data", "weight"}},
      // The second input (crop_like) is read for its height and width only: its dtype is its own.
      {"Crop", {"arg0", "arg1"}, {}, {}, {1}},
      {"FullyConnected", {"data", "weight", "bias"}},
      {"BatchNorm", {"data", "gamma", "beta", "moving_mean", "moving_var"}, {3, 4}, {1, 2, 3, 4}, {}, {1, 2}, 3, {}, 1},
      {"BatchNorm_v1", {"data", "gamma", "beta", "moving_mean", "moving_var"}, {3, 4}, {1, 2, 3, 4}, {}, {1, 2}, 3, {}, 1},
      {"_contrib_SyncBatchNorm", {"data", "gamma", "beta", "moving_mean", "moving_var"}, {3, 4}, {1, 2, 3, 4}, {}, {1, 2}, 3, {}, 1},
      {"_contrib_BatchNormWithReLU", {"data", "gamma", "beta", "moving_mean", "moving_var"}, {3, 4}, {1, 2, 3, 4}, {}, {1, 2}, 3, {}, 1},
      {"IdentityAttachKLSparseReg", {"data", "moving_avg"}, {1}, {1}},
      {"LayerNorm", {"data", "gamma", "beta"}, {}, {}, {}, {}, 3, {}, 1},
      {"InstanceNorm", {"data", "gamma", "beta"}, {}, {}, {}, {}, 3, {}, 1},
      {"GroupNorm", {"data", "gamma", "beta"}, {}, {}, {}, {}, 3, {}, 1},
      {"Dropout", {"data"}, {}, {}, {}, {}, 2, {}, 1},
      {"Embedding", {"data", "weight"}, {}, {}, {0}},
      {"take", {"a", "indices"}, {}, {}, {1}},
      {"one_hot", {"indices"}, {}, {}, {0}},
      {"pick", {"data", "index"}, {}, {}, {1}},
      {"gather_nd", {"data", "indices"}, {}, {}, {1}},
      {"SequenceMask", {"data", "sequence_length"}, {}, {}, {1}},
      {"SequenceLast", {"data", "sequence_length"}, {}, {}, {1}},
      {"SequenceReverse", {"data", "sequence_length"}, {}, {}, {1}},
      {"SoftmaxOutput", {"data", "label"}, {}, {}, {1}},
      {"LinearRegressionOutput", {"data", "label"}, {}, {}, {1}},
      {"LogisticRegressionOutput", {"data", "label"}, {}, {}, {1}},
      {"MAERegressionOutput", {"data", "label"}, {}, {}, {1}},
      {"SVMOutput", {"data", "label"}, {}, {}, {1}},
      {"MakeLoss", {"data"}},
      {"softmax", {"data", "length"}, {}, {}, {1}},
      {"log_softmax", {"data", "length"}, {}, {}, {1}},
      {"RNN", {"data", "parameters", "state", "state_cell", "sequence_length"}, {}, {}, {4}},
      {"SliceChannel", {"data"}, {}, {}, {}, {}, 1, "num_outputs"},
      {"_split_v2", {"data"}, {}, {}, {}, {}, 1, "num_outputs"},
      {"amp_cast", {"data"}, {}, {}, {}, {}, 1, {}, 0, R::Cast},
      {"Cast", {"data"}, {}, {}, {}, {}, 1, {}, 0, R::Cast},
      {"amp_multicast", {}, {}, {}, {}, {}, 1, "num_outputs", 0, R::MultiCast},
      {"_contrib_box_nms", {"data"}, {}, {}, {}, {}, 2, {}, 1},
      {"topk", {"data"}},
      {"argmax", {"data"}},
      {"argmin", {"data"}},
  };
  return t;
}

struct Alias {
  std::string_view alias, canonical;
};
// Aliases registered next to canonical names (MXNet's add_alias); graphs always hold the canonical one.
constexpr std::array kAliases = {
    Alias{"concat", "Concat"},        Alias{"_npi_concatenate", "Concat"}, Alias{"flatten", "Flatten"},
    Alias{"_npx_batch_flatten", "Flatten"}, Alias{"reshape", "Reshape"},  Alias{"split", "SliceChannel"},
    Alias{"swapaxes", "SwapAxis"},    Alias{"crop", "Crop"},               Alias{"pad", "Pad"},
    Alias{"Softmax", "SoftmaxOutput"}, Alias{"cast", "Cast"},              Alias{"_Plus", "elemwise_add"},
    Alias{"_plus", "elemwise_add"},   Alias{"_Minus", "elemwise_sub"},     Alias{"_minus", "elemwise_sub"},
    Alias{"_Mul", "elemwise_mul"},    Alias{"_mul", "elemwise_mul"},       Alias{"_Div", "elemwise_div"},
    Alias{"_div", "elemwise_div"},    Alias{"broadcast_plus", "broadcast_add"},
    Alias{"broadcast_minus", "broadcast_sub"}, Alias{"max_axis", "max"},   Alias{"min_axis", "min"},
    Alias{"sum_axis", "sum"},         Alias{"identity", "_copy"},          Alias{"_contrib_box_non_maximum_suppression", "_contrib_box_nms"},
};

}  // namespace

std::string_view canonical_op_name(std::string_view op) {
  static const std::unordered_map<std::string_view, std::string_view> aliases = [] {
    std::unordered_map<std::string_view, std::string_view> m;
    for (const auto& a : kAliases) m.emplace(a.alias, a.canonical);
    return m;
  }();
  auto it = aliases.find(op);
  return it == aliases.end() ? op : it->second;
}

const OpInfo* find_op(std::string_view op) {
  static const std::unordered_map<std::string_view, const OpInfo*> by_name = [] {
    std::unordered_map<std::string_view, const OpInfo*> m;
    for (const OpInfo& i : table()) m.emplace(i.name, &i);
    return m;
  }();
  auto it = by_name.find(canonical_op_name(op));
  return it == by_name.end() ? nullptr : it->second;
}

const OpInfo& op_info(std::string_view op) {
  static const OpInfo fallback{};
  const OpInfo* info = find_op(op);
  return info ? *info : fallback;
}

static uint32_t attr_count(const Node& node, std::string_view key, uint32_t fallback) {
  auto it = node.attrs.find(std::string(key));
  if (it == node.attrs.end()) return fallback;
  uint32_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && v > 0 ? v : fallback;
}

uint32_t num_outputs(const Node& node) {
  const OpInfo& i = op_info(node.op);
  if (!i.outputs_attr.empty()) return attr_count(node, i.outputs_attr, 1);
  return i.outputs;
}

uint32_t num_visible_outputs(const Node& node) {
  const OpInfo& i = op_info(node.op);
  return i.visible_outputs ? i.visible_outputs : num_outputs(node);
}

bool is_mutable_input(const Node& node, uint32_t slot) {
  const auto& m = op_info(node.op).mutable_inputs;
  return std::find(m.begin(), m.end(), slot) != m.end();
}

InputRole input_role(const Node& node, uint32_t slot) {
  const OpInfo* info = find_op(node.op);
  if (!info || slot >= info->inputs.size()) return InputRole::Data;
  const std::string_view name = info->inputs[slot];
  if (name == "label") return InputRole::Label;
  static constexpr std::array<std::string_view, 8> kParams = {"weight", "bias", "gamma", "beta",
                                                              "moving_mean", "moving_var", "moving_avg", "parameters"};
  return std::find(kParams.begin(), kParams.end(), name) != kParams.end() ? InputRole::Parameter : InputRole::Data;
}

bool has_parameter_suffix(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kSuffixes = {"_weight", "_bias", "_gamma", "_beta", "_running_mean",
                                                                 "_running_var", "_moving_mean", "_moving_var", "_alpha"};
  for (std::string_view s : kSuffixes)
    if (name.size() > s.size() && name.substr(name.size() - s.size()) == s) return true;
  return false;
}

}  // namespace mixprec::ops
