// Wall-clock timestamps at microsecond precision (docs/http-api.md 2), the clock that makes them
// and their RFC 3339 form.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace noderepair {

using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

inline int64_t ToMicros(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp FromMicros(int64_t us) { return Timestamp(std::chrono::microseconds(us)); }

// "2026-11-28T17:51:21.123456Z": trailing zero fractions are dropped, always UTC with Z.
std::string FormatRfc3339(Timestamp t);
// Accepts any RFC 3339 offset and fraction; returns nullopt on anything else, and on a time
// outside years 0000-9999 once in UTC.
std::optional<Timestamp> ParseRfc3339(std::string_view text);

// Where time comes from. The real clock is the only caller of system_clock::now(); tests
// and the engine's timers use a FakeClock. Thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    virtual Timestamp Now() const = 0;
};

class SystemClock final : public Clock {
public:
    Timestamp Now() const override;
};

class FakeClock final : public Clock {
public:
    explicit FakeClock(Timestamp start) : now_us_(ToMicros(start)) {}
    Timestamp Now() const override { return FromMicros(now_us_.load()); }
    void Advance(std::chrono::microseconds d) { now_us_ += d.count(); }
    void Set(Timestamp t) { now_us_ = ToMicros(t); }

private:
    std::atomic<int64_t> now_us_;
};

}  // namespace noderepair
