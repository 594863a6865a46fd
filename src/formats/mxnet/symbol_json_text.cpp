#include "formats/mxnet/symbol_json_text.h"

#include "mixprec/error.h"

namespace mixprec::mxnet::detail {

std::string line_column(std::string_view text, size_t offset) {
  if (offset > text.size()) offset = text.size();
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return "line " + std::to_string(line) + " column " + std::to_string(offset - line_start + 1);
}

void check_dmlc_text(std::string_view text, const std::string& source) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\' && i + 1 < text.size()) {
        const char e = text[++i];
        if (e != 'r' && e != 'n' && e != '\\' && e != 't' && e != '"')
          throw Error(source, line_column(text, i - 1),
                      std::string("string escape \\") + e + " is not one MXNet reads (only \\r \\n \\\\ \\t \\\")");
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonNesting)
        throw Error(source, line_column(text, i),
                    "JSON nested deeper than " + std::to_string(kMaxJsonNesting) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

bool append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '"': out += "\\\""; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) return false;
        out += c;
    }
  }
  out += '"';
  return true;
}

}  // namespace mixprec::mxnet::detail
