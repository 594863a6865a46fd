#include "inspect/param_table.h"

namespace mixprec::inspect {

const ParamFacts* find_param(const ParamTable& table, const std::string& name) {
  for (const std::string& key : {"arg:" + name, "aux:" + name, name})
    if (auto it = table.find(key); it != table.end()) return &it->second;
  return nullptr;
}

}  // namespace mixprec::inspect
