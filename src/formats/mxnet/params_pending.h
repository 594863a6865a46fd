// A .params file to be written by write_files_atomic, streamed from the tensors (no byte copy).
#pragma once
#include <string>

#include "core/file_io.h"
#include "mixprec/mxnet.h"

namespace mixprec::mxnet {

// `file` must outlive the write.
PendingFile params_file(std::string path, const ParamsFile& file);

}  // namespace mixprec::mxnet
