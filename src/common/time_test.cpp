#include "common/time.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>

namespace noderepair {
namespace {

using namespace std::chrono;

Timestamp At(year_month_day date, int h, int m, int s, int64_t us = 0) {
    return time_point_cast<microseconds>(sys_days(date) + hours(h) + minutes(m) + seconds(s)) +
           microseconds(us);
}

TEST(FormatRfc3339, EpochIsWholeSecondsWithZ) {
    EXPECT_EQ(FormatRfc3339(FromMicros(0)), "1970-01-01T00:00:00Z");
}

TEST(FormatRfc3339, YearsBeyondFourDigitsAreWrittenWhole) {
    EXPECT_EQ(FormatRfc3339(At(12026y / January / 2, 3, 4, 5, 6)), "12026-01-02T03:04:05.000006Z");
}

TEST(FormatRfc3339, KeepsSixDigitFraction) {
    EXPECT_EQ(FormatRfc3339(At(2026y / November / 28, 17, 51, 21, 123456)),
              "2026-11-28T17:51:21.123456Z");
}

TEST(FormatRfc3339, TrimsTrailingZerosOfTheFraction) {
    const Timestamp base = At(2026y / November / 28, 17, 51, 21);
    EXPECT_EQ(FormatRfc3339(base + microseconds(500000)), "2026-11-28T17:51:21.5Z");
    EXPECT_EQ(FormatRfc3339(base + microseconds(120000)), "2026-11-28T17:51:21.12Z");
    EXPECT_EQ(FormatRfc3339(base + microseconds(123400)), "2026-11-28T17:51:21.1234Z");
    EXPECT_EQ(FormatRfc3339(base + microseconds(10)), "2026-11-28T17:51:21.00001Z");
}

TEST(FormatRfc3339, KeepsLeadingZerosOfTheFraction) {
    const Timestamp base = At(2026y / January / 2, 3, 4, 5);
    EXPECT_EQ(FormatRfc3339(base + microseconds(1)), "2026-01-02T03:04:05.000001Z");
    EXPECT_EQ(FormatRfc3339(base + microseconds(1000)), "2026-01-02T03:04:05.001Z");
}

TEST(FormatRfc3339, NeverMoreThanSixFractionDigits) {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> us(0, int64_t(4'000'000'000) * 1'000'000);
    for (int i = 0; i < 1000; ++i) {
        const std::string text = FormatRfc3339(FromMicros(us(rng)));
        ASSERT_EQ(text.back(), 'Z') << text;
        const auto dot = text.find('.');
        if (dot == std::string::npos) {
            EXPECT_EQ(text.size(), 20u) << text;
        } else {
            const size_t digits = text.size() - dot - 2;
            EXPECT_GE(digits, 1u) << text;
            EXPECT_LE(digits, 6u) << text;
            EXPECT_NE(text[text.size() - 2], '0') << "trailing zero kept: " << text;
        }
    }
}

TEST(FormatRfc3339, LeapDays) {
    EXPECT_EQ(FormatRfc3339(At(2024y / February / 29, 12, 34, 56)), "2024-02-29T12:34:56Z");
    EXPECT_EQ(FormatRfc3339(At(2000y / February / 29, 23, 59, 59)), "2000-02-29T23:59:59Z");
    // 2100 is not a leap year: the day after Feb 28 is Mar 1.
    EXPECT_EQ(FormatRfc3339(At(2100y / February / 28, 0, 0, 0) + days(1)), "2100-03-01T00:00:00Z");
    EXPECT_EQ(FormatRfc3339(At(2024y / December / 31, 23, 59, 59, 999999)),
              "2024-12-31T23:59:59.999999Z");
}

TEST(FormatRfc3339, BeforeTheEpoch) {
    EXPECT_EQ(FormatRfc3339(FromMicros(-1)), "1969-12-31T23:59:59.999999Z");
    EXPECT_EQ(FormatRfc3339(FromMicros(-1'500'000)), "1969-12-31T23:59:58.5Z");
}

TEST(ParseRfc3339, ParsesUtcWithFraction) {
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.123456Z"),
              At(2026y / November / 28, 17, 51, 21, 123456));
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21Z"), At(2026y / November / 28, 17, 51, 21));
    EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), FromMicros(0));
}

TEST(ParseRfc3339, ShortFractionsAreScaled) {
    const Timestamp base = At(2026y / November / 28, 17, 51, 21);
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.5Z"), base + microseconds(500000));
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.05Z"), base + microseconds(50000));
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.000001Z"), base + microseconds(1));
}

TEST(ParseRfc3339, FractionsBeyondMicrosecondsAreTruncated) {
    const Timestamp base = At(2026y / November / 28, 17, 51, 21);
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.1234569Z"), base + microseconds(123456));
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.999999999Z"), base + microseconds(999999));
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21.000000999999999999999999Z"), base);
}

TEST(ParseRfc3339, AppliesOffsets) {
    const Timestamp utc = At(2026y / November / 28, 17, 51, 21);
    EXPECT_EQ(ParseRfc3339("2026-11-28T19:51:21+02:00"), utc);
    EXPECT_EQ(ParseRfc3339("2026-11-28T12:21:21-05:30"), utc);
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21+00:00"), utc);
    EXPECT_EQ(ParseRfc3339("2026-11-28T17:51:21-00:00"), utc);
    // An offset can move the instant across a day and a year boundary.
    EXPECT_EQ(ParseRfc3339("2027-01-01T01:00:00.25+02:00"),
              At(2026y / December / 31, 23, 0, 0, 250000));
}

TEST(ParseRfc3339, AcceptsLowercaseSeparators) {
    EXPECT_EQ(ParseRfc3339("2026-11-28t17:51:21z"), At(2026y / November / 28, 17, 51, 21));
}

TEST(ParseRfc3339, AcceptsLeapDayOnlyInLeapYears) {
    EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), At(2024y / February / 29, 0, 0, 0));
    EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
    EXPECT_FALSE(ParseRfc3339("2100-02-29T00:00:00Z"));
}

