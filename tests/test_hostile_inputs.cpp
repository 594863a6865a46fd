// Hostile input: regression tests for what fuzzing the parsers found (fuzz/, scripts/fuzz.sh),
// each holding the offending input, and the documented limits of mixprec/limits.h, each tested
// just within and just beyond where that is cheap. Every rejection must be a mixprec::Error that
// names the file and the place.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "mixprec/amp.h"
#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "mixprec/limits.h"
#include "mixprec/mxnet.h"
#include "mixprec/numpy.h"

namespace mixprec {
namespace {

using Bytes = std::vector<uint8_t>;

// Runs `f`, which must throw a mixprec::Error naming `file`, a place containing `place` and a
// reason containing `reason`.
void expect_error(const std::function<void()>& f, const std::string& file, const std::string& place,
                  const std::string& reason) {
  try {
    f();
    ADD_FAILURE() << "no error; expected " << reason;
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), file) << e.what();
    EXPECT_FALSE(e.place().empty()) << e.what();
    EXPECT_NE(e.place().find(place), std::string::npos) << "place: " << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "reason: " << e.what();
  }
}

void expect_json_error(const std::string& text, const std::string& place, const std::string& reason) {
  expect_error([&] { mxnet::parse_symbol_json(text, "hostile.json"); }, "hostile.json", place, reason);
}

// Little-endian byte builder for .params files.
struct Writer {
  Bytes b;
  template <typename T>
  Writer& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Writer& raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
};

// A V2/V3 array header: magic, dense storage, the shape, cpu(0), the dtype code.
Writer& array_header(Writer& w, uint32_t magic, const std::vector<int64_t>& shape, int32_t dtype) {
  w.put(magic).put(int32_t{0}).put(static_cast<int32_t>(shape.size()));
  for (int64_t d : shape) w.put(d);
  return w.put(int32_t{1}).put(int32_t{0}).put(dtype);
}

// An .npy v1.0 file around a header dict (padded with spaces, newline-terminated) and data.
Bytes npy(const std::string& dict, const Bytes& data = {}) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string file = "\x93NUMPY";
  file += {'\x01', '\x00', static_cast<char>(h.size() & 0xff), static_cast<char>(h.size() >> 8)};
  file += h;
  Bytes b(file.begin(), file.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// A zip archive holding one member stored with `method` (0 stored, 8 deflate), declaring `usize`
// uncompressed bytes (CRC 0).
Bytes one_member_zip(const std::string& name, uint16_t method, const Bytes& payload, uint32_t usize) {
  Bytes b;
  auto u16 = [&](uint32_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
  };
  auto u32 = [&](uint32_t v) {
    u16(v & 0xffff);
    u16(v >> 16);
  };
  const auto csize = static_cast<uint32_t>(payload.size());
  const auto name_len = static_cast<uint32_t>(name.size());
  // Local header: signature, version, flags, method, time, date, CRC, sizes, name and extra lengths.
  u32(0x04034b50); u16(20); u16(0); u16(method); u16(0); u16(0); u32(0); u32(csize); u32(usize); u16(name_len); u16(0);
  b.insert(b.end(), name.begin(), name.end());
  b.insert(b.end(), payload.begin(), payload.end());
  const auto cd_at = static_cast<uint32_t>(b.size());
  // Central directory entry: as above plus made-by, comment, disk, attributes, local offset 0.
  u32(0x02014b50); u16(20); u16(20); u16(0); u16(method); u16(0); u16(0); u32(0); u32(csize); u32(usize);
  u16(name_len); u16(0); u16(0); u16(0); u16(0); u32(0); u32(0);
  b.insert(b.end(), name.begin(), name.end());
  const auto cd_size = static_cast<uint32_t>(b.size()) - cd_at;
  u32(0x06054b50); u16(0); u16(0); u16(1); u16(1); u32(cd_size); u32(cd_at); u16(0);
  return b;
}

std::string graph_json(const std::string& nodes, const std::string& heads, const std::string& extra = "") {
  return R"({"nodes": [)" + nodes + R"(], "arg_nodes": [], )" + extra + R"("heads": )" + heads + "}";
}

// ---- findings of the fuzzers ---------------------------------------------------------------------

// fuzz_symbol_json: nlohmann throws out_of_range (not parse_error) for a number beyond double range;
// it escaped the reader as a foreign exception.
TEST(HostileSymbolJson, NumberBeyondDoubleRangeIsAnError) {
  expect_json_error(R"({"nodes": [], "arg_nodes": [], "heads": [], "x": 1e999})", "line 1 column 50",
                    "malformed JSON: number overflow parsing '1e999'");
  expect_json_error("{\n \"nodes\": [-1e400]}", "line 2 column 12", "number overflow");
}

// An amp_cast that reads nothing crashed the 1.x pass and remove_amp_casts (inputs[0] of an empty
// list); malformed cast nodes are now refused before any pass runs.
TEST(HostileSymbolJson, CastNodesWithoutInputsAreRefused) {
  const std::string text = R"({"nodes": [{"op": "null", "name": "a", "inputs": []},
                                          {"op": "amp_cast", "name": "c", "inputs": []}],
                               "arg_nodes": [0], "heads": [[1, 0, 0]]})";
  const Graph g = mxnet::parse_symbol_json(text, "hostile.json");  // MXNet loads it too
  for (amp::Compat compat : {amp::Compat::MXNet2, amp::Compat::MXNet1}) {
    amp::AmpOptions o;
    o.compat = compat;
    o.cast_params_offline = true;
    expect_error([&] { amp::convert_symbol(g, o); }, "input graph", "node 1 ('c')",
                 "amp_cast must have 1 input and 1 output, it has 0 and 1");
  }
  expect_error([&] { amp::remove_amp_casts(g); }, "graph", "node 1 ('c')", "amp_cast must have 1 input");
}

