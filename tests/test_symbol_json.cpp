// Symbol JSON: every real file reads, MXNet-written files write back byte for byte, old
// generations upgrade as MXNet does, and every kind of bad input names the file and the place.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mixprec::mxnet {
namespace {

namespace fs = std::filesystem;

const std::string kModels = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/";

std::vector<std::string> shared_json_files() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(kModels))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// Field-by-field, so that a failure says where the graphs differ.
void expect_same_graph(const Graph& a, const Graph& b, const std::string& what) {
  ASSERT_EQ(a.nodes.size(), b.nodes.size()) << what;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node &x = a.nodes[i], &y = b.nodes[i];
    const std::string at = what + " node " + std::to_string(i) + " (" + x.name + ")";
    EXPECT_EQ(x.op, y.op) << at;
    EXPECT_EQ(x.name, y.name) << at;
    EXPECT_EQ(x.attrs, y.attrs) << at;
    EXPECT_EQ(x.inputs, y.inputs) << at;
    EXPECT_EQ(x.control_deps, y.control_deps) << at;
    EXPECT_EQ(x.num_outputs, y.num_outputs) << at;
    ASSERT_EQ(x.subgraphs.size(), y.subgraphs.size()) << at;
    for (size_t s = 0; s < x.subgraphs.size(); ++s) expect_same_graph(x.subgraphs[s], y.subgraphs[s], at + " subgraph");
  }
  EXPECT_EQ(a.heads, b.heads) << what;
  EXPECT_EQ(a.attrs, b.attrs) << what;
}

const Node& node_named(const Graph& g, const std::string& name) {
  const int64_t i = g.find(name);
  if (i < 0) throw std::runtime_error("no node " + name);
  return g.nodes[static_cast<size_t>(i)];
}

// ---- real files ---------------------------------------------------------------------------------

TEST(SymbolJson, EverySharedFileParses) {
  const auto files = shared_json_files();
  ASSERT_GE(files.size(), 9u);
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const Graph g = read_symbol_json(f);
    EXPECT_NO_THROW(g.verify(f));
    EXPECT_FALSE(g.heads.empty());
    for (const Node& n : g.nodes) EXPECT_GE(n.num_outputs, 1u) << n.name;
  }
}

TEST(SymbolJson, MxnetWrittenFilesRoundTripByteForByte) {
  for (const char* f : {"gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-symbol.json",
                        "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-symbol.json",
                        "apache_mxnet_test_fixtures/mlp-test-symbol.json"}) {
    const std::string text = read_text_file(kModels + f);
    EXPECT_EQ(write_symbol_json(parse_symbol_json(text, f)), text) << f;
  }
  // This one only adds a trailing newline, which dmlc never writes.
  const std::string mkldnn = read_text_file(kModels + "apache_mxnet_test_fixtures/test_mkldnn_model_model1.json");
  EXPECT_EQ(write_symbol_json(parse_symbol_json(mkldnn)) + "\n", mkldnn);
}

TEST(SymbolJson, EveryFileRoundTripsToAnEqualGraph) {
  for (const auto& f : shared_json_files()) {
    const Graph g = read_symbol_json(f);
    const std::string text = write_symbol_json(g);
    expect_same_graph(g, parse_symbol_json(text, f + " (rewritten)"), f);
    EXPECT_EQ(write_symbol_json(parse_symbol_json(text)), text) << f;  // writing is a fixed point
  }
}

TEST(SymbolJson, OldFileIsWrittenInTheModernForm) {
  const Graph g = read_symbol_json(kModels + "insightface_mtcnn/det1-symbol.json");
  const std::string text = write_symbol_json(g);
  EXPECT_EQ(text.find("\"param\""), std::string::npos);
  EXPECT_EQ(text.find("backward_source_id"), std::string::npos);
  EXPECT_NE(text.find("\"attrs\": {\n        \"cudnn_off\": \"False\", "), std::string::npos);
  EXPECT_NE(text.find("\"inputs\": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]"), std::string::npos);
  EXPECT_NE(text.find("\"node_row_ptr\": [\n    0, \n    1, "), std::string::npos);
  EXPECT_NE(text.find("\"heads\": [[19, 0, 0], [23, 0, 0]]\n}"), std::string::npos);
  EXPECT_EQ(text.find("mxnet_version"), std::string::npos);  // none was read, none is invented
}

