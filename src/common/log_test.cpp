#include "common/log.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace noderepair {
namespace {

class LogLineTest : public ::testing::Test {
protected:
    void TearDown() override { SetLogFormat(LogFormat::kText); }
};

TEST_F(LogLineTest, TextIsKeyValueWithQuotesOnlyWhereNeeded) {
    SetLogFormat(LogFormat::kText);
    std::string line = LogLine("request")
                           .Add("method", "GET")
                           .Add("detail", "two words")
                           .Add("empty", "")
                           .Add("eq", "a=b")
                           .Add("status", int64_t(404))
                           .AddMillis("duration_ms", 1.23456)
                           .Finish();
    ASSERT_TRUE(line.ends_with("\n"));
    auto space = line.find(' ');
    EXPECT_TRUE(line.substr(0, space).ends_with("Z"));
    EXPECT_EQ(line.substr(space + 1),
              "request method=GET detail=\"two words\" empty=\"\" eq=\"a=b\" status=404 "
              "duration_ms=1.235\n");
}

TEST_F(LogLineTest, TextEscapesNewlinesSoOneRecordIsOneLine) {
    SetLogFormat(LogFormat::kText);
    std::string line = LogLine("transition").Add("error", "line1\nline2").Finish();
    EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST_F(LogLineTest, JsonIsOneValidObjectPerLine) {
    SetLogFormat(LogFormat::kJson);
    std::string line = LogLine("request")
                           .Add("path", "/v1/\"x\"")
                           .Add("status", int64_t(200))
                           .AddMillis("duration_ms", 0.5)
                           .Finish();
    ASSERT_TRUE(line.ends_with("}\n"));
    auto parsed = ParseStrictJson(line.substr(0, line.size() - 1));
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& object = parsed->as_object();
    EXPECT_EQ(object.at("event").as_string(), "request");
    EXPECT_EQ(object.at("path").as_string(), "/v1/\"x\"");
    EXPECT_EQ(object.at("status").as_int64(), 200);
    EXPECT_DOUBLE_EQ(object.at("duration_ms").as_double(), 0.5);
    EXPECT_TRUE(object.contains("time"));
}

}  // namespace
}  // namespace noderepair
