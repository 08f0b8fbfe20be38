// Promises the parsers make about what they accept, checked on every input a fuzzer runs. A
// broken one aborts, so libFuzzer reports it like a crash and keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/json.hpp"
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

// A time that was accepted is written as RFC 3339 that reads back as the same time.
inline void CheckTimeRoundTrip(Timestamp t) {
    const std::string text = FormatRfc3339(t);
    auto back = ParseRfc3339(text);
    if (!back || *back != t) Broken("formats a parsed time as RFC 3339 that reads back", text);
}

}  // namespace noderepair::fuzz
