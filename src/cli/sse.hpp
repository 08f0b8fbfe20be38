// A parser for text/event-stream (the WHATWG server-sent events format), fed the body of a
// watch response in whatever pieces the network delivers. Owned by one watch loop.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace noderepair::cli {

struct SseEvent {
    std::string id;     // the last `id:` seen in the stream so far (SSE keeps it across events)
    std::string event;  // `event:`; "message" when the event names none
    std::string data;   // the `data:` lines joined with "\n"
};

class SseParser {
public:
    // Consumes a piece of the stream; returns the events it completed. Comments (": keepalive")
    // and unknown fields are skipped; a line may be split across pieces.
    std::vector<SseEvent> Feed(std::string_view chunk);

private:
    void Line(std::string_view line, std::vector<SseEvent>& out);

    std::string partial_;    // an unfinished line
    bool after_cr_ = false;  // the last piece ended in '\r': a '\n' that follows belongs to it
    std::string last_id_;
    std::string event_;
    std::string data_;
    bool has_data_ = false;
};

}  // namespace noderepair::cli