TEST(SymbolJson, MtcnnDet1Structure) {
  const Graph g = read_symbol_json(kModels + "insightface_mtcnn/det1-symbol.json");
  ASSERT_EQ(g.nodes.size(), 24u);
  EXPECT_TRUE(g.attrs.empty());
  const Node& conv1 = g.nodes[3];
  EXPECT_EQ(conv1.op, "Convolution");
  EXPECT_EQ(conv1.name, "conv1");
  EXPECT_EQ(conv1.attr("kernel"), "(3,3)");  // tuple text kept as written
  EXPECT_EQ(conv1.attr("num_filter"), "10");
  EXPECT_EQ(conv1.attrs.size(), 10u);
  EXPECT_EQ(conv1.inputs, (std::vector<Entry>{{0, 0, 0}, {1, 0, 0}, {2, 0, 0}}));
  EXPECT_EQ(node_named(g, "prelu1").attr("act_type"), "prelu");
  EXPECT_EQ(node_named(g, "prob1").op, "SoftmaxActivation");
  EXPECT_TRUE(g.nodes[0].is_variable());
  EXPECT_TRUE(g.nodes[0].attrs.empty());  // "param": {} adds nothing
  EXPECT_EQ(g.heads, (std::vector<Entry>{{19, 0, 0}, {23, 0, 0}}));
  EXPECT_EQ(g.variable_ids().size(), 14u);
  EXPECT_EQ(list_arguments(g).size(), 14u);
  EXPECT_TRUE(list_auxiliary_states(g).empty());
}

TEST(SymbolJson, OutputCountsWithoutNodeRowPtrComeFromTheOpTable) {
  const Graph g = read_symbol_json(kModels + "insightface_mtcnn/det4-symbol.json");
  const int64_t slice = g.find("slice");
  ASSERT_GE(slice, 0);
  EXPECT_EQ(g.nodes[static_cast<size_t>(slice)].op, "SliceChannel");
  EXPECT_EQ(g.nodes[static_cast<size_t>(slice)].num_outputs, 5u);
}

TEST(SymbolJson, Version0800SynthesisesAuxAndUpgradesLegacyKeys) {
  const Graph g = read_symbol_json(kModels + "apache_mxnet_test_fixtures/save_000800.json");
  ASSERT_EQ(g.nodes.size(), 19u);  // 17 in the file + moving_mean + moving_var
  EXPECT_TRUE(g.attrs.empty());

  const Node& bn = node_named(g, "batchnorm0");
  ASSERT_EQ(bn.inputs.size(), 5u);
  const Node& mean = g.nodes[bn.inputs[3].node];
  const Node& var = g.nodes[bn.inputs[4].node];
  EXPECT_EQ(mean.name, "batchnorm0_moving_mean");
  EXPECT_EQ(var.name, "batchnorm0_moving_var");
  EXPECT_TRUE(mean.is_variable());
  EXPECT_EQ(bn.inputs[3].version, 1u);
  EXPECT_EQ(bn.inputs[4].version, 1u);
  EXPECT_EQ(mean.attr("eps"), "0.001");  // the node's attrs are copied, as MXNet does
  EXPECT_EQ(mean.attr("__ctx_group__"), "stage2");
  EXPECT_LT(bn.inputs[4].node, static_cast<uint32_t>(g.find("batchnorm0")));
  EXPECT_EQ(list_auxiliary_states(g), (std::vector<std::string>{"batchnorm0_moving_mean", "batchnorm0_moving_var"}));
  EXPECT_EQ(list_arguments(g).size(), 10u);

  // Legacy hidden keys.
  const Node& data = node_named(g, "data");
  EXPECT_EQ(data.attr("__lr_mult__"), "0.2");
  EXPECT_EQ(data.attr("__ctx_group__"), "stage1");
  EXPECT_EQ(data.attrs.count("lr_mult"), 0u);
  const Node& fc1 = node_named(g, "fc1");
  EXPECT_EQ(fc1.attrs.count("weight_lr_mult"), 0u);
  EXPECT_EQ(fc1.attr("__wd_mult__"), "0.3");
  EXPECT_EQ(node_named(g, "fc1_weight").attr("__lr_mult__"), "1.2");  // moved from fc1's weight_lr_mult
  EXPECT_EQ(node_named(g, "fc1_bias").attrs.count("__lr_mult__"), 0u);
  EXPECT_EQ(node_named(g, "fc2_weight").attr("__lr_mult__"), "0.01");
}

