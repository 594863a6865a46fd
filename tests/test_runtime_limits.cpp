// The engine's planning limits (mixprec/limits.h): shapes whose element count overflows, one
// activation past limits::kMaxActivationBytes, activations past the machine's physical memory, all
// refused with a mixprec::Error while the session plans (never std::bad_alloc), naming the input or
// node, the size and the limit; and every planning error names the file the graph came from.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "cli_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/error.h"
#include "mixprec/limits.h"
#include "mixprec/mxnet.h"
#include "runtime/activation_memory.h"
#include "runtime/session.h"

using namespace mixprec;
using runtime::Session;
using runtime::SessionOptions;
using runtime::Shape;

namespace {

// data -> relu: the smallest graph whose input shape the user chooses.
Graph relu_graph() {
  GraphBuilder b;
  const Entry x = b.var("data");
  return b.build({b.op("Activation", "relu", {x}, {{"act_type", "relu"}})});
}

SessionOptions with_shape(const Shape& s, const std::string& source = "") {
  SessionOptions o;
  o.input_shapes["data"] = s;
  o.source = source;
  return o;
}

// The mixprec::Error the session's planning throws (a failure when it throws nothing or something else).
Error planning_error(Graph g, const SessionOptions& o, TensorMap arg = {}) {
  try {
    Session s(std::move(g), std::move(arg), {}, o);
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a mixprec::Error: " << e.what();
    return Error("");
  }
  ADD_FAILURE() << "no error";
  return Error("");
}

void expect_contains(const std::string& text, const std::string& part) { EXPECT_NE(text.find(part), std::string::npos) << text; }

}  // namespace

