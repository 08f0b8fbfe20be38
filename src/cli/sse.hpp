// A parser for text/event-stream (the WHATWG server-sent events format), fed the body of a
// watch response in whatever pieces the network delivers. Owned by one watch loop.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace noderepair::cli {

struct SseEvent {
    std::string id;     // the last `id:` seen in the stream so far (SSE keeps it across events)
    std::string event;  // `event:`; "message" when the event names none
    std::string data;   // the `data:` lines joined with "\n"
};

class SseParser {
public:
    // The most one event may buffer, its unfinished line included: as much as the CLI reads of
    // any other reply. A server that never ends a line or an event must not exhaust memory.
    static constexpr size_t kMaxEventBytes = size_t(64) << 20;

    explicit SseParser(size_t max_event_bytes = kMaxEventBytes)
        : max_event_bytes_(max_event_bytes) {}

    // Consumes a piece of the stream; returns the events it completed. Comments (": keepalive")
    // and unknown fields are skipped; a line may be split across pieces. INVALID_ARGUMENT once
    // an event grows past the limit, and from then on: the stream cannot be followed further.
    Result<std::vector<SseEvent>> Feed(std::string_view chunk);

private:
    void Line(std::string_view line, std::vector<SseEvent>& out);
    Error TooLarge() const;

    size_t max_event_bytes_;
    bool too_large_ = false;

    std::string partial_;    // an unfinished line
    bool after_cr_ = false;  // the last piece ended in '\r': a '\n' that follows belongs to it
    std::string last_id_;
    std::string event_;
    std::string data_;
    bool has_data_ = false;
};

}  // namespace noderepair::cli
