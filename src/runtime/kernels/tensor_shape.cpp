// Layout ops: they move or copy values without arithmetic. Ops that only reinterpret the shape
// (Flatten, Reshape, expand_dims, squeeze, identities, casts) share one plain copy; the rest are
// strided copies described by per-dim begin/step windows or by broadcast strides.
#include <algorithm>
#include <numeric>

#include "runtime/kernels/tensor_util.h"

namespace mixprec::runtime::tensor {
namespace {

using Shapes = std::vector<Shape>;

Shapes same_shape(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  return {in[0]};
}

void run_copy(const KernelArgs& a) { std::copy(a.in[0]->v.begin(), a.in[0]->v.end(), a.out[0]->v.begin()); }

// ---- Flatten / Reshape / expand_dims / squeeze: new shape, same values ----

Shapes infer_flatten(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  if (in[0].empty()) fail(n, "Flatten needs at least one dim");
  Shape s{in[0][0], 1};
  for (size_t d = 1; d < in[0].size(); ++d) s[1] *= in[0][d];
  return {s};
}

// MXNet's legacy form: `target_shape` with 0 marking the one dim to infer, and `keep_highest`
// keeping the input's first dim.
Shape legacy_reshape(const Node& n, const Shape& in, Shape out) {
  const size_t first = attr_bool(n, "keep_highest", false) ? 1 : 0;
  if (first && !out.empty()) out[0] = in[0];
  size_t infer = out.size();
  for (size_t i = first; i < out.size(); ++i)
    if (out[i] == 0) {
      if (infer != out.size()) fail(n, "target_shape " + str(out) + " has more than one 0 to infer");
      infer = i;
    }
  if (infer != out.size()) {
    out[infer] = 1;
    const int64_t known = numel(out);
    out[infer] = known ? numel(in) / known : 0;
  }
  return out;
}

// MXNet's reshape codes: 0 copies an input dim, -1 infers one dim, -2 copies all remaining dims,
// -3 merges two input dims, -4 splits one input dim into the next two codes. `reverse` matches the
// codes against the input from the right.
Shape reshape_shape(const Node& n, const Shape& in) {
  Shape code = attr_tuple(n, "shape", {});
  if (code.empty()) {
    const Shape target = attr_tuple(n, "target_shape", {});
    if (!target.empty()) return legacy_reshape(n, in, target);
  }
  const bool reverse = attr_bool(n, "reverse", false);
  Shape src = in;
  if (reverse) {
    std::reverse(code.begin(), code.end());
    std::reverse(src.begin(), src.end());
  }
  Shape out;
  size_t s = 0;                     // next input dim
  std::optional<size_t> inferred;   // position of the -1
  auto take = [&](const char* why) {
    if (s >= src.size()) fail(n, "shape " + n.attr("shape") + ": code " + why + " has no input dim left in " + str(in));
    return src[s++];
  };
  for (size_t i = 0; i < code.size(); ++i) {
    const int64_t c = code[i];
    if (c > 0) {
      out.push_back(c);
      ++s;  // a given size still stands for one input dim, as far as later 0s are concerned
    } else if (c == 0) {
      out.push_back(take("0"));
    } else if (c == -1) {
      if (inferred) fail(n, "shape " + n.attr("shape") + " has more than one -1");
      inferred = out.size();
      out.push_back(1);
      ++s;
    } else if (c == -2) {
      while (s < src.size()) out.push_back(src[s++]);
    } else if (c == -3) {
      const int64_t d1 = take("-3");
      out.push_back(d1 * take("-3"));
    } else if (c == -4) {
      if (i + 2 >= code.size()) fail(n, "shape " + n.attr("shape") + ": -4 must be followed by two sizes");
      const int64_t d = take("-4");
      int64_t a = code[++i], b = code[++i];
      if (a == -1 && b == -1) fail(n, "shape " + n.attr("shape") + ": -4 cannot split into two -1s");
      if (a == -1 && b > 0) a = d / b;
      if (b == -1 && a > 0) b = d / a;
      if (a <= 0 || b <= 0 || a * b != d)
        fail(n, "shape " + n.attr("shape") + ": -4 cannot split dim " + std::to_string(d) + " into " + std::to_string(code[i - 1]) +
                    " x " + std::to_string(code[i]));
      out.push_back(a);
      out.push_back(b);
    } else {
      fail(n, "shape " + n.attr("shape") + " has the unknown code " + std::to_string(c));
    }
  }
  if (inferred) {
    const int64_t known = numel(out);
    if (known == 0 || numel(in) % known != 0)
      fail(n, "cannot reshape " + str(in) + " to " + n.attr("shape") + ": the -1 dim does not divide evenly");
    out[*inferred] = numel(in) / known;
  }
  if (reverse) std::reverse(out.begin(), out.end());
  return out;
}

Shapes infer_reshape(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  Shape out = reshape_shape(n, in[0]);
  if (numel(out) != numel(in[0]))
    fail(n, "cannot reshape " + str(in[0]) + " (" + std::to_string(numel(in[0])) + " values) to " + str(out) + " (" +
                std::to_string(numel(out)) + " values)");
  return {out};
}

Shapes infer_expand_dims(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  Shape s = in[0];
  const size_t at = axis_index(n, attr_int(n, "axis"), s.size() + 1);
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), 1);
  return {s};
}

