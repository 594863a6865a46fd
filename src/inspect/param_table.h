// The params a graph's variables are matched against: every named array of the params files
// given to `inspect`, by stored name, with only what its header says (no data).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mixprec/dtype.h"

namespace mixprec::inspect {

struct ParamFacts {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
};

// Stored name ("arg:w", "aux:m" or a bare name) -> facts.
using ParamTable = std::map<std::string, ParamFacts>;

// The entry of variable `name`: "arg:NAME", then "aux:NAME", then "NAME"; null when none.
const ParamFacts* find_param(const ParamTable& table, const std::string& name);

}  // namespace mixprec::inspect
