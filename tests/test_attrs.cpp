// MXNet attribute strings as real producers write them: Python str(), old dmlc, hand-edited JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mixprec/attrs.h"
#include "mixprec/error.h"

namespace attrs = mixprec::attrs;
using V = std::vector<int64_t>;

namespace {

// Expects an Error whose message names `what` and quotes the text.
void expect_error(auto&& fn, const std::string& what, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "accepted '" << text << "'";
  } catch (const mixprec::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + text + "'"), std::string::npos) << msg;
  }
}

}  // namespace

TEST(AttrsTuple, SpellingsProducersUse) {
  EXPECT_EQ(attrs::parse_tuple("(3, 3)"), (V{3, 3}));
  EXPECT_EQ(attrs::parse_tuple("(3,3)"), (V{3, 3}));
  EXPECT_EQ(attrs::parse_tuple("[3,3]"), (V{3, 3}));
  EXPECT_EQ(attrs::parse_tuple("[ 3 , 3 ]"), (V{3, 3}));
  EXPECT_EQ(attrs::parse_tuple("  ( 1 ,2,  3 )  "), (V{1, 2, 3}));
  EXPECT_EQ(attrs::parse_tuple("(16,)"), (V{16}));
  EXPECT_EQ(attrs::parse_tuple("(16, )"), (V{16}));
  EXPECT_EQ(attrs::parse_tuple("(16)"), (V{16}));
  EXPECT_EQ(attrs::parse_tuple("()"), V{});
  EXPECT_EQ(attrs::parse_tuple("( )"), V{});
  EXPECT_EQ(attrs::parse_tuple("[]"), V{});
  EXPECT_EQ(attrs::parse_tuple("(16, 3, 3, 3)"), (V{16, 3, 3, 3}));
  EXPECT_EQ(attrs::parse_tuple("(0, -1, -2, -3, -4)"), (V{0, -1, -2, -3, -4}));  // Reshape codes
  EXPECT_EQ(attrs::parse_tuple("(3L, 3L)"), (V{3, 3}));                          // Python 2 longs
  EXPECT_EQ(attrs::parse_tuple("(+2,1)"), (V{2, 1}));
  EXPECT_EQ(attrs::parse_tuple("7"), (V{7}));  // dmlc reads a bare number as a 1-tuple
  EXPECT_EQ(attrs::parse_tuple("(9223372036854775807, -9223372036854775808)"),
            (V{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}));
}

TEST(AttrsTuple, MalformedTextIsAnError) {
  for (const std::string bad : {"", "   ", "(", ")", "(3, 3", "3, 3)", "(3, 3]", "[3, 3)", "(,)", "(3,,3)",
                                "(3, x)", "(3.5, 1)", "(None, 2)", "None", "(1 2)", "((1, 2))", "(3, 3),",
                                "(99999999999999999999,)", "(--1)", "(+-1)", "(1e3)"}) {
    expect_error([&] { attrs::parse_tuple(bad, "kernel"); }, "kernel", bad);
  }
}

TEST(AttrsTuple, FormatWritesPythonStyle) {
  EXPECT_EQ(attrs::format_tuple({16, 3, 3, 3}), "(16, 3, 3, 3)");
  EXPECT_EQ(attrs::format_tuple({16}), "(16,)");
  EXPECT_EQ(attrs::format_tuple({}), "()");
  EXPECT_EQ(attrs::format_tuple({-1, 0}), "(-1, 0)");
  for (const V& v : {V{}, V{1}, V{1, 2}, V{-4, 0, 7, 1 << 30}})
    EXPECT_EQ(attrs::parse_tuple(attrs::format_tuple(v)), v);
}

TEST(AttrsBool, AcceptedSpellings) {
  for (const char* t : {"True", "true", "TRUE", "1", " True "}) EXPECT_TRUE(attrs::parse_bool(t)) << t;
  for (const char* f : {"False", "false", "FALSE", "0", "\tfalse\n"}) EXPECT_FALSE(attrs::parse_bool(f)) << f;
  for (const std::string bad : {"", "yes", "2", "Truee", "None", "T", "-1"})
    expect_error([&] { attrs::parse_bool(bad, "no_bias"); }, "no_bias", bad);
}

TEST(AttrsInt, Values) {
  EXPECT_EQ(attrs::parse_int("64"), 64);
  EXPECT_EQ(attrs::parse_int(" -1 "), -1);
  EXPECT_EQ(attrs::parse_int("+5"), 5);
  EXPECT_EQ(attrs::parse_int("0"), 0);
  EXPECT_EQ(attrs::parse_int("10L"), 10);
  EXPECT_EQ(attrs::parse_int("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  for (const std::string bad : {"", "abc", "1.0", "1e3", "0x10", "9223372036854775808", "1 2", "--1", "L", "None"})
    expect_error([&] { attrs::parse_int(bad, "num_filter"); }, "num_filter", bad);
}

TEST(AttrsInt, Optional) {
  EXPECT_EQ(attrs::parse_optional_int("None"), std::nullopt);
  EXPECT_EQ(attrs::parse_optional_int(""), std::nullopt);
  EXPECT_EQ(attrs::parse_optional_int(" None "), std::nullopt);
  EXPECT_EQ(attrs::parse_optional_int("3"), 3);
  EXPECT_EQ(attrs::parse_optional_int("-1"), -1);
  expect_error([&] { attrs::parse_optional_int("none", "axis"); }, "axis", "none");
  expect_error([&] { attrs::parse_optional_int("1.5", "axis"); }, "axis", "1.5");
}

TEST(AttrsFloat, PythonReprs) {
  EXPECT_EQ(attrs::parse_float("0.001"), 0.001);
  EXPECT_EQ(attrs::parse_float("1e-05"), 1e-05);
  EXPECT_EQ(attrs::parse_float("0.0078125"), 0.0078125);
  EXPECT_EQ(attrs::parse_float("127.5"), 127.5);
  EXPECT_EQ(attrs::parse_float("0.9"), 0.9);
  EXPECT_EQ(attrs::parse_float("2"), 2.0);
  EXPECT_EQ(attrs::parse_float("-3.25"), -3.25);
  EXPECT_EQ(attrs::parse_float("+1.5"), 1.5);
  EXPECT_EQ(attrs::parse_float(" 1E+3 "), 1000.0);
  EXPECT_EQ(attrs::parse_float(".5"), 0.5);
  EXPECT_EQ(attrs::parse_float("inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(attrs::parse_float("-inf"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(attrs::parse_float("nan")));
  for (const std::string bad : {"", "abc", "1.0.0", "1e", "0.5f", "1,5", "None", "1e999", "+-1"})
    expect_error([&] { attrs::parse_float(bad, "eps"); }, "eps", bad);
}

TEST(AttrsErrors, DefaultWhatIsAttribute) {
  try {
    attrs::parse_int("x");
    ADD_FAILURE();
  } catch (const mixprec::Error& e) {
    EXPECT_EQ(e.place(), "attribute");
    EXPECT_NE(e.reason().find("'x'"), std::string::npos);
  }
}
