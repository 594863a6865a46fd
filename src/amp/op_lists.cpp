#include "amp/op_lists.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "core/nearest_names.h"
#include "mixprec/error.h"
#include "ops/op_table.h"

namespace mixprec::amp {

extern const std::string_view kDefaultListsJson;  // generated from data/mxnet_amp_lists.json

namespace {

using nlohmann::json;

const json& lists_json() {
  static const json j = json::parse(kDefaultListsJson);
  return j;
}

std::vector<std::string> names(const json& arr) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& v : arr) {
    std::string n(ops::canonical_op_name(v.get<std::string>()));
    if (seen.insert(n).second) out.push_back(std::move(n));
  }
  return out;
}

std::vector<ConditionalFp32> conditionals(const json& arr) {
  std::vector<ConditionalFp32> out;
  for (const auto& c : arr)
    out.push_back({std::string(ops::canonical_op_name(c.at(0).get<std::string>())), c.at(1).get<std::string>(),
                   c.at(2).get<std::vector<std::string>>()});
  return out;
}

void append_unique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& n : from)
    if (std::find(to.begin(), to.end(), n) == to.end()) to.push_back(n);
}

void erase_all(std::vector<std::string>& v, const std::set<std::string>& names_to_drop) {
  std::erase_if(v, [&](const std::string& n) { return names_to_drop.count(n) > 0; });
}

}  // namespace

OpLists default_lists(DType target_dtype, Compat compat) {
  if (!is_low_precision(target_dtype))
    throw Error("target dtype must be float16 or bfloat16, not " + std::string(dtype_name(target_dtype)));
  const std::string key(dtype_name(target_dtype));
  const json& root = compat == Compat::MXNet1 ? lists_json() : lists_json().at("mxnet_2x");
  const json& l = root.at(key);
  OpLists out;
  out.target_dtype_ops = names(l.at("target_dtype_ops"));
  out.fp32_ops = names(l.at("fp32_ops"));
  out.widest_dtype_ops = names(l.at("widest_dtype_ops"));
  out.neutral_ops = names(l.at(target_dtype == DType::Float16 ? "fp16_fp32_ops" : "bf16_fp32_ops"));
  out.conditional_fp32_ops = conditionals(l.at("conditional_fp32_ops"));
  if (compat == Compat::MXNet2) {
    // The oneDNN-only entries name fused ops that exist only in oneDNN builds; they never clash.
    const json& extra = root.at("onednn_only_additions");
    if (extra.contains(key)) {
      const json& e = extra.at(key);
      if (e.contains("target_dtype_ops")) append_unique(out.target_dtype_ops, names(e.at("target_dtype_ops")));
      if (e.contains("fp32_ops")) append_unique(out.fp32_ops, names(e.at("fp32_ops")));
      if (e.contains("widest_dtype_ops")) append_unique(out.widest_dtype_ops, names(e.at("widest_dtype_ops")));
    }
  }
  return out;
}

const std::vector<std::string>& known_ops() {
  static const std::vector<std::string> known = [] {
    std::set<std::string> s;
    for (Compat c : {Compat::MXNet1, Compat::MXNet2})
      for (DType t : {DType::Float16, DType::BFloat16}) {
        OpLists l = default_lists(t, c);
        for (auto* v : {&l.target_dtype_ops, &l.fp32_ops, &l.widest_dtype_ops, &l.neutral_ops}) s.insert(v->begin(), v->end());
        for (const auto& cond : l.conditional_fp32_ops) s.insert(cond.op);
      }
    for (const char* internal : {"amp_cast", "amp_multicast", "Cast", "null"}) s.insert(internal);
    return std::vector<std::string>(s.begin(), s.end());
  }();
  return known;
}

bool is_known_op(const std::string& op) {
  static const std::unordered_set<std::string> known(known_ops().begin(), known_ops().end());
  return known.count(std::string(ops::canonical_op_name(op))) > 0;
}

