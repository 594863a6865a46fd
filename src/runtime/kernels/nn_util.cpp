#include "runtime/kernels/nn_util.h"

#include "mixprec/attrs.h"
#include "mixprec/error.h"

namespace mixprec::runtime::nn {

namespace {

std::string place(const Node& n) { return "node '" + n.name + "'"; }

// Runs a parser of mixprec::attrs; its errors are re-thrown naming the node and the attribute.
template <class F>
auto parse(const Node& n, const std::string& key, F&& f) {
  try {
    return f(n.attr(key));
  } catch (const Error& e) {
    throw Error("", place(n), "attribute '" + key + "': " + e.reason());
  }
}

bool absent(const std::string& s) { return s.empty() || s == "None"; }

}  // namespace

void fail(const Node& n, const std::string& what) { throw Error("", place(n), n.op + ": " + what); }

std::string shape_str(const Shape& s) { return attrs::format_tuple(s); }

std::vector<int64_t> attr_tuple(const Node& n, const std::string& key, std::vector<int64_t> fallback) {
  if (absent(n.attr(key))) return fallback;
  auto v = parse(n, key, [&](const std::string& s) { return attrs::parse_tuple(s, key); });
  return v.empty() ? fallback : v;
}

int64_t attr_int(const Node& n, const std::string& key, int64_t fallback) {
  if (absent(n.attr(key))) return fallback;
  return parse(n, key, [&](const std::string& s) { return attrs::parse_int(s, key); });
}

bool attr_bool(const Node& n, const std::string& key, bool fallback) {
  if (absent(n.attr(key))) return fallback;
  return parse(n, key, [&](const std::string& s) { return attrs::parse_bool(s, key); });
}

double attr_float(const Node& n, const std::string& key, double fallback) {
  if (absent(n.attr(key))) return fallback;
  return parse(n, key, [&](const std::string& s) { return attrs::parse_float(s, key); });
}

std::optional<double> attr_opt_float(const Node& n, const std::string& key) {
  if (absent(n.attr(key))) return std::nullopt;
  return parse(n, key, [&](const std::string& s) { return attrs::parse_float(s, key); });
}

std::string attr_str(const Node& n, const std::string& key, const std::string& fallback) {
  const std::string& s = n.attr(key);
  return absent(s) ? fallback : s;
}

void expect_inputs(const Node& n, const std::vector<Shape>& in, size_t lo, size_t hi) {
  if (in.size() < lo || in.size() > hi) {
    const std::string want = lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
    fail(n, "expects " + want + " inputs, got " + std::to_string(in.size()));
  }
}

size_t resolve_axis(const Node& n, int64_t axis, size_t ndim) {
  const auto d = static_cast<int64_t>(ndim);
  if (axis < -d || axis >= d) fail(n, "axis " + std::to_string(axis) + " is out of range for " + std::to_string(ndim) + " dimensions");
  return static_cast<size_t>(axis < 0 ? axis + d : axis);
}

int64_t numel(const Shape& s) {
  int64_t k = 1;
  for (int64_t d : s) k *= d;
  return k;
}

std::vector<Shape> outputs_like(const Node& n, const Shape& s) {
  return std::vector<Shape>(n.num_outputs ? n.num_outputs : 1, s);
}

}  // namespace mixprec::runtime::nn