// An amp_multicast with more outputs than inputs: remove_amp_casts read past its resolved inputs.
TEST(HostileSymbolJson, MulticastWithMoreOutputsThanInputsIsRefused) {
  const std::string text = R"({"nodes": [{"op": "null", "name": "a", "inputs": []},
                                          {"op": "amp_multicast", "name": "m", "attrs": {"num_outputs": "3"},
                                           "inputs": [[0, 0, 0]]},
                                          {"op": "elemwise_add", "name": "s", "inputs": [[1, 2, 0], [1, 0, 0]]}],
                               "arg_nodes": [0], "heads": [[2, 0, 0]]})";
  const Graph g = mxnet::parse_symbol_json(text, "hostile.json");
  expect_error([&] { amp::remove_amp_casts(g); }, "graph", "node 1 ('m')", "1 inputs and 3 outputs");
  expect_error([&] { amp::convert_symbol(g, {}); }, "input graph", "node 1 ('m')", "as many outputs as inputs");
}

// A control dependency on a cast left remove_amp_casts with the id -1 (as 4294967295).
TEST(HostileSymbolJson, ControlDependencyOnARemovedCast) {
  const std::string text = R"({"nodes": [{"op": "null", "name": "a", "inputs": []},
                                          {"op": "amp_cast", "name": "c", "attrs": {"dtype": "float16"}, "inputs": [[0, 0, 0]]},
                                          {"op": "relu", "name": "r", "inputs": [[1, 0, 0]], "control_deps": [1]}],
                               "arg_nodes": [0], "heads": [[2, 0, 0]]})";
  const Graph plain = amp::remove_amp_casts(mxnet::parse_symbol_json(text, "hostile.json"));
  ASSERT_EQ(plain.nodes.size(), 2u);
  EXPECT_EQ(plain.nodes[1].inputs, (std::vector<Entry>{{0, 0, 0}}));
  EXPECT_EQ(plain.nodes[1].control_deps, std::vector<uint32_t>{0});
  EXPECT_NO_THROW(plain.verify());
}

// A data input carrying a non-numeric __dtype__ made convert_model (1.x rules) throw
// std::invalid_argument from std::stoll.
TEST(HostileSymbolJson, NonNumericDtypeAttributeOnADataInput) {
  const std::string text = R"({"nodes": [{"op": "null", "name": "data", "attrs": {"__dtype__": "abc"}, "inputs": []},
                                          {"op": "null", "name": "w", "inputs": []},
                                          {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "2", "no_bias": "True"},
                                           "inputs": [[0, 0, 0], [1, 0, 0]]}],
                               "arg_nodes": [0, 1], "heads": [[2, 0, 0]]})";
  const Graph g = mxnet::parse_symbol_json(text, "hostile.json");
  TensorMap arg;
  arg["w"] = Tensor::from_floats({2, 2}, {1, 2, 3, 4});
  amp::AmpOptions o;
  o.compat = amp::Compat::MXNet1;
  o.cast_params_offline = true;
  const amp::AmpResult r = amp::convert_model(g, arg, {}, o);
  EXPECT_EQ(r.arg_params.at("w").dtype, DType::Float16);
}