Shapes infer_squeeze(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  const Shape& s = in[0];
  std::vector<bool> drop(s.size(), false);
  if (auto axes = attr_opt_tuple(n, "axis")) {
    for (int64_t a : *axes) {
      const size_t d = axis_index(n, a, s.size());
      if (s[d] != 1) fail(n, "cannot squeeze axis " + std::to_string(a) + " of " + str(s) + ": its size is not 1");
      drop[d] = true;
    }
  } else {
    for (size_t d = 0; d < s.size(); ++d) drop[d] = s[d] == 1;
  }
  Shape out;
  for (size_t d = 0; d < s.size(); ++d)
    if (!drop[d]) out.push_back(s[d]);
  if (out.empty()) out.push_back(1);  // MXNet 1.x has no 0-d arrays
  return {out};
}

// ---- transpose / SwapAxis: permuted strides ----

std::vector<size_t> permutation(const Node& n, size_t ndim) {
  std::vector<size_t> p(ndim);
  if (n.op == "SwapAxis") {
    std::iota(p.begin(), p.end(), size_t{0});
    std::swap(p[axis_index(n, attr_int(n, "dim1", 0), ndim)], p[axis_index(n, attr_int(n, "dim2", 0), ndim)]);
    return p;
  }
  const Shape axes = attr_tuple(n, "axes", {});
  if (axes.empty()) {
    for (size_t d = 0; d < ndim; ++d) p[d] = ndim - 1 - d;  // MXNet's default reverses the dims
    return p;
  }
  if (axes.size() != ndim) fail(n, "axes " + str(axes) + " do not match " + std::to_string(ndim) + " dims");
  std::vector<bool> seen(ndim, false);
  for (size_t d = 0; d < ndim; ++d) {
    p[d] = axis_index(n, axes[d], ndim);
    if (seen[p[d]]) fail(n, "axes " + str(axes) + " is not a permutation");
    seen[p[d]] = true;
  }
  return p;
}

Shapes infer_transpose(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  const auto p = permutation(n, in[0].size());
  Shape out(p.size());
  for (size_t d = 0; d < p.size(); ++d) out[d] = in[0][p[d]];
  return {out};
}

void run_transpose(const KernelArgs& a) {
  const Shape& s = a.in[0]->shape;
  const auto p = permutation(a.node, s.size());
  const Shape st = contiguous_strides(s);
  Shape src(p.size());
  for (size_t d = 0; d < p.size(); ++d) src[d] = st[p[d]];
  strided_copy(a.in[0]->v.data(), a.out[0]->shape, src, a.out[0]->v.data());
}

// ---- Concat / SliceChannel / _split_v2: slabs along one axis ----

