#include "cli/option_values.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "cli/usage_error.h"

namespace mixprec::cli {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Spellings people use for the float types besides numpy's names.
std::optional<DType> from_alias(const std::string& t) {
  static const std::map<std::string, DType> aliases = {
      {"fp16", DType::Float16}, {"half", DType::Float16},  {"bf16", DType::BFloat16}, {"fp32", DType::Float32},
      {"float", DType::Float32}, {"fp64", DType::Float64}, {"double", DType::Float64}};
  auto it = aliases.find(t);
  if (it != aliases.end()) return it->second;
  return dtype_from_name(t);
}

}  // namespace

DType parse_target_dtype(const std::string& text, const std::string& option) {
  const auto d = from_alias(trim(text));
  if (!d || !is_low_precision(*d))
    throw UsageError(option, "must be float16 (fp16, half) or bfloat16 (bf16), not '" + text + "'");
  return *d;
}

DType parse_dtype(const std::string& text, const std::string& option) {
  const auto d = from_alias(trim(text));
  if (!d) throw UsageError(option, "'" + text + "' is not a dtype (float32, float16, bfloat16, int32, int64, ...)");
  return *d;
}

std::vector<std::string> split_list(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string::npos) end = text.size();
    std::string item = trim(text.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

std::pair<std::string, std::string> split_assignment(const std::string& text, const std::string& option, const std::string& form) {
  const size_t eq = text.find('=');
  std::string name = eq == std::string::npos ? "" : trim(text.substr(0, eq));
  std::string value = eq == std::string::npos ? "" : trim(text.substr(eq + 1));
  if (name.empty() || value.empty()) throw UsageError(option, "'" + text + "' is not " + form);
  return {std::move(name), std::move(value)};
}

std::vector<int64_t> parse_dims(const std::string& text, const std::string& option) {
  std::string t = trim(text);
  if (t.size() >= 2 && ((t.front() == '(' && t.back() == ')') || (t.front() == '[' && t.back() == ']')))
    t = t.substr(1, t.size() - 2);
  const char sep = t.find('x') != std::string::npos || t.find('X') != std::string::npos ? 'x' : ',';
  for (char& c : t)
    if (c == 'X') c = 'x';
  std::vector<int64_t> dims;
  for (const std::string& item : split_list(t, sep)) {
    int64_t d = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), d);
    if (ec != std::errc() || end != item.data() + item.size() || d < 1)
      throw UsageError(option, "'" + text + "' is not a shape: each dimension must be a whole number >= 1 (e.g. 1,3,224,224)");
    dims.push_back(d);
  }
  const auto separators = static_cast<size_t>(std::count(t.begin(), t.end(), sep));
  if (dims.empty() || dims.size() != separators + 1)  // "1,,3" and "1,3," are typos, not shapes
    throw UsageError(option, "'" + text + "' is not a shape (e.g. 1,3,224,224)");
  return dims;
}

}  // namespace mixprec::cli
