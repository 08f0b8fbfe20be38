// The body of a watch stream as the CLI reads it, from the server or whatever answers in its
// place: server-sent events in the pieces the network happens to deliver. Any split of the
// same bytes must give the same events (or the same failure: an event over the limit), and a
// remediation event's data goes to the strict JSON parser as the watch does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "cli/sse.hpp"
#include "common/json.hpp"
#include "invariants.hpp"

using namespace noderepair;

namespace {

// The most an event may hold here: small, so that the fuzzer reaches the limit too.
constexpr size_t kMaxEventBytes = 256;

bool SameEvents(const std::vector<cli::SseEvent>& a, const std::vector<cli::SseEvent>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.id == y.id && x.event == y.event && x.data == y.data;
    });
}

// The events of `stream` fed in pieces of `piece` bytes; nullopt when the parser fails.
std::optional<std::vector<cli::SseEvent>> FeedInPieces(std::string_view stream, size_t piece) {
    cli::SseParser parser(kMaxEventBytes);
    std::vector<cli::SseEvent> events;
    for (size_t at = 0; at < stream.size(); at += piece) {
        auto more = parser.Feed(stream.substr(at, piece));
        if (!more) return std::nullopt;
        for (auto& event : *more) events.push_back(event);
    }
    return events;
}

bool Same(const std::optional<std::vector<cli::SseEvent>>& a,
          const std::optional<std::vector<cli::SseEvent>>& b) {
    return a.has_value() == b.has_value() && (!a || SameEvents(*a, *b));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view stream(reinterpret_cast<const char*>(data), size);
    const auto events = FeedInPieces(stream, std::max<size_t>(1, size));
    if (!Same(events, FeedInPieces(stream, 1)) ||
        !Same(events, FeedInPieces(stream, 1 + size % 13))) {
        fuzz::Broken("any split of a stream gives the same events, or fails", stream);
    }
    if (!events) return 0;
    for (const auto& event : *events) {
        if (event.event.empty()) fuzz::Broken("every event has a type", stream);
        if (event.data.size() > kMaxEventBytes) fuzz::Broken("no event is over the limit", stream);
        if (event.event == "remediation") (void)ParseStrictJson(event.data);
    }
    return 0;
}
