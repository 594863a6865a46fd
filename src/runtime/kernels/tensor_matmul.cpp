// Matrix products: dot (MXNet's N-D rule), batch_dot and _linalg_gemm2 all lower to one batched
// GEMM. Accumulation is float32 (as tensor cores do) and every output element sums over k in
// ascending order, whatever the blocking or thread count, so results are deterministic.
#include <algorithm>

#include "runtime/kernels/tensor_util.h"

namespace mixprec::runtime::tensor {
namespace {

using Shapes = std::vector<Shape>;

// One batched product C[b] = alpha * op(A[b]) · B'[b], where B' is B or its transpose.
struct Gemm {
  int64_t batch = 1, m = 1, k = 1, n = 1;
  bool ta = false, tb = false;  // A stored (k, m) / B stored (n, k)
  bool broadcast_b = false;     // one B for every batch (dot)
  Shape out;
};

// C rows [i0, i1) of one batch. A is read through (row, col) strides; B is (k, n) contiguous.
// Blocks of B stay in cache while four rows of C share each B load.
void gemm_rows(const float* A, int64_t a_row, int64_t a_col, const float* B, float* C, int64_t K, int64_t N, int64_t i0, int64_t i1) {
  constexpr int64_t kBlockN = 256, kBlockK = 128;
  std::fill(C + i0 * N, C + i1 * N, 0.0f);
  for (int64_t jb = 0; jb < N; jb += kBlockN) {
    const int64_t nb = std::min(kBlockN, N - jb);
    for (int64_t kb = 0; kb < K; kb += kBlockK) {
      const int64_t ke = std::min(K, kb + kBlockK);
      int64_t i = i0;
      for (; i + 4 <= i1; i += 4) {
        float* c0 = C + i * N + jb;
        float* c1 = c0 + N;
        float* c2 = c1 + N;
        float* c3 = c2 + N;
        for (int64_t k = kb; k < ke; ++k) {
          const float* a = A + i * a_row + k * a_col;
          const float x0 = a[0], x1 = a[a_row], x2 = a[2 * a_row], x3 = a[3 * a_row];
          const float* b = B + k * N + jb;
          for (int64_t j = 0; j < nb; ++j) {
            c0[j] += x0 * b[j];
            c1[j] += x1 * b[j];
            c2[j] += x2 * b[j];
            c3[j] += x3 * b[j];
          }
        }
      }
      for (; i < i1; ++i) {
        float* c = C + i * N + jb;
        for (int64_t k = kb; k < ke; ++k) {
          const float x = A[i * a_row + k * a_col];
          const float* b = B + k * N + jb;
          for (int64_t j = 0; j < nb; ++j) c[j] += x * b[j];
        }
      }
    }
  }
}

void run_gemm(const Gemm& g, const float* A, const float* B, float* C, float alpha) {
  const int64_t nb = g.broadcast_b ? 1 : g.batch;
  std::vector<float> packed;
  if (g.tb) {  // (n, k) -> (k, n) once, so the inner loop runs along contiguous rows of B
    packed.resize(static_cast<size_t>(nb * g.k * g.n));
    strided_copy(B, {nb, g.k, g.n}, {g.n * g.k, 1, g.k}, packed.data());
    B = packed.data();
  }
  const int64_t a_row = g.ta ? 1 : g.k, a_col = g.ta ? g.m : 1;
  // Threads take ranges of (batch, row) pairs.
  parallel_for(g.batch * g.m, g.k * g.n, [&](int64_t r0, int64_t r1) {
    while (r0 < r1) {
      const int64_t b = r0 / g.m, i0 = r0 % g.m, i1 = std::min(g.m, i0 + (r1 - r0));
      gemm_rows(A + b * g.m * g.k, a_row, a_col, B + (g.broadcast_b ? 0 : b * g.k * g.n), C + b * g.m * g.n, g.k, g.n, i0, i1);
      r0 += i1 - i0;
    }
  });
  if (alpha != 1.0f)
    for (int64_t i = 0; i < g.batch * g.m * g.n; ++i) C[i] *= alpha;
}

Shape dims(const Shape& s, size_t b, size_t e) { return Shape(s.begin() + static_cast<std::ptrdiff_t>(b), s.begin() + static_cast<std::ptrdiff_t>(e)); }

// MXNet's dot on N-D arrays: lhs is (prod(shape[:-1]), shape[-1]) or, transposed, (shape[0],
// prod(shape[1:])) read as its transpose; rhs is (shape[0], prod(shape[1:])) or, transposed,
// (prod(shape[:-1]), shape[-1]) read as its transpose. The kept dims of both form the output.
Gemm dot_plan(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 2);
  const Shape &l = in[0], &r = in[1];
  Gemm g;
  g.ta = attr_bool(n, "transpose_a", false);
  g.tb = attr_bool(n, "transpose_b", false);
  g.broadcast_b = true;
  if (l.empty() || r.empty()) fail(n, "dot needs arrays of at least one dim");
  if (l.size() == 1 && r.size() == 1) {
    if (g.ta || g.tb) fail(n, "dot cannot transpose 1-D arrays");
    if (l[0] != r[0]) fail(n, "dot of " + str(l) + " and " + str(r) + ": lengths differ");
    g.k = l[0];
    g.tb = true;  // (1, k) · (k, 1), with rhs stored as a row
    g.out = {1};
    return g;
  }
  const Shape lk = g.ta ? dims(l, 1, l.size()) : dims(l, 0, l.size() - 1);  // lhs kept dims
  const int64_t lc = g.ta ? l.front() : l.back();                           // lhs contracted dim
  const Shape rk = g.tb ? dims(r, 0, r.size() - 1) : dims(r, 1, r.size());
  const int64_t rc = g.tb ? r.back() : r.front();
  if (lc != rc)
    fail(n, "dot of " + str(l) + " and " + str(r) + (g.ta ? " (lhs transposed)" : "") + (g.tb ? " (rhs transposed)" : "") +
                ": contracted dims " + std::to_string(lc) + " and " + std::to_string(rc) + " differ");
  g.m = numel(lk);
  g.k = lc;
  g.n = numel(rk);
  if (l.size() > 1) g.out.insert(g.out.end(), lk.begin(), lk.end());
  if (r.size() > 1) g.out.insert(g.out.end(), rk.begin(), rk.end());
  return g;
}

// batch_dot and _linalg_gemm2: the last two dims are the matrices, leading dims the batch.
Gemm batch_plan(const Node& n, const Shapes& in) {
  expect_inputs(n, in, 2);
  const Shape &l = in[0], &r = in[1];
  Gemm g;
  g.ta = attr_bool(n, "transpose_a", false);
  g.tb = attr_bool(n, "transpose_b", false);
  const size_t min_dims = n.op == "batch_dot" ? 3 : 2;
  if (l.size() < min_dims || l.size() != r.size())
    fail(n, n.op + " needs two arrays of one rank, at least " + std::to_string(min_dims) + "-D, got " + str(l) + " and " + str(r));
  const size_t nd = l.size();
  if (n.op == "_linalg_gemm2") {
    const int64_t axis = attr_int(n, "axis", -2);
    if (axis != -2 && axis != static_cast<int64_t>(nd) - 2) fail(n, "_linalg_gemm2 supports only axis -2");
  }
  if (dims(l, 0, nd - 2) != dims(r, 0, nd - 2)) fail(n, n.op + " of " + str(l) + " and " + str(r) + ": batch dims differ");
  g.batch = numel(dims(l, 0, nd - 2));
  g.m = g.ta ? l[nd - 1] : l[nd - 2];
  g.k = g.ta ? l[nd - 2] : l[nd - 1];
  const int64_t rk = g.tb ? r[nd - 1] : r[nd - 2];
  g.n = g.tb ? r[nd - 2] : r[nd - 1];
  if (g.k != rk)
    fail(n, n.op + " of " + str(l) + " and " + str(r) + (g.ta ? " (lhs transposed)" : "") + (g.tb ? " (rhs transposed)" : "") +
                ": contracted dims " + std::to_string(g.k) + " and " + std::to_string(rk) + " differ");
  g.out = dims(l, 0, nd - 2);
  g.out.insert(g.out.end(), {g.m, g.n});
  return g;
}

Gemm plan(const Node& n, const Shapes& in) { return n.op == "dot" ? dot_plan(n, in) : batch_plan(n, in); }

Shapes infer_matmul(const Node& n, const Shapes& in) { return {plan(n, in).out}; }

void run_matmul(const KernelArgs& a) {
  const Gemm g = plan(a.node, {a.in[0]->shape, a.in[1]->shape});
  const auto alpha = a.node.op == "_linalg_gemm2" ? static_cast<float>(attr_float(a.node, "alpha", 1.0)) : 1.0f;
  run_gemm(g, a.in[0]->v.data(), a.in[1]->v.data(), a.out[0]->v.data(), alpha);
}

}  // namespace

void register_matmul_kernels(KernelRegistry& r) {
  for (const char* op : {"dot", "batch_dot", "_linalg_gemm2"}) r.add({op, infer_matmul, run_matmul});
}

}  // namespace mixprec::runtime::tensor
