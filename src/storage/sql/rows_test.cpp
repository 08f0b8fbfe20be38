#include "storage/sql/rows.hpp"

#include <gtest/gtest.h>

namespace noderepair::storage::sql {
namespace {

// The literal array_in and record_in read (PostgreSQL's array and composite input): each record
// a quoted element, each text a quoted field, a quote or backslash of the text escaped once for
// the record and once more for the array, an empty field NULL, an empty text `""`.
TEST(RecordArray, QuotesEachTextTwiceOverAndLeavesNullsEmpty) {
    RecordArray rows;
    EXPECT_TRUE(rows.empty());
    rows.BeginRecord().Int(-7).Text("a \"b\" \\c, (d)").Null().Text("").EndRecord();
    rows.BeginRecord()
        .OptionalText("")
        .OptionalText("x")
        .Time(std::nullopt)
        .Time(FromMicros(12))
        .EndRecord();
    EXPECT_FALSE(rows.empty());
    EXPECT_EQ(rows.Take(), R"x({"(-7,\"a \\\"b\\\" \\\\c, (d)\",,\"\")","(,\"x\",,12)"})x");
    EXPECT_TRUE(rows.empty());
    EXPECT_EQ(rows.Take(), "{}");
}

// Bytes that are not UTF-8 become U+FFFD, as they did in the JSON the rows went as before
// (JsonWriter::String): the server refuses text that is not UTF-8.
TEST(RecordArray, ReplacesBytesThatAreNotUtf8) {
    RecordArray rows;
    rows.BeginRecord().Text("caf\xc3\xa9 \xff!").EndRecord();
    EXPECT_EQ(rows.Take(), "{\"(\\\"caf\xc3\xa9 \xef\xbf\xbd!\\\")\"}");
}

}  // namespace
}  // namespace noderepair::storage::sql
