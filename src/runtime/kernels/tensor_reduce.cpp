// Reductions over a set of axes, as a table of (initial value, accumulate, finish). The input is
// walked once in memory order with the output read through broadcast strides (stride 0 on reduced
// dims), so every layout of reduced axes takes the same path. Accumulation is in double and its
// order is fixed, so results do not depend on the thread count.
#include <cmath>
#include <limits>
#include <utility>

#include "runtime/kernels/tensor_util.h"

namespace mixprec::runtime::tensor {
namespace {

using Shapes = std::vector<Shape>;
using AddFn = double (*)(double acc, double x);
using FinishFn = double (*)(double acc, int64_t count);

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Reducer {
  std::string_view op;
  double init;
  AddFn add;
  FinishFn finish;
};

constexpr FinishFn kAsIs = [](double acc, int64_t) { return acc; };

constexpr Reducer kReducers[] = {
    {"sum", 0.0, [](double acc, double x) { return acc + x; }, kAsIs},
    {"mean", 0.0, [](double acc, double x) { return acc + x; }, [](double acc, int64_t k) { return acc / static_cast<double>(k); }},
    {"prod", 1.0, [](double acc, double x) { return acc * x; }, kAsIs},
    {"nansum", 0.0, [](double acc, double x) { return std::isnan(x) ? acc : acc + x; }, kAsIs},
    {"nanprod", 1.0, [](double acc, double x) { return std::isnan(x) ? acc : acc * x; }, kAsIs},
    // NaN wins, as in MXNet: once the accumulator is NaN it stays NaN.
    {"max", -kInf, [](double acc, double x) { return std::isnan(acc) || acc >= x ? acc : x; }, kAsIs},
    {"min", kInf, [](double acc, double x) { return std::isnan(acc) || acc <= x ? acc : x; }, kAsIs},
};

// norm's two orders, chosen by its `ord` attribute.
constexpr Reducer kL1 = {"norm", 0.0, [](double acc, double x) { return acc + std::fabs(x); }, kAsIs};
constexpr Reducer kL2 = {"norm", 0.0, [](double acc, double x) { return acc + x * x; }, [](double acc, int64_t) { return std::sqrt(acc); }};

struct Plan {
  Shape kept;  // the input shape with reduced dims set to 1
  Shape out;
};

// MXNet 1.x: no axis (or an empty tuple) reduces everything; `exclude` reduces the axes not
// listed; without keepdims a full reduction gives shape (1,).
Plan plan(const Node& n, const Shape& in) {
  const auto axes = attr_opt_tuple(n, "axis");
  const bool keepdims = attr_bool(n, "keepdims", false);
  std::vector<bool> reduced(in.size(), true);
  if (axes && !axes->empty()) {
    const bool exclude = attr_bool(n, "exclude", false);
    std::vector<bool> listed(in.size(), false);
    for (int64_t a : *axes) {
      const size_t d = axis_index(n, a, in.size());
      if (listed[d]) fail(n, "axis " + n.attr("axis") + " lists a dim twice");
      listed[d] = true;
    }
    for (size_t d = 0; d < in.size(); ++d) reduced[d] = listed[d] != exclude;
  }
  Plan p;
  for (size_t d = 0; d < in.size(); ++d) {
    p.kept.push_back(reduced[d] ? 1 : in[d]);
    if (!reduced[d] || keepdims) p.out.push_back(p.kept.back());
  }
  if (p.out.empty()) p.out.push_back(1);
  return p;
}

Shapes infer_reduce(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  if (n.op == "norm") {
    const int64_t ord = attr_int(n, "ord", 2);
    if (ord != 1 && ord != 2) fail(n, "norm supports ord 1 and 2, got " + std::to_string(ord));
  }
  return {plan(n, in[0]).out};
}

template <AddFn add, FinishFn finish>
void reduce(const Node& n, const Buf& in, Buf& out, double init) {
  const Plan p = plan(n, in.shape);
  const Loop<2> L = make_loop<2>(in.shape, {contiguous_strides(in.shape), broadcast_strides(p.kept, in.shape)});
  std::vector<double> acc(static_cast<size_t>(numel(p.kept)), init);
  const int64_t len = L.inner(), so = L.strides[1].back();
  const float* x = in.v.data();
  // Threads may split the outermost dim only when it is kept: then they write disjoint outputs.
  const bool split = L.dims.size() > 1 && L.strides[1][0] != 0;
  const int64_t items = split ? L.dims[0] : 1, rows_per_item = L.rows() / items;
  parallel_for(items, rows_per_item * len, [&](int64_t b, int64_t e) {
    for_rows(L, b * rows_per_item, e * rows_per_item, [&](const std::array<int64_t, 2>& off) {
      const float* row = x + off[0];
      double* a = acc.data() + off[1];
      if (so == 0) {
        double t = a[0];
        for (int64_t j = 0; j < len; ++j) t = add(t, row[j]);
        a[0] = t;
      } else {
        for (int64_t j = 0; j < len; ++j) a[j * so] = add(a[j * so], row[j]);
      }
    });
  });
  const int64_t count = in.numel() / numel(p.kept);
  for (size_t i = 0; i < acc.size(); ++i) out.v[i] = static_cast<float>(finish(acc[i], count));
}

template <size_t I>
void run_reduce(const KernelArgs& a) {
  constexpr Reducer r = kReducers[I];
  reduce<r.add, r.finish>(a.node, *a.in[0], *a.out[0], r.init);
}

void run_norm(const KernelArgs& a) {
  if (attr_int(a.node, "ord", 2) == 1)
    reduce<kL1.add, kL1.finish>(a.node, *a.in[0], *a.out[0], kL1.init);
  else
    reduce<kL2.add, kL2.finish>(a.node, *a.in[0], *a.out[0], kL2.init);
}

// ---- argmax / argmin: the index (as a float) of the first extreme value along one axis ----

struct ArgPlan {
  int64_t outer = 1, len = 1, inner = 1;
  Shape out;
};

// No axis: MXNet searches the flattened array and returns shape (1,).
ArgPlan arg_plan(const Node& n, const Shape& in) {
  ArgPlan p;
  const auto axis = attr_opt_int(n, "axis");
  const bool keepdims = attr_bool(n, "keepdims", false);
  if (!axis) {
    p.len = numel(in);
    p.out = keepdims ? Shape(in.size(), 1) : Shape{1};
    return p;
  }
  const size_t ax = axis_index(n, *axis, in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    if (d < ax) p.outer *= in[d];
    if (d > ax) p.inner *= in[d];
    if (d != ax || keepdims) p.out.push_back(d == ax ? 1 : in[d]);
  }
  p.len = in[ax];
  if (p.out.empty()) p.out.push_back(1);
  return p;
}

Shapes infer_arg(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 1);
  return {arg_plan(n, in[0]).out};
}

void run_arg(const KernelArgs& a) {
  const ArgPlan p = arg_plan(a.node, a.in[0]->shape);
  const bool want_max = a.node.op == "argmax";
  const float* x = a.in[0]->v.data();
  float* y = a.out[0]->v.data();
  parallel_for(p.outer, p.len * p.inner, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t i = 0; i < p.inner; ++i) {
        const float* v = x + o * p.len * p.inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < p.len; ++k)
          if (want_max ? v[k * p.inner] > v[best * p.inner] : v[k * p.inner] < v[best * p.inner]) best = k;
        y[o * p.inner + i] = static_cast<float>(best);
      }
  });
}

template <size_t... I>
void add_reducers(KernelRegistry& r, std::index_sequence<I...>) {
  (r.add({kReducers[I].op, infer_reduce, run_reduce<I>}), ...);
}

}  // namespace

void register_reduce_kernels(KernelRegistry& r) {
  add_reducers(r, std::make_index_sequence<std::size(kReducers)>());
  r.add({"norm", infer_reduce, run_norm});
  r.add({"argmax", infer_arg, run_arg});
  r.add({"argmin", infer_arg, run_arg});
}

}  // namespace mixprec::runtime::tensor
