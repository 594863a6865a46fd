#include <algorithm>

#include "runtime/kernel.h"

namespace mixprec::runtime {

const KernelDef* KernelRegistry::find(std::string_view op) const {
  auto it = std::find_if(defs_.begin(), defs_.end(), [&](const KernelDef& d) { return d.op == op; });
  return it == defs_.end() ? nullptr : &*it;
}

std::vector<std::string> KernelRegistry::ops() const {
  std::vector<std::string> v;
  for (const auto& d : defs_) v.emplace_back(d.op);
  std::sort(v.begin(), v.end());
  return v;
}

const KernelRegistry& kernels() {
  static const KernelRegistry r = [] {
    KernelRegistry k;
    register_nn_kernels(k);
    register_tensor_kernels(k);
    return k;
  }();
  return r;
}

}  // namespace mixprec::runtime
