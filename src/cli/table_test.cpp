#include "cli/table.hpp"

#include <gtest/gtest.h>

namespace noderepair::cli {
namespace {

TEST(FormatTable, AlignsColumnsToTheWidestCell) {
    std::string out = FormatTable({"ID", "STATE", "REASON"},
                                  {{"r-1", "PENDING", "ecc"}, {"r-22", "SUCCEEDED", "xid 79"}});
    EXPECT_EQ(out,
              "ID    STATE      REASON\n"
              "r-1   PENDING    ecc\n"
              "r-22  SUCCEEDED  xid 79\n");
}

TEST(FormatTable, ShowsADashForEmptyAndMissingCells) {
    std::string out = FormatTable({"A", "B", "C"}, {{"x", ""}});
    EXPECT_EQ(out,
              "A  B  C\n"
              "x  -  -\n");
}

TEST(FormatTable, PrintsOnlyTheHeaderWhenThereAreNoRows) {
    EXPECT_EQ(FormatTable({"ID", "STATE"}, {}), "ID  STATE\n");
}

TEST(FormatTable, CountsUtf8CodePointsNotBytes) {
    std::string out = FormatTable({"N", "X"}, {{"héllo", "1"}, {"ab", "2"}});
    EXPECT_EQ(out,
              "N      X\n"
              "héllo  1\n"
              "ab     2\n");
}

TEST(CellText, CutsLongValuesWithAnEllipsis) {
    std::string cell = CellText(std::string(100, 'a'));
    EXPECT_EQ(DisplayWidth(cell), kMaxCellWidth);
    EXPECT_EQ(cell, std::string(kMaxCellWidth - 1, 'a') + "…");
}

TEST(CellText, ReplacesNewlinesAndTabsWithSpaces) { EXPECT_EQ(CellText("a\nb\tc"), "a b c"); }

TEST(TerminalText, ControlCharactersBecomeSpaces) {
    // C0 (escape sequences, carriage returns), DEL and C1 (U+009B is CSI, like ESC [).
    EXPECT_EQ(TerminalText("\x1b]0;title\x07\x1b[2Jok\r"), " ]0;title  [2Jok ");
    EXPECT_EQ(TerminalText("a\x7f\xc2\x9b"
                           "2J\xc2\x80z"),
              "a  2J z");
    EXPECT_EQ(TerminalText(std::string("a\0b", 3)), "a b");
}

TEST(TerminalText, BytesThatAreNotUtf8BecomeReplacementCharacters) {
    EXPECT_EQ(TerminalText("\xff\xfe"), "\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(TerminalText("caf\xc3"), "caf\xef\xbf\xbd");            // cut short
    EXPECT_EQ(TerminalText("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
    EXPECT_EQ(TerminalText("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
}

TEST(TerminalText, LeavesPrintableUtf8Alone) {
    const std::string text = "héllo – 日本 😀 \xc2\xa0nbsp";
    EXPECT_EQ(TerminalText(text), text);
}

TEST(CellText, ShowsC1ControlsAndBytesThatAreNotUtf8AsTerminalText) {
    EXPECT_EQ(CellText("a\xc2\x9b"
                       "2J"),
              "a 2J");
    EXPECT_EQ(CellText("\xff"), "\xef\xbf\xbd");
}

TEST(CellText, NeverCutsInsideAUtf8Sequence) {
    std::string value;
    for (int i = 0; i < 70; ++i) value += "é";
    std::string cell = CellText(value);
    EXPECT_EQ(DisplayWidth(cell), kMaxCellWidth);
    EXPECT_EQ(cell.substr(cell.size() - 3), "…");
    EXPECT_EQ(cell.substr(0, 2), "é");
}

TEST(FormatRow, KeepsLaterColumnsAlignedAfterAnOverflowingCellWhenThereIsRoom) {
    std::vector<size_t> widths = {4, 4, 4};
    EXPECT_EQ(FormatRow({"abcdef", "x", "y"}, widths), "abcdef  x   y\n");
    EXPECT_EQ(FormatRow({"a", "b", "c"}, widths), "a     b     c\n");
}

TEST(FormatFields, AlignsValuesAndSkipsEmptyOnes) {
    std::string out = FormatFields({{"ID", "r-1"}, {"Reviewed by", ""}, {"State", "PENDING"}});
    EXPECT_EQ(out,
              "ID:     r-1\n"
              "State:  PENDING\n");
}

TEST(FormatFields, ShowsValuesAsTerminalText) {
    EXPECT_EQ(FormatFields({{"Reason", "\x1b[2J\x1b[1;1Hall good\r\n"}, {"Error", "\xff"}}),
              "Reason:   [2J [1;1Hall good  \n"
              "Error:   \xef\xbf\xbd\n");
}

TEST(ShortTime, DropsTheFractionOrKeepsMilliseconds) {
    EXPECT_EQ(ShortTime("2026-01-02T03:04:05.123456Z"), "2026-01-02T03:04:05Z");
    EXPECT_EQ(ShortTime("2026-01-02T03:04:05Z"), "2026-01-02T03:04:05Z");
    EXPECT_EQ(ShortTime("2026-01-02T03:04:05.1Z", true), "2026-01-02T03:04:05.100Z");
    EXPECT_EQ(ShortTime("2026-01-02T03:04:05Z", true), "2026-01-02T03:04:05.000Z");
    EXPECT_EQ(ShortTime("2026-01-02T03:04:05.987654Z", true), "2026-01-02T03:04:05.987Z");
}

TEST(ShortTime, LeavesOtherTextAlone) {
    EXPECT_EQ(ShortTime(""), "");
    EXPECT_EQ(ShortTime("yesterday"), "yesterday");
}

}  // namespace
}  // namespace noderepair::cli
