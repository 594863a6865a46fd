#include "zoo/resnet_blocks.h"

#include <string>

namespace mixprec::zoo {

// Gluon names layers when a block is constructed (body, then downsample) but the export lists nodes
// depth-first from the output, so names are drawn first and nodes emitted in the export's order.

Feat basic_block_v1(NetBuilder& nb, const Feat& x, int64_t ch, int64_t stride, bool downsample) {
  const std::string c0 = nb.next("conv"), b0 = nb.next("batchnorm"), r0 = nb.next("relu");
  const std::string c1 = nb.next("conv"), b1 = nb.next("batchnorm");
  const std::string dc = downsample ? nb.next("conv") : "", db = downsample ? nb.next("batchnorm") : "";
  // `residual + x`: the residual branch comes first.
  Feat res = downsample ? nb.batchnorm(nb.conv(x, conv1x1(ch, stride), dc), db) : x;
  Feat y = nb.relu(nb.batchnorm(nb.conv(x, conv3x3(ch, stride), c0), b0), r0);
  y = nb.batchnorm(nb.conv(y, conv3x3(ch, 1), c1), b1);
  return nb.activation(nb.add(res, y));
}

Feat bottleneck_v1(NetBuilder& nb, const Feat& x, int64_t ch, int64_t stride, bool downsample) {
  const std::string c0 = nb.next("conv"), b0 = nb.next("batchnorm"), r0 = nb.next("relu");
  const std::string c1 = nb.next("conv"), b1 = nb.next("batchnorm"), r1 = nb.next("relu");
  const std::string c2 = nb.next("conv"), b2 = nb.next("batchnorm");
  const std::string dc = downsample ? nb.next("conv") : "", db = downsample ? nb.next("batchnorm") : "";
  Feat y = nb.relu(nb.batchnorm(nb.conv(x, conv1x1(ch / 4, stride, true), c0), b0), r0);
  y = nb.relu(nb.batchnorm(nb.conv(y, conv3x3(ch / 4, 1), c1), b1), r1);
  y = nb.batchnorm(nb.conv(y, conv1x1(ch, 1, true), c2), b2);
  // `x + residual`: the body comes first.
  Feat res = downsample ? nb.batchnorm(nb.conv(x, conv1x1(ch, stride), dc), db) : x;
  return nb.activation(nb.add(y, res));
}

Feat preact_block_v2(NetBuilder& nb, const Feat& x, const std::vector<ConvSpec>& convs, int64_t ch, int64_t stride,
                     bool downsample) {
  std::vector<std::string> bns, cvs;
  for (size_t i = 0; i < convs.size(); ++i) {
    bns.push_back(nb.next("batchnorm"));
    cvs.push_back(nb.next("conv"));
  }
  const std::string dc = downsample ? nb.next("conv") : "";
  Feat first_act, y = x;
  for (size_t i = 0; i < convs.size(); ++i) {
    y = nb.activation(nb.batchnorm(y, bns[i]));
    if (i == 0) first_act = y;
    y = nb.conv(y, convs[i], cvs[i]);
  }
  // `x + residual`: the body comes first, then the projection.
  Feat res = downsample ? nb.conv(first_act, conv1x1(ch, stride), dc) : x;
  return nb.add(y, res);
}

}  // namespace mixprec::zoo
