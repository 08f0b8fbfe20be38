#include "common/json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace noderepair {
namespace {

namespace json = boost::json;

std::string Nested(int depth, char open, char close) {
    return std::string(size_t(depth), open) + std::string(size_t(depth), close);
}

std::string NestedObjects(int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += "{\"a\":";
    text += "1";
    text += std::string(size_t(depth), '}');
    return text;
}

void ExpectRejected(std::string_view text) {
    auto parsed = ParseStrictJson(text);
    ASSERT_FALSE(parsed) << "accepted: " << text;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << text;
    EXPECT_FALSE(parsed.error().message.empty());
}

TEST(ParseStrictJson, AcceptsOrdinaryDocuments) {
    auto parsed = ParseStrictJson(
        R"({"mode": "REMEDIATION_MODE_VM_ONLY", "n": -12, "big": 18446744073709551615,
            "x": 1.5e3, "tiny": 1e-400, "ok": true, "none": null, "list": [1, "two", {}],
            "nested": {"a": {"b": []}}, "text": "caf\u00e9 \ud83d\ude00 \n"})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& o = parsed->as_object();
    EXPECT_EQ(o.at("mode").as_string(), "REMEDIATION_MODE_VM_ONLY");
    EXPECT_EQ(o.at("n").as_int64(), -12);
    EXPECT_EQ(o.at("big").as_uint64(), std::numeric_limits<uint64_t>::max());
    EXPECT_DOUBLE_EQ(o.at("x").as_double(), 1500.0);
    EXPECT_DOUBLE_EQ(o.at("tiny").as_double(), 0.0);
    EXPECT_TRUE(o.at("ok").as_bool());
    EXPECT_TRUE(o.at("none").is_null());
    EXPECT_EQ(o.at("list").as_array().size(), 3u);
    EXPECT_EQ(o.at("text").as_string(), "caf\xc3\xa9 \xf0\x9f\x98\x80 \n");
}

TEST(ParseStrictJson, AcceptsScalarsAndSurroundingWhitespace) {
    EXPECT_TRUE(ParseStrictJson("  {}\n\t "));
    EXPECT_TRUE(ParseStrictJson("[]"));
    EXPECT_TRUE(ParseStrictJson("\"s\""));
    EXPECT_TRUE(ParseStrictJson("0"));
    EXPECT_TRUE(ParseStrictJson("null"));
}

TEST(ParseStrictJson, RejectsDuplicateKeys) {
    ExpectRejected(R"({"a": 1, "a": 2})");
    ExpectRejected(R"({"a": 1, "b": 2, "a": 1})");
    ExpectRejected(R"({"mode": "REMEDIATION_MODE_VM_ONLY", "mode": "REMEDIATION_MODE_REBOOT_VM"})");
}

TEST(ParseStrictJson, RejectsDuplicateKeysSpelledWithEscapes) {
    ExpectRejected(R"({"a": 1, "\u0061": 2})");
}

TEST(ParseStrictJson, RejectsNestedDuplicateKeys) {
    ExpectRejected(R"({"outer": {"a": 1, "a": 2}})");
    ExpectRejected(R"([{"a": 1}, {"b": 1, "b": 2}])");
    ExpectRejected(R"({"x": [1, {"y": {"z": 1, "z": 1}}]})");
}

TEST(ParseStrictJson, SameKeyInDifferentObjectsIsFine) {
    EXPECT_TRUE(ParseStrictJson(R"({"a": {"a": {"a": 1}}})"));
    EXPECT_TRUE(ParseStrictJson(R"([{"a": 1}, {"a": 2}])"));
    EXPECT_TRUE(ParseStrictJson(R"({"x": {"a": 1}, "y": {"a": 1}, "a": 0})"));
}

TEST(ParseStrictJson, RejectsLongDuplicateKeys) {
    const std::string key(5000, 'k');
    ExpectRejected("{\"" + key + "\": 1, \"" + key + "\": 2}");
    EXPECT_TRUE(ParseStrictJson("{\"" + key + "\": 1, \"" + key + "x\": 2}"));
}

