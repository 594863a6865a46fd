// Data-driven calibration of zoo models, so that seeded synthetic weights behave like trained ones.
//
// Random BatchNorm running statistics do not normalise the activations they actually meet, so
// activations grow layer after layer (FP32 logits of resnet152_v1 reached ~1e11, inf in float16).
// Calibration runs the model once in FP32, unfused, on seeded inputs (N(0, 1) values; token ids
// uniform over the vocabulary for inputs an Embedding reads) and
//  1. sets every BatchNorm's running mean / variance to the per-channel mean / variance (all axes
//     but BatchNorm's `axis`) of the input it receives in that pass. The engine's BatchNorm, like
//     MXNet's at inference, always normalises with the running statistics (use_global_stats only
//     matters in training), with gamma taken as 1 under fix_gamma; so each output is
//     ~N(0, 1) * gamma + beta. Statistics are set from an observer before the BatchNorm runs, so
//     every later layer already sees normalised values: one pass calibrates the whole chain.
//  2. scales the weight and bias of the classifier's final layer (see final_layer_of) so that the
//     standard deviation of its logits over the calibration batch is kLogitStd.
// Models with neither (the transformers, whose LayerNorms keep outputs at unit scale) are left
// as they are and no pass runs.
//
// The result is a pure function of the model and the seed (the engine's results do not depend on the
// thread count). Every graph input must have the batch as its leading dimension.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mixprec/graph.h"
#include "mixprec/zoo.h"

namespace mixprec::zoo {

// Target standard deviation of calibrated logits. Trained ImageNet classifiers give logits "of order
// 10": with 1000 classes the largest of N(0, 4^2) logits is about 4 * 3.2 = 13.
inline constexpr double kLogitStd = 4.0;

// The calibration batch: at least kMinCalibrationBatch inputs, more when a BatchNorm would otherwise
// see fewer than kMinChannelSamples values per channel (small images: 1x1 maps at the end), at most
// kMaxCalibrationBatch. Every default-size zoo model calibrates with kMinCalibrationBatch.
inline constexpr int64_t kMinCalibrationBatch = 4;
inline constexpr int64_t kMaxCalibrationBatch = 64;
inline constexpr int64_t kMinChannelSamples = 64;

struct CalibrationResult {
  int64_t batch = 0;                      // inputs in the calibration pass; 0: nothing to calibrate, no pass ran
  size_t batchnorms = 0;                  // BatchNorm layers whose running statistics were set
  std::vector<std::string> final_layers;  // nodes whose weight and bias were scaled
  std::vector<double> logit_scales;       // the factor applied to each
};

// Calibrates `m` (built with weights) in place, from inputs drawn from `seed`.
CalibrationResult calibrate(ZooModel& m, uint64_t seed);

// The FullyConnected or Convolution node whose output reaches `head` only through positively
// homogeneous ops (Flatten, Reshape, Pooling, relu Activation, Dropout), so that scaling its weight
// and bias by s > 0 scales that output by s exactly; -1 when there is none (not a classifier).
int64_t final_layer_of(const Graph& g, Entry head);

}  // namespace mixprec::zoo
