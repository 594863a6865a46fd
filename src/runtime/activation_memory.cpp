#include "runtime/activation_memory.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iterator>

namespace mixprec::runtime {

std::optional<int64_t> checked_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  return n;
}

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

std::string format_bytes(uint64_t bytes) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) v /= 1024.0, ++u;
  char text[32];
  std::snprintf(text, sizeof text, v < 10.0 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return text;
}

ActivationPeak activation_peak(const Graph& g, const std::vector<uint32_t>& offset, const std::vector<uint64_t>& bytes) {
  std::vector<uint32_t> left(bytes.size(), 0);
  for (const Node& n : g.nodes)
    for (const Entry& e : n.inputs) ++left[offset[e.node] + e.index];
  for (const Entry& h : g.heads) ++left[offset[h.node] + h.index];
  ActivationPeak peak;
  uint64_t live = 0;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    for (uint32_t o = 0; o < n.num_outputs; ++o)
      if (__builtin_add_overflow(live, bytes[offset[i] + o], &live)) return {UINT64_MAX, i};  // more than any memory
    if (live > peak.bytes) peak = {live, i};
    if (n.is_variable()) continue;  // inputs stay for the whole run
    for (const Entry& e : n.inputs) {
      const uint32_t s = offset[e.node] + e.index;
      if (--left[s] == 0 && !g.nodes[e.node].is_variable()) live -= bytes[s];
    }
    for (uint32_t o = 0; o < n.num_outputs; ++o)
      if (left[offset[i] + o] == 0) live -= bytes[offset[i] + o];  // hidden outputs nobody reads
  }
  return peak;
}

}  // namespace mixprec::runtime
