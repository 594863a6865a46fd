// Fuzzes the .params reader. Whatever it accepts must write back to the same bytes (the reserved
// header word aside, which MXNet ignores and writes as 0), split into arg/aux maps or be refused
// with an Error, and convert to float16 where it is a float array.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mxnet::ParamsFile file;
  try {
    fuzz::guard("parse", [&] { file = mxnet::parse_params(data, size, kSource); });
  } catch (const Error& e) {
    fuzz::check_error(e, kSource);
    return 0;
  }
  exercise(file, data, size);
  return 0;
}
