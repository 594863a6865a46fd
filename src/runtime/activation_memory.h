// Activation sizes a session checks while it plans, before anything is allocated
// (mixprec/limits.h): element counts that fit in int64_t, one activation at most
// limits::kMaxActivationBytes, and the activations live at once within physical memory.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mixprec/graph.h"
#include "runtime/kernel.h"

namespace mixprec::runtime {

// Elements of a tensor of shape `s`, or nullopt when the product does not fit in int64_t.
std::optional<int64_t> checked_numel(const Shape& s);

// Bytes an activation of `numel` elements takes (float32 values).
inline uint64_t activation_bytes(int64_t numel) { return static_cast<uint64_t>(numel) * sizeof(float); }

// The machine's physical memory in bytes (sysconf), or 0 when it cannot be told.
uint64_t physical_memory_bytes();

// "1.5 GiB", "300 MiB", "12 KiB", "5 bytes".
std::string format_bytes(uint64_t bytes);

// The most activation bytes alive at once when the nodes run in order, as Session::run frees them:
// data inputs throughout, each node's outputs from its run until their last reader has run (graph
// outputs to the end). `offset[n]` is node n's first output slot and `bytes[slot]` each slot's size,
// 0 for parameters and for what is computed from them at load.
struct ActivationPeak {
  uint64_t bytes = 0;
  uint32_t node = 0;  // the node whose outputs brought the peak (a variable when inputs alone are the most)
};
ActivationPeak activation_peak(const Graph& g, const std::vector<uint32_t>& offset, const std::vector<uint64_t>& bytes);

}  // namespace mixprec::runtime