TEST(SymbolJson, CifarResnet20ArgumentsAndAuxStates) {
  const Graph g = read_symbol_json(kModels + "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-symbol.json");
  const size_t batchnorms = static_cast<size_t>(
      std::count_if(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == "BatchNorm"; }));
  EXPECT_EQ(batchnorms, 21u);
  const auto aux = list_auxiliary_states(g);
  const auto args = list_arguments(g);
  ASSERT_EQ(aux.size(), 2 * batchnorms);
  for (size_t i = 0; i < aux.size(); i += 2) {
    EXPECT_TRUE(aux[i].ends_with("_running_mean")) << aux[i];
    EXPECT_TRUE(aux[i + 1].ends_with("_running_var")) << aux[i + 1];
  }
  EXPECT_EQ(aux.front(), "cifarresnetv10_batchnorm0_running_mean");
  EXPECT_EQ(args.size() + aux.size(), g.variable_ids().size());
  EXPECT_EQ(args.front(), "data");
  EXPECT_EQ(args.back(), "cifarresnetv10_dense0_bias");
  EXPECT_EQ(g.attrs.at("mxnet_version"), R"(["int", 20000])");
}

// ---- hand-written graphs ------------------------------------------------------------------------

// In dmlc's layout, so that writing it back must reproduce it exactly.
const char* const kSubgraphJson = R"({
  "nodes": [
    {
      "op": "null", 
      "name": "data", 
      "inputs": []
    }, 
    {
      "op": "_foreach", 
      "name": "loop", 
      "attrs": {
        "num_args": "1", 
        "num_outputs": "1"
      }, 
      "inputs": [[0, 0, 0]], 
      "control_deps": [0], 
      "subgraphs": [
        {
          "nodes": [
            {
              "op": "null", 
              "name": "x", 
              "inputs": []
            }, 
            {
              "op": "Activation", 
              "name": "act", 
              "attrs": {"act_type": "relu"}, 
              "inputs": [[0, 0, 0]]
            }
          ], 
          "arg_nodes": [0], 
          "node_row_ptr": [0, 1, 2], 
          "heads": [[1, 0, 0]]
        }
      ]
    }
  ], 
  "arg_nodes": [0], 
  "node_row_ptr": [0, 1, 2], 
  "heads": [[1, 0, 0]], 
  "attrs": {
    "is_np_shape": ["int", 1], 
    "mxnet_version": ["int", 10900]
  }
})";

TEST(SymbolJson, SubgraphRoundTrip) {
  const Graph g = parse_symbol_json(kSubgraphJson, "subgraph.json");
  ASSERT_EQ(g.nodes.size(), 2u);
  const Node& loop = g.nodes[1];
  EXPECT_EQ(loop.control_deps, std::vector<uint32_t>{0});
  ASSERT_EQ(loop.subgraphs.size(), 1u);
  const Graph& body = loop.subgraphs[0];
  ASSERT_EQ(body.nodes.size(), 2u);
  EXPECT_EQ(body.nodes[1].attr("act_type"), "relu");
  EXPECT_EQ(body.heads, (std::vector<Entry>{{1, 0, 0}}));
  EXPECT_TRUE(body.attrs.empty());
  EXPECT_EQ(write_symbol_json(g), kSubgraphJson);
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("test text lacks " + from);
  return text.replace(at, from.size(), to);
}