// Copies `len` entries of the axis, for every outer index, between two arrays that differ only in
// the length of that axis.
void copy_slabs(const float* src, int64_t src_axis, int64_t src_at, float* dst, int64_t dst_axis, int64_t dst_at, int64_t len,
                int64_t outer, int64_t inner) {
  parallel_for(outer, len * inner, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* from = src + (o * src_axis + src_at) * inner;
      std::copy(from, from + len * inner, dst + (o * dst_axis + dst_at) * inner);
    }
  });
}

// (outer, inner) around axis `d` of `s`.
std::pair<int64_t, int64_t> around(const Shape& s, size_t d) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < d; ++i) outer *= s[i];
  for (size_t i = d + 1; i < s.size(); ++i) inner *= s[i];
  return {outer, inner};
}

size_t concat_axis(const Node& n, const Shapes& in) {
  if (in.empty()) fail(n, "Concat needs at least one input");
  if (auto k = attr_opt_int(n, "num_args"); k && *k != static_cast<int64_t>(in.size()))
    fail(n, "num_args is " + std::to_string(*k) + " but the node has " + std::to_string(in.size()) + " inputs");
  return axis_index(n, attr_int(n, "dim", 1), in[0].size());
}

Shapes infer_concat(const Node& n, const Shapes& in) {
  const size_t ax = concat_axis(n, in);
  Shape out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    bool fits = in[i].size() == out.size();
    for (size_t d = 0; d < out.size() && fits; ++d) fits = d == ax || in[i][d] == out[d];
    if (!fits) fail(n, "Concat on dim " + std::to_string(ax) + ": input " + std::to_string(i) + " has shape " + str(in[i]) +
                           ", input 0 has " + str(in[0]));
    out[ax] += in[i][ax];
  }
  return {out};
}

void run_concat(const KernelArgs& a) {
  Shapes in;
  for (const Buf* b : a.in) in.push_back(b->shape);
  const size_t ax = concat_axis(a.node, in);
  const Shape& os = a.out[0]->shape;
  const auto [outer, inner] = around(os, ax);
  int64_t at = 0;
  for (const Buf* b : a.in) {
    copy_slabs(b->v.data(), b->shape[ax], 0, a.out[0]->v.data(), os[ax], at, b->shape[ax], outer, inner);
    at += b->shape[ax];
  }
}

struct Split {
  size_t axis = 0;
  std::vector<int64_t> begin, len;  // per output, along the axis
  bool squeeze = false;
};

Split split_plan(const Node& n, const Shape& s) {
  Split p;
  p.squeeze = attr_bool(n, "squeeze_axis", false);
  p.axis = axis_index(n, attr_int(n, "axis", 1), s.size());  // both ops default to 1 in C++ (Python passes its own)
  const int64_t dim = s[p.axis];
  const int64_t sections = n.op == "_split_v2" ? attr_int(n, "sections", 0) : attr_int(n, "num_outputs");
  if (sections > 0) {
    if (dim % sections != 0)
      fail(n, "cannot split axis " + std::to_string(p.axis) + " of " + str(s) + " into " + std::to_string(sections) + " equal parts");
    for (int64_t k = 0; k < sections; ++k) {
      p.begin.push_back(k * (dim / sections));
      p.len.push_back(dim / sections);
    }
  } else if (n.op == "_split_v2") {
    const Shape idx = attr_tuple(n, "indices", {});
    if (idx.empty()) fail(n, "_split_v2 needs `indices` or `sections`");
    for (size_t k = 0; k < idx.size(); ++k) {
      const int64_t end = k + 1 < idx.size() ? idx[k + 1] : dim;
      if (idx[k] < 0 || end <= idx[k] || end > dim) fail(n, "indices " + str(idx) + " do not split axis of size " + std::to_string(dim));
      p.begin.push_back(idx[k]);
      p.len.push_back(end - idx[k]);
    }
  } else {
    fail(n, "num_outputs must be positive");
  }
  if (p.squeeze)
    for (int64_t l : p.len)
      if (l != 1) fail(n, "squeeze_axis needs pieces of size 1 along the axis, got " + std::to_string(l));
  return p;
}

