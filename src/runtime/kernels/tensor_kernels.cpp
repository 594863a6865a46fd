// The tensor kernel families: layout, elementwise, reductions, matrix products.
#include "runtime/kernels/tensor_util.h"

namespace mixprec::runtime {

void register_tensor_kernels(KernelRegistry& r) {
  tensor::register_shape_kernels(r);
  tensor::register_elementwise_kernels(r);
  tensor::register_reduce_kernels(r);
  tensor::register_matmul_kernels(r);
}

}  // namespace mixprec::runtime
