#include "common/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace noderepair {
namespace {

// NewUuidV7 keeps process-wide state (the last millisecond used), so the tests here work with
// times relative to the largest one used so far rather than with fixed ones.
uint64_t MillisOf(const std::string& uuid) {
    std::string hex = uuid.substr(0, 8) + uuid.substr(9, 4);
    return std::stoull(hex, nullptr, 16);
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

TEST(NewUuidV7, HasTheRfc9562Layout) {
    const Timestamp now = SystemClock().Now();
    for (int i = 0; i < 1000; ++i) {
        const std::string id = NewUuidV7(now);
        ASSERT_EQ(id.size(), 36u) << id;
        for (size_t p = 0; p < id.size(); ++p) {
            if (p == 8 || p == 13 || p == 18 || p == 23) {
                ASSERT_EQ(id[p], '-') << id;
            } else {
                ASSERT_TRUE(IsLowerHex(id[p])) << id;
            }
        }
        EXPECT_EQ(id[14], '7') << "version nibble: " << id;
        EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "variant: " << id;
        EXPECT_TRUE(IsUuid(id));
    }
}

// A time later than any id made so far, so the generator's state cannot hide it.
Timestamp AfterEveryIdSoFar() {
    const uint64_t last_ms = MillisOf(NewUuidV7(SystemClock().Now()));
    return FromMicros(int64_t(last_ms + 10) * 1000 + 250);
}

TEST(NewUuidV7, EncodesTheMillisecondsOfItsTime) {
    const Timestamp later = AfterEveryIdSoFar();
    const std::string id = NewUuidV7(later);
    EXPECT_EQ(MillisOf(id), uint64_t(ToMicros(later) / 1000)) << id;
    const std::string next = NewUuidV7(later + std::chrono::milliseconds(5));
    EXPECT_EQ(MillisOf(next), uint64_t(ToMicros(later) / 1000) + 5) << next;
}

TEST(NewUuidV7, NeverGoesBackwardsWhenTheClockDoes) {
    const Timestamp now = AfterEveryIdSoFar();
    const std::string first = NewUuidV7(now);
    const std::string earlier = NewUuidV7(now - std::chrono::hours(1));
    EXPECT_LT(first, earlier);
    EXPECT_EQ(MillisOf(earlier), MillisOf(first));
}

TEST(NewUuidV7, StrictlyIncreasingWithinOneMillisecond) {
    const Timestamp now = SystemClock().Now();
    std::string previous = NewUuidV7(now);
    for (int i = 0; i < 100000; ++i) {
        std::string id = NewUuidV7(now);
        ASSERT_LT(previous, id) << "call " << i;
        previous = std::move(id);
    }
}

TEST(NewUuidV7, StrictlyIncreasingAndUniqueAcrossThreads) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 25000;
    const Timestamp now = SystemClock().Now();
    std::vector<std::vector<std::string>> made(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&made, t, now] {
            made[size_t(t)].reserve(kPerThread);
            for (int i = 0; i < kPerThread; ++i) {
                made[size_t(t)].push_back(NewUuidV7(now + std::chrono::microseconds(i / 100)));
            }
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> all;
    for (const auto& ids : made) {
        for (size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]);
        all.insert(ids.begin(), ids.end());
    }
    EXPECT_EQ(all.size(), size_t(kThreads * kPerThread));
}

TEST(IsUuid, AcceptsBothCases) {
    EXPECT_TRUE(IsUuid("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"));
    EXPECT_TRUE(IsUuid("0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B"));
    EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
}

TEST(IsUuid, RejectsOtherShapes) {
    for (const char* id : {
             "",
             "0190a1b2c3d47e5f8a6b7c8d9e0f1a2b",       // no dashes
             "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2",    // one short
             "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b0",  // one long
             "0190a1b2-c3d4-7e5f-8a6b7-c8d9e0f1a2b",   // dash moved
             "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2g",   // not hex
             "{190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b}",
             "0190a1b2_c3d4_7e5f_8a6b_7c8d9e0f1a2b",
         }) {
        EXPECT_FALSE(IsUuid(id)) << id;
    }
}

TEST(IsDnsLabel, AcceptsLowercaseLabelsUpTo63) {
    EXPECT_TRUE(IsDnsLabel("a"));
    EXPECT_TRUE(IsDnsLabel("0"));
    EXPECT_TRUE(IsDnsLabel("a-b"));
    EXPECT_TRUE(IsDnsLabel("a--b"));
    EXPECT_TRUE(IsDnsLabel("fix-node-17"));
    EXPECT_TRUE(IsDnsLabel("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"));
    EXPECT_TRUE(IsDnsLabel(std::string(63, 'a')));
    EXPECT_TRUE(IsDnsLabel("a" + std::string(61, '-') + "z"));
}

TEST(IsDnsLabel, RejectsEverythingElse) {
    EXPECT_FALSE(IsDnsLabel(""));
    EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
    EXPECT_FALSE(IsDnsLabel("-a"));
    EXPECT_FALSE(IsDnsLabel("a-"));
    EXPECT_FALSE(IsDnsLabel("-"));
    EXPECT_FALSE(IsDnsLabel("A"));
    EXPECT_FALSE(IsDnsLabel("fix-Node"));
    EXPECT_FALSE(IsDnsLabel("a_b"));
    EXPECT_FALSE(IsDnsLabel("a.b"));
    EXPECT_FALSE(IsDnsLabel("a b"));
    EXPECT_FALSE(IsDnsLabel("a/b"));
    EXPECT_FALSE(IsDnsLabel("\xc3\xa9"));
    EXPECT_FALSE(IsDnsLabel(std::string("a\0b", 3)));
}

TEST(RandomHex, GivesTwoLowercaseDigitsPerByteAndDiffers) {
    const std::string a = RandomHex(32);
    const std::string b = RandomHex(32);
    EXPECT_EQ(a.size(), 64u);
    EXPECT_TRUE(std::all_of(a.begin(), a.end(), IsLowerHex)) << a;
    EXPECT_NE(a, b);
    EXPECT_EQ(RandomHex(0), "");
}

// Two threads' generators start from different seeds, so their ids do not collide either.
TEST(NewRequestId, GivesSixteenLowercaseDigitsDistinctAcrossThreads) {
    constexpr int kPerThread = 20000;
    std::vector<std::string> first;
    std::vector<std::string> second;
    std::thread other([&] {
        for (int i = 0; i < kPerThread; ++i) second.push_back(NewRequestId());
    });
    for (int i = 0; i < kPerThread; ++i) first.push_back(NewRequestId());
    other.join();
    std::set<std::string> seen;
    for (const auto* ids : {&first, &second}) {
        for (const std::string& id : *ids) {
            ASSERT_EQ(id.size(), 16u) << id;
            ASSERT_TRUE(std::all_of(id.begin(), id.end(), IsLowerHex)) << id;
            seen.insert(id);
        }
    }
    EXPECT_EQ(seen.size(), size_t(2 * kPerThread));
}

}  // namespace
}  // namespace noderepair
