// A bad command-line value (an unknown dtype, a malformed --shape, a name the model does not have):
// exit code 2, where bad input files and failed conversions give 1.
#pragma once
#include <string>

#include "mixprec/error.h"

namespace mixprec::cli {

class UsageError : public Error {
 public:
  UsageError(std::string option, const std::string& what) : Error("", std::move(option), what) {}
};

// Exit codes, as the README lists them.
constexpr int kExitOk = 0;
constexpr int kExitBadInput = 1;   // unreadable or inconsistent files, failed conversion
constexpr int kExitUsage = 2;      // bad command line
constexpr int kExitGateFailed = 3;  // `compare` limits not met

}  // namespace mixprec::cli
