#include "cli/sse.hpp"

#include <string>

namespace noderepair::cli {

Result<std::vector<SseEvent>> SseParser::Feed(std::string_view chunk) {
    if (too_large_) return TooLarge();
    std::vector<SseEvent> out;
    for (char c : chunk) {
        if (after_cr_) {
            after_cr_ = false;
            if (c == '\n') continue;
        }
        if (c == '\r' || c == '\n') {
            after_cr_ = c == '\r';
            Line(partial_, out);
            partial_.clear();
        } else {
            partial_.push_back(c);
            if (partial_.size() + data_.size() + event_.size() > max_event_bytes_) {
                too_large_ = true;
                return TooLarge();
            }
        }
    }
    return out;
}

Error SseParser::TooLarge() const {
    return InvalidArgument("the event stream sent an event of over " +
                           std::to_string(max_event_bytes_) + " bytes");
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>& out) {
    if (line.empty()) {
        // A blank line ends the event. The spec drops events without data; ours also
        // dispatches a named one (`event: reset` may carry none).
        if (has_data_ || !event_.empty()) {
            out.push_back({last_id_, event_.empty() ? "message" : event_, data_});
        }
        event_.clear();
        data_.clear();
        has_data_ = false;
        return;
    }
    if (line.front() == ':') return;  // a comment, such as the keepalive
    std::string_view field = line;
    std::string_view value;
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "event") {
        event_ = value;
    } else if (field == "data") {
        if (has_data_) data_.push_back('\n');
        data_ += value;
        has_data_ = true;
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) last_id_ = value;
    }
}

}  // namespace noderepair::cli
