// numpy `.npy` arrays and `.npz` archives, as numpy and MXNet 2.x (`mx.npx.save`/`savez`) write
// them. Spec: ../shared/reference/mxnet_formats.md §B.7.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/tensor.h"

namespace mixprec::numpy {

// ---- .npy --------------------------------------------------------------------------------------
// Reads versions 1.0, 2.0 and 3.0. descr: <f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 and
// MXNet's <b2 (bfloat16); any byte order mark (big-endian data is byte-swapped), Fortran-order
// data is transposed to C order. Throws mixprec::Error naming `source` and the byte offset.
Tensor parse_npy(const uint8_t* data, size_t size, const std::string& source = "<memory>");
Tensor read_npy(const std::string& path);
// The bytes numpy 2.x's np.save writes for the same array: version 1.0 (2.0 when the header
// needs it), C order, header padded so that the data starts at a multiple of 64.
// bfloat16 is written as <b2, which only MXNet reads.
std::vector<uint8_t> write_npy(const Tensor& tensor);
// Writes to a temporary file beside `path`, then renames it over `path`.
void save_npy(const Tensor& tensor, const std::string& path);

// ---- .npz --------------------------------------------------------------------------------------
// Members in archive order, named without their ".npy" suffix. Reads stored and deflated members
// (np.savez and np.savez_compressed), ZIP64 records included; checks every CRC-32.
std::vector<std::pair<std::string, Tensor>> parse_npz(const uint8_t* data, size_t size,
                                                      const std::string& source = "<memory>");
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);
// An uncompressed archive like np.savez: one stored "<name>.npy" member per array, in the given
// order; ZIP64 records only where sizes or offsets need them. Names must be unique.
std::vector<uint8_t> write_npz(const std::vector<std::pair<std::string, Tensor>>& arrays);
// Streams the archive to a temporary file beside `path`, then renames it over `path`.
void save_npz(const std::vector<std::pair<std::string, Tensor>>& arrays, const std::string& path);

}  // namespace mixprec::numpy
