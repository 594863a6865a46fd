// Operator categories for one conversion: the defaults from MXNet's lists with the user's
// overrides applied, in a form the passes can query per op.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "mixprec/amp.h"

namespace mixprec::amp {

enum class Category { Neutral, Target, Fp32, Widest, Unknown };

class OpCategories {
 public:
  explicit OpCategories(const OpLists& lists);
  // Category of an op (aliases resolved). Ops in no list: Neutral when MXNet knows them
  // (any generation's list), Unknown otherwise.
  Category of(const std::string& op) const;
  // The conditional rules for this op (empty when none).
  const std::vector<ConditionalFp32>& conditions(const std::string& op) const;

 private:
  std::unordered_map<std::string, Category> category_;
  std::unordered_map<std::string, std::vector<ConditionalFp32>> conditional_;
};

// True when some generation's default lists name this op (so it is a real MXNet operator).
bool is_known_op(const std::string& op);
// Every op name some MXNet list knows, sorted (for "did you mean" suggestions).
const std::vector<std::string>& known_ops();

}  // namespace mixprec::amp