TEST(RuntimeLimits, FormatsBytesForMessages) {
  EXPECT_EQ(runtime::format_bytes(5), "5 bytes");
  EXPECT_EQ(runtime::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(runtime::format_bytes(uint64_t{300} << 20), "300 MiB");
  EXPECT_EQ(runtime::format_bytes(limits::kMaxActivationBytes), "1.0 TiB");
}

TEST(RuntimeLimits, ElementCountsThatOverflowAreCaught) {
  EXPECT_EQ(runtime::checked_numel({2, 3, 4}), 24);
  EXPECT_EQ(runtime::checked_numel({}), 1);
  EXPECT_FALSE(runtime::checked_numel({int64_t{1} << 32, int64_t{1} << 32}).has_value());
  EXPECT_FALSE(runtime::checked_numel({std::numeric_limits<int64_t>::max(), 2}).has_value());
  EXPECT_EQ(runtime::checked_numel({std::numeric_limits<int64_t>::max(), 1}), std::numeric_limits<int64_t>::max());

  // Dimensions each fine, their product past int64: refused at the input, naming it and the shape.
  const Error e = planning_error(relu_graph(), with_shape({int64_t{1} << 32, int64_t{1} << 32, 3}));
  EXPECT_EQ(e.place(), "input 'data'");
  expect_contains(e.reason(), "(4294967296, 4294967296, 3)");
  expect_contains(e.reason(), "more elements than a 64-bit count can hold");
}

TEST(RuntimeLimits, HugeInputIsRefusedWithItsSizeAndTheLimit) {
  // The command: 100000 × 3 × 2240 × 2240 float32 is 5.5 TiB. It used to end in std::bad_alloc.
  const Error e = planning_error(relu_graph(), with_shape({100000, 3, 2240, 2240}, "m-symbol.json"));
  EXPECT_EQ(e.file(), "m-symbol.json");
  EXPECT_EQ(e.place(), "input 'data'");
  expect_contains(e.reason(), "(100000, 3, 2240, 2240)");
  expect_contains(e.reason(), "5.5 TiB");
  expect_contains(e.reason(), "more than one activation may take (1.0 TiB)");
}

TEST(RuntimeLimits, HugeNodeOutputIsRefusedNamingTheNode) {
  // A small input that one op scales past the cap: 2000² × 1000² elements.
  GraphBuilder b;
  const Entry x = b.var("data");
  const Entry up = b.op("UpSampling", "up", {x}, {{"scale", "1000"}, {"sample_type", "nearest"}, {"num_args", "1"}});
  const Error e = planning_error(b.build({up}), with_shape({1, 1, 2000, 2000}));
  EXPECT_EQ(e.place(), "node 'up'");
  expect_contains(e.reason(), "(1, 1, 2000000, 2000000)");
  expect_contains(e.reason(), "1.0 TiB");
}

TEST(RuntimeLimits, ActivationsBeyondPhysicalMemoryAreRefused) {
  const uint64_t physical = runtime::physical_memory_bytes();
  if (physical == 0) GTEST_SKIP() << "sysconf does not report physical memory here";
  // One input as large as the whole memory: with the relu's output beside it, twice the memory.
  const auto elements = static_cast<int64_t>(physical / sizeof(float));
  if (runtime::activation_bytes(elements) > limits::kMaxActivationBytes) GTEST_SKIP() << "more memory than one activation may take";
  const Error e = planning_error(relu_graph(), with_shape({1, elements}));
  EXPECT_EQ(e.place(), "node 'relu'");
  expect_contains(e.reason(), "physical memory (" + runtime::format_bytes(physical) + ")");
  expect_contains(e.reason(), "alone " + runtime::format_bytes(runtime::activation_bytes(elements)));
}

TEST(RuntimeLimits, PeakCountsWhatIsAliveAtOnce) {
  // data(100) -> a(10) -> b(1000) -> c(1), with `a` also read by c. Inputs are freed after their reader
  // has run, so while c runs everything is alive.
  GraphBuilder g;
  const Entry d = g.var("data");
  const Entry a = g.op("Activation", "a", {d}, {{"act_type", "relu"}});
  const Entry bb = g.op("Activation", "b", {a}, {{"act_type", "relu"}});
  const Entry c = g.op("elemwise_add", "c", {bb, a});
  const Graph graph = g.build({c});
  const std::vector<uint32_t> offset = {0, 1, 2, 3, 4};
  const runtime::ActivationPeak p = runtime::activation_peak(graph, offset, {100, 10, 1000, 1});
  EXPECT_EQ(p.bytes, 1111u);
  EXPECT_EQ(p.node, 3u);
  // Parameters count as 0: the data input alone is then the most.
  EXPECT_EQ(runtime::activation_peak(graph, offset, {100, 0, 0, 1}).bytes, 101u);
}

TEST(RuntimeLimits, EveryPlanningErrorNamesTheSourceFile) {
  // No kernel: every missing op with a node that uses it, and the file.
  {
    GraphBuilder b;
    const Entry x = b.var("data");
    const Entry u = b.op("MyCustomOp", "c1", {x});
    const Error e = planning_error(b.build({b.op("OtherOp", "c2", {u})}), with_shape({2}, "net-symbol.json"));
    EXPECT_EQ(e.file(), "net-symbol.json");
    expect_contains(e.what(), "net-symbol.json: the engine has no kernel for: MyCustomOp (node 'c1'), OtherOp (node 'c2')");
  }
  // A kernel's shape error names the node; the session adds the file.
  {
    GraphBuilder b;
    const Entry x = b.var("data");
    const Entry c = b.op("Convolution", "conv_bad", {x, b.var("w")}, {{"kernel", "(3, 3)"}, {"num_filter", "4"}, {"no_bias", "True"}});
    TensorMap arg;
    arg["w"] = Tensor::from_floats({4, 5, 3, 3}, std::vector<float>(180, 0.1f));
    const Error e = planning_error(b.build({c}), with_shape({1, 3, 8, 8}, "net-symbol.json"), arg);
    EXPECT_EQ(e.file(), "net-symbol.json");
    EXPECT_EQ(e.place(), "node 'conv_bad'");
  }
  // An input without a shape, and one with an unknown dimension.
  {
    SessionOptions o;
    o.source = "net-symbol.json";
    const Error e = planning_error(relu_graph(), o);
    EXPECT_EQ(e.file(), "net-symbol.json");
    EXPECT_EQ(e.place(), "input 'data'");
    EXPECT_EQ(planning_error(relu_graph(), with_shape({0, 3}, "net-symbol.json")).file(), "net-symbol.json");
  }
  // Without a source, the place alone.
  const Error e = planning_error(relu_graph(), with_shape({100000, 3, 2240, 2240}));
  EXPECT_EQ(e.file(), "");
  EXPECT_EQ(std::string(e.what()).rfind("input 'data': ", 0), 0u) << e.what();
}

class RuntimeLimitsCli : public mixprec::testing::CliFixture {};

TEST_F(RuntimeLimitsCli, RunRefusesAHugeShapeNamingTheSymbolFile) {
  // The reproduction, end to end: exit code 1 and one line naming the file, the input and the sizes.
  mxnet::save_symbol_json(relu_graph(), p("m-symbol.json"));
  mxnet::save_params({}, p("m-0000.params"));
  const mixprec::testing::CliRun r = run("run --symbol " + p("m-symbol.json") + " --params " + p("m-0000.params") + " --shape data=100000,3,2240,2240");
  EXPECT_EQ(r.code, 1) << r.err;
  expect_contains(r.err, p("m-symbol.json") + ": input 'data': shape (100000, 3, 2240, 2240) takes 5.5 TiB");
  EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << r.err;
}
