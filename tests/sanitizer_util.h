// Tells tests whether they run under AddressSanitizer (scripts/sanitize.sh, -DMIXPREC_SANITIZE=ON), so
// that slow cases can scale their work down there instead of being skipped.
#pragma once

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define MIXPREC_UNDER_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define MIXPREC_UNDER_ASAN 1
#endif
#endif
#ifndef MIXPREC_UNDER_ASAN
#define MIXPREC_UNDER_ASAN 0
#endif

namespace mixprec::testing {

inline constexpr bool kUnderSanitizer = MIXPREC_UNDER_ASAN != 0;

// `normal` work items in a plain build, `sanitized` under ASan (at least 1).
inline constexpr int scaled(int normal, int sanitized) { return kUnderSanitizer ? (sanitized > 0 ? sanitized : 1) : normal; }

}  // namespace mixprec::testing
