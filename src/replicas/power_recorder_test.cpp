#include "replicas/power_recorder.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace noderepair::replicas {
namespace {

// A fake store: counts the writes and answers each when the test says.
struct Writes {
    struct One {
        std::string host;
        std::string power;
        std::function<void(Status)> done;
    };
    std::vector<One> made;
    PowerRecorder::Write Fn() {
        return [this](const std::string& host, const std::string& power,
                      std::function<void(Status)> done) {
            made.push_back({host, power, std::move(done)});
        };
    }
    void CommitLast() { made.back().done(OkStatus()); }
};

TEST(PowerRecorder, UnchangedReadingsWriteNothing) {
    Writes writes;
    PowerRecorder recorder(writes.Fn());
    recorder.Record(1, "h1", "on");
    recorder.Record(1, "h2", "on");
    ASSERT_EQ(writes.made.size(), 2u);
    writes.made[0].done(OkStatus());
    writes.made[1].done(OkStatus());
    for (int poll = 0; poll < 10; ++poll) {
        recorder.Record(1, "h1", "on");
        recorder.Record(1, "h2", "on");
    }
    EXPECT_EQ(writes.made.size(), 2u);
}

TEST(PowerRecorder, AChangeWritesOnce) {
    Writes writes;
    PowerRecorder recorder(writes.Fn());
    recorder.Record(1, "h1", "on");
    writes.CommitLast();
    recorder.Record(1, "h1", "off");
    ASSERT_EQ(writes.made.size(), 2u);
    EXPECT_EQ(writes.made[1].power, "off");
    writes.CommitLast();
    recorder.Record(1, "h1", "off");
    recorder.Record(1, "h1", "off");
    EXPECT_EQ(writes.made.size(), 2u);
}

TEST(PowerRecorder, AFailedWriteIsRetriedAtTheNextPoll) {
    Writes writes;
    PowerRecorder recorder(writes.Fn());
    recorder.Record(1, "h1", "on");
    writes.made.back().done(Unavailable("storage unavailable"));
    recorder.Record(1, "h1", "on");  // the same reading: written again
    ASSERT_EQ(writes.made.size(), 2u);
    EXPECT_EQ(writes.made[1].power, "on");
    writes.CommitLast();
    recorder.Record(1, "h1", "on");
    EXPECT_EQ(writes.made.size(), 2u);
}

TEST(PowerRecorder, AWriteStillOutIsNotRepeated) {
    Writes writes;
    PowerRecorder recorder(writes.Fn());
    recorder.Record(1, "h1", "on");
    recorder.Record(1, "h1", "off");  // waits for the first write's answer, then the next poll
    EXPECT_EQ(writes.made.size(), 1u);
    writes.CommitLast();
    recorder.Record(1, "h1", "off");
    EXPECT_EQ(writes.made.size(), 2u);
}

TEST(PowerRecorder, ANewLeadershipTermWritesEveryHostAgain) {
    Writes writes;
    PowerRecorder recorder(writes.Fn());
    recorder.Record(1, "h1", "on");
    writes.CommitLast();
    // Another replica led in between and may have recorded something else.
    recorder.Record(2, "h1", "on");
    ASSERT_EQ(writes.made.size(), 2u);
    writes.CommitLast();
    recorder.Record(2, "h1", "on");
    EXPECT_EQ(writes.made.size(), 2u);
    // An answer from the old term records nothing in the new one.
    recorder.Record(3, "h1", "on");
    recorder.Record(4, "h1", "on");
    writes.made[2].done(OkStatus());
    recorder.Record(4, "h1", "on");
    EXPECT_EQ(writes.made.size(), 4u);
}

}  // namespace
}  // namespace noderepair::replicas
