// The nn kernel family: convolutions, dense, normalisation, pooling, activations, softmax, embedding,
// resizing (UpSampling, Crop).
#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime {

void register_nn_kernels(KernelRegistry& r) {
  nn::register_conv(r);
  nn::register_dense(r);
  nn::register_norm(r);
  nn::register_pool(r);
  nn::register_activation(r);
  nn::register_softmax(r);
  nn::register_embedding(r);
  nn::register_resize(r);
}

}  // namespace mixprec::runtime