// node_row_ptr may not give an op no outputs: every pass writes the op's output 0.
TEST(HostileSymbolJson, OpWithNoOutputsIsRefused) {
  expect_json_error(graph_json(R"({"op": "null", "name": "a", "inputs": []},
                                  {"op": "amp_cast", "name": "c", "attrs": {"dtype": "float16"}, "inputs": [[0, 0, 0]]})",
                               "[[0, 0, 0]]", R"("node_row_ptr": [0, 1, 1], )"),
                    "node_row_ptr[2]", "gives op node 'c' no outputs");
}

// fuzz_params: splitting a nameless list threw an Error with no place.
TEST(HostileParams, NamelessListErrorNamesThePlace) {
  Writer w;
  w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{1});
  array_header(w, 0xF993FAC9u, {1}, 0).put(1.0f);
  w.put(uint64_t{0});  // no names
  const mxnet::ParamsFile f = mxnet::parse_params(w.b.data(), w.b.size(), "hostile.params");
  TensorMap arg, aux;
  expect_error([&] { mxnet::split_params(f, arg, aux, "hostile.params"); }, "hostile.params", "the name list",
               "no parameter names");
}

// fuzz_params: writing back an array with no elements passed a null pointer to memcpy (UBSan), and
// so did converting it to float16 (Tensor::astype).
TEST(HostileParams, ZeroElementArraysWriteBackAndConvert) {
  Writer w;
  w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{2});
  array_header(w, 0xF993FACAu, {}, 2).put(uint16_t{0x3c00});  // a float16 scalar
  array_header(w, 0xF993FACAu, {0, 5}, 12);                   // an empty bfloat16 array
  w.put(uint64_t{2}).put(uint64_t{5}).raw("arg:s").put(uint64_t{5}).raw("aux:e");
  const mxnet::ParamsFile f = mxnet::parse_params(w.b.data(), w.b.size(), "hostile.params");
  ASSERT_EQ(f.arrays.size(), 2u);
  EXPECT_EQ(mxnet::write_params(f), w.b);
  const Tensor h = f.arrays[1].tensor.astype(DType::Float32);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{0, 5}));
  EXPECT_TRUE(h.data.empty());
  EXPECT_TRUE(Tensor::from_floats({0}, {}).data.empty());
}

// ---- allocation sizes are checked against the file before allocating ---------------------------

// Each file is at most a few dozen bytes and declares a huge tensor; the error must come at once
// (an allocation of the declared size would take seconds or fail).
TEST(HostileAllocation, TinyFilesDeclaringHugeTensorsFailAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  {  // .params, V2, float64 of 2^33 elements (64 GiB) in 60 bytes.
    Writer w;
    w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{1});
    array_header(w, 0xF993FAC9u, {int64_t{1} << 33}, 1);
    expect_error([&] { mxnet::parse_params(w.b.data(), w.b.size(), "huge.params"); }, "huge.params",
                 "array 0, byte 56", "array data needs 68719476736 bytes, 0 remain");
  }
  {  // .params, an absurd array count in a 24-byte header.
    Writer w;
    w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{1} << 40);
    expect_error([&] { mxnet::parse_params(w.b.data(), w.b.size(), "huge.params"); }, "huge.params", "byte 16",
                 "array count 1099511627776 cannot fit");
  }
  {  // .params, a name 2^40 bytes long.
    Writer w;
    w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{1});
    array_header(w, 0xF993FAC9u, {1}, 3).put(uint8_t{7});
    w.put(uint64_t{1}).put(uint64_t{1} << 40);
    expect_error([&] { mxnet::parse_params(w.b.data(), w.b.size(), "huge.params"); }, "huge.params", "byte 65",
                 "name 0 is 1099511627776 bytes long");
  }
  {  // .npy, float32 of 2^36 elements (256 GiB), no data.
    const Bytes b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 1048576), }");
    expect_error([&] { numpy::parse_npy(b.data(), b.size(), "huge.npy"); }, "huge.npy", "byte 128",
                 "needs 274877906944 bytes of data, the file has 0");
  }
  {  // .npz: a deflated member declaring 4 GiB from 2 bytes of deflate (an empty final block).
    const Bytes b = one_member_zip("a.npy", 8, {0x03, 0x00}, 0xfffffffe);
    expect_error([&] { numpy::parse_npz(b.data(), b.size(), "huge.npz"); }, "huge.npz", "member 'a.npy'",
                 "declares 4294967294 bytes uncompressed from 2 deflated bytes");
  }
  {  // symbol JSON: one SliceChannel claiming 4 billion outputs, in 120 bytes.
    expect_json_error(graph_json(R"({"op": "SliceChannel", "name": "s", "attrs": {"num_outputs": "4000000000"}, "inputs": []})",
                                 "[[0, 0]]"),
                      "nodes[0] ('s') attrs 'num_outputs'", "gives node 's' 4000000000 outputs; the limit is 65536");
  }
  // A hang detector, not a speed target: each refusal takes microseconds; zero-filling any declared
  // tensor would take minutes or exhaust memory. 20 s leaves room for a loaded 2-core machine under ASan.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// Peak resident set of this process in KiB (VmHWM), and its reset to the current RSS.