// Keys are compared when their object ends: a big object is sorted once, not searched per key.
TEST(ParseStrictJson, ChecksObjectsWithManyKeys) {
    std::string many = "{";
    for (int i = 0; i < 20000; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\": 1";
    EXPECT_TRUE(ParseStrictJson(many + "}"));
    ExpectRejected(many + ", \"k12345\": 2}");
    // A long array of small objects, as a fleet file: each object's keys are its own.
    std::string fleet = "[";
    for (int i = 0; i < 1000; ++i) fleet += (i ? "," : "") + std::string(R"({"id": 1, "host": 2})");
    EXPECT_TRUE(ParseStrictJson(fleet + "]"));
    ExpectRejected(fleet + R"(, {"id": 1, "host": 2, "id": 3}])");
}

TEST(ParseStrictJson, RejectsNumbersOutOfDoubleRange) {
    ExpectRejected("1e400");
    ExpectRejected("-1e400");
    ExpectRejected(R"({"a": 1e400})");
    ExpectRejected(R"([0, -1.5e309])");
}

TEST(ParseStrictJson, RejectsTrailingData) {
    ExpectRejected("{} x");
    ExpectRejected("{}{}");
    ExpectRejected("1 2");
    ExpectRejected(R"({"a": 1},)");
    ExpectRejected(std::string("{}\0", 3));
}

TEST(ParseStrictJson, RejectsMalformedDocuments) {
    for (const char* text :
         {"", "   ", "{", "{\"a\"}", "{\"a\": }", "[1,]", "{\"a\": 1,}", "{'a': 1}", "{a: 1}",
          "NaN", "Infinity", "01", "{\"a\": 1 /* c */}", "\"unterminated", "\"bad \\x escape\""}) {
        ExpectRejected(text);
    }
}

TEST(ParseStrictJson, AcceptsNestingUpTo64) {
    EXPECT_TRUE(ParseStrictJson(Nested(64, '[', ']')));
    EXPECT_TRUE(ParseStrictJson(NestedObjects(64)));
}

TEST(ParseStrictJson, RejectsNestingDeeperThan64) {
    ExpectRejected(Nested(65, '[', ']'));
    ExpectRejected(NestedObjects(65));
    ExpectRejected(Nested(10000, '[', ']'));
}

TEST(ParseStrictJson, RejectsInvalidUtf8) {
    ExpectRejected("\"\xff\"");
    ExpectRejected("\"\xc3\"");            // truncated two-byte sequence
    ExpectRejected("\"\xc0\xaf\"");        // overlong '/'
    ExpectRejected("\"\xed\xa0\x80\"");    // encoded surrogate
    ExpectRejected("{\"k\xfe\": 1}");      // in a key
    ExpectRejected("{\"k\": \"v\x80\"}");  // stray continuation byte
}

json::value ParseBack(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    EXPECT_FALSE(ec) << ec.message() << " in: " << text;
    return v;
}

TEST(JsonWriter, EscapesEveryControlCharacter) {
    std::string all;
    for (int c = 0; c < 0x20; ++c) all.push_back(char(c));
    all += "\x7f";
    std::string out;
    JsonWriter(out).String(all);
    for (char c : out) {
        EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "raw control character in " << out;
    }
    EXPECT_EQ(ParseBack(out).as_string(), all);
}

TEST(JsonWriter, EscapesQuotesAndBackslashes) {
    const std::string tricky = R"(say "hi" \ C:\path\ "\"")";
    std::string out;
    JsonWriter(out).String(tricky);
    EXPECT_EQ(ParseBack(out).as_string(), tricky);
    std::string short_out;
    JsonWriter(short_out).String("a\"b\\c\nd\te\r");
    EXPECT_EQ(short_out, R"("a\"b\\c\nd\te\r")");
}

TEST(JsonWriter, PassesUnicodeThroughUnchanged) {
    const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad";
    std::string out;
    JsonWriter(out).String(text);
    EXPECT_EQ(out, "\"" + text + "\"");
    EXPECT_EQ(ParseBack(out).as_string(), text);
}

