// Structured log lines on stderr: one per request and per remediation transition, as
// `key=value` text or, with `--log-format json`, one JSON object per line. A line is written
// with a single write(2), so lines from different threads never interleave.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

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

// Lines gathered and written together by a thread of its own: the request log, whose one
// write(2) per request was a system call on every request's path (bench/RESULTS.md). A line
// reaches `fd` about `gather_for` after Add; the destructor writes what is left. Should the
// writes fall behind by `max_pending_bytes`, Add writes its line itself, so memory stays
// bounded and nothing is dropped. Thread-safe.
class GatheredLog {
public:
    explicit GatheredLog(int fd = STDERR_FILENO,
                         std::chrono::microseconds gather_for = std::chrono::milliseconds(1),
                         size_t max_pending_bytes = 4 << 20);
    ~GatheredLog();
    GatheredLog(const GatheredLog&) = delete;
    GatheredLog& operator=(const GatheredLog&) = delete;

    void Add(std::string_view line);

private:
    void Run();

    const int fd_;
    const std::chrono::microseconds gather_for_;
    const size_t max_pending_bytes_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::string pending_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace noderepair
