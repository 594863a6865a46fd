// Pieces shared by the .npy and .npz code (and reached by the tests).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/file_io.h"
#include "mixprec/tensor.h"

namespace mixprec::numpy::detail {

// The .npy preamble and header numpy writes for `t` (data follows directly). Checks that the
// tensor is consistent; errors name `source` and `place`.
std::string npy_header(const Tensor& t, const std::string& source, const std::string& place);

// parse_npy with every error place prefixed by `where` (e.g. "member 'w.npy'"), byte offsets
// counted from `data`.
Tensor parse_npy_in(const uint8_t* data, size_t size, const std::string& source, const std::string& where);

// Streams an npz archive into `sink`. `force_zip64` writes ZIP64 extra fields and end records
// even where the sizes fit in 32 bits (as np.savez does for local headers); the tests use it.
void write_npz_to(const std::vector<std::pair<std::string, Tensor>>& arrays, const ByteSink& sink,
                  bool force_zip64 = false);

}  // namespace mixprec::numpy::detail