long peak_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// A deflated member may declare up to ~1000x its compressed size; one that declares 1 GB from
// 1 MB of (incompressible) deflate data must fail without allocating the declared gigabyte.
TEST(HostileAllocation, DeflatedMemberLyingAboutItsSizeAllocatesWhatItProduces) {
  Bytes random(1 << 20);
  uint32_t x = 12345;
  for (uint8_t& v : random) v = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 0, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);  // level 0: stored blocks
  Bytes deflated(deflateBound(&zs, random.size()));
  zs.next_in = random.data();
  zs.avail_in = static_cast<uInt>(random.size());
  zs.next_out = deflated.data();
  zs.avail_out = static_cast<uInt>(deflated.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  deflated.resize(zs.total_out);
  deflateEnd(&zs);
  const uint32_t declared = 1000u << 20;
  const Bytes b = one_member_zip("big.npy", 8, deflated, declared);

  // The process's peak RSS is reset to the current RSS first (Linux >= 4.0, /proc/self/clear_refs),
  // so that the peak measured is this parse's own, whatever earlier tests in this process reached
  // (getrusage's ru_maxrss only grows: in a run of the whole binary it says nothing here).
  if (!reset_peak_rss()) GTEST_SKIP() << "cannot reset the peak RSS (/proc/self/clear_refs): no measurement possible";
  const long before = peak_rss_kib();
  expect_error([&] { numpy::parse_npz(b.data(), b.size(), "liar.npz"); }, "liar.npz", "member 'big.npy'",
               "deflated data expands to 1048576 bytes, the archive declares 1048576000");
  const long grew = peak_rss_kib() - before;
  // What it produces is 1 MiB (doubling buffers: < 4 MiB with copies); 64 MiB leaves room for the
  // allocator and sanitizer bookkeeping, and is 1/16 of the gigabyte an up-front allocation touches.
  EXPECT_LT(grew, 64 * 1024) << "peak RSS grew by " << grew << " KiB";
  EXPECT_GT(before, 0);
}

// ---- documented limits (mixprec/limits.h) ------------------------------------------------------

TEST(HostileLimits, JsonNesting) {
  // Nested lists inside a graph attribute: 3 levels of graph, attrs and the [type, value] pair.
  auto nested = [](size_t depth) {
    const size_t lists = depth - 3;
    return R"({"nodes": [], "arg_nodes": [], "heads": [], "attrs": {"deep": ["list", )" + std::string(lists, '[') +
           std::string(lists, ']') + "]}}";
  };
  const Graph g = mxnet::parse_symbol_json(nested(limits::kMaxJsonNesting), "hostile.json");
  EXPECT_EQ(g.attrs.size(), 1u);
  EXPECT_NO_THROW(mxnet::write_symbol_json(g));
  expect_json_error(nested(limits::kMaxJsonNesting + 1), "line 1 column 1093", "JSON nested deeper than 1024 levels");
}

