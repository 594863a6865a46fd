// Parsing of MXNet attribute strings. Producers differ (Python str(), dmlc, hand-written JSON),
// so spacing, bracket style, case of booleans and Python 2 long suffixes are all accepted.
#include "mixprec/attrs.h"

#include <charconv>
#include <limits>

#include "mixprec/error.h"

namespace mixprec::attrs {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

[[noreturn]] void fail(std::string_view what, std::string_view expected, std::string_view text) {
  throw Error("", std::string(what), "expected " + std::string(expected) + ", got '" + std::string(text) + "'");
}

// An integer with optional sign and optional Python 2 long suffix ("3L"); nullopt if malformed.
std::optional<int64_t> to_int(std::string_view s, bool& overflow) {
  overflow = false;
  s = trim(s);
  if (!s.empty() && (s.back() == 'L' || s.back() == 'l')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return std::nullopt;  // from_chars would accept "+-1"
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) overflow = true;
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::vector<int64_t> parse_tuple(std::string_view s, std::string_view what) {
  const std::string_view text = s;
  s = trim(s);
  const char* expected = "a tuple of integers such as (3, 3)";
  std::vector<int64_t> out;
  if (s.empty()) fail(what, expected, text);
  const char open = s.front();
  if (open != '(' && open != '[') {
    // dmlc reads a bare number as a one-element tuple.
    bool overflow = false;
    const auto v = to_int(s, overflow);
    if (!v) fail(what, overflow ? "a tuple of integers that fit in 64 bits" : expected, text);
    out.push_back(*v);
    return out;
  }
  if (s.back() != (open == '(' ? ')' : ']')) fail(what, expected, text);
  std::string_view body = trim(s.substr(1, s.size() - 2));
  if (body.empty()) return out;
  // A single trailing comma is allowed: "(16,)".
  if (body.back() == ',') body = trim(body.substr(0, body.size() - 1));
  while (true) {
    const size_t comma = body.find(',');
    bool overflow = false;
    const auto v = to_int(body.substr(0, comma), overflow);
    if (!v) fail(what, overflow ? "a tuple of integers that fit in 64 bits" : expected, text);
    out.push_back(*v);
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return out;
}

bool parse_bool(std::string_view s, std::string_view what) {
  const std::string_view t = trim(s);
  if (iequals(t, "true") || t == "1") return true;
  if (iequals(t, "false") || t == "0") return false;
  fail(what, "a boolean (True/False/true/false/1/0)", s);
}

int64_t parse_int(std::string_view s, std::string_view what) {
  bool overflow = false;
  const auto v = to_int(s, overflow);
  if (!v) fail(what, overflow ? "an integer that fits in 64 bits" : "an integer", s);
  return *v;
}

double parse_float(std::string_view s, std::string_view what) {
  std::string_view t = trim(s);
  // from_chars takes no leading '+', Python's float() does.
  if (!t.empty() && t.front() == '+') {
    t.remove_prefix(1);
    if (!t.empty() && t.front() == '-') fail(what, "a number", s);
  }
  if (t.empty()) fail(what, "a number", s);
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc::result_out_of_range) fail(what, "a number within double range", s);
  if (ec != std::errc() || end != t.data() + t.size()) fail(what, "a number", s);
  return v;
}

std::optional<int64_t> parse_optional_int(std::string_view s, std::string_view what) {
  const std::string_view t = trim(s);
  if (t.empty() || t == "None") return std::nullopt;
  return parse_int(t, what);
}

std::string format_tuple(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  if (v.size() == 1) s += ",";
  return s + ")";
}

}  // namespace mixprec::attrs
