// Embedding: out[..., :] = weight[index, :]. Indices arrive as floats; like MXNet's inference path
// they are truncated to integers and clipped into [0, input_dim - 1].
#include <algorithm>
#include <cmath>

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime::nn {
namespace {

std::vector<Shape> embedding_infer(const Node& n, const std::vector<Shape>& in) {
  expect_inputs(n, in, 2, 2);
  const int64_t rows = attr_int(n, "input_dim", 0), dim = attr_int(n, "output_dim", 0);
  if (rows <= 0 || dim <= 0) fail(n, "attributes 'input_dim' and 'output_dim' are required and must be positive");
  if (in[1] != Shape{rows, dim}) fail(n, "weight " + shape_str(in[1]) + " does not fit: expected " + shape_str({rows, dim}));
  Shape out = in[0];
  out.push_back(dim);
  return outputs_like(n, out);
}

void embedding_run(const KernelArgs& args) {
  const Buf& idx = *args.in[0];
  const Buf& w = *args.in[1];
  const int64_t rows = w.shape[0], dim = w.shape[1], count = idx.numel();
  float* out = args.out[0]->v.data();
#pragma omp parallel for schedule(static) if (count * dim > (1 << 15))
  for (int64_t i = 0; i < count; ++i) {
    const float f = idx.v[static_cast<size_t>(i)];
    // Clip before converting so that huge values and NaN (taken as 0) stay defined.
    const float t = std::isnan(f) ? 0.0f : std::clamp(f, 0.0f, static_cast<float>(rows - 1));
    const auto r = static_cast<int64_t>(t);
    std::copy_n(w.v.data() + r * dim, dim, out + i * dim);
  }
}

}  // namespace

void register_embedding(KernelRegistry& r) { r.add({"Embedding", embedding_infer, embedding_run}); }

}  // namespace mixprec::runtime::nn