// A small valid graph; the error tests break one thing in it at a time.
const std::string kSmall =
    R"({"nodes": [{"op": "null", "name": "x", "inputs": []},
                  {"op": "Activation", "name": "act", "attrs": {"act_type": "relu"}, "inputs": [[0, 0, 0]]}],
        "arg_nodes": [0], "node_row_ptr": [0, 1, 2], "heads": [[1, 0, 0]]})";

TEST(SymbolJson, SmallGraphIsValid) {
  const Graph g = parse_symbol_json(kSmall);
  EXPECT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1].attr("act_type"), "relu");
}

TEST(SymbolJson, LongListsGoOnePerLine) {
  std::string nodes, inputs;
  for (int i = 0; i < 11; ++i) {
    nodes += R"({"op": "null", "name": "v)" + std::to_string(i) + R"(", "inputs": []}, )";
    inputs += std::string(i ? ", " : "") + "[" + std::to_string(i) + ", 0]";
  }
  const Graph g = parse_symbol_json(R"({"nodes": [)" + nodes + R"({"op": "concat", "name": "cat", "inputs": [)" + inputs +
                                    R"(]}], "arg_nodes": [], "heads": [[11, 0]]})");
  EXPECT_EQ(g.nodes[11].op, "Concat");  // alias resolved
  const std::string text = write_symbol_json(g);
  EXPECT_NE(text.find("\"inputs\": [\n        [0, 0, 0], \n        [1, 0, 0], "), std::string::npos) << text;
  EXPECT_NE(text.find("[10, 0, 0]\n      ]\n    }"), std::string::npos) << text;
  EXPECT_NE(text.find("\"arg_nodes\": [\n    0, \n"), std::string::npos) << text;
  expect_same_graph(g, parse_symbol_json(text), "concat");
}

TEST(SymbolJson, StringsEscapeAsDmlcDoes) {
  Graph g = parse_symbol_json(kSmall);
  g.nodes[0].name = "a\"b\\c\td\ne\rf/é";
  const std::string text = write_symbol_json(g);
  EXPECT_NE(text.find(R"("a\"b\\c\td\ne\rf/é")"), std::string::npos) << text;
  EXPECT_EQ(parse_symbol_json(text).nodes[0].name, g.nodes[0].name);

  g.nodes[0].name = std::string("bell\x07", 5);
  try {
    write_symbol_json(g);
    FAIL() << "a control character was written";
  } catch (const Error& e) {
    EXPECT_NE(e.place().find("nodes[0]"), std::string::npos) << e.what();
  }
}

TEST(SymbolJson, GraphAttrsMustBeTypeValuePairsToBeWritten) {
  Graph g = parse_symbol_json(kSmall);
  g.attrs["broken"] = "[\"int\", ";
  try {
    write_symbol_json(g);
    FAIL() << "wrote a broken graph attribute";
  } catch (const Error& e) {
    EXPECT_EQ(e.place(), "attrs 'broken'");
  }
  g.attrs["broken"] = R"(["list_int", [1, 2]])";
  EXPECT_NE(write_symbol_json(g).find(R"("attrs": {"broken": ["list_int", [1, 2]]})"), std::string::npos);
}

TEST(SymbolJson, OutOfOrderNodesAreResorted) {
  // The op comes first in the file; MXNet links by id, so it loads this, and so do we.
  const Graph g = parse_symbol_json(
      R"({"nodes": [{"op": "Activation", "name": "act", "attrs": {"act_type": "relu"}, "inputs": [[1, 0]]},
                    {"op": "null", "name": "x", "inputs": []}],
          "arg_nodes": [1], "heads": [[0, 0]]})");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "x");
  EXPECT_EQ(g.nodes[1].inputs, (std::vector<Entry>{{0, 0, 0}}));
  EXPECT_EQ(g.heads, (std::vector<Entry>{{1, 0, 0}}));
  EXPECT_NO_THROW(g.verify());
}

