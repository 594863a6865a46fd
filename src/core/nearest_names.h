// "Did you mean ...?": the known names closest to a misspelt one, for error messages.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mixprec {

// Up to `max` of `known` within a small edit distance of `word` (case-insensitive; a third of the
// word's length, at least 2), closest first. Empty when nothing is close.
std::vector<std::string> nearest_names(std::string_view word, const std::vector<std::string>& known, size_t max = 3);

// " (did you mean 'a' or 'b'?)", or "" when there is nothing to suggest.
std::string did_you_mean(const std::vector<std::string>& suggestions);

}  // namespace mixprec