Shapes infer_split(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  const Split p = split_plan(n, in[0]);
  Shapes out;
  for (int64_t l : p.len) {
    Shape s = in[0];
    s[p.axis] = l;
    if (p.squeeze) s.erase(s.begin() + static_cast<std::ptrdiff_t>(p.axis));
    if (s.empty()) s.push_back(1);
    out.push_back(s);
  }
  return out;
}

void run_split(const KernelArgs& a) {
  const Shape& s = a.in[0]->shape;
  const Split p = split_plan(a.node, s);
  const auto [outer, inner] = around(s, p.axis);
  for (size_t k = 0; k < p.len.size(); ++k)
    copy_slabs(a.in[0]->v.data(), s[p.axis], p.begin[k], a.out[k]->v.data(), p.len[k], 0, p.len[k], outer, inner);
}

// ---- slice / slice_axis / Crop: a window of begin and step per dim ----

struct Window {
  Shape begin, step, out;
};

Window whole(const Shape& s) { return {Shape(s.size(), 0), Shape(s.size(), 1), s}; }

// Python-style range of one dim; missing begin/end default by the step's sign. Out-of-range
// bounds fail as in MXNet rather than being clamped.
void set_range(const Node& n, Window& w, size_t d, int64_t len, std::optional<int64_t> b, std::optional<int64_t> e, int64_t step) {
  if (step == 0) fail(n, "slice step cannot be 0");
  int64_t lo = b ? (*b < 0 ? *b + len : *b) : (step > 0 ? 0 : len - 1);
  int64_t hi = e ? (*e < 0 ? *e + len : *e) : (step > 0 ? len : -1);
  if (lo < 0 || lo >= len || hi < -1 || hi > len || (e && hi < 0 && step > 0))
    fail(n, "slice [" + (b ? std::to_string(*b) : "None") + ", " + (e ? std::to_string(*e) : "None") + ") is out of range for axis " +
                std::to_string(d) + " of size " + std::to_string(len));
  const int64_t count = step > 0 ? (hi - lo + step - 1) / step : (lo - hi - step - 1) / -step;
  if (count <= 0)
    fail(n, "slice [" + std::to_string(lo) + ", " + std::to_string(hi) + ") with step " + std::to_string(step) + " on axis " +
                std::to_string(d) + " is empty");
  w.begin[d] = lo;
  w.step[d] = step;
  w.out[d] = count;
}

Window window(const Node& n, const Shapes& in) {
  if (n.op == "Crop") {
    const auto args = attr_int(n, "num_args", static_cast<int64_t>(in.size()));
    expect_inputs(n, in, static_cast<size_t>(args));
    const Shape& s = in[0];
    if (s.size() != 4) fail(n, "Crop expects NCHW input, got " + str(s));
    Shape hw = attr_tuple(n, "h_w", {0, 0});
    if (args == 2) {
      if (in[1].size() < 2) fail(n, "Crop's second input " + str(in[1]) + " has no H and W");
      hw = {in[1][in[1].size() - 2], in[1].back()};
    }
    Shape off = attr_tuple(n, "offset", {0, 0});
    if (hw.size() != 2 || off.size() != 2) fail(n, "Crop's h_w and offset take two values");
    if (attr_bool(n, "center_crop", false)) off = {(s[2] - hw[0]) / 2, (s[3] - hw[1]) / 2};
    Window w = whole(s);
    for (size_t d = 0; d < 2; ++d) {
      if (hw[d] <= 0 || off[d] < 0 || off[d] + hw[d] > s[2 + d])
        fail(n, "cannot crop " + str(hw) + " at offset " + str(off) + " from " + str(s));
      w.begin[2 + d] = off[d];
      w.out[2 + d] = hw[d];
    }
    return w;
  }
  expect_inputs(n, in, 1);
  const Shape& s = in[0];
  Window w = whole(s);
  if (n.op == "slice_axis") {
    const size_t d = axis_index(n, attr_int(n, "axis"), s.size());
    const auto end = attr_opt_int(n, "end");
    // MXNet reads `end` with the usual wrap but never treats it as "to the start".
    set_range(n, w, d, s[d], attr_int(n, "begin"), end ? end : std::optional<int64_t>(s[d]), 1);
    return w;
  }
  const auto b = attr_opt_ints(n, "begin"), e = attr_opt_ints(n, "end"), st = attr_opt_ints(n, "step");
  if (b.size() != e.size()) fail(n, "slice begin " + n.attr("begin") + " and end " + n.attr("end") + " differ in length");
  if (b.size() > s.size()) fail(n, "slice begin " + n.attr("begin") + " has more dims than " + str(s));
  if (!st.empty() && st.size() != b.size()) fail(n, "slice step " + n.attr("step") + " and begin differ in length");
  for (size_t d = 0; d < b.size(); ++d) set_range(n, w, d, s[d], b[d], e[d], st.empty() || !st[d] ? 1 : *st[d]);
  return w;
}

