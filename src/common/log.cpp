#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "common/json.hpp"
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

void WriteLog(std::string_view lines) {
    while (!lines.empty()) {
        ssize_t n = ::write(STDERR_FILENO, lines.data(), lines.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // stderr is gone: logs are best effort
        lines.remove_prefix(size_t(n));
    }
}

}  // namespace noderepair
