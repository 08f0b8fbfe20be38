#include "replicas/power_recorder.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace noderepair::replicas {
namespace {

// A fake store behind the recorder: counts the writes, each answered when the test says.
class PowerRecorderTest : public ::testing::Test {
protected:
    struct Write {
        std::string host;
        std::string power;
        std::function<void(Status)> done;
    };

    // One poll's reading; the writes made so far.
    size_t Read(int64_t term, const std::string& host, const std::string& power) {
        recorder_.Record(term, host, power);
        return writes_.size();
    }
    void Answer(size_t write, Status status = OkStatus()) { writes_.at(write).done(status); }

    std::vector<Write> writes_;
    PowerRecorder recorder_{[this](const std::string& host, const std::string& power,
                                   std::function<void(Status)> done) {
        writes_.push_back({host, power, std::move(done)});
    }};
};

TEST_F(PowerRecorderTest, UnchangedReadingsWriteNothing) {
    EXPECT_EQ(Read(1, "h1", "on"), 1u);
    EXPECT_EQ(Read(1, "h2", "on"), 2u);
    Answer(0);
    Answer(1);
    for (int poll = 0; poll < 10; ++poll) {
        EXPECT_EQ(Read(1, "h1", "on"), 2u);
        EXPECT_EQ(Read(1, "h2", "on"), 2u);
    }
}

TEST_F(PowerRecorderTest, AChangeWritesOnce) {
    Read(1, "h1", "on");
    Answer(0);
    EXPECT_EQ(Read(1, "h1", "off"), 2u);
    EXPECT_EQ(writes_[1].power, "off");
    Answer(1);
    EXPECT_EQ(Read(1, "h1", "off"), 2u);
    EXPECT_EQ(Read(1, "h1", "off"), 2u);
}

TEST_F(PowerRecorderTest, AFailedWriteIsRetriedAtTheNextPoll) {
    Read(1, "h1", "on");
    Answer(0, Unavailable("storage unavailable"));
    EXPECT_EQ(Read(1, "h1", "on"), 2u) << "the same reading, written again";
    EXPECT_EQ(writes_[1].power, "on");
    Answer(1);
    EXPECT_EQ(Read(1, "h1", "on"), 2u);
}

TEST_F(PowerRecorderTest, AWriteStillOutIsNotRepeated) {
    Read(1, "h1", "on");
    EXPECT_EQ(Read(1, "h1", "off"), 1u) << "waits for the answer, then the next poll";
    Answer(0);
    EXPECT_EQ(Read(1, "h1", "off"), 2u);
}

TEST_F(PowerRecorderTest, ANewLeadershipTermWritesEveryHostAgain) {
    Read(1, "h1", "on");
    Answer(0);
    // Another replica led in between and may have recorded something else.
    EXPECT_EQ(Read(2, "h1", "on"), 2u);
    Answer(1);
    EXPECT_EQ(Read(2, "h1", "on"), 2u);
    // An answer from an old term records nothing in the new one.
    Read(3, "h1", "on");
    EXPECT_EQ(Read(4, "h1", "on"), 4u);
    Answer(2);
    EXPECT_EQ(Read(4, "h1", "on"), 4u) << "term 4's own write is still out";
    Answer(3);
    EXPECT_EQ(Read(4, "h1", "on"), 4u);
}

}  // namespace
}  // namespace noderepair::replicas