TEST(SymbolJson, ArgumentsFollowDfsOrderNotNodeOrder) {
  const Graph g = parse_symbol_json(
      R"({"nodes": [{"op": "null", "name": "w", "inputs": []}, {"op": "null", "name": "x", "inputs": []},
                    {"op": "FullyConnected", "name": "fc", "attrs": {"no_bias": "True", "num_hidden": "2"},
                     "inputs": [[1, 0], [0, 0]]}],
          "arg_nodes": [0, 1], "heads": [[2, 0]], "attrs": {"mxnet_version": ["int", 10900]}})");
  EXPECT_EQ(list_arguments(g), (std::vector<std::string>{"x", "w"}));
}

TEST(SymbolJson, AttrKeysOfEveryGenerationMerge) {
  const Graph g = parse_symbol_json(
      R"({"nodes": [{"op": "null", "name": "x", "inputs": [], "param": {"a": "param", "b": "param", "c": "param"},
                     "attr": {"b": "attr", "c": "attr"}, "attrs": {"c": "attrs"}, "backward_source_id": -1}],
          "arg_nodes": [0], "heads": [[0, 0]], "attrs": {"mxnet_version": ["int", 10900]}})");
  EXPECT_EQ(g.nodes[0].attrs, (AttrMap{{"a", "param"}, {"b", "attr"}, {"c", "attrs"}}));
}

TEST(SymbolJson, OldUpgradesFollowTheFileVersion) {
  auto graph = [](const std::string& version) {
    return parse_symbol_json(
        R"J({"nodes": [{"op": "null", "name": "x", "inputs": []},
                      {"op": "argmax", "name": "am", "attrs": {"axis": "-1"}, "inputs": [[0, 0]]},
                      {"op": "null", "name": "w", "inputs": []},
                      {"op": "Convolution", "name": "conv", "attrs": {"no_bias": "True", "kernel": "(1, 1)",
                       "num_filter": "1"}, "inputs": [[0, 0], [2, 0]]}],
            "arg_nodes": [0, 2], "heads": [[1, 0], [3, 0]])J" +
        version + "}");
  };
  const Graph old = graph("");  // no mxnet_version: 0.8.0
  EXPECT_EQ(old.nodes[1].attrs.count("axis"), 0u);
  EXPECT_EQ(old.nodes.size(), 4u);  // a missing optional bias is not an aux state: nothing added
  EXPECT_EQ(graph(R"(, "attrs": {"mxnet_version": ["int", 904]})").nodes[1].attrs.count("axis"), 0u);
  EXPECT_EQ(graph(R"(, "attrs": {"mxnet_version": ["int", 905]})").nodes[1].attr("axis"), "-1");
}

