// `mixprec inspect` for people: the short default report, the --params and --nodes lists, the JSON
// keys, and the header-only .params scanner behind it (same facts and same refusals as the full
// reader, and memory a small fraction of the file).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_util.h"
#include "core/file_io.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace fs = std::filesystem;
namespace mx = mixprec::mxnet;

namespace {

using mixprec::testing::CliRun;
using mixprec::testing::kR20;

const std::string kModels = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet";

class InspectCli : public mixprec::testing::CliFixture {
 protected:
  // `inspect ARGS`, which must succeed.
  std::string inspect(const std::string& args) {
    const CliRun r = run("inspect " + args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The rows of a text section: the indented lines after the line starting with `header`.
std::vector<std::vector<std::string>> section_rows(const std::string& text, const std::string& header) {
  std::vector<std::vector<std::string>> rows;
  bool in = false;
  for (const std::string& l : lines_of(text)) {
    if (l.starts_with(header)) {
      in = true;
      continue;
    }
    if (!in) continue;
    if (!l.starts_with("  ")) break;
    rows.push_back(words_of(l));
  }
  return rows;
}

#define EXPECT_HAS(text, needle) EXPECT_NE((text).find(needle), std::string::npos) << "missing:\n" << (needle) << "\nin:\n" << (text)

}  // namespace

// ---- the default report ------------------------------------------------------------------------

TEST_F(InspectCli, DefaultReportIsShortAndSaysWhatTheModelTakesAndGives) {
  const std::string out = inspect(kR20 + "-symbol.json " + kR20 + "-0000.params");
  EXPECT_HAS(out, "file: " + kR20 + "-symbol.json\nfile: " + kR20 + "-0000.params\n");
  EXPECT_HAS(out, "nodes: 179 (108 variables, 71 ops)\n");
  EXPECT_HAS(out, "inputs (variables without a params entry):\n  data  shape unknown\n");
  EXPECT_HAS(out, "outputs:\n  cifarresnetv10_dense0_fwd[0]  float32  shape unknown\n"
                  "  output shapes unknown: input 'data' has no __shape__; pass --shape data=d0,d1,...\n");
  // Most frequent op first.
  EXPECT_HAS(out, "ops:\n  BatchNorm: 21\n  Convolution: 21\n  Activation: 18\n  elemwise_add: 9\n  FullyConnected: 1\n"
                  "  Pooling: 1\ncasts: none\n");
  EXPECT_HAS(out, "params: 107 arrays, 1096168 bytes (1.1 MB)\n  float32   107 arrays, 1096168 bytes (1.1 MB)\n");
  // Summarised, not listed.
  EXPECT_EQ(out.find("arg:"), std::string::npos) << out;
  EXPECT_LE(lines_of(out).size(), 20u) << out;
}

TEST_F(InspectCli, InputShapeGivesOutputShapes) {
  const std::string out = inspect(kR20 + "-symbol.json " + kR20 + "-0000.params --shape data=2,3,32,32");
  EXPECT_HAS(out, "  data  (2, 3, 32, 32)\n");
  EXPECT_HAS(out, "  cifarresnetv10_dense0_fwd[0]  float32  (2, 10)\n");
  EXPECT_EQ(out.find("shapes unknown"), std::string::npos) << out;
  // Without the params file the parameters' __shape__ attributes serve.
  const std::string alone = inspect(kR20 + "-symbol.json --shape data=1,3,32,32");
  EXPECT_HAS(alone, "  cifarresnetv10_dense0_fwd[0]  float32  (1, 10)\n");
  // Files may follow --shape: it takes one value each time.
  const std::string first = inspect("--shape data=2,3,32,32 " + kR20 + "-symbol.json " + kR20 + "-0000.params");
  EXPECT_EQ(first, out);
}

TEST_F(InspectCli, BadInputShapesAreRefused) {
  // Bad command-line values: exit code 2.
  CliRun r = run("inspect " + kR20 + "-symbol.json --shape nosuch=1,2");
  EXPECT_EQ(r.code, 2);
  EXPECT_HAS(r.err, "'nosuch' is not a data input");
  r = run("inspect " + kR20 + "-symbol.json --shape data=1,0,32,32");
  EXPECT_EQ(r.code, 2);
  EXPECT_HAS(r.err, "--shape data");
  // A shape that does not fit the graph is reported, not fatal.
  const std::string out = inspect(kR20 + "-symbol.json " + kR20 + "-0000.params --shape data=1,5,32,32");
  EXPECT_HAS(out, "  cifarresnetv10_dense0_fwd[0]  float32  shape unknown\n  output shapes unknown: node 'cifarresnetv10_conv0_fwd'");
}

TEST_F(InspectCli, SymbolAloneTellsInputsFromParamsByTheGraph) {
  // Pre-0.9 JSON without any attributes on its variables: the reads decide. The label is an input.
  const std::string det3 = kModels + "/insightface_mtcnn/det3";
  const std::string out = inspect(det3 + "-symbol.json");
  EXPECT_HAS(out, "inputs (guessed from the graph: no named params file given):\n  data         shape unknown\n"
                  "  prob1_label  label (not read at inference)\noutputs:\n");
  EXPECT_EQ(out.find("params:"), std::string::npos) << out;
  // The params file agrees.
  const auto j = nlohmann::json::parse(inspect("--json " + det3 + "-symbol.json " + det3 + "-0001.params --shape data=1,3,48,48"));
  EXPECT_EQ(j.at("inputs_from"), "params");
  ASSERT_EQ(j.at("inputs").size(), 2u);
  EXPECT_EQ(j.at("inputs")[0].at("name"), "data");
  EXPECT_EQ(j.at("inputs")[1].at("name"), "prob1_label");
  EXPECT_EQ(j.at("inputs")[1].at("label"), true);
  ASSERT_EQ(j.at("outputs").size(), 3u);
  EXPECT_EQ(j.at("outputs")[2].at("node"), "prob1");
  EXPECT_EQ(j.at("outputs")[2].at("shape"), nlohmann::json({1, 2}));
  EXPECT_EQ(j.at("outputs")[0].at("shape"), nlohmann::json({1, 10}));
}

TEST_F(InspectCli, SeveralModelsEachMatchTheirOwnParams) {
  // det1 and det2 name their weights alike (conv1_weight, ...) with other shapes: mixed, det1's
  // shapes would be checked against det2's weights and fail.
  const std::string m = kModels + "/insightface_mtcnn/";
  const auto j = nlohmann::json::parse(inspect("--json " + m + "det1-symbol.json " + m + "det2-symbol.json " + m +
                                               "det1-0001.params " + m + "det2-0001.params --shape data=1,3,24,24"));
  EXPECT_FALSE(j.contains("output_shapes_unknown")) << j.dump(1);
  ASSERT_EQ(j.at("outputs").size(), 4u);
  EXPECT_EQ(j.at("outputs")[0].at("file"), m + "det1-symbol.json");
  EXPECT_EQ(j.at("outputs")[0].at("shape"), nlohmann::json({1, 4, 7, 7}));
  EXPECT_EQ(j.at("outputs")[1].at("shape"), nlohmann::json({1, 2, 7, 7}));
  EXPECT_EQ(j.at("outputs")[2].at("file"), m + "det2-symbol.json");
  EXPECT_EQ(j.at("outputs")[2].at("shape"), nlohmann::json({1, 4}));
  EXPECT_EQ(j.at("param_count"), 29);
}

// ---- --params ----------------------------------------------------------------------------------

TEST_F(InspectCli, ParamsListsEveryParamWithDtypeShapeAndBytes) {
  const std::string out = inspect(kR20 + "-0000.params --params");
  const auto rows = section_rows(out, "param list");
  ASSERT_EQ(rows.size(), 107u) << out;
  bool seen = false;
  for (const auto& row : rows) {
    ASSERT_GE(row.size(), 4u);
    if (row[0] != "arg:cifarresnetv10_conv0_weight") continue;
    seen = true;
    EXPECT_EQ(row[1], "float32");
    EXPECT_EQ(row[2] + row[3] + row[4] + row[5], "(16,3,3,3)");
    EXPECT_EQ(row.back(), "1728");
  }
  EXPECT_TRUE(seen) << out;
}

TEST_F(InspectCli, NamelessListShowsIndicesNotOneEmptyName) {
  const std::string v0 = kModels + "/apache_mxnet_test_fixtures/legacy_ndarray.v0";
  const std::string out = inspect(v0 + " --params");
  const auto rows = section_rows(out, "param list");
  ASSERT_EQ(rows.size(), 6u) << out;
  for (size_t k = 0; k < rows.size(); ++k)
    EXPECT_EQ(rows[k], (std::vector<std::string>{std::string("#").append(std::to_string(k)), "float32", "(128,)", "512"})) << out;
  const auto j = nlohmann::json::parse(inspect("--json " + v0));
  EXPECT_EQ(j.at("params").size(), 6u);
  EXPECT_EQ(j.at("params").at("#5"), "float32");
  EXPECT_EQ(j.at("params").count(""), 0u);
  EXPECT_EQ(j.at("param_list").size(), 6u);
}

TEST_F(InspectCli, ChecksumsAreTheCrc32OfEachArraysStoredBytes) {
  // The check value of CRC-32 (zlib's, ISO-HDLC) is that of the nine bytes "123456789":
  // 0xcbf43926. Each array sits at another offset, in another format, so a checksum taken at the
  // wrong place or over the wrong length shows.
  const std::string digits = "123456789";
  mx::ParamsFile f;
  for (auto format : {mx::ArrayFormat::Legacy, mx::ArrayFormat::V2, mx::ArrayFormat::V3}) {
    mixprec::Tensor t;
    t.dtype = mixprec::DType::UInt8;
    t.shape = {9};
    t.data.assign(digits.begin(), digits.end());
    f.arrays.push_back({"arg:d" + std::to_string(f.arrays.size()), std::move(t), format});
  }
  mixprec::Tensor empty;  // no bytes: CRC-32 0
  empty.dtype = mixprec::DType::Float16;
  empty.shape = {2, 0};
  f.arrays.push_back({"arg:empty", std::move(empty), mx::ArrayFormat::V2});
  mx::save_params(f, p("c-0000.params"));

  const auto j = nlohmann::json::parse(inspect("--json --checksums " + p("c-0000.params")));
  ASSERT_EQ(j.at("param_list").size(), 4u);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(j.at("param_list").at(k).at("crc32"), 0xcbf43926u) << k;
  EXPECT_EQ(j.at("param_list").at(3).at("crc32"), 0u);
  // Without --checksums there is none, and the data is not read.
  EXPECT_EQ(nlohmann::json::parse(inspect("--json --params " + p("c-0000.params"))).at("param_list").at(0).count("crc32"), 0u);
  // Text: the list (implied), with the checksum in hex as the last column.
  const std::string out = inspect("--checksums " + p("c-0000.params"));
  EXPECT_HAS(out, "param list (stored name, dtype, shape, bytes, CRC-32):");
  const auto rows = section_rows(out, "param list");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].back(), "cbf43926");
  EXPECT_EQ(rows[3].back(), "00000000");
}

// ---- --nodes -----------------------------------------------------------------------------------

TEST_F(InspectCli, NodesShowDtypesAfterAFloat16Conversion) {
  // One convolution excluded, so that both dtypes appear among the convolutions.
  const CliRun c = run("convert --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --out-prefix " + p("h") +
                       " --excluded-sym-names cifarresnetv10_stage3_conv5_fwd");
  ASSERT_EQ(c.code, 0) << c.err;
  const std::string out = inspect(p("h-symbol.json") + " " + p("h-0000.params") + " --nodes --shape data=1,3,32,32");
  const auto rows = section_rows(out, "op nodes");
  std::map<std::string, std::vector<std::string>> by_name;
  std::vector<std::string> order;
  for (const auto& r : rows) {
    ASSERT_GE(r.size(), 3u);
    by_name[r[0]] = r;
    order.push_back(r[0]);
  }
  auto dtype_of = [&](const std::string& name) -> std::string { return by_name.count(name) ? by_name[name][2] : "absent"; };
  auto op_of = [&](const std::string& name) -> std::string { return by_name.count(name) ? by_name[name][1] : "absent"; };
  EXPECT_EQ(op_of("cifarresnetv10_conv0_fwd"), "Convolution");
  EXPECT_EQ(dtype_of("cifarresnetv10_conv0_fwd"), "float16");
  EXPECT_EQ(dtype_of("cifarresnetv10_stage3_conv4_fwd"), "float16");
  EXPECT_EQ(dtype_of("cifarresnetv10_stage3_conv5_fwd"), "float32");  // excluded
  EXPECT_EQ(dtype_of("cifarresnetv10_dense0_fwd"), "float16");
  EXPECT_EQ(op_of("cifarresnetv10_dense0_fwd_0_amp_cast_float32"), "amp_cast");
  EXPECT_EQ(dtype_of("cifarresnetv10_dense0_fwd_0_amp_cast_float32"), "float32");
  EXPECT_EQ(dtype_of("data_0_amp_cast_float16"), "float16");
  // Graph order: the symbol file's op nodes, in its order.
  const mixprec::Graph g = mx::read_symbol_json(p("h-symbol.json"));
  std::vector<std::string> expected;
  for (const auto& n : g.nodes)
    if (!n.is_variable()) expected.push_back(n.name);
  EXPECT_EQ(order, expected);
  // Shapes follow the input shape given.
  EXPECT_EQ(by_name["cifarresnetv10_dense0_fwd"].back(), "10)");

  // The JSON says the same; the unconverted model is float32 throughout.
  const auto j = nlohmann::json::parse(inspect("--json --nodes " + p("h-symbol.json") + " " + p("h-0000.params")));
  ASSERT_EQ(j.at("node_list").size(), rows.size());
  for (const auto& n : j.at("node_list")) EXPECT_EQ(n.at("dtype").get<std::string>(), dtype_of(n.at("name")));
  const auto fp32 = nlohmann::json::parse(inspect("--json --nodes " + kR20 + "-symbol.json " + kR20 + "-0000.params"));
  for (const auto& n : fp32.at("node_list")) EXPECT_EQ(n.at("dtype"), "float32") << n.at("name");
}

TEST_F(InspectCli, NodesUseTheStoredDtypeOfOfflineCastParams) {
  const CliRun c = run("convert --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --out-prefix " + p("o") +
                       " --cast-params-offline");
  ASSERT_EQ(c.code, 0) << c.err;
  const std::string out = inspect(p("o-symbol.json") + " " + p("o-0000.params") + " --nodes");
  const auto rows = section_rows(out, "op nodes");
  std::map<std::string, std::string> dtype;
  for (const auto& r : rows) dtype[r[0]] = r.size() > 2 ? r[2] : "";
  EXPECT_EQ(dtype["cifarresnetv10_conv0_fwd"], "float16");
  EXPECT_EQ(dtype["cifarresnetv10_dense0_fwd"], "float16");
  // No runtime weight casts: the params are stored as float16.
  EXPECT_EQ(dtype.count("cifarresnetv10_conv0_weight_0_amp_cast_float16"), 0u);
  EXPECT_HAS(out, "  float16   23 arrays");
}

// ---- --json ------------------------------------------------------------------------------------

TEST_F(InspectCli, JsonKeepsEveryKeyAndAddsInputsOutputsShapesAndNodes) {
  const auto j = nlohmann::json::parse(inspect("--json --nodes " + kR20 + "-symbol.json " + kR20 + "-0000.params"));
  for (const char* key : {"nodes", "variables", "ops", "casts", "multicasts", "params", "param_count", "param_bytes",
                          "param_bytes_by_dtype", "files", "inputs", "outputs", "param_shapes", "param_list", "node_list",
                          "inputs_from", "param_count_by_dtype", "output_shapes_unknown"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("nodes"), 179);
  EXPECT_EQ(j.at("variables"), 108);
  EXPECT_EQ(j.at("param_count"), 107);
  EXPECT_EQ(j.at("param_bytes"), 1096168);
  EXPECT_EQ(j.at("param_bytes_by_dtype").at("float32"), 1096168);
  EXPECT_EQ(j.at("params").at("arg:cifarresnetv10_conv0_weight"), "float32");
  EXPECT_EQ(j.at("param_shapes").at("arg:cifarresnetv10_conv0_weight"), nlohmann::json({16, 3, 3, 3}));
  EXPECT_EQ(j.at("param_shapes").at("aux:cifarresnetv10_batchnorm0_running_mean"), nlohmann::json({16}));
  EXPECT_EQ(j.at("param_list").size(), 107u);
  EXPECT_EQ(j.at("inputs"), nlohmann::json::parse(R"([{"name": "data", "shape": null, "label": false, "file": ")" + kR20 +
                                                  R"(-symbol.json"}])"));
  ASSERT_EQ(j.at("outputs").size(), 1u);
  EXPECT_EQ(j.at("outputs")[0].at("node"), "cifarresnetv10_dense0_fwd");
  EXPECT_EQ(j.at("outputs")[0].at("index"), 0);
  EXPECT_EQ(j.at("outputs")[0].at("dtype"), "float32");
  EXPECT_TRUE(j.at("outputs")[0].at("shape").is_null());
  EXPECT_EQ(j.at("node_list").size(), 71u);
  // Without --nodes there is no node list.
  EXPECT_FALSE(nlohmann::json::parse(inspect("--json " + kR20 + "-symbol.json")).contains("node_list"));
}

