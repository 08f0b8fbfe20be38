// Strict JSON in, fast JSON out. Boost.JSON keeps the last of duplicate keys and turns 1e400
// into infinity; request bodies and fleet files must reject both (docs/design.md 7).
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace noderepair {

// Parses one JSON document; rejects duplicate keys, non-finite numbers, trailing data and
// nesting deeper than 64. The document's memory comes from `storage` (the default heap).
Result<boost::json::value> ParseStrictJson(std::string_view text,
                                           boost::json::storage_ptr storage = {});
// Memory for one large document read once and dropped whole (a fleet file): taken in growing
// blocks and given back to the system at once when the document goes, instead of leaving
// hundreds of thousands of freed small blocks in the heap.
boost::json::storage_ptr OneDocumentStorage();

// Appends JSON tokens to a string; the caller keeps the structure well-formed.
// Separators are inserted automatically between members and elements.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}
    JsonWriter& BeginObject();
    JsonWriter& EndObject();
    JsonWriter& BeginArray();
    JsonWriter& EndArray();
    JsonWriter& Key(std::string_view key);
    JsonWriter& String(std::string_view value);
    JsonWriter& Int(int64_t value);
    JsonWriter& Double(double value);
    JsonWriter& Bool(bool value);
    JsonWriter& Null();
    // Already-serialized JSON, inserted as one value.
    JsonWriter& Raw(std::string_view json);

    // A key and a string value, skipped when the value is empty (docs/http-api.md 2: unset optional
    // fields are omitted).
    JsonWriter& OptionalString(std::string_view key, std::string_view value) {
        if (!value.empty()) Key(key).String(value);
        return *this;
    }

private:
    void Separate();
    std::string& out_;
    bool need_comma_ = false;
};

// The length of the well-formed UTF-8 sequence `s` starts with (RFC 3629: no overlong form, no
// surrogate, nothing above U+10FFFF), or 0 when it starts with none. `s` starts at a byte >= 0x80.
size_t Utf8SequenceLength(std::string_view s);

// Appends `value` to `out`, a byte that is not part of well-formed UTF-8 as U+FFFD and an ASCII
// byte `c` for which `escape(c)` gives a non-empty text as that text: the walk every writer of
// quoted text shares (JSON here, PostgreSQL's literals in storage/sql).
template <class Escape>
void AppendUtf8Escaped(std::string& out, std::string_view value, Escape escape) {
    size_t run = 0;  // the start of the bytes not yet appended
    for (size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
            const size_t length = Utf8SequenceLength(value.substr(i));
            if (length > 0) {
                i += length - 1;
                continue;
            }
            out.append(value.data() + run, i - run);
            run = i + 1;
            out.append("\xef\xbf\xbd");
            continue;
        }
        const std::string_view escaped = escape(c);
        if (escaped.empty()) continue;
        out.append(value.data() + run, i - run);
        run = i + 1;
        out.append(escaped);
    }
    out.append(value.data() + run, value.size() - run);
}

// Appends `value` as a quoted JSON string. A byte that is not part of well-formed UTF-8 is
// written as U+FFFD, so the output is JSON whatever `value` holds.
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace noderepair