TEST(SymbolJson, Before0904VariableInputsGetTheInitializersMxnetsHooksSet) {
  // What MXNet 1.9.1 loads from such a file (tests/oracle/test_formats.py compares the shared
  // legacy files with MXNet itself): BatchNorm's moving stats (given or synthesised), a PReLU
  // gamma, a bilinear UpSampling weight; an `__init__` already there is kept; op inputs and
  // other ops' variables get none.
  auto graph = [](const std::string& version) {
    return parse_symbol_json(
        R"J({"nodes": [{"op": "null", "name": "x", "inputs": []},
                      {"op": "null", "name": "g", "inputs": []},
                      {"op": "null", "name": "b", "inputs": []},
                      {"op": "null", "name": "m", "attrs": {"__init__": "mine"}, "inputs": []},
                      {"op": "BatchNorm", "name": "bn", "inputs": [[0, 0], [1, 0], [2, 0], [3, 0]]},
                      {"op": "null", "name": "slope", "inputs": []},
                      {"op": "LeakyReLU", "name": "act", "attrs": {"act_type": "prelu"}, "inputs": [[4, 0], [5, 0]]},
                      {"op": "null", "name": "up_w", "inputs": []},
                      {"op": "UpSampling", "name": "up", "attrs": {"scale": "2", "sample_type": "bilinear",
                       "num_filter": "1", "num_args": "2"}, "inputs": [[6, 0], [7, 0]]},
                      {"op": "null", "name": "w", "inputs": []},
                      {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "1", "no_bias": "True"},
                       "inputs": [[8, 0], [9, 0]]}],
            "arg_nodes": [0, 1, 2, 3, 5, 7, 9], "heads": [[10, 0]])J" +
        version + "}");
  };
  const Graph old = graph("");  // no mxnet_version: 0.8.0; BatchNorm's moving var is synthesised
  EXPECT_EQ(node_named(old, "m").attr("__init__"), "mine");
  EXPECT_EQ(node_named(old, "bn_moving_var").attr("__init__"), R"(["one", {}])");
  EXPECT_EQ(node_named(old, "slope").attr("__init__"), R"(["Constant", {"value": 0.25}])");
  EXPECT_EQ(node_named(old, "up_w").attr("__init__"), R"(["bilinear", {}])");
  for (const char* none : {"x", "g", "b", "w"}) EXPECT_EQ(node_named(old, none).attrs.count("__init__"), 0u) << none;
  EXPECT_EQ(node_named(graph(R"(, "attrs": {"mxnet_version": ["int", 903]})"), "slope").attrs.count("__init__"), 1u);
  EXPECT_EQ(node_named(graph(R"(, "attrs": {"mxnet_version": ["int", 904]})"), "slope").attrs.count("__init__"), 0u);

  // The BatchNorm of MXNet's own 0.8 fixture: both synthesised stats.
  const Graph g = read_symbol_json(kModels + "apache_mxnet_test_fixtures/save_000800.json");
  EXPECT_EQ(node_named(g, "batchnorm0_moving_mean").attr("__init__"), R"(["zero", {}])");
  EXPECT_EQ(node_named(g, "batchnorm0_moving_var").attr("__init__"), R"(["one", {}])");
}

TEST(SymbolJson, NodeRowPtrGivesOutputCounts) {
  const Graph g = parse_symbol_json(replace(kSmall, "[0, 1, 2]", "[0, 1, 4]"));
  EXPECT_EQ(g.nodes[1].num_outputs, 3u);
}

