// Fuzzes the .params reader. Whatever it accepts must write back to the same bytes (the reserved
// header word aside, which MXNet ignores and writes as 0), split into arg/aux maps or be refused
// with an Error, and convert to float16 where it is a float array. The header-only scanner must
// give the same verdict (the same message when refusing) and the same arrays, minus their data.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "mixprec/mxnet.h"

using namespace mixprec;

namespace {

const std::string kSource = "fuzz.params";

void exercise(const mxnet::ParamsFile& file, const uint8_t* data, size_t size) {
  fuzz::guard("write", [&] {
    std::vector<uint8_t> out;
    try {
      out = mxnet::write_params(file);
    } catch (const Error& e) {
      fuzz::finding(std::string("an accepted file cannot be written back: ") + e.what());
    }
    fuzz::check(out.size() == size, "written size " + std::to_string(out.size()) + " differs from the input's " +
                                         std::to_string(size));
    // Bytes 8..15 are the reserved word.
    fuzz::check(std::memcmp(out.data(), data, 8) == 0 && std::memcmp(out.data() + 16, data + 16, size - 16) == 0,
                "writing back changes the bytes");
  });
  fuzz::guard("split", [&] {
    TensorMap arg, aux;
    try {
      mxnet::split_params(file, arg, aux, kSource);
      const mxnet::ParamsFile again = mxnet::make_checkpoint(arg, aux);
      fuzz::check(again.arrays.size() == file.arrays.size(), "checkpoint lost arrays");
    } catch (const Error& e) {
      fuzz::check_error(e, kSource);
    }
  });
  fuzz::guard("astype", [&] {
    for (const mxnet::NamedArray& a : file.arrays)
      if (is_float(a.tensor.dtype) && a.tensor.data.size() <= (1u << 16)) {
        const Tensor h = a.tensor.astype(DType::Float16);
        fuzz::check(h.shape == a.tensor.shape, "astype changed the shape");
        (void)h.astype(DType::Float32);
        (void)a.tensor.astype(DType::BFloat16);
      }
  });
}

// `refused`: parse_params's error message, "" when it accepted the input as `file`.
void compare_scan(const mxnet::ParamsFile& file, const std::string& refused, const uint8_t* data, size_t size) {
  mxnet::ParamsIndex index;
  std::string scan_refused;
  try {
    fuzz::guard("scan", [&] { index = mxnet::scan_params(data, size, kSource); });
  } catch (const Error& e) {
    scan_refused = e.what();
  }
  fuzz::check(scan_refused == refused, "scan says '" + scan_refused + "', parse says '" + refused + "'");
  if (!refused.empty()) return;
  fuzz::check(index.has_names == file.has_names && index.arrays.size() == file.arrays.size(), "scan found other arrays");
  for (size_t k = 0; k < file.arrays.size(); ++k) {
    const mxnet::ArrayInfo& a = index.arrays[k];
    const mxnet::NamedArray& b = file.arrays[k];
    fuzz::check(a.name == b.name && a.dtype == b.tensor.dtype && a.shape == b.tensor.shape && a.format == b.format &&
                    a.nbytes == b.tensor.data.size(),
                "scan describes array " + std::to_string(k) + " differently");
    fuzz::check(a.data_offset <= size && a.nbytes <= size - a.data_offset &&
                    (a.nbytes == 0 || std::memcmp(data + a.data_offset, b.tensor.data.data(), a.nbytes) == 0),
                "scan's data offset of array " + std::to_string(k) + " is not where the data is");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mxnet::ParamsFile file;
  std::string refused;
  try {
    fuzz::guard("parse", [&] { file = mxnet::parse_params(data, size, kSource); });
  } catch (const Error& e) {
    fuzz::check_error(e, kSource);
    refused = e.what();
  }
  compare_scan(file, refused, data, size);
  if (refused.empty()) exercise(file, data, size);
  return 0;
}
