// Parsing of option values shared by the subcommands; every failure is a UsageError naming the option.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/dtype.h"

namespace mixprec::cli {

// float16 (also fp16, half) or bfloat16 (also bf16).
DType parse_target_dtype(const std::string& text, const std::string& option);
// Any dtype by numpy name, plus fp16/half/bf16/fp32/float/fp64/double.
DType parse_dtype(const std::string& text, const std::string& option);
// "a, b ,c" -> {"a", "b", "c"}: items trimmed of spaces, empty items dropped.
std::vector<std::string> split_list(const std::string& text, char sep);
// NAME=VALUE, both non-empty after trimming.
std::pair<std::string, std::string> split_assignment(const std::string& text, const std::string& option,
                                                     const std::string& form);
// Dimensions written 1,3,224,224 or 1x3x224x224 or (1, 3, 224, 224) or [1,3,224,224]; each >= 1.
std::vector<int64_t> parse_dims(const std::string& text, const std::string& option);

}  // namespace mixprec::cli
