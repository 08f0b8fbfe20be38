// Plain-text output of the client verbs: aligned tables and "Key: value" blocks. Pure
// functions, so the layout is unit-tested without a server.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace noderepair::cli {

using TableRow = std::vector<std::string>;

// Cells longer than this many characters are cut and end in "…" (free text such as a
// reason must not push every other column off the screen).
inline constexpr size_t kMaxCellWidth = 60;

// Text from a server as a terminal may show it: each control character (C0 such as a newline,
// tab or escape, DEL, C1) becomes a space, and each byte that is not part of well-formed UTF-8
// becomes U+FFFD. The server may be broken or hostile, and control characters could move the
// cursor, rewrite the screen or the window title, or hide what came before them.
std::string TerminalText(std::string_view text);

// What a cell shows: TerminalText, "-" for an empty value, and a long value cut to
// kMaxCellWidth characters.
std::string CellText(std::string_view value);

// The width, in characters (UTF-8 code points), of each column: its header or its widest cell.
std::vector<size_t> ColumnWidths(const TableRow& header, const std::vector<TableRow>& rows);

// One line: cells padded to `widths`, two spaces apart, no trailing blanks, ending in "\n".
// A cell wider than its column pushes the rest of the line right.
std::string FormatRow(const TableRow& row, const std::vector<size_t>& widths);

// The header and the rows, aligned. Rows shorter than the header get empty cells.
std::string FormatTable(const TableRow& header, const std::vector<TableRow>& rows);

// "Key:  value" lines with the values aligned, as TerminalText; pairs with an empty value are
// left out.
std::string FormatFields(const std::vector<std::pair<std::string, std::string>>& fields);

// An RFC 3339 time without its fraction ("2026-01-02T03:04:05Z"), or with milliseconds
// ("2026-01-02T03:04:05.120Z"); text that is not such a time comes back unchanged.
std::string ShortTime(std::string_view rfc3339, bool with_millis = false);

// The characters (UTF-8 code points) of `text`.
size_t DisplayWidth(std::string_view text);

}  // namespace noderepair::cli