// ---- the header-only scanner -------------------------------------------------------------------

namespace {

// Every file under the shared MXNet models that starts with the .params list magic.
std::vector<std::string> shared_params_files() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(kModels)) {
    if (!e.is_regular_file()) continue;
    const std::vector<uint8_t> head = [&] {
      std::ifstream f(e.path(), std::ios::binary);
      std::vector<uint8_t> b(8);
      f.read(reinterpret_cast<char*>(b.data()), 8);
      b.resize(static_cast<size_t>(f.gcount()));
      return b;
    }();
    const uint8_t magic[8] = {0x12, 0x01, 0, 0, 0, 0, 0, 0};
    if (head.size() == 8 && std::memcmp(head.data(), magic, 8) == 0) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void expect_same_facts(const mx::ParamsIndex& index, const mx::ParamsFile& full, const std::vector<uint8_t>& bytes) {
  EXPECT_EQ(index.has_names, full.has_names);
  ASSERT_EQ(index.arrays.size(), full.arrays.size());
  for (size_t k = 0; k < full.arrays.size(); ++k) {
    const mx::ArrayInfo& a = index.arrays[k];
    const mx::NamedArray& b = full.arrays[k];
    SCOPED_TRACE("array " + std::to_string(k) + " " + b.name);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dtype, b.tensor.dtype);
    EXPECT_EQ(a.shape, b.tensor.shape);
    EXPECT_EQ(a.format, b.format);
    EXPECT_EQ(a.dev_type, b.dev_type);
    EXPECT_EQ(a.dev_id, b.dev_id);
    ASSERT_EQ(a.nbytes, b.tensor.data.size());
    ASSERT_LE(a.data_offset + a.nbytes, bytes.size());
    // The offset points at the very bytes the full reader copied.
    EXPECT_TRUE(std::equal(b.tensor.data.begin(), b.tensor.data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(a.data_offset)));
  }
}

