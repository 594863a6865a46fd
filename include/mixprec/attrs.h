// Tolerant parsing of MXNet attribute strings: "(3, 3)", "(3,3)", "[3,3]", "(16,)", "True",
// "true", "1", "0.001", "None". Each throws mixprec::Error (naming `what`) on malformed text.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mixprec::attrs {

std::vector<int64_t> parse_tuple(std::string_view s, std::string_view what = "attribute");
bool parse_bool(std::string_view s, std::string_view what = "attribute");
int64_t parse_int(std::string_view s, std::string_view what = "attribute");
double parse_float(std::string_view s, std::string_view what = "attribute");
// nullopt for "None" or "".
std::optional<int64_t> parse_optional_int(std::string_view s, std::string_view what = "attribute");
// "(16, 3, 3, 3)" as Python's str() writes a tuple.
std::string format_tuple(const std::vector<int64_t>& v);

}  // namespace mixprec::attrs
