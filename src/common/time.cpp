#include "common/time.hpp"

#include <cstdio>

namespace noderepair {

Timestamp SystemClock::Now() const {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
}

std::string FormatRfc3339(Timestamp t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const auto since_midnight = t - day;
    const auto h = duration_cast<hours>(since_midnight);
    const auto m = duration_cast<minutes>(since_midnight - h);
    const auto s = duration_cast<seconds>(since_midnight - h - m);
    auto us = static_cast<long>((since_midnight - h - m - s).count());
    // By hand, not snprintf: every timestamp of every reply and log line comes through here.
    char buf[40];
    size_t n = 0;
    auto digits = [&](long value, int width) {
        for (int i = width - 1; i >= 0; --i) {
            buf[n + size_t(i)] = char('0' + value % 10);
            value /= 10;
        }
        n += size_t(width);
    };
    const int year = int(ymd.year());
    if (year < 0 || year > 9999) {  // not RFC 3339, but say what it is
        n = size_t(std::snprintf(buf, sizeof buf, "%d", year));
    } else {
        digits(year, 4);
    }
    buf[n++] = '-';
    digits(long(unsigned(ymd.month())), 2);
    buf[n++] = '-';
    digits(long(unsigned(ymd.day())), 2);
    buf[n++] = 'T';
    digits(h.count(), 2);
    buf[n++] = ':';
    digits(m.count(), 2);
    buf[n++] = ':';
    digits(s.count(), 2);
    if (us != 0) {
        int width = 6;
        while (us % 10 == 0) {
            us /= 10;
            --width;
        }
        buf[n++] = '.';
        digits(us, width);
    }
    buf[n++] = 'Z';
    return std::string(buf, n);
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t count, int& out) {
    if (pos + count > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + count; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::optional<Timestamp> ParseRfc3339(std::string_view s) {
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!Digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, mo) ||
        s[7] != '-' || !Digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') ||
        !Digits(s, 11, 2, h) || s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' ||
        !Digits(s, 17, 2, se)) {
        return std::nullopt;
    }
    const year_month_day ymd{year(y), month(unsigned(mo)), day(unsigned(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
    size_t pos = 19;
    int64_t frac_us = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (digits < 6) frac_us = frac_us * 10 + (s[pos] - '0');
            ++digits;
            ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (int i = digits; i < 6; ++i) frac_us *= 10;
    }
    int64_t offset_s = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh = 0, om = 0;
        if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !Digits(s, pos + 4, 2, om)) {
            return std::nullopt;
        }
        if (oh > 23 || om > 59) return std::nullopt;
        offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(se) + microseconds(frac_us) -
             seconds(offset_s);
    // An offset (or a leap second) can carry year 0000 or 9999 out of RFC 3339's four digits
    // in UTC, the form every time is written in: such a time could not be written back.
    static constexpr sys_days kFirst = sys_days(year(0) / January / 1);
    static constexpr sys_days kEnd = sys_days(year(10000) / January / 1);
    if (t < kFirst || t >= kEnd) return std::nullopt;
    return time_point_cast<microseconds>(t);
}

}  // namespace noderepair
