#include "cli/sse.hpp"

#include <gtest/gtest.h>

namespace noderepair::cli {
namespace {

TEST(SseParser, ParsesNamedEventsWithIdsAndData) {
    SseParser parser;
    auto events = parser.Feed(
        "event: ready\ndata: {}\n\n"
        "id: 7\nevent: remediation\ndata: {\"id\":\"r-1\"}\n\n");
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
    EXPECT_TRUE(parser.Feed("id: 1\nev").empty());
    EXPECT_TRUE(parser.Feed("ent: remediation\ndata: {\"a\"").empty());
    EXPECT_TRUE(parser.Feed(":1}\n").empty());
    auto events = parser.Feed("\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "{\"a\":1}");
}

TEST(SseParser, SkipsCommentsSuchAsKeepalives) {
    SseParser parser;
    EXPECT_TRUE(parser.Feed(": keepalive\n\n: keepalive\n\n").empty());
}

TEST(SseParser, DispatchesANamedEventWithoutData) {
    SseParser parser;
    auto events = parser.Feed("event: reset\n\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event, "reset");
    EXPECT_EQ(events[0].data, "");
}

TEST(SseParser, AcceptsCrLfSplitBetweenPiecesAndJoinsDataLines) {
    SseParser parser;
    EXPECT_TRUE(parser.Feed("data: a\r").empty());
    EXPECT_TRUE(parser.Feed("\ndata:b\r\n").empty());
    auto events = parser.Feed("\r\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event, "message");
    EXPECT_EQ(events[0].data, "a\nb");
}

TEST(SseParser, KeepsTheLastIdForLaterEvents) {
    SseParser parser;
    auto events = parser.Feed("id: 3\ndata: x\n\ndata: y\n\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].id, "3");
}

}  // namespace
}  // namespace noderepair::cli