Shapes infer_window(const Node& n, const Shapes& in) { return {window(n, in).out}; }

void run_window(const KernelArgs& a) {
  Shapes in;
  for (const Buf* b : a.in) in.push_back(b->shape);
  const Window w = window(a.node, in);
  const Shape st = contiguous_strides(in[0]);
  Shape src(st.size());
  int64_t base = 0;
  for (size_t d = 0; d < st.size(); ++d) {
    base += w.begin[d] * st[d];
    src[d] = w.step[d] * st[d];
  }
  strided_copy(a.in[0]->v.data() + base, w.out, src, a.out[0]->v.data());
}

// ---- tile / repeat / broadcast_to / broadcast_axis / broadcast_like: reads with stride 0 ----

// The source read as a larger shape: `dims` with `src` strides, written contiguously.
struct Expansion {
  Shape dims, src, out;
};

Expansion expansion(const Node& n, const Shapes& in) {
  Expansion x;
  if (n.op == "broadcast_like") {
    expect_inputs(n, in, 2);
    if (!n.attr("lhs_axes").empty() || !n.attr("rhs_axes").empty()) fail(n, "broadcast_like with lhs_axes/rhs_axes is not supported");
    x.out = in[1];
  } else {
    expect_inputs(n, in, 1);
  }
  const Shape& s = in[0];
  if (n.op == "tile") {
    Shape reps = attr_tuple(n, "reps", {});
    const size_t nd = std::max(reps.size(), s.size());
    reps.insert(reps.begin(), nd - reps.size(), 1);
    Shape t = s;
    t.insert(t.begin(), nd - s.size(), 1);
    const Shape st = contiguous_strides(t);
    for (size_t d = 0; d < nd; ++d) {
      if (reps[d] <= 0) fail(n, "tile reps " + n.attr("reps") + " must be positive");
      // Out dim d = (repetition, source index): the repetition reads the source again.
      x.dims.insert(x.dims.end(), {reps[d], t[d]});
      x.src.insert(x.src.end(), {0, st[d]});
      x.out.push_back(reps[d] * t[d]);
    }
    return x;
  }
  if (n.op == "repeat") {
    const int64_t r = attr_int(n, "repeats");
    if (r <= 0) fail(n, "repeats must be positive");
    const auto axis = attr_opt_int(n, "axis");
    const Shape t = axis ? s : Shape{numel(s)};  // no axis: MXNet repeats the flattened array
    const size_t ax = axis ? axis_index(n, *axis, t.size()) : 0;
    const Shape st = contiguous_strides(t);
    for (size_t d = 0; d < t.size(); ++d) {
      x.dims.push_back(t[d]);
      x.src.push_back(st[d]);
      if (d == ax) {
        // Each source entry is read `r` times in a row.
        x.dims.push_back(r);
        x.src.push_back(0);
      }
      x.out.push_back(d == ax ? t[d] * r : t[d]);
    }
    return x;
  }
  if (n.op == "broadcast_to") {
    const Shape want = attr_tuple(n, "shape", {});
    if (want.size() != s.size()) fail(n, "broadcast_to shape " + n.attr("shape") + " must have the " + std::to_string(s.size()) + " dims of " + str(s));
    for (size_t d = 0; d < s.size(); ++d) x.out.push_back(want[d] == 0 ? s[d] : want[d]);  // 0 keeps the dim
  } else if (n.op == "broadcast_axis") {
    const Shape axes = attr_tuple(n, "axis", {}), size = attr_tuple(n, "size", {});
    if (axes.size() != size.size()) fail(n, "broadcast_axis axis and size differ in length");
    x.out = s;
    for (size_t i = 0; i < axes.size(); ++i) {
      const size_t d = axis_index(n, axes[i], s.size());
      if (s[d] != 1) fail(n, "broadcast_axis: axis " + std::to_string(axes[i]) + " of " + str(s) + " is not 1");
      x.out[d] = size[i];
    }
  }
  if (x.out.size() != s.size()) fail(n, "cannot broadcast " + str(s) + " to " + str(x.out));
  for (size_t d = 0; d < s.size(); ++d)
    if (s[d] != x.out[d] && s[d] != 1) fail(n, "cannot broadcast " + str(s) + " to " + str(x.out));
  x.dims = x.out;
  x.src = broadcast_strides(s, x.out);
  return x;
}