// What a reader made of some bytes: the error text, or "" when it accepted them.
template <typename Read>
std::string outcome(Read read) {
  try {
    read();
    return "";
  } catch (const mixprec::Error& e) {
    return e.what();
  }
}

// Both readers accept `bytes` with the same facts, or both refuse them with the same message.
void expect_same_verdict(const std::vector<uint8_t>& bytes, const std::string& what) {
  SCOPED_TRACE(what);
  mx::ParamsFile full;
  mx::ParamsIndex index;
  const std::string full_error = outcome([&] { full = mx::parse_params(bytes.data(), bytes.size(), "x.params"); });
  const std::string scan_error = outcome([&] { index = mx::scan_params(bytes.data(), bytes.size(), "x.params"); });
  EXPECT_EQ(scan_error, full_error);
  if (full_error.empty() && scan_error.empty()) expect_same_facts(index, full, bytes);
}

}  // namespace

TEST(ParamsScan, SameFactsAsTheFullReaderOnEverySharedFile) {
  const std::vector<std::string> files = shared_params_files();
  EXPECT_GE(files.size(), 7u);  // both CIFAR ResNets, four MTCNN nets, the nameless fixture
  bool nameless = false, legacy = false, v2 = false;
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const mx::ParamsIndex index = mx::scan_params_file(path);
    expect_same_facts(index, mx::read_params(path), mixprec::read_file(path));
    nameless = nameless || !index.has_names;
    for (const auto& a : index.arrays) {
      legacy = legacy || a.format == mx::ArrayFormat::Legacy;
      v2 = v2 || a.format == mx::ArrayFormat::V2;
    }
  }
  EXPECT_TRUE(nameless && legacy && v2);
}