TEST(SymbolJson, SaveWritesAtomicallyAndReadsBack) {
  const fs::path dir = fs::temp_directory_path() / ("mixprec_symbol_json_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Graph g = read_symbol_json(kModels + "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-symbol.json");
  const std::string path = (dir / "out-symbol.json").string();
  save_symbol_json(g, path);
  // MXNet's own bytes: this export round-trips byte for byte (MxnetWrittenFilesRoundTripByteForByte).
  EXPECT_TRUE(read_text_file(path) == read_text_file(kModels + "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-symbol.json"))
      << path << " differs from the file MXNet wrote";
  expect_same_graph(g, read_symbol_json(path), path);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temporary left
  fs::remove_all(dir);
}

TEST(SymbolJson, SaveIntoMissingDirectoryThrowsAndLeavesNothing) {
  const fs::path dir = fs::temp_directory_path() / ("mixprec_symbol_json_missing_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string path = (dir / "x-symbol.json").string();
  try {
    save_symbol_json(parse_symbol_json(kSmall), path);
    FAIL() << "saved into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path);
  }
  EXPECT_FALSE(fs::exists(dir));
}

// ---- bad input ----------------------------------------------------------------------------------

// Parses `text` as "bad.json" and checks that the error names the file, the place and the reason.
void expect_error(const std::string& text, const std::string& place, const std::string& reason) {
  try {
    parse_symbol_json(text, "bad.json");
    ADD_FAILURE() << "no error for: " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "bad.json");
    EXPECT_NE(std::string(e.what()).find("bad.json: "), std::string::npos) << e.what();
    EXPECT_NE(e.place().find(place), std::string::npos) << "place: " << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "reason: " << e.what();
  }
}

TEST(SymbolJsonError, MalformedJsonGivesLineAndColumn) {
  expect_error("{\n  \"nodes\": [\n    {\"op\": \"null\",, \"name\": \"x\"}]}", "line 3 column 19", "malformed JSON");
  expect_error("", "line 1 column 1", "malformed JSON");
  expect_error("{\"nodes\": []} trailing", "line 1 column 17", "malformed JSON");
}

TEST(SymbolJsonError, TruncatedFile) {
  const std::string text = read_text_file(kModels + "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-symbol.json");
  const std::string cut = text.substr(0, text.size() / 2);
  const size_t lines = static_cast<size_t>(std::count(cut.begin(), cut.end(), '\n')) + 1;
  expect_error(cut, "line " + std::to_string(lines) + " column", "unexpected end of input");
}

TEST(SymbolJsonError, EscapesMxnetCannotRead) {
  expect_error(replace(kSmall, "\"x\"", "\"\\u0041\""), "line 1 column 36", "string escape \\u");
  expect_error(replace(kSmall, "\"x\"", "\"a\\/b\""), "line 1 column", "string escape \\/");
}

TEST(SymbolJsonError, NestingTooDeep) {
  expect_error(std::string(2000, '[') + std::string(2000, ']'), "line 1 column 1025", "nested deeper than 1024");
}

TEST(SymbolJsonError, TopLevelShape) {
  expect_error("[]", "top level", "must be a JSON object");
  expect_error(replace(kSmall, "\"heads\"", "\"foo\": 1, \"heads\""), "top level", "unknown key 'foo'");
  expect_error(replace(kSmall, "\"heads\": [[1, 0, 0]]", "\"attrs\": {}"), "top level", "missing required key 'heads'");
  expect_error(R"({"nodes": {}, "arg_nodes": [], "heads": []})", "nodes", "must be an array, got object");
}

TEST(SymbolJsonError, NodeShape) {
  expect_error(replace(kSmall, "\"name\": \"act\",", "\"name\": \"act\", \"colour\": \"red\","), "nodes[1] ('act')",
               "unknown key 'colour'");
  expect_error(replace(kSmall, "\"op\": \"null\", ", ""), "nodes[0] ('x')", "missing required key 'op'");
  expect_error(replace(kSmall, "\"name\": \"x\", ", ""), "nodes[0]", "missing required key 'name'");
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[\"x\"]}"), "nodes[1] ('act') inputs[0]", "got string \"x\"");
  expect_error(replace(kSmall, "\"inputs\": []", "\"inputs\": [[0, 0]]"), "nodes[0] ('x')", "cannot have inputs");
}

TEST(SymbolJsonError, NonStringAttributeValue) {
  expect_error(replace(kSmall, "\"relu\"", "3"), "nodes[1] ('act')", "attribute 'act_type' must be a string, got number 3");
  expect_error(replace(kSmall, "{\"act_type\": \"relu\"}", "[]"), "nodes[1] ('act')", "'attrs' must be an object");
}

TEST(SymbolJsonError, EntryArity) {
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[0]]}"), "nodes[1] ('act') inputs[0]", "array of 1 items");
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[0, 0, 0, 0]]}"), "nodes[1] ('act') inputs[0]", "array of 4 items");
  expect_error(replace(kSmall, "[[1, 0, 0]]", "[[1, 0, 0, 0]]"), "heads[0]", "an entry must be");
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[-1, 0, 0]]}"), "nodes[1] ('act') inputs[0]", "non-negative integer, got -1");
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[0.5, 0, 0]]}"), "nodes[1] ('act') inputs[0]", "got number 0.5");
}

TEST(SymbolJsonError, NodeIdOutOfRange) {
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[5, 0, 0]]}"), "nodes[1] ('act') inputs[0]", "refers to node 5 but the graph has 2");
  expect_error(replace(kSmall, "[[1, 0, 0]]", "[[2, 0, 0]]"), "heads[0]", "refers to node 2 but the graph has 2");
  expect_error(replace(kSmall, "\"arg_nodes\": [0]", "\"arg_nodes\": [7]"), "arg_nodes[0]", "refers to node 7");
}

