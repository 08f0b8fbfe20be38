#include "common/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"

namespace noderepair {
namespace {

class LogLineTest : public ::testing::Test {
protected:
    void TearDown() override { SetLogFormat(LogFormat::kText); }
};

TEST_F(LogLineTest, TextIsKeyValueWithQuotesOnlyWhereNeeded) {
    SetLogFormat(LogFormat::kText);
    std::string line = LogLine("request")
                           .Add("method", "GET")
                           .Add("detail", "two words")
                           .Add("empty", "")
                           .Add("eq", "a=b")
                           .Add("status", int64_t(404))
                           .AddMillis("duration_ms", 1.23456)
                           .Finish();
    ASSERT_TRUE(line.ends_with("\n"));
    auto space = line.find(' ');
    EXPECT_TRUE(line.substr(0, space).ends_with("Z"));
    EXPECT_EQ(line.substr(space + 1),
              "request method=GET detail=\"two words\" empty=\"\" eq=\"a=b\" status=404 "
              "duration_ms=1.235\n");
}

TEST_F(LogLineTest, TextEscapesNewlinesSoOneRecordIsOneLine) {
    SetLogFormat(LogFormat::kText);
    std::string line = LogLine("transition").Add("error", "line1\nline2").Finish();
    EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST_F(LogLineTest, JsonIsOneValidObjectPerLine) {
    SetLogFormat(LogFormat::kJson);
    std::string line = LogLine("request")
                           .Add("path", "/v1/\"x\"")
                           .Add("status", int64_t(200))
                           .AddMillis("duration_ms", 0.5)
                           .Finish();
    ASSERT_TRUE(line.ends_with("}\n"));
    auto parsed = ParseStrictJson(line.substr(0, line.size() - 1));
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& object = parsed->as_object();
    EXPECT_EQ(object.at("event").as_string(), "request");
    EXPECT_EQ(object.at("path").as_string(), "/v1/\"x\"");
    EXPECT_EQ(object.at("status").as_int64(), 200);
    EXPECT_DOUBLE_EQ(object.at("duration_ms").as_double(), 0.5);
    EXPECT_TRUE(object.contains("time"));
}

// A pipe whose reading end collects what arrives, waiting with a deadline.
class Pipe {
public:
    Pipe() {
        EXPECT_EQ(::pipe(fds_.data()), 0);
        ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    }
    ~Pipe() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    int writer() const { return fds_[1]; }

    // Reads until `enough` says the text read so far is enough, or 10 s pass.
    template <class Enough>
    std::string ReadUntil(Enough enough) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!enough(read_) && std::chrono::steady_clock::now() < deadline) {
            pollfd p{fds_[0], POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fds_[0], buf, sizeof buf);
            if (n > 0) read_.append(buf, size_t(n));
        }
        return read_;
    }

private:
    std::array<int, 2> fds_{};
    std::string read_;
};

size_t LineCount(const std::string& text) {
    return size_t(std::count(text.begin(), text.end(), '\n'));
}

// Lines from several threads arrive whole and, per thread, in order, without the log being
// flushed or destroyed first.
TEST(GatheredLog, WritesEveryLineWholeWithoutBeingAsked) {
    Pipe pipe;
    GatheredLog log(pipe.writer());
    constexpr int kPerThread = 2000;
    auto add = [&log](char who) {
        for (int i = 0; i < kPerThread; ++i) {
            log.Add(std::string(1, who) + " " + std::to_string(i) + " " + std::string(40, who) +
                    "\n");
        }
    };
    std::thread other(add, 'b');
    add('a');
    other.join();
    const std::string text =
        pipe.ReadUntil([](const std::string& t) { return LineCount(t) >= 2 * kPerThread; });
    ASSERT_EQ(LineCount(text), size_t(2 * kPerThread));
    std::array<int, 2> next{0, 0};
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        ASSERT_TRUE(line[0] == 'a' || line[0] == 'b') << line;
        const char who = line[0];
        const std::string expected = std::string(1, who) + " " +
                                     std::to_string(next[size_t(who - 'a')]++) + " " +
                                     std::string(40, who);
        ASSERT_EQ(line, expected);
    }
}

// Fallen behind by its bound, Add writes its line itself rather than hold more; the destructor
// writes what is still gathered.
TEST(GatheredLog, PastItsBoundAddWritesTheLineItselfAndTheEndWritesTheRest) {
    Pipe pipe;
    const std::string first = std::string(59, 'f') + "\n";
    const std::string second = std::string(59, 's') + "\n";
    {
        // The writer gathers for an hour: the first line waits for the end.
        GatheredLog log(pipe.writer(), std::chrono::hours(1), 100);
        log.Add(first);
        log.Add(second);
        EXPECT_EQ(pipe.ReadUntil([](const std::string& t) { return !t.empty(); }), second);
    }
    EXPECT_EQ(pipe.ReadUntil([&](const std::string& t) { return t.size() >= 120; }),
              second + first);
}

}  // namespace
}  // namespace noderepair