TEST(ParamsScan, EveryFormatAndDtypeMatchesTheFullReader) {
  for (auto format : {mx::ArrayFormat::Legacy, mx::ArrayFormat::V1, mx::ArrayFormat::V2, mx::ArrayFormat::V3}) {
    mx::ParamsFile f;
    for (int code = 0; code <= 12; ++code) {
      mixprec::Tensor t;
      t.dtype = *mixprec::dtype_from_code(code);
      t.shape = {2, static_cast<int64_t>(code) + 1};
      t.data.assign(static_cast<size_t>(t.numel()) * mixprec::dtype_size(t.dtype), static_cast<uint8_t>(code));
      f.arrays.push_back({"arg:a" + std::to_string(code), std::move(t), format});
    }
    if (format == mx::ArrayFormat::V3) f.arrays.push_back({"arg:scalar", mixprec::Tensor::from_floats({}, {1.5f}), format});
    expect_same_verdict(mx::write_params(f), "format " + std::to_string(static_cast<int>(format)));
    f.has_names = false;
    expect_same_verdict(mx::write_params(f), "nameless, format " + std::to_string(static_cast<int>(format)));
  }
}

TEST(ParamsScan, RefusesTruncatedAndCorruptFilesAsTheFullReaderDoes) {
  // Every cut of the small files, and cuts across a large one.
  for (const char* rel : {"/insightface_mtcnn/det1-0001.params", "/apache_mxnet_test_fixtures/legacy_ndarray.v0"}) {
    const std::vector<uint8_t> bytes = mixprec::read_file(kModels + rel);
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      ASSERT_THROW(mx::scan_params(prefix.data(), prefix.size(), "cut.params"), mixprec::Error) << rel << " cut at " << n;
      if (n % 97 == 0) expect_same_verdict(prefix, std::string(rel) + " cut at " + std::to_string(n));
    }
  }
  const std::vector<uint8_t> cifar = mixprec::read_file(kR20 + "-0000.params");
  for (size_t n = 0; n < cifar.size(); n += 7919)
    expect_same_verdict(std::vector<uint8_t>(cifar.begin(), cifar.begin() + static_cast<std::ptrdiff_t>(n)), "cifar cut");
  // Random corruption of the structural bytes: the same verdict, message for message.
  const std::vector<uint8_t> base = mixprec::read_file(kModels + "/insightface_mtcnn/det1-0001.params");
  std::mt19937 rng(99);
  int refused = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<uint8_t> b = base;
    for (int i = 0, flips = 1 + static_cast<int>(rng() % 3); i < flips; ++i) {
      const size_t at = rng() % 2 ? rng() % 128 : rng() % b.size();
      b[at] = static_cast<uint8_t>(rng());
    }
    expect_same_verdict(b, "corruption " + std::to_string(iter));
    refused += outcome([&] { mx::scan_params(b.data(), b.size(), "x.params"); }).empty() ? 0 : 1;
  }
  EXPECT_GT(refused, 100);
}