TEST(ParseRfc3339, RejectsGarbage) {
    for (const char* text : {
             "",
             "garbage",
             "2026",
             "2026-11-28",
             "2026-11-28T17:51:21",           // no offset
             "2026-11-28T17:51Z",             // no seconds
             "2026-11-28T17:51:21.Z",         // empty fraction
             "2026-11-28T17:51:21.12a4Z",     // letter in the fraction
             "2026-11-28T17:51:21Zjunk",      // trailing data
             "2026-11-28T17:51:21Z ",         // trailing space
             " 2026-11-28T17:51:21Z",         // leading space
             "2026-11-28X17:51:21Z",          // wrong date/time separator
             "2026/11/28T17:51:21Z",          // wrong date separators
             "2026-11-28T17-51-21Z",          // wrong time separators
             "2026-13-01T00:00:00Z",          // month 13
             "2026-00-10T00:00:00Z",          // month 0
             "2026-04-31T00:00:00Z",          // April has 30 days
             "2026-11-00T00:00:00Z",          // day 0
             "2026-11-28T24:00:00Z",          // hour 24
             "2026-11-28T17:60:00Z",          // minute 60
             "2026-11-28T17:51:61Z",          // second 61
             "2026-11-28T17:51:21+0200",      // offset without colon
             "2026-11-28T17:51:21+02",        // offset without minutes
             "2026-11-28T17:51:21+02:0",      // short offset minutes
             "2026-11-28T17:51:21+02:00:00",  // offset with seconds
             "2026-11-28T17:51:21UTC",
             "+2026-11-28T17:51:21Z",
             "-026-11-28T17:51:21Z",
             "2026-1-28T17:51:21Z",
         }) {
        EXPECT_FALSE(ParseRfc3339(text)) << "accepted '" << text << "'";
    }
}

// RFC 3339 5.6: time-numoffset is time-hour ":" time-minute, so hours 00-23, minutes 00-59.
TEST(ParseRfc3339, RejectsOutOfRangeOffsets) {
    EXPECT_FALSE(ParseRfc3339("2026-11-28T17:51:21+24:00"));
    EXPECT_FALSE(ParseRfc3339("2026-11-28T17:51:21+99:00"));
    EXPECT_FALSE(ParseRfc3339("2026-11-28T17:51:21+02:60"));
    EXPECT_FALSE(ParseRfc3339("2026-11-28T17:51:21-05:99"));
}

// Found by the time check of fuzz/alertmanager_fuzzer: with an offset, "0000-01-01T00:00:00+00:01"
// was accepted and written back as "-001-12-31T23:59:00Z", which is no RFC 3339.
TEST(ParseRfc3339, RejectsTimesOutsideFourDigitYearsInUtc) {
    EXPECT_FALSE(ParseRfc3339("0000-01-01T00:00:00+00:01"));
    EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59-00:01"));
    EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:60Z"));
    auto first = ParseRfc3339("0000-01-01T00:00:00Z");
    ASSERT_TRUE(first);
    EXPECT_EQ(FormatRfc3339(*first), "0000-01-01T00:00:00Z");
    auto last = ParseRfc3339("9999-12-31T23:59:59.999999Z");
    ASSERT_TRUE(last);
    EXPECT_EQ(FormatRfc3339(*last), "9999-12-31T23:59:59.999999Z");
    auto shifted = ParseRfc3339("0000-01-01T00:01:00+00:01");
    ASSERT_TRUE(shifted);
    EXPECT_EQ(*shifted, *first);
}

TEST(Rfc3339, FormatThenParseIsIdentity) {
    std::mt19937_64 rng(7);
    // 1900 to 2200, at microsecond resolution.
    std::uniform_int_distribution<int64_t> us(-int64_t(2'208'988'800) * 1'000'000,
                                              int64_t(7'258'118'400) * 1'000'000);
    for (int i = 0; i < 10000; ++i) {
        const Timestamp t = FromMicros(us(rng));
        const std::string text = FormatRfc3339(t);
        EXPECT_EQ(ParseRfc3339(text), t) << text;
    }
}

TEST(Rfc3339, ParseThenFormatIsCanonical) {
    EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2026-11-28T19:51:21.120000+02:00")),
              "2026-11-28T17:51:21.12Z");
    EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2026-11-28t17:51:21.000z")), "2026-11-28T17:51:21Z");
}

TEST(FakeClock, AdvancesAndSetsOnlyWhenTold) {
    FakeClock clock(FromMicros(1000));
    EXPECT_EQ(clock.Now(), FromMicros(1000));
    EXPECT_EQ(clock.Now(), FromMicros(1000));
    clock.Advance(milliseconds(2));
    EXPECT_EQ(clock.Now(), FromMicros(3000));
    clock.Set(FromMicros(5));
    EXPECT_EQ(clock.Now(), FromMicros(5));
}

}  // namespace
}  // namespace noderepair