TEST(SymbolJsonError, OutputIndexOutOfRange) {
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[0, 1, 0]]}"), "nodes[1] ('act') inputs[0]",
               "refers to output 1 of node 0 ('x'), which has 1 output");
  expect_error(replace(kSmall, "[[1, 0, 0]]", "[[1, 3, 0]]"), "heads[0]", "refers to output 3");
}

TEST(SymbolJsonError, Cycles) {
  expect_error(replace(kSmall, "[[0, 0, 0]]}", "[[1, 0, 0]]}"), "nodes[1] ('act')", "refers to itself");
  expect_error(R"({"nodes": [{"op": "Activation", "name": "a", "inputs": [[1, 0]]},
                             {"op": "Activation", "name": "b", "inputs": [[0, 0]]}],
                  "arg_nodes": [], "heads": [[1, 0]]})",
               "nodes[", "cycle");
  expect_error(R"({"nodes": [{"op": "null", "name": "x", "inputs": []},
                             {"op": "Activation", "name": "a", "inputs": [[0, 0]], "control_deps": [2]},
                             {"op": "Activation", "name": "b", "inputs": [[1, 0]]}],
                  "arg_nodes": [0], "heads": [[2, 0]]})",
               "nodes[", "cycle");
}

TEST(SymbolJsonError, ArgNodesPointingAtAnOp) {
  expect_error(replace(kSmall, "\"arg_nodes\": [0]", "\"arg_nodes\": [0, 1]"), "arg_nodes[1]",
               "refers to node 1 ('act'), which is an op (Activation), not a variable");
}

TEST(SymbolJsonError, NodeRowPtrInconsistent) {
  expect_error(replace(kSmall, "[0, 1, 2]", "[0, 1]"), "node_row_ptr", "has 2 items; 2 nodes need 3");
  expect_error(replace(kSmall, "[0, 1, 2]", "[1, 2, 3]"), "node_row_ptr[0]", "must be 0");
  expect_error(replace(kSmall, "[0, 1, 2]", "[0, 1, 0]"), "node_row_ptr[2]", "decreases");
  expect_error(replace(kSmall, "[0, 1, 2]", "[0, 2, 3]"), "node_row_ptr[1]", "variable 'x' 2 outputs");
}

TEST(SymbolJsonError, DuplicateVariableNames) {
  expect_error(R"({"nodes": [{"op": "null", "name": "w", "inputs": []}, {"op": "null", "name": "w", "inputs": []}],
                  "arg_nodes": [0, 1], "heads": [[0, 0], [1, 0]]})",
               "nodes[1] ('w')", "already used by nodes[0]");
}

TEST(SymbolJsonError, GraphAttributes) {
  expect_error(replace(kSmall, "\"heads\"", "\"attrs\": {\"mxnet_version\": 10900}, \"heads\""), "attrs 'mxnet_version'",
               "[type, value] pair");
  expect_error(replace(kSmall, "\"heads\"", "\"attrs\": {\"mxnet_version\": [\"str\", \"1.9\"]}, \"heads\""),
               "attrs 'mxnet_version'", "must be [\"int\", version]");
}

TEST(SymbolJsonError, SubgraphsNestedTooDeep) {
  std::string text = kSmall;
  for (int level = 0; level < 65; ++level)
    text = R"({"nodes": [{"op": "_foreach", "name": "l)" + std::to_string(level) + R"(", "inputs": [], "subgraphs": [)" +
           text + R"(]}], "arg_nodes": [], "heads": [[0, 0]]})";
  expect_error(text, "subgraphs[0]", "subgraphs nested deeper than 64 levels");
}

TEST(SymbolJsonError, ErrorsInsideASubgraphNameTheirPath) {
  expect_error(replace(kSubgraphJson, "\"act_type\": \"relu\"", "\"act_type\": true"),
               "nodes[1] ('loop') subgraphs[0] nodes[1] ('act')", "attribute 'act_type' must be a string");
}

TEST(SymbolJsonError, MissingFile) {
  try {
    read_symbol_json("/nonexistent/mixprec-symbol.json");
    FAIL() << "read a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "/nonexistent/mixprec-symbol.json");
  }
}

}  // namespace
}  // namespace mixprec::mxnet