TEST(HostileLimits, SubgraphNesting) {
  auto nested = [](int levels) {
    std::string text = R"({"nodes": [{"op": "null", "name": "x", "inputs": []}], "arg_nodes": [0], "heads": [[0, 0, 0]]})";
    for (int level = 0; level < levels; ++level)
      text = R"({"nodes": [{"op": "_foreach", "name": "l)" + std::to_string(level) +
             R"(", "inputs": [], "subgraphs": [)" + text + R"(]}], "arg_nodes": [], "heads": [[0, 0]]})";
    return text;
  };
  const Graph g = mxnet::parse_symbol_json(nested(limits::kMaxSubgraphDepth), "hostile.json");
  EXPECT_EQ(g.nodes[0].subgraphs.size(), 1u);
  EXPECT_NO_THROW(mxnet::parse_symbol_json(mxnet::write_symbol_json(g), "again.json"));
  expect_json_error(nested(limits::kMaxSubgraphDepth + 1), "subgraphs[0]", "subgraphs nested deeper than 64 levels");
}

TEST(HostileLimits, NodeCount) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "20 MB of JSON held as a DOM: too slow and large under AddressSanitizer";
#endif
  // Just beyond only: a graph at the limit takes seconds to read. The node list is checked for
  // its length before any node is read, so its items can be anything (1.5 s, 0.4 GB here).
  std::string items;
  items.reserve(2 * (limits::kMaxNodes + 1));
  for (size_t i = 0; i <= limits::kMaxNodes; ++i) items += i ? ",0" : "0";
  expect_json_error(graph_json(items, "[]"), "nodes", "has 10000001 nodes; the limit is 10000000");
}

TEST(HostileLimits, OutputsPerNode) {
  auto split = [](uint64_t n) {
    return graph_json(R"({"op": "null", "name": "x", "inputs": []},
                         {"op": "SliceChannel", "name": "s", "attrs": {"num_outputs": ")" + std::to_string(n) +
                          R"("}, "inputs": [[0, 0, 0]]})",
                      "[[1, " + std::to_string(n - 1) + ", 0]]");
  };
  const Graph g = mxnet::parse_symbol_json(split(limits::kMaxNodeOutputs), "hostile.json");
  EXPECT_EQ(g.nodes[1].num_outputs, limits::kMaxNodeOutputs);
  expect_json_error(split(limits::kMaxNodeOutputs + 1), "nodes[1] ('s') attrs 'num_outputs'", "65537 outputs; the limit is 65536");
  // The same through node_row_ptr.
  expect_json_error(graph_json(R"({"op": "null", "name": "x", "inputs": []},
                                  {"op": "Custom", "name": "c", "inputs": [[0, 0, 0]]})",
                               "[[1, 0, 0]]", R"("node_row_ptr": [0, 1, 65538], )"),
                    "node_row_ptr[2]", "gives node 'c' 65537 outputs");
}

TEST(HostileLimits, OutputsPerGraph) {
  // Outputs nothing reads: at most 4 per node plus kMaxNodeOutputs. x, one split with
  // kMaxNodeOutputs outputs (1 read) and `extra` more: 2 + extra reads, 3 nodes.
  auto graph = [](uint32_t extra) {
    return graph_json(R"({"op": "null", "name": "x", "inputs": []},
                         {"op": "SliceChannel", "name": "s", "attrs": {"num_outputs": "65536"}, "inputs": [[0, 0, 0]]},
                         {"op": "SliceChannel", "name": "t", "attrs": {"num_outputs": ")" + std::to_string(extra) +
                          R"("}, "inputs": [[0, 0, 0]]})",
                      "[[1, 0, 0]]");
  };
  // Budget: 3 reads + 4 x 3 nodes + 65536 = 65551; the graph has 1 + 65536 + extra outputs.
  EXPECT_NO_THROW(mxnet::parse_symbol_json(graph(14), "hostile.json"));
  expect_json_error(graph(15), "nodes[2] ('t') attrs 'num_outputs'",
                    "more than 65551 outputs together; the limit is the 3 inputs and heads that read outputs, plus 4 per "
                    "node, plus 65536");
  // Outputs that are read do not count against the budget: a split whose 65536 outputs all feed
  // a Concat, next to one of 65536 outputs nobody reads.
  std::string reads;
  for (uint32_t k = 0; k < limits::kMaxNodeOutputs; ++k) reads += (k ? ", [1, " : "[1, ") + std::to_string(k) + ", 0]";
  const std::string text = graph_json(R"({"op": "null", "name": "x", "inputs": []},
                                         {"op": "SliceChannel", "name": "s", "attrs": {"num_outputs": "65536"}, "inputs": [[0, 0, 0]]},
                                         {"op": "SliceChannel", "name": "u", "attrs": {"num_outputs": "65536"}, "inputs": [[0, 0, 0]]},
                                         {"op": "Concat", "name": "c", "inputs": [)" + reads + "]}",
                                      "[[3, 0, 0]]");
  EXPECT_EQ(mxnet::parse_symbol_json(text, "hostile.json").nodes[3].inputs.size(), limits::kMaxNodeOutputs);
}

