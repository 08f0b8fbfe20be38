#include "cli/reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace noderepair::cli {
namespace {

HttpReply Reply(int status, std::string body, std::string request_id = "0a1b2c3d4e5f6a7b") {
    HttpReply reply;
    reply.status = status;
    reply.body = std::move(body);
    reply.content_type = "application/json";
    reply.request_id = std::move(request_id);
    return reply;
}

TEST(ReadJsonReply, A2xxWithJsonIsItsBodyAndValue) {
    const std::string body = R"({"paused": false})";
    for (int status : {200, 201, 299}) {
        auto json = ReadJsonReply(Reply(status, body), "http://127.0.0.1:8080");
        ASSERT_TRUE(json) << status << ": " << json.error().message;
        EXPECT_EQ(json->body, body);
        EXPECT_FALSE(json->value.at("paused").as_bool());
    }
}

TEST(ReadJsonReply, AnotherStatusIsTheLineOfItsGoogleRpcStatus) {
    auto json = ReadJsonReply(
        Reply(404, R"({"code":5,"message":"cluster nope not found","details":[]})"), "s");
    ASSERT_FALSE(json);
    EXPECT_EQ(json.error().code, Code::kUnknown);
    EXPECT_EQ(json.error().message,
              "404 NOT_FOUND: cluster nope not found (request id 0a1b2c3d4e5f6a7b)");
    auto unknown_code = ReadJsonReply(Reply(500, R"({"code":99,"message":"m"})", ""), "s");
    ASSERT_FALSE(unknown_code);
    EXPECT_EQ(unknown_code.error().message, "500 code 99: m");
}

TEST(ReadJsonReply, AnotherStatusWithABodyNotOursShowsItsStart) {
    auto proxy = ReadJsonReply(Reply(502, "<html>\r\nBad Gateway\n</html>\n"), "s");
    ASSERT_FALSE(proxy);
    EXPECT_EQ(proxy.error().message,
              "502: <html>  Bad Gateway </html> (request id 0a1b2c3d4e5f6a7b)");
    auto empty = ReadJsonReply(Reply(503, "", ""), "s");
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message, "503: (no body)");
    auto long_body = ReadJsonReply(Reply(500, std::string(1000, 'x'), ""), "s");
    ASSERT_FALSE(long_body);
    EXPECT_EQ(long_body.error().message, "500: " + std::string(200, 'x'));
}

TEST(ReadJsonReply, A2xxThatIsNotJsonIsAnInternalError) {
    for (const char* body : {"", "ok", R"({"a": 1, "a": 2})", "{} {}"}) {
        auto json = ReadJsonReply(Reply(200, body), "http://h:1");
        ASSERT_FALSE(json) << body;
        EXPECT_EQ(json.error().code, Code::kInternal);
        EXPECT_EQ(json.error().message,
                  "the server at http://h:1 answered with something that is not JSON (request id "
                  "0a1b2c3d4e5f6a7b)");
    }
}

TEST(ReadJsonReply, TheErrorLineHoldsNoControlCharacterOfTheServers) {
    auto message = ReadJsonReply(
        Reply(403, R"({"code":7,"message":"\u001b]0;owned\u0007\u001b[1Adenied\r"})", ""), "s");
    ASSERT_FALSE(message);
    EXPECT_EQ(message.error().message, "403 PERMISSION_DENIED:  ]0;owned  [1Adenied ");
    auto request_id = ReadJsonReply(Reply(200, "not json",
                                          "\xff\xc2\x9b"
                                          "2J"),
                                    "s");
    ASSERT_FALSE(request_id);
    EXPECT_EQ(request_id.error().message,
              "the server at s answered with something that is not JSON (request id "
              "\xef\xbf\xbd 2J)");
}

TEST(ReadJsonReply, TheStartOfABodyNotOursIsUtf8CutBetweenCharacters) {
    auto not_utf8 = ReadJsonReply(Reply(400, "{\"message\": \"\xff\xff\"}", ""), "s");
    ASSERT_FALSE(not_utf8);
    EXPECT_EQ(not_utf8.error().message, "400: {\"message\": \"\xef\xbf\xbd\xef\xbf\xbd\"}");
    // "é" is the 200th and 201st byte: the line ends before it rather than inside it.
    auto cut = ReadJsonReply(Reply(502, std::string(199, 'x') + "\u00e9 Bad Gateway", ""), "s");
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error().message, "502: " + std::string(199, 'x'));
}

}  // namespace
}  // namespace noderepair::cli
