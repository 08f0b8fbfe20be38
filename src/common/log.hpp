// Structured log lines on stderr: one per request and per remediation transition, as
// `key=value` text or, with `--log-format json`, one JSON object per line. A line is written
// with a single write(2), so lines from different threads never interleave.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace noderepair {

enum class LogFormat { kText, kJson };

// Process-wide; set once at start.
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();

class LogLine {
public:
    // `event` names what happened: "request", "transition", ...
    explicit LogLine(std::string_view event);
    LogLine& Add(std::string_view key, std::string_view value);
    LogLine& Add(std::string_view key, int64_t value);
    LogLine& AddMillis(std::string_view key, double millis);
    // The finished line, newline included.
    std::string Finish();

private:
    LogFormat format_;
    std::string out_;
};

// Writes finished lines (one or many) to stderr at once.
void WriteLog(std::string_view lines);

}  // namespace noderepair
