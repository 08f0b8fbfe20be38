#include "cli/sse.hpp"

#include <gtest/gtest.h>

#include <string>

namespace noderepair::cli {
namespace {

TEST(SseParser, ParsesNamedEventsWithIdsAndData) {
    SseParser parser;
    const std::string stream =
        "event: ready\ndata: {}\n\n"
        "id: 7\nevent: remediation\ndata: {\"id\":\"r-1\"}\n\n";
    auto events = parser.Feed(stream).value();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].event, "ready");
    EXPECT_EQ(events[0].data, "{}");
    EXPECT_EQ(events[0].id, "");
    EXPECT_EQ(events[1].event, "remediation");
    EXPECT_EQ(events[1].id, "7");
    EXPECT_EQ(events[1].data, "{\"id\":\"r-1\"}");
}

TEST(SseParser, WaitsForTheBlankLineWhenAnEventArrivesInPieces) {
    SseParser parser;
    EXPECT_TRUE(parser.Feed("id: 1\nev")->empty());
    EXPECT_TRUE(parser.Feed("ent: remediation\ndata: {\"a\"")->empty());
    EXPECT_TRUE(parser.Feed(":1}\n")->empty());
    auto events = parser.Feed("\n").value();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "{\"a\":1}");
}

TEST(SseParser, SkipsCommentsSuchAsKeepalives) {
    SseParser parser;
    EXPECT_TRUE(parser.Feed(": keepalive\n\n: keepalive\n\n")->empty());
}

TEST(SseParser, DispatchesANamedEventWithoutData) {
    SseParser parser;
    auto events = parser.Feed("event: reset\n\n").value();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event, "reset");
    EXPECT_EQ(events[0].data, "");
}

TEST(SseParser, AcceptsCrLfSplitBetweenPiecesAndJoinsDataLines) {
    SseParser parser;
    EXPECT_TRUE(parser.Feed("data: a\r")->empty());
    EXPECT_TRUE(parser.Feed("\ndata:b\r\n")->empty());
    auto events = parser.Feed("\r\n").value();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event, "message");
    EXPECT_EQ(events[0].data, "a\nb");
}

TEST(SseParser, KeepsTheLastIdForLaterEvents) {
    SseParser parser;
    auto events = parser.Feed("id: 3\ndata: x\n\ndata: y\n\n").value();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].id, "3");
}

// A stream that never ends its line or its event must not grow the client's memory without
// bound: past the limit the parser fails, whatever the pieces.
TEST(SseParser, FailsOnceAnEventOutgrowsTheLimit) {
    SseParser parser(16);
    ASSERT_TRUE(parser.Feed("data: 0123456"));  // 13 bytes of line
    auto events = parser.Feed("\nda");          // 7 of data and 2 of line
    ASSERT_TRUE(events);
    EXPECT_TRUE(events->empty());
    auto failed = parser.Feed("ta: 123456789");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, Code::kInvalidArgument);
    EXPECT_NE(failed.error().message.find("16 bytes"), std::string::npos) << failed.error().message;
    EXPECT_FALSE(parser.Feed("\n\n"));  // and stays failed
}

TEST(SseParser, EventsUpToTheLimitPass) {
    SseParser parser(16);
    auto events = parser.Feed("data: 0123456789\n\ndata: x\n\n");
    ASSERT_TRUE(events) << events.error().message;
    ASSERT_EQ(events->size(), 2u);
    EXPECT_EQ((*events)[0].data, "0123456789");
}

}  // namespace
}  // namespace noderepair::cli