Shapes infer_expansion(const Node& n, const Shapes& in) { return {expansion(n, in).out}; }

void run_expansion(const KernelArgs& a) {
  Shapes in;
  for (const Buf* b : a.in) in.push_back(b->shape);
  const Expansion x = expansion(a.node, in);
  strided_copy(a.in[0]->v.data(), x.dims, x.src, a.out[0]->v.data());
}

// ---- amp_multicast: N inputs to N outputs; the session rounds each to its dtype ----

Shapes infer_multicast(const Node& n, const Shapes& in) {
  if (in.empty()) fail(n, "amp_multicast needs at least one input");
  if (auto k = attr_opt_int(n, "num_outputs"); k && *k != static_cast<int64_t>(in.size()))
    fail(n, "num_outputs is " + std::to_string(*k) + " but the node has " + std::to_string(in.size()) + " inputs");
  return in;
}

void run_multicast(const KernelArgs& a) {
  for (size_t i = 0; i < a.in.size(); ++i) std::copy(a.in[i]->v.begin(), a.in[i]->v.end(), a.out[i]->v.begin());
}

// Cast/amp_cast copy values: the session rounds the output to the node's dtype afterwards.
constexpr KernelDef kLayout[] = {
    {"Flatten", infer_flatten, run_copy},
    {"Reshape", infer_reshape, run_copy},
    {"expand_dims", infer_expand_dims, run_copy},
    {"squeeze", infer_squeeze, run_copy},
    {"_copy", same_shape, run_copy},
    {"identity", same_shape, run_copy},
    {"BlockGrad", same_shape, run_copy},
    {"stop_gradient", same_shape, run_copy},
    {"MakeLoss", same_shape, run_copy},
    {"Cast", same_shape, run_copy},
    {"amp_cast", same_shape, run_copy},
    {"amp_multicast", infer_multicast, run_multicast},
    {"transpose", infer_transpose, run_transpose},
    {"SwapAxis", infer_transpose, run_transpose},
    {"Concat", infer_concat, run_concat},
    {"SliceChannel", infer_split, run_split},
    {"_split_v2", infer_split, run_split},
    {"slice", infer_window, run_window},
    {"slice_axis", infer_window, run_window},
    {"Crop", infer_window, run_window},
    {"tile", infer_expansion, run_expansion},
    {"repeat", infer_expansion, run_expansion},
    {"broadcast_to", infer_expansion, run_expansion},
    {"broadcast_axis", infer_expansion, run_expansion},
    {"broadcast_like", infer_expansion, run_expansion},
};

}  // namespace

void register_shape_kernels(KernelRegistry& r) {
  for (const KernelDef& d : kLayout) r.add(d);
}

}  // namespace mixprec::runtime::tensor