// Found by fuzz/list_query_fuzzer: `?trigger=%C1%A9` came back in a 400 whose body was not JSON.
TEST(JsonWriter, WritesBytesThatAreNotUtf8AsReplacementCharacters) {
    const std::string kReplacement = "\xef\xbf\xbd";
    const std::pair<std::string, std::string> cases[] = {
        {"a\xc1\xa9z", "a" + kReplacement + kReplacement + "z"},  // overlong
        {"\xff", kReplacement},
        {"\x80", kReplacement},                                        // stray continuation
        {"\xc3", kReplacement},                                        // truncated at the end
        {"\xe2\x82z", kReplacement + kReplacement + "z"},              // truncated in the middle
        {"\xed\xa0\x80", kReplacement + kReplacement + kReplacement},  // surrogate
        {"\xf4\x90\x80\x80", kReplacement + kReplacement + kReplacement + kReplacement},
        {"\xe0\x80\xaf", kReplacement + kReplacement + kReplacement},  // overlong '/'
    };
    for (const auto& [raw, written] : cases) {
        std::string out;
        JsonWriter(out).String(raw);
        EXPECT_EQ(out, "\"" + written + "\"");
        EXPECT_TRUE(ParseStrictJson(out)) << out;
    }
    std::string edges;
    JsonWriter(edges).String("\xc2\x80 \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf");
    EXPECT_EQ(edges, "\"\xc2\x80 \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf\"");
}

TEST(JsonWriter, EscapesKeysToo) {
    std::string out;
    JsonWriter(out).BeginObject().Key("k\"\n\\").Int(1).EndObject();
    EXPECT_EQ(ParseBack(out).as_object().at("k\"\n\\").as_int64(), 1);
}

TEST(JsonWriter, InsertsSeparatorsBetweenMembersAndElements) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("a").Int(1);
    w.Key("b").BeginArray().Int(1).String("x").Bool(false).Null().BeginObject().EndObject();
    w.BeginArray().EndArray().EndArray();
    w.Key("c").BeginObject().Key("d").Bool(true).Key("e").Raw(R"({"r":[1,2]})").EndObject();
    w.Key("f").Double(0.25);
    w.EndObject();
    EXPECT_EQ(out,
              R"({"a":1,"b":[1,"x",false,null,{},[]],"c":{"d":true,"e":{"r":[1,2]}},"f":0.25})");
    const json::value v = ParseBack(out);
    EXPECT_EQ(v.at("c").at("e").at("r").as_array().size(), 2u);
}

TEST(JsonWriter, TopLevelArrayOfObjects) {
    std::string out;
    JsonWriter w(out);
    w.BeginArray();
    for (int i = 0; i < 3; ++i) w.BeginObject().Key("i").Int(i).EndObject();
    w.EndArray();
    EXPECT_EQ(out, R"([{"i":0},{"i":1},{"i":2}])");
}

TEST(JsonWriter, WritesExtremeIntegersAndRoundTripsDoubles) {
    std::string out;
    JsonWriter w(out);
    w.BeginArray()
        .Int(std::numeric_limits<int64_t>::min())
        .Int(std::numeric_limits<int64_t>::max())
        .Double(0.1)
        .Double(-1e300)
        .EndArray();
    const json::array a = ParseBack(out).as_array();
    EXPECT_EQ(a[0].as_int64(), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(a[1].as_int64(), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(a[2].as_double(), 0.1);
    EXPECT_EQ(a[3].as_double(), -1e300);
}

TEST(JsonWriter, OptionalStringSkipsEmptyValues) {
    std::string out;
    JsonWriter(out)
        .BeginObject()
        .OptionalString("empty", "")
        .OptionalString("set", "v")
        .OptionalString("also_empty", "")
        .Key("n")
        .Int(2)
        .EndObject();
    EXPECT_EQ(out, R"({"set":"v","n":2})");
}

TEST(JsonWriter, AppendsToExistingText) {
    std::string out = "prefix:";
    JsonWriter(out).String("x");
    EXPECT_EQ(out, "prefix:\"x\"");
}

TEST(JsonWriter, OutputParsesStrictly) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("a").String("\x01\"\\").Key("b").BeginArray();
    for (int i = 0; i < 5; ++i) w.Int(i);
    w.EndArray().EndObject();
    auto strict = ParseStrictJson(out);
    ASSERT_TRUE(strict) << strict.error().message << " in " << out;
    EXPECT_EQ(strict->at("a").as_string(), "\x01\"\\");
}

}  // namespace
}  // namespace noderepair
