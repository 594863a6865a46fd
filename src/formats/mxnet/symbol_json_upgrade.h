// MXNet's upgrade chain for symbol files from older versions (src/nnvm/legacy_json_util.cc;
// ../shared/reference/mxnet_formats.md A.7), applied after reading. Like MXNet it touches only
// the top-level graph, not subgraphs (which only newer files have).
#pragma once
#include <string>

#include "mixprec/graph.h"

namespace mixprec::mxnet::detail {

// The version a file without `mxnet_version` is taken to have (0.8.0).
inline constexpr int kVersionWithoutAttr = 800;

// Runs, in MXNet's order:
// - always: legacy hidden keys (`ctx_group`, `lr_mult`, `wd_mult`, `force_mirroring`,
//   `mirror_stage`) become `__x__`; on an op node, `<argname>_<key>` moves to the variable feeding
//   input `argname` as `__key__` (kept on the node when no such variable input exists);
// - version < 900: aux inputs that 0.8 files omit are synthesised as `<node>_<argname>` variables
//   (carrying the node's attrs, as MXNet does), inserted just before the node, version 1. Only
//   a missing tail made entirely of mutable inputs counts: optional arguments such as a
//   Convolution's bias under no_bias=True depend on attrs our op table does not model;
// - version < 904: variable inputs of BatchNorm (and its variants: moving mean `["zero", {}]`,
//   moving var `["one", {}]`), LeakyReLU (input 1: `["Constant", {"value": 0.25}]`), UpSampling
//   (input 1: `["bilinear", {}]`) and IdentityAttachKLSparseReg (input 1: `["zero", {}]`) get that
//   `__init__` unless they have one, as MXNet's input-variable hooks set it;
// - version < 905: argmax/argmin lose `axis` when it is "-1".
// Throws mixprec::Error when a synthesised name collides with an existing variable.
void upgrade_symbol_graph(Graph& g, int version, const std::string& source);

}  // namespace mixprec::mxnet::detail
