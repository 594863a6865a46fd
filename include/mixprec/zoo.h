// A model zoo built in code: FP32 MXNet graphs shaped and named as MXNet's Gluon model zoo exports
// them (legacy op names, Gluon prefixes such as "resnetv10_stage1_conv0_weight", attributes written
// as Python's str() writes them), with deterministic synthetic weights. Used by tests and benchmarks
// instead of downloading pretrained files.
//
// The weights are calibrated so that the networks behave like trained ones (ZooOptions::calibrate):
// every BatchNorm's running statistics are those of the activations it receives on seeded N(0, 1)
// inputs, so its normalised output is ~N(0, 1), and a classifier's final layer is scaled so that
// its logits have a standard deviation of about 4. Without calibration, random running statistics
// let activations grow with depth: FP32 logits of resnet152_v1 reached ~7e11 (inf in float16).
//
// Every parameter variable carries "__shape__" and "__dtype__" ("0") attributes, as Gluon's export()
// writes them; graph inputs carry neither (MXNet's AMP tells data from parameters that way).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/graph.h"
#include "mixprec/tensor.h"

namespace mixprec::zoo {

struct ZooOptions {
  uint64_t seed = 0;
  int64_t batch = 1;
  int64_t image_size = 0;  // 0: the model's default (224; 299 for inceptionv3; 32 for CIFAR models)
  int64_t classes = 0;     // 0: the model's default (1000; 10 for CIFAR models); unused by transformers
  // Repeat count: residual blocks of "resnet_deep" (default 9), encoder layers of "bert_base"
  // (default 12) and "transformer_deep" (default 12). 0 means the default.
  int64_t depth = 0;
  bool weights = true;  // false: graph only, params empty (for huge graphs)
  // Calibrate the weights (when `weights` is set): one FP32 forward pass on seeded N(0, 1) inputs
  // (ids for Embedding inputs) sets every BatchNorm's running mean/var to the per-channel
  // statistics of its actual input, then a classifier's final FullyConnected/Convolution weight and
  // bias are scaled so its logits' standard deviation is 4. Costs one inference of a few images
  // (more for small image sizes, so that every BatchNorm sees enough values per channel); models
  // with neither BatchNorm nor a classifier head (bert_base, transformer_deep) run nothing.
  // false: running statistics and the final layer as the initialisers draw them.
  bool calibrate = true;
  int64_t seq_len = 128;  // transformers; at most 512 (the position table's length)
};

struct ZooModel {
  Graph graph;
  TensorMap arg_params;  // learnable parameters, by variable name
  TensorMap aux_params;  // BatchNorm running statistics (calibrated: see ZooOptions::calibrate)
  std::vector<std::pair<std::string, std::vector<int64_t>>> inputs;  // graph inputs: name, shape
};

// Every name build_zoo_model accepts, in a stable order.
std::vector<std::string> zoo_names();

// Builds a model. Names follow the Gluon model zoo: resnet18_v1, resnet34_v1, resnet50_v1, resnet50_v2,
// resnet101_v1, mobilenet1.0, mobilenet0.25, mobilenetv2_1.0, vgg16, vgg16_bn, squeezenet1.0,
// densenet121, inceptionv3; GluonCV's cifar_resnet20_v1; "bert_base" (a GluonNLP-style BERT-base
// encoder); and two benchmark generators whose size grows linearly with `depth`: "resnet_deep"
// (9 nodes per residual block) and "transformer_deep" (a smaller BERT-style encoder).
// The graphs are what MXNet 1.9.1's HybridBlock.export writes for the Gluon models with loaded weights,
// node for node and attribute for attribute (tests/oracle/test_zoo_export.py checks them against it).
// Learnable parameters are a pure function of (seed, parameter name), so the build order never
// changes them, with one exception under calibration: a classifier's final layer (weight and bias)
// is that function times one calibrated factor. Calibrated BatchNorm running statistics are a pure
// function of the seed and of everything upstream of the BatchNorm (the layers before it, the image
// size), not of the name alone. The same options always give the same bytes.
// Throws mixprec::Error for an unknown name (listing the valid ones) or options the model cannot take
// (an image too small for its downsampling, seq_len over 512).
ZooModel build_zoo_model(const std::string& name, const ZooOptions& opt = {});

}  // namespace mixprec::zoo
