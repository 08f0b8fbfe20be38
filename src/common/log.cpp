#include "common/log.hpp"

#include <limits.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "common/json.hpp"
#include "common/thread_name.hpp"
#include "common/time.hpp"

namespace noderepair {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

// Plain words stay bare in text lines; anything with spaces, quotes or '=' is quoted.
bool NeedsQuotes(std::string_view value) {
    if (value.empty()) return true;
    for (char c : value) {
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
            return true;
        }
    }
    return false;
}

void AppendKey(std::string& out, LogFormat format, std::string_view key) {
    if (format == LogFormat::kJson) {
        out += ',';
        AppendJsonString(out, key);
        out += ':';
    } else {
        out += ' ';
        out += key;
        out += '=';
    }
}

void WriteAll(int fd, std::string_view lines) {
    while (!lines.empty()) {
        ssize_t n = ::write(fd, lines.data(), lines.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // stderr is gone: logs are best effort
        lines.remove_prefix(size_t(n));
    }
}

// Up to PIPE_BUF bytes of whole lines per write(2): a pipe writes those at once, so another
// thread's line (WriteLog) never lands inside one of these. A longer line goes alone.
void WriteWholeLines(int fd, std::string_view lines) {
    while (!lines.empty()) {
        size_t end = lines.size();
        if (end > PIPE_BUF) {
            const size_t last = lines.rfind('\n', PIPE_BUF - 1);
            const size_t first = lines.find('\n');
            end = last != std::string_view::npos    ? last + 1
                  : first != std::string_view::npos ? first + 1
                                                    : lines.size();
        }
        WriteAll(fd, lines.substr(0, end));
        lines.remove_prefix(end);
    }
}

}  // namespace

void SetLogFormat(LogFormat format) { log_format = format; }
LogFormat CurrentLogFormat() { return log_format; }

LogLine::LogLine(std::string_view event) : format_(log_format) {
    const std::string time = FormatRfc3339(SystemClock().Now());
    if (format_ == LogFormat::kJson) {
        out_ = "{\"time\":";
        AppendJsonString(out_, time);
        out_ += ",\"event\":";
        AppendJsonString(out_, event);
    } else {
        out_ = time;
        out_ += ' ';
        out_ += event;
    }
}

LogLine& LogLine::Add(std::string_view key, std::string_view value) {
    AppendKey(out_, format_, key);
    if (format_ == LogFormat::kJson || NeedsQuotes(value)) {
        AppendJsonString(out_, value);
    } else {
        out_ += value;
    }
    return *this;
}

LogLine& LogLine::Add(std::string_view key, int64_t value) {
    AppendKey(out_, format_, key);
    out_ += std::to_string(value);
    return *this;
}

LogLine& LogLine::AddMillis(std::string_view key, double millis) {
    AppendKey(out_, format_, key);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", millis);
    out_ += buf;
    return *this;
}

std::string LogLine::Finish() {
    if (format_ == LogFormat::kJson) out_ += '}';
    out_ += '\n';
    return std::move(out_);
}

void WriteLog(std::string_view lines) { WriteAll(STDERR_FILENO, lines); }

GatheredLog::GatheredLog(int fd, std::chrono::microseconds gather_for, size_t max_pending_bytes)
    : fd_(fd), gather_for_(gather_for), max_pending_bytes_(max_pending_bytes) {
    thread_ = std::thread([this] {
        NameThisThread("nr-log");
        Run();
    });
}

GatheredLog::~GatheredLog() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

void GatheredLog::Add(std::string_view line) {
    {
        std::lock_guard lock(mu_);
        if (pending_.size() + line.size() <= max_pending_bytes_) {
            const bool was_empty = pending_.empty();
            pending_.append(line);
            // Only the first line of a gathering wakes the writer; the others find it awake.
            if (was_empty) cv_.notify_one();
            return;
        }
    }
    WriteAll(fd_, line);
}

void GatheredLog::Run() {
    std::string writing;
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        // Let the lines of the next moment join the first before one write takes them all.
        cv_.wait_for(lock, gather_for_, [this] { return stopping_; });
        writing.swap(pending_);
        const bool stop = stopping_;
        lock.unlock();
        WriteWholeLines(fd_, writing);
        writing.clear();
        lock.lock();
        if (stop && pending_.empty()) return;
    }
}

}  // namespace noderepair
