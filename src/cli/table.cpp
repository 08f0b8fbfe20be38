#include "cli/table.hpp"

#include <algorithm>

#include "common/json.hpp"

namespace noderepair::cli {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The first `count` code points of `text`.
std::string_view Prefix(std::string_view text, size_t count) {
    size_t seen = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (IsContinuationByte(text[i])) continue;
        if (seen == count) return text.substr(0, i);
        ++seen;
    }
    return text;
}

}  // namespace

size_t DisplayWidth(std::string_view text) {
    return size_t(
        std::count_if(text.begin(), text.end(), [](char c) { return !IsContinuationByte(c); }));
}

std::string TerminalText(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            out.push_back(c < 0x20 || c == 0x7f ? ' ' : char(c));
            continue;
        }
        const size_t length = Utf8SequenceLength(text.substr(i));
        if (length == 0) {
            out.append("\xef\xbf\xbd");
            continue;
        }
        // U+0080 to U+009F, the C1 controls, are 0xC2 0x80 to 0xC2 0x9F.
        const bool c1 = c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f;
        if (c1) {
            out.push_back(' ');
        } else {
            out.append(text.substr(i, length));
        }
        i += length - 1;
    }
    return out;
}

std::string CellText(std::string_view value) {
    if (value.empty()) return "-";
    std::string out = TerminalText(value);
    if (DisplayWidth(out) > kMaxCellWidth) {
        out = std::string(Prefix(out, kMaxCellWidth - 1));
        while (!out.empty() && out.back() == ' ') out.pop_back();
        out += "…";
    }
    return out;
}

std::string ShortTime(std::string_view rfc3339, bool with_millis) {
    // 2026-01-02T03:04:05[.ffffff]Z
    constexpr size_t kSeconds = 19;
    if (rfc3339.size() < kSeconds + 1 || rfc3339[10] != 'T' || rfc3339.back() != 'Z') {
        return std::string(rfc3339);
    }
    std::string out(rfc3339.substr(0, kSeconds));
    if (with_millis) {
        std::string fraction;
        if (rfc3339[kSeconds] == '.') {
            fraction = rfc3339.substr(kSeconds + 1, rfc3339.size() - kSeconds - 2);
        }
        fraction.resize(3, '0');
        out += "." + fraction.substr(0, 3);
    }
    return out + "Z";
}

std::vector<size_t> ColumnWidths(const TableRow& header, const std::vector<TableRow>& rows) {
    std::vector<size_t> widths;
    for (const auto& cell : header) widths.push_back(DisplayWidth(CellText(cell)));
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], DisplayWidth(CellText(row[i])));
        }
    }
    return widths;
}

std::string FormatRow(const TableRow& row, const std::vector<size_t>& widths) {
    std::string line;
    size_t start = 0;  // where cell i starts when nothing before it overflowed
    for (size_t i = 0; i < widths.size(); ++i) {
        if (i > 0) {
            const size_t width = DisplayWidth(line);
            line.append(width + 2 <= start ? start - width : 2, ' ');
        }
        line += CellText(i < row.size() ? std::string_view(row[i]) : "");
        start += widths[i] + 2;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    line.push_back('\n');
    return line;
}

std::string FormatTable(const TableRow& header, const std::vector<TableRow>& rows) {
    const auto widths = ColumnWidths(header, rows);
    std::string out = FormatRow(header, widths);
    for (const auto& row : rows) out += FormatRow(row, widths);
    return out;
}

std::string FormatFields(const std::vector<std::pair<std::string, std::string>>& fields) {
    size_t width = 0;
    for (const auto& [key, value] : fields) {
        if (!value.empty()) width = std::max(width, DisplayWidth(key) + 1);
    }
    std::string out;
    for (const auto& [key, value] : fields) {
        if (value.empty()) continue;
        std::string label = key + ":";
        out += label;
        out.append(width - DisplayWidth(label) + 2, ' ');
        out += TerminalText(value);
        out.push_back('\n');
    }
    return out;
}

}  // namespace noderepair::cli
