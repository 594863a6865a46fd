// Test-only helper for the formats oracle (tests/oracle/test_formats.py): drives our .params writer
// with every dtype, array format and name mode, which the CLI never asks of it (it writes V2 named
// checkpoints only).
//
//   mixprec_params_tool pattern OUT [--format legacy|v1|v2|v3] [--nameless] [--codes C,C,...]
//       One array per dtype code (default 0..12), shape (2, 5), named "arg:<dtype>"; byte k of the
//       array of code c is (131 k + 7 c + 1) mod 256 (bool: 1 when k % 3 == 0, else 0). V3 adds a
//       0-d float32 "arg:scalar" holding 2.5.
//   mixprec_params_tool rewrite IN OUT [--format legacy|v1|v2|v3] [--nameless]
//       Reads IN with our reader and writes it with our writer, every array in the given format
//       (default: each array's own), names kept unless --nameless.
// Exit 0 on success; 1 with the error on stderr.
#include <algorithm>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mx = mixprec::mxnet;

namespace {

std::optional<mx::ArrayFormat> parse_format(const std::string& s) {
  if (s == "legacy") return mx::ArrayFormat::Legacy;
  if (s == "v1") return mx::ArrayFormat::V1;
  if (s == "v2") return mx::ArrayFormat::V2;
  if (s == "v3") return mx::ArrayFormat::V3;
  return std::nullopt;
}

mx::ParamsFile pattern(mx::ArrayFormat format, const std::vector<int32_t>& codes) {
  mx::ParamsFile f;
  for (int32_t code : codes) {
    const mixprec::DType dt = *mixprec::dtype_from_code(code);
    mixprec::Tensor t;
    t.dtype = dt;
    t.shape = {2, 5};
    t.data.resize(10 * mixprec::dtype_size(dt));
    for (size_t k = 0; k < t.data.size(); ++k)
      t.data[k] = dt == mixprec::DType::Bool ? (k % 3 == 0 ? 1 : 0) : static_cast<uint8_t>((131 * k + 7 * static_cast<size_t>(code) + 1) & 0xFF);
    f.arrays.push_back({"arg:" + std::string(mixprec::dtype_name(dt)), std::move(t), format, 1, 0});
  }
  if (format == mx::ArrayFormat::V3) {
    mixprec::Tensor s = mixprec::Tensor::from_floats({}, {2.5f});
    f.arrays.push_back({"arg:scalar", std::move(s), format, 1, 0});
  }
  return f;
}

int usage() {
  std::cerr << "usage: mixprec_params_tool pattern OUT [--format legacy|v1|v2|v3] [--nameless] [--codes C,C,...]\n"
               "       mixprec_params_tool rewrite IN OUT [--format legacy|v1|v2|v3] [--nameless]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::optional<mx::ArrayFormat> format;
  bool nameless = false;
  std::vector<int32_t> codes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nameless") {
      nameless = true;
    } else if (args[i] == "--format" && i + 1 < args.size()) {
      format = parse_format(args[++i]);
      if (!format) return usage();
    } else if (args[i] == "--codes" && i + 1 < args.size()) {
      codes.clear();
      const std::string list = args[++i];
      for (size_t at = 0; at < list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const int32_t code = std::stoi(list.substr(at, comma - at));
        if (!mixprec::dtype_from_code(code)) return usage();
        codes.push_back(code);
        at = comma + 1;
      }
    } else {
      positional.push_back(args[i]);
    }
  }
  try {
    mx::ParamsFile f;
    std::string out;
    if (positional.size() == 2 && positional[0] == "pattern") {
      f = pattern(format.value_or(mx::ArrayFormat::V2), codes);
      out = positional[1];
    } else if (positional.size() == 3 && positional[0] == "rewrite") {
      f = mx::read_params(positional[1]);
      if (format)
        for (auto& a : f.arrays) a.format = *format;
      out = positional[2];
    } else {
      return usage();
    }
    if (nameless) f.has_names = false;
    mx::save_params(f, out);
  } catch (const std::exception& e) {  // mixprec::Error, or a bad number in --codes
    std::cerr << "mixprec_params_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