TEST(HostileLimits, TensorDimensions) {
  auto params = [](size_t ndim) {
    Writer w;
    w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{1});
    array_header(w, 0xF993FAC9u, std::vector<int64_t>(ndim, 1), 5).put(int8_t{-3});
    w.put(uint64_t{0});
    return w.b;
  };
  const Bytes ok = params(limits::kMaxNdim);
  EXPECT_EQ(mxnet::parse_params(ok.data(), ok.size(), "dims.params").arrays[0].tensor.shape.size(), limits::kMaxNdim);
  const Bytes bad = params(limits::kMaxNdim + 1);
  expect_error([&] { mxnet::parse_params(bad.data(), bad.size(), "dims.params"); }, "dims.params", "array 0, byte 32",
               "number of dimensions 33 exceeds 32");

  auto npy_dims = [](size_t ndim) {
    std::string shape = "(";
    for (size_t i = 0; i < ndim; ++i) shape += "1, ";
    return npy("{'descr': '|i1', 'fortran_order': False, 'shape': " + shape + "), }", {0x7f});
  };
  const Bytes ok_npy = npy_dims(limits::kMaxNdim);
  EXPECT_EQ(numpy::parse_npy(ok_npy.data(), ok_npy.size(), "dims.npy").shape.size(), limits::kMaxNdim);
  const Bytes bad_npy = npy_dims(limits::kMaxNdim + 1);
  expect_error([&] { numpy::parse_npy(bad_npy.data(), bad_npy.size(), "dims.npy"); }, "dims.npy", "byte ",
               "the shape has more than 32 dimensions");
  Tensor t;
  t.dtype = DType::Int8;
  t.shape.assign(limits::kMaxNdim + 1, 1);
  t.data = {1};
  expect_error([&] { numpy::write_npz({{"t", t}}); }, "", "member 't'", "more than 32 dimensions");
}

TEST(HostileLimits, ElementCountMustFitInt64AndTheFile) {
  // 2^62 x 4 float32: the element count fits int64, the byte count does not fit 64 bits.
  const Bytes b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }");
  expect_error([&] { numpy::parse_npy(b.data(), b.size(), "count.npy"); }, "count.npy", "byte 10", "is too large");
  // 2^32 x 2^32 elements do not fit int64 (legacy .params).
  Writer w;
  w.put(uint64_t{0x112}).put(uint64_t{0}).put(uint64_t{1});
  w.put(uint32_t{2}).put(uint32_t{0xffffffffu}).put(uint32_t{0xffffffffu}).put(int32_t{1}).put(int32_t{0}).put(int32_t{0});
  expect_error([&] { mxnet::parse_params(w.b.data(), w.b.size(), "count.params"); }, "count.params", "array 0",
               "array size overflows");
  // Within: an array that exactly fills the file.
  const Bytes fits = npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 1), }", {1, 0, 2, 0});
  EXPECT_EQ(numpy::parse_npy(fits.data(), fits.size(), "count.npy").numel(), 2);
}

// Attribute strings: huge integers are an error naming the attribute, never a wrapped value.
TEST(HostileAttrs, OutOfRangeNumbers) {
  expect_error([] { attrs::parse_tuple("(9223372036854775808,)", "kernel"); }, "", "kernel", "fit in 64 bits");
  expect_error([] { attrs::parse_int("-9223372036854775809", "axis"); }, "", "axis", "fits in 64 bits");
  expect_error([] { attrs::parse_float("1e999", "eps"); }, "", "eps", "within double range");
  EXPECT_EQ(attrs::parse_int("-9223372036854775808"), INT64_MIN);
}

}  // namespace
}  // namespace mixprec
