// Residual blocks of Gluon's ResNets, shared by the ImageNet models (resnet.cpp) and the CIFAR ones
// (cifar_resnet.cpp). Each block is built in the current name scope (Gluon's blocks use prefix='').
#pragma once
#include <cstdint>
#include <vector>

#include "zoo/net_builder.h"

namespace mixprec::zoo {

inline ConvSpec conv1x1(int64_t ch, int64_t stride, bool bias = false) {
  return {ch, {1, 1}, {stride, stride}, {0, 0}, 1, bias};
}
inline ConvSpec conv3x3(int64_t ch, int64_t stride) { return {ch, {3, 3}, {stride, stride}, {1, 1}, 1, false}; }

// BasicBlockV1: conv3x3-BN-ReLU-conv3x3-BN, plus the (projected) input, then ReLU.
Feat basic_block_v1(NetBuilder& nb, const Feat& x, int64_t ch, int64_t stride, bool downsample);
// BottleneckV1: conv1x1(+bias, stride)-BN-ReLU-conv3x3-BN-ReLU-conv1x1(+bias)-BN, plus input, ReLU.
Feat bottleneck_v1(NetBuilder& nb, const Feat& x, int64_t ch, int64_t stride, bool downsample);
// BasicBlockV2 / BottleneckV2: BN-ReLU before each of `convs`; the projection reads the first BN-ReLU.
Feat preact_block_v2(NetBuilder& nb, const Feat& x, const std::vector<ConvSpec>& convs, int64_t ch, int64_t stride,
                     bool downsample);

}  // namespace mixprec::zoo
