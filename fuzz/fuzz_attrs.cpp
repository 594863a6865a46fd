// Fuzzes the attribute-string parsers with the whole input as the text. A parsed tuple must come
// back unchanged through format_tuple; every parser may refuse only with mixprec::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "mixprec/attrs.h"

using namespace mixprec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  auto run = [&](const char* stage, auto&& body) {
    try {
      fuzz::guard(stage, body);
    } catch (const Error& e) {
      fuzz::check(e.place() == "fuzz attr", std::string("error does not name the attribute: ") + e.what());
    }
  };
  run("parse_tuple", [&] {
    const std::vector<int64_t> v = attrs::parse_tuple(s, "fuzz attr");
    const std::string text = attrs::format_tuple(v);
    fuzz::check(attrs::parse_tuple(text, "fuzz attr") == v, "format_tuple does not read back: " + text);
  });
  run("parse_bool", [&] { (void)attrs::parse_bool(s, "fuzz attr"); });
  run("parse_int", [&] {
    const int64_t v = attrs::parse_int(s, "fuzz attr");
    fuzz::check(attrs::parse_int(std::to_string(v), "fuzz attr") == v, "an integer does not read back");
  });
  run("parse_float", [&] { (void)attrs::parse_float(s, "fuzz attr"); });
  run("parse_optional_int", [&] { (void)attrs::parse_optional_int(s, "fuzz attr"); });
  return 0;
}
