// What a file is, told from its first bytes: so that a model file given in the wrong place is named
// for what it is ("light_resnet50.onnx is an ONNX model") rather than failing deep in a parser.
#pragma once
#include <string>
#include <string_view>

namespace mixprec::formats {

enum class FileKind { Missing, Directory, Empty, SymbolJson, MxnetParams, Onnx, Npy, Npz, Other };

FileKind sniff_file_kind(const std::string& path);
// "an MXNet symbol JSON file", "an ONNX model", "a directory", ...
std::string_view describe(FileKind kind);

// Throws mixprec::Error naming `path` when it is not of kind `want`; `role` says what the path was
// given as ("the symbol file", "--params") and the message says what the file is instead.
void expect_file_kind(const std::string& path, FileKind want, std::string_view role);

}  // namespace mixprec::formats
