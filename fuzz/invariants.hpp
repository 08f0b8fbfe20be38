// Promises the parsers make about what they accept, checked on every input a fuzzer runs. A
// broken one aborts, so libFuzzer reports it like a crash and keeps the input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "common/json.hpp"
#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::fuzz {

[[noreturn]] inline void Broken(std::string_view promise, std::string_view detail) {
    std::fprintf(stderr, "broken promise: %.*s\n  %.*s\n", int(promise.size()), promise.data(),
                 int(detail.size()), detail.data());
    std::abort();
}

// Every body the server writes is JSON its own strict parser reads back.
inline void CheckWritesStrictJson(std::string_view json) {
    auto parsed = ParseStrictJson(json);
    if (!parsed) Broken("writes JSON that reads back (" + parsed.error().message + ")", json);
}

// Bad input is refused with the code the API gives for it and a message saying why, in an error
// body that is JSON.
inline void CheckRefusal(const Error& error, Code code, std::string_view input) {
    if (error.code != code || error.message.empty()) {
        Broken("bad input is refused with " + std::string(CodeName(code)) + " and a message",
               input);
    }
    CheckWritesStrictJson(api::ErrorResponse(error).body);
}

// A time that was accepted is written as RFC 3339 that reads back as the same time.
inline void CheckTimeRoundTrip(Timestamp t) {
    const std::string text = FormatRfc3339(t);
    auto back = ParseRfc3339(text);
    if (!back || *back != t) Broken("formats a parsed time as RFC 3339 that reads back", text);
}

// What the CLI prints of a server's reply is text a terminal shows as it is: well-formed UTF-8
// (decoded here apart from the code under test) without control characters, C0, DEL or C1,
// which could move the cursor, rewrite the screen or the window title, or hide what precedes
// them; newlines only where `lines` allows them.
inline void CheckTerminalText(std::string_view text, bool lines) {
    size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        uint32_t code_point = lead;
        size_t length = 1;
        if (lead >= 0xc2 && lead <= 0xdf) {
            code_point = lead & 0x1f;
            length = 2;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            code_point = lead & 0x0f;
            length = 3;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            code_point = lead & 0x07;
            length = 4;
        } else if (lead >= 0x80) {
            Broken("prints UTF-8 (a byte that starts no sequence)", text);
        }
        if (text.size() - i < length) Broken("prints UTF-8 (a sequence cut short)", text);
        for (size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xc0) != 0x80) Broken("prints UTF-8 (a sequence cut short)", text);
            code_point = code_point << 6 | (next & 0x3f);
        }
        const bool overlong =
            (length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000);
        if (overlong || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) {
            Broken("prints UTF-8 (an overlong form, a surrogate or beyond U+10FFFF)", text);
        }
        const bool newline = code_point == '\n' && lines;
        if ((code_point < 0x20 && !newline) || (code_point >= 0x7f && code_point <= 0x9f)) {
            Broken("prints no control character", text);
        }
        i += length;
    }
}

}  // namespace noderepair::fuzz
