// Text-level rules for symbol JSON that nlohmann's parser does not enforce, plus the string
// escaping dmlc uses. dmlc's reader knows only the escapes \r \n \\ \t \" (no \u, \/, \b, \f),
// so a file using others would not load in MXNet; we reject it up front, with a line and column.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "mixprec/limits.h"

namespace mixprec::mxnet::detail {

// Deepest array/object nesting accepted (mixprec/limits.h).
inline constexpr size_t kMaxJsonNesting = limits::kMaxJsonNesting;

// "line L column C" (both 1-based) for a byte offset into `text`; offsets past the end clamp.
std::string line_column(std::string_view text, size_t offset);

// Throws mixprec::Error(source, "line L column C", ...) on an escape dmlc does not know or on
// nesting deeper than kMaxJsonNesting. Syntax errors are left to the JSON parser.
void check_dmlc_text(std::string_view text, const std::string& source);

// Appends `s` quoted, escaping only \r \n \\ \t \" as dmlc's writer does. Returns false (leaving
// `out` unspecified) when `s` holds another control character: no escape dmlc reads could carry it.
bool append_quoted(std::string& out, std::string_view s);

}  // namespace mixprec::mxnet::detail
