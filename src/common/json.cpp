#include "common/json.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <cmath>
#include <span>
#include <string>
#include <vector>

namespace noderepair {
namespace {

// A SAX pass that only checks what Boost.JSON's own parse lets through.
struct StrictnessChecker {
    constexpr static std::size_t max_object_size = std::size_t(-1);
    constexpr static std::size_t max_array_size = std::size_t(-1);
    constexpr static std::size_t max_key_size = std::size_t(-1);
    constexpr static std::size_t max_string_size = std::size_t(-1);

    // The keys of each open object or array, by depth. Levels and their strings are reused
    // from one object to the next, so checking a fleet file of 150,000 small objects
    // allocates nothing per key; an object's keys are sorted at its end to find a duplicate.
    struct Level {
        std::vector<std::string> keys;
        size_t count = 0;
    };
    std::vector<Level> levels;
    size_t depth = 0;
    std::string key_buffer;
    std::string problem;

    bool Fail(std::string why, boost::system::error_code& ec) {
        problem = std::move(why);
        ec = boost::json::error::syntax;
        return false;
    }
    void Enter() {
        if (depth == levels.size()) levels.emplace_back();
        levels[depth++].count = 0;
    }

    bool on_document_begin(boost::system::error_code&) { return true; }
    bool on_document_end(boost::system::error_code&) { return true; }
    bool on_object_begin(boost::system::error_code&) {
        Enter();
        return true;
    }
    bool on_object_end(std::size_t, boost::system::error_code& ec) {
        Level& level = levels[--depth];
        auto keys = std::span(level.keys.data(), level.count);
        std::sort(keys.begin(), keys.end());
        if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
            return Fail("duplicate key in JSON object", ec);
        }
        return true;
    }
    bool on_array_begin(boost::system::error_code&) {
        Enter();  // arrays take a level of nesting too; they have no keys
        return true;
    }
    bool on_array_end(std::size_t, boost::system::error_code&) {
        --depth;
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        key_buffer.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        Level& level = levels[depth - 1];
        if (level.count == level.keys.size()) level.keys.emplace_back();
        std::string& key = level.keys[level.count++];
        key.assign(key_buffer);
        key.append(s.data(), s.size());
        key_buffer.clear();
        return true;
    }
    bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) {
        return true;
    }
    bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) {
        return true;
    }
    bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_int64(int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_uint64(uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_double(double d, boost::json::string_view, boost::system::error_code& ec) {
        if (!std::isfinite(d)) return Fail("number out of range in JSON", ec);
        return true;
    }
    bool on_bool(bool, boost::system::error_code&) { return true; }
    bool on_null(boost::system::error_code&) { return true; }
    bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

size_t Utf8SequenceLength(std::string_view s) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = byte(0);
    size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        if (lead == 0xe0) second_min = 0xa0;  // overlong
        if (lead == 0xed) second_max = 0x9f;  // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        if (lead == 0xf0) second_min = 0x90;  // overlong
        if (lead == 0xf4) second_max = 0x8f;  // above U+10FFFF
    } else {
        return 0;
    }
    if (s.size() < length || byte(1) < second_min || byte(1) > second_max) return 0;
    for (size_t i = 2; i < length; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
    }
    return length;
}

boost::json::storage_ptr OneDocumentStorage() {
    return boost::json::make_shared_resource<boost::json::monotonic_resource>();
}

Result<boost::json::value> ParseStrictJson(std::string_view text,
                                           boost::json::storage_ptr storage) {
    boost::json::parse_options options;
    options.max_depth = 64;
    boost::json::basic_parser<StrictnessChecker> checker{options};
    boost::system::error_code ec;
    checker.write_some(false, text.data(), text.size(), ec);
    if (ec) {
        if (!checker.handler().problem.empty()) return InvalidArgument(checker.handler().problem);
        if (ec == boost::json::error::too_deep)
            return InvalidArgument("JSON nested deeper than 64");
        return InvalidArgument("malformed JSON: " + ec.message());
    }
    boost::json::value value = boost::json::parse(
        boost::json::string_view(text.data(), text.size()), ec, std::move(storage), options);
    if (ec) return InvalidArgument("malformed JSON: " + ec.message());
    return value;
}

void AppendJsonString(std::string& out, std::string_view value) {
    // Not UTF-8, say a percent-decoded path segment echoed in an error: U+FFFD keeps the
    // output JSON (RFC 8259 8.1).
    static constexpr char kHex[] = "0123456789abcdef";
    char control[] = "\\u00XX";
    out.push_back('"');
    AppendUtf8Escaped(out, value, [&control](unsigned char c) -> std::string_view {
        if (c >= 0x20 && c != '"' && c != '\\') return {};
        switch (c) {
            case '"':
                return "\\\"";
            case '\\':
                return "\\\\";
            case '\n':
                return "\\n";
            case '\r':
                return "\\r";
            case '\t':
                return "\\t";
            default:
                control[4] = kHex[c >> 4];
                control[5] = kHex[c & 0xf];
                return {control, 6};
        }
    });
    out.push_back('"');
}

void JsonWriter::Separate() {
    if (need_comma_) out_.push_back(',');
}

JsonWriter& JsonWriter::BeginObject() {
    Separate();
    out_.push_back('{');
    need_comma_ = false;
    return *this;
}
JsonWriter& JsonWriter::EndObject() {
    out_.push_back('}');
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::BeginArray() {
    Separate();
    out_.push_back('[');
    need_comma_ = false;
    return *this;
}
JsonWriter& JsonWriter::EndArray() {
    out_.push_back(']');
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
    Separate();
    AppendJsonString(out_, key);
    out_.push_back(':');
    need_comma_ = false;
    return *this;
}
JsonWriter& JsonWriter::String(std::string_view value) {
    Separate();
    AppendJsonString(out_, value);
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::Int(int64_t value) {
    Separate();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, end);
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::Double(double value) {
    Separate();
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, end);
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::Bool(bool value) {
    Separate();
    out_.append(value ? "true" : "false");
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::Null() {
    Separate();
    out_.append("null");
    need_comma_ = true;
    return *this;
}
JsonWriter& JsonWriter::Raw(std::string_view json) {
    Separate();
    out_.append(json);
    need_comma_ = true;
    return *this;
}

}  // namespace noderepair
