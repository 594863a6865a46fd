#include "runtime/kernels/tensor_util.h"

#include <algorithm>

#include "mixprec/attrs.h"
#include "mixprec/error.h"

namespace mixprec::runtime::tensor {

void fail(const Node& n, const std::string& what) { throw Error("", n.name, what); }

std::string str(const Shape& s) { return attrs::format_tuple(s); }

int64_t numel(const Shape& s) {
  int64_t k = 1;
  for (int64_t d : s) k *= d;
  return k;
}

namespace {

// Runs a parser from mixprec/attrs.h, re-throwing its complaint with the node as the place.
template <class P>
auto parsed(const Node& n, const std::string& key, P&& parse) {
  try {
    return parse(n.attr(key));
  } catch (const Error& e) {
    fail(n, "attribute '" + key + "': " + e.reason());
  }
}

bool absent(const Node& n, const std::string& key) { return n.attrs.find(key) == n.attrs.end(); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

int64_t attr_int(const Node& n, const std::string& key, int64_t fallback) {
  return absent(n, key) ? fallback : attr_int(n, key);
}

int64_t attr_int(const Node& n, const std::string& key) {
  if (absent(n, key)) fail(n, "missing required attribute '" + key + "'");
  return parsed(n, key, [](const std::string& s) { return attrs::parse_int(s); });
}

bool attr_bool(const Node& n, const std::string& key, bool fallback) {
  if (absent(n, key)) return fallback;
  return parsed(n, key, [](const std::string& s) { return attrs::parse_bool(s); });
}

double attr_float(const Node& n, const std::string& key, double fallback) {
  return absent(n, key) ? fallback : attr_float(n, key);
}

double attr_float(const Node& n, const std::string& key) {
  if (absent(n, key)) fail(n, "missing required attribute '" + key + "'");
  return parsed(n, key, [](const std::string& s) { return attrs::parse_float(s); });
}

Shape attr_tuple(const Node& n, const std::string& key, const Shape& fallback) {
  if (absent(n, key)) return fallback;
  return parsed(n, key, [](const std::string& s) { return attrs::parse_tuple(s); });
}

std::optional<int64_t> attr_opt_int(const Node& n, const std::string& key) {
  if (absent(n, key)) return std::nullopt;
  return parsed(n, key, [](const std::string& s) { return attrs::parse_optional_int(s); });
}

std::optional<Shape> attr_opt_tuple(const Node& n, const std::string& key) {
  if (absent(n, key)) return std::nullopt;
  const std::string_view t = trim(n.attr(key));
  if (t.empty() || t == "None") return std::nullopt;
  return attr_tuple(n, key, {});
}

std::vector<std::optional<int64_t>> attr_opt_ints(const Node& n, const std::string& key) {
  std::vector<std::optional<int64_t>> out;
  if (absent(n, key)) return out;
  std::string_view body = trim(n.attr(key));
  if (!body.empty() && (body.front() == '(' || body.front() == '[')) {
    const char close = body.front() == '(' ? ')' : ']';
    if (body.size() < 2 || body.back() != close) fail(n, "attribute '" + key + "': expected a tuple, got '" + n.attr(key) + "'");
    body = trim(body.substr(1, body.size() - 2));
    if (!body.empty() && body.back() == ',') body.remove_suffix(1);  // "(3,)"
    if (trim(body).empty()) return out;
  }
  while (true) {
    const size_t comma = body.find(',');
    const std::string item(trim(body.substr(0, comma)));
    try {
      out.push_back(attrs::parse_optional_int(item));
    } catch (const Error& e) {
      fail(n, "attribute '" + key + "': " + e.reason());
    }
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return out;
}

size_t axis_index(const Node& n, int64_t axis, size_t ndim) {
  const auto nd = static_cast<int64_t>(ndim);
  if (axis < -nd || axis >= nd) fail(n, "axis " + std::to_string(axis) + " is out of range for " + std::to_string(ndim) + " dims");
  return static_cast<size_t>(axis < 0 ? axis + nd : axis);
}

void expect_inputs(const Node& n, const std::vector<Shape>& in, size_t count) {
  if (in.size() != count)
    fail(n, n.op + " takes " + std::to_string(count) + " input(s), got " + std::to_string(in.size()));
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t k = 1;
  for (size_t d = s.size(); d-- > 0;) {
    st[d] = k;
    k *= s[d];
  }
  return st;
}

Shape broadcast_strides(const Shape& s, const Shape& target) {
  const Shape own = contiguous_strides(s);
  Shape st(target.size(), 0);
  const size_t lead = target.size() - s.size();
  for (size_t d = 0; d < s.size(); ++d)
    if (s[d] != 1 || target[lead + d] == 1) st[lead + d] = own[d];
  return st;
}

Shape broadcast_shape(const Node& n, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    // Right-aligned: missing leading dims count as 1.
    const int64_t x = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t y = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (x != y && x != 1 && y != 1) fail(n, "shapes " + str(a) + " and " + str(b) + " cannot be broadcast together");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

namespace {

// dst[i * dp + j] = src[i + j * s] over dims p (read contiguously) and the innermost one (written
// contiguously), for every index of the other dims: square tiles keep both sides within cache.
void tiled_transpose(const float* src, const Loop<2>& L, size_t p, float* dst) {
  constexpr int64_t kTile = 32;
  const size_t last = L.dims.size() - 1;
  const int64_t ni = L.dims[p], nj = L.dims[last], dp = L.strides[0][p], s = L.strides[1][last];
  Loop<2> outer = L;  // the other dims; p and the innermost are walked by the tiles
  outer.dims[p] = 1;
  outer.dims[last] = 1;
  const int64_t blocks = (ni + kTile - 1) / kTile;
  parallel_for(outer.rows() * blocks, kTile * nj, [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t ib = item % blocks * kTile, ie = std::min(ni, ib + kTile);
      for_rows(outer, item / blocks, item / blocks + 1, [&](const std::array<int64_t, 2>& off) {
        const float* from = src + off[1];
        float* to = dst + off[0];
        for (int64_t jb = 0; jb < nj; jb += kTile) {
          const int64_t je = std::min(nj, jb + kTile);
          for (int64_t i = ib; i < ie; ++i)
            for (int64_t j = jb; j < je; ++j) to[i * dp + j] = from[i + j * s];
        }
      });
    }
  });
}

}  // namespace

void strided_copy(const float* src, const Shape& dims, const Shape& src_strides, float* dst) {
  const Loop<2> L = make_loop<2>(dims, {contiguous_strides(dims), src_strides});
  const int64_t n = L.inner(), s = L.strides[1].back();
  // A transpose (some outer dim is the one read contiguously): strided reads along the innermost
  // dim would touch a new cache line per value.
  if (s != 1 && s != 0 && n >= 8) {
    for (size_t p = 0; p + 1 < L.dims.size(); ++p)
      if (L.strides[1][p] == 1 && L.dims[p] >= 8) return tiled_transpose(src, L, p, dst);
  }
  parallel_for(L.rows(), n, [&](int64_t r0, int64_t r1) {
    for_rows(L, r0, r1, [&](const std::array<int64_t, 2>& off) {
      float* o = dst + off[0];
      const float* i = src + off[1];
      if (s == 1) {
        std::copy(i, i + n, o);
      } else {
        for (int64_t j = 0; j < n; ++j) o[j] = i[j * s];
      }
    });
  });
}

}  // namespace mixprec::runtime::tensor
