// Helpers shared by the tensor kernel files (tensor_*.cpp): attributes read with MXNet's defaults,
// shape errors that name the node, and one strided loop that the layout, broadcast and reduction
// kernels all run on.
#pragma once
#include <omp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace mixprec::runtime::tensor {

// Throws mixprec::Error with the node's name as the place.
[[noreturn]] void fail(const Node& n, const std::string& what);
std::string str(const Shape& s);  // "(2, 3)"
int64_t numel(const Shape& s);

// Attribute `key` parsed, or `fallback` when absent; malformed text fails naming the node.
// The forms without a fallback are for attributes MXNet requires.
int64_t attr_int(const Node& n, const std::string& key, int64_t fallback);
int64_t attr_int(const Node& n, const std::string& key);
bool attr_bool(const Node& n, const std::string& key, bool fallback);
double attr_float(const Node& n, const std::string& key, double fallback);
double attr_float(const Node& n, const std::string& key);
Shape attr_tuple(const Node& n, const std::string& key, const Shape& fallback);
// nullopt when absent, "" or "None".
std::optional<int64_t> attr_opt_int(const Node& n, const std::string& key);
std::optional<Shape> attr_opt_tuple(const Node& n, const std::string& key);
// A tuple whose items may be None, e.g. slice's "(None, 2, -1)"; empty when absent.
std::vector<std::optional<int64_t>> attr_opt_ints(const Node& n, const std::string& key);

// `axis` in [-ndim, ndim) as an index in [0, ndim).
size_t axis_index(const Node& n, int64_t axis, size_t ndim);
void expect_inputs(const Node& n, const std::vector<Shape>& in, size_t count);

Shape contiguous_strides(const Shape& s);
// Strides for reading `s` as `target` (right-aligned, numpy rules): 0 where `s` broadcasts.
Shape broadcast_strides(const Shape& s, const Shape& target);
// numpy broadcasting of two shapes.
Shape broadcast_shape(const Node& n, const Shape& a, const Shape& b);

// N operands walked over one iteration shape, each with its own strides. Dims of size 1 are
// dropped and neighbours merged wherever every operand lets them, so the innermost loop is as long
// and as contiguous as the data allows.
template <size_t N>
struct Loop {
  Shape dims;                     // at least one dim
  std::array<Shape, N> strides;   // per operand, per dim
  int64_t inner() const { return dims.back(); }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < dims.size(); ++d) r *= dims[d];
    return r;
  }
};

template <size_t N>
Loop<N> make_loop(const Shape& dims, const std::array<Shape, N>& strides) {
  Loop<N> L;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    bool merge = !L.dims.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = L.strides[k].back() == strides[k][d] * dims[d];
    if (merge) {
      L.dims.back() *= dims[d];
      for (size_t k = 0; k < N; ++k) L.strides[k].back() = strides[k][d];
      continue;
    }
    L.dims.push_back(dims[d]);
    for (size_t k = 0; k < N; ++k) L.strides[k].push_back(strides[k][d]);
  }
  if (L.dims.empty()) {
    L.dims.push_back(1);
    for (size_t k = 0; k < N; ++k) L.strides[k].push_back(0);
  }
  return L;
}

// Calls body(offsets) for rows [r0, r1) of the loop (a row: every dim but the innermost);
// offsets[k] is where operand k's row starts.
template <size_t N, class F>
void for_rows(const Loop<N>& L, int64_t r0, int64_t r1, F&& body) {
  const size_t outer = L.dims.size() - 1;
  Shape idx(outer, 0);
  std::array<int64_t, N> off{};
  int64_t rest = r0;
  for (size_t d = outer; d-- > 0;) {
    idx[d] = rest % L.dims[d];
    rest /= L.dims[d];
    for (size_t k = 0; k < N; ++k) off[k] += idx[d] * L.strides[k][d];
  }
  for (int64_t row = r0; row < r1; ++row) {
    body(off);
    for (size_t d = outer; d-- > 0;) {
      for (size_t k = 0; k < N; ++k) off[k] += L.strides[k][d];
      if (++idx[d] < L.dims[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= L.strides[k][d] * L.dims[d];
      idx[d] = 0;
    }
  }
}

// fn(begin, end) over [0, n) split evenly across threads. Each item must be computed the same way
// whatever the split, so results do not depend on the thread count. Small jobs stay on one thread:
// below ~32k operations starting the team costs more than it saves.
template <class F>
void parallel_for(int64_t n, int64_t work_per_item, const F& fn) {
  if (n <= 0) return;
  if (n == 1 || n * work_per_item < (int64_t{1} << 15) || omp_in_parallel() || omp_get_max_threads() == 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t b = n * t / nt, e = n * (t + 1) / nt;
    if (b < e) fn(b, e);
  }
}

// dst (contiguous, shape `dims`) = src read with `src_strides` from `src`.
void strided_copy(const float* src, const Shape& dims, const Shape& src_strides, float* dst);

// Per-family registration (tensor_kernels.cpp calls them all).
void register_shape_kernels(KernelRegistry& r);
void register_elementwise_kernels(KernelRegistry& r);
void register_reduce_kernels(KernelRegistry& r);
void register_matmul_kernels(KernelRegistry& r);

}  // namespace mixprec::runtime::tensor
