// Fuzzes the .npy and .npz readers: every input goes to both (each refuses the other's magic
// quickly). What they accept must write back and read again to the same tensors.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.h"
#include "mixprec/numpy.h"

using namespace mixprec;

namespace {

const std::string kNpy = "fuzz.npy";
const std::string kNpz = "fuzz.npz";

void npy(const uint8_t* data, size_t size) {
  Tensor t;
  try {
    fuzz::guard("parse npy", [&] { t = numpy::parse_npy(data, size, kNpy); });
  } catch (const Error& e) {
    fuzz::check_error(e, kNpy);
    return;
  }
  fuzz::guard("npy round trip", [&] {
    try {
      const std::vector<uint8_t> out = numpy::write_npy(t);
      fuzz::check(numpy::parse_npy(out.data(), out.size(), "rewritten.npy") == t, "npy round trip changed the tensor");
    } catch (const Error& e) {
      fuzz::finding(std::string("an accepted .npy does not write and read back: ") + e.what());
    }
  });
}

void npz(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string, Tensor>> arrays;
  try {
    fuzz::guard("parse npz", [&] { arrays = numpy::parse_npz(data, size, kNpz); });
  } catch (const Error& e) {
    fuzz::check_error(e, kNpz);
    return;
  }
  fuzz::guard("npz round trip", [&] {
    std::vector<uint8_t> out;
    try {
      out = numpy::write_npz(arrays);
    } catch (const Error&) {
      // Names the writer refuses (empty, or longer than a zip name with ".npy") are fine to
      // have read; the rest must round-trip.
      return;
    }
    try {
      fuzz::check(numpy::parse_npz(out.data(), out.size(), "rewritten.npz") == arrays,
                  "npz round trip changed the arrays");
    } catch (const Error& e) {
      fuzz::finding(std::string("a written .npz does not read back: ") + e.what());
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  npy(data, size);
  npz(data, size);
  return 0;
}
