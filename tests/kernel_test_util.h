// Helpers for kernel tests: nodes built in code, element counts, seeded and literal buffers.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/graph.h"
#include "runtime/kernel.h"

namespace mixprec::testing {

inline Node make_node(const std::string& op, AttrMap attrs, uint32_t outputs = 1) {
  Node n;
  n.op = op;
  n.name = "my_" + op;
  n.attrs = std::move(attrs);
  n.num_outputs = outputs;
  return n;
}

inline int64_t count(const runtime::Shape& s) {
  int64_t k = 1;
  for (int64_t d : s) k *= d;
  return k;
}

// Uniform values in [lo, hi) from `seed`.
inline runtime::Buf random_buf(const runtime::Shape& s, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  runtime::Buf b;
  b.shape = s;
  b.v.resize(static_cast<size_t>(count(s)));
  for (float& f : b.v) f = dist(gen);
  return b;
}

inline runtime::Buf make_buf(const runtime::Shape& s, std::vector<float> v) {
  runtime::Buf b;
  b.shape = s;
  b.v = std::move(v);
  return b;
}

}  // namespace mixprec::testing