OpLists effective_lists(const AmpOptions& o) {
  OpLists l = default_lists(o.target_dtype, o.compat);
  const OpLists defaults = l;

  // Validate the user's lists: known ops, no op in two of them.
  std::map<std::string, std::string> owner;  // op -> the user list that names it
  auto claim = [&](const std::string& raw, const char* list) {
    const std::string op(ops::canonical_op_name(raw));
    if (!is_known_op(op))
      throw Error("", list, "'" + raw + "' is not a known MXNet operator" + did_you_mean(nearest_names(raw, known_ops())));
    auto [it, fresh] = owner.emplace(op, list);
    if (!fresh && it->second != list)
      throw Error("", list, "'" + raw + "' is also in " + it->second + "; an op can be in only one list");
    return op;
  };
  std::vector<std::string> target, fp32, widest;
  std::vector<ConditionalFp32> cond;
  if (o.target_dtype_ops) for (const auto& n : *o.target_dtype_ops) target.push_back(claim(n, "target_dtype_ops"));
  if (o.fp32_ops) for (const auto& n : *o.fp32_ops) fp32.push_back(claim(n, "fp32_ops"));
  if (o.widest_dtype_ops) for (const auto& n : *o.widest_dtype_ops) widest.push_back(claim(n, "widest_dtype_ops"));
  if (o.conditional_fp32_ops)
    for (const auto& c : *o.conditional_fp32_ops) {
      ConditionalFp32 cc = c;
      cc.op = claim(c.op, "conditional_fp32_ops");
      if (c.attr.empty() || c.values.empty())
        throw Error("", "conditional_fp32_ops", "entry for '" + c.op + "' needs an attribute name and at least one value");
      cond.push_back(std::move(cc));
    }

  // A widest-type op has a fixed role unless the user replaces the widest list (MXNet's rule:
  // elemwise_add cannot be moved to fp32_ops).
  const std::vector<std::string>& widest_now = o.widest_dtype_ops ? widest : defaults.widest_dtype_ops;
  for (const auto& [op, list] : owner)
    if (list != std::string("widest_dtype_ops") &&
        std::find(widest_now.begin(), widest_now.end(), op) != widest_now.end())
      throw Error("", list, "'" + op + "' is a widest-type op; pass a widest_dtype_ops list without it to move it");

  std::set<std::string> moved;
  for (const auto& [op, list] : owner) moved.insert(op);
  auto replace_or_trim = [&](std::vector<std::string>& dflt, bool overridden, std::vector<std::string>& user) {
    if (overridden) dflt = std::move(user);
    else erase_all(dflt, moved);
  };
  replace_or_trim(l.target_dtype_ops, o.target_dtype_ops.has_value(), target);
  replace_or_trim(l.fp32_ops, o.fp32_ops.has_value(), fp32);
  replace_or_trim(l.widest_dtype_ops, o.widest_dtype_ops.has_value(), widest);
  erase_all(l.neutral_ops, moved);
  if (o.conditional_fp32_ops) {
    l.conditional_fp32_ops = std::move(cond);
  } else {
    std::erase_if(l.conditional_fp32_ops, [&](const ConditionalFp32& c) { return moved.count(c.op) > 0; });
  }
  return l;
}

OpCategories::OpCategories(const OpLists& lists) {
  // Later assignments win only where lists overlap, which effective_lists rules out.
  for (const auto& n : lists.neutral_ops) category_[n] = Category::Neutral;
  for (const auto& n : lists.widest_dtype_ops) category_[n] = Category::Widest;
  for (const auto& n : lists.fp32_ops) category_[n] = Category::Fp32;
  for (const auto& n : lists.target_dtype_ops) category_[n] = Category::Target;
  for (const auto& c : lists.conditional_fp32_ops) {
    conditional_[c.op].push_back(c);
    category_.try_emplace(c.op, Category::Neutral);
  }
}

Category OpCategories::of(const std::string& op) const {
  const std::string canon(ops::canonical_op_name(op));
  auto it = category_.find(canon);
  if (it != category_.end()) return it->second;
  return is_known_op(canon) ? Category::Neutral : Category::Unknown;
}

const std::vector<ConditionalFp32>& OpCategories::conditions(const std::string& op) const {
  static const std::vector<ConditionalFp32> none;
  auto it = conditional_.find(std::string(ops::canonical_op_name(op)));
  return it == conditional_.end() ? none : it->second;
}

}  // namespace mixprec::amp