TEST_F(InspectCli, ScanningAFileNamesItAndThePlace) {
  const std::vector<uint8_t> bytes = mixprec::read_file(kR20 + "-0000.params");
  mixprec::write_file_atomic(p("cut.params"), bytes.data(), bytes.size() / 2);
  try {
    mx::scan_params_file(p("cut.params"));
    ADD_FAILURE() << "a truncated file was accepted";
  } catch (const mixprec::Error& e) {
    EXPECT_EQ(e.file(), p("cut.params"));
    EXPECT_TRUE(e.place().starts_with("array ")) << e.what();
    EXPECT_HAS(std::string(e.what()), "truncated");
  }
  const CliRun r = run("inspect " + p("cut.params"));
  EXPECT_EQ(r.code, 1);
  EXPECT_HAS(r.err, p("cut.params") + ": array ");
  EXPECT_EQ(r.out, "");
}

// ---- memory ------------------------------------------------------------------------------------

namespace {

// A ~100 MB V2 list written piece by piece (the test never holds it): one big float32 array and a
// small one, named.
uint64_t write_large_params(const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  auto put = [&](auto v) { f.write(reinterpret_cast<const char*>(&v), sizeof v); };
  const int64_t big = 25'000'000;
  put(uint64_t{0x112});
  put(uint64_t{0});
  put(uint64_t{2});
  for (int64_t n : {big, int64_t{16}}) {
    put(uint32_t{0xF993FAC9u});
    put(int32_t{0});  // dense
    put(int32_t{1});  // ndim
    put(n);
    put(int32_t{1});  // cpu
    put(int32_t{0});
    put(int32_t{0});  // float32
    const std::vector<char> chunk(1 << 20, 1);
    for (int64_t left = n * 4; left > 0; left -= static_cast<int64_t>(chunk.size()))
      f.write(chunk.data(), std::min<std::streamsize>(left, static_cast<std::streamsize>(chunk.size())));
  }
  put(uint64_t{2});
  for (std::string name : {"arg:big", "arg:small"}) {
    put(uint64_t{name.size()});
    f.write(name.data(), static_cast<std::streamsize>(name.size()));
  }
  f.close();
  return fs::file_size(path);
}

// Peak resident memory (bytes) of `mixprec inspect ARGS...`, run as a child of this process
// alone (wait4 reports that child's usage only).
long inspect_peak_rss(const std::vector<std::string>& args) {
  std::vector<std::string> argv_text = {mixprec::testing::kCli, "inspect"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::FILE* null = std::freopen("/dev/null", "w", stdout);
    (void)null;
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  rusage ru{};
  if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return ru.ru_maxrss * 1024L;  // Linux reports kB
}

}  // namespace

TEST_F(InspectCli, PeakMemoryIsASmallFractionOfTheParamsFile) {
  const uint64_t size = write_large_params(p("large-0000.params"));
  ASSERT_GT(size, 99'000'000u);
  // The same process on a tiny file: what the binary costs before any params are read.
  const long base = inspect_peak_rss({kModels + "/apache_mxnet_test_fixtures/legacy_ndarray.v0"});
  const long large = inspect_peak_rss({p("large-0000.params"), "--params", "--json"});
  ASSERT_GT(base, 0);
  ASSERT_GT(large, 0);
  // Reading the data would cost the file's size at least (the old inspect took 1.9x of it).
  EXPECT_LT(large - base, static_cast<long>(size / 20)) << "base " << base << " B, with a " << size << " B file " << large << " B";
  const auto j = nlohmann::json::parse(inspect("--json " + p("large-0000.params")));
  EXPECT_EQ(j.at("param_bytes"), 100'000'064u);
  EXPECT_EQ(j.at("param_shapes").at("arg:big"), nlohmann::json({25'000'000}));
}
