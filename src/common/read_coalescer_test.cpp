#include "common/read_coalescer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace noderepair {
namespace {

using Map = std::unordered_map<std::string, int>;
using Coalescer = ReadCoalescer<std::string, int>;

// Polls `done` until it holds or five seconds passed.
template <class Condition>
bool Eventually(Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// A fetch that waits for the test's go-ahead, recording the keys of each call; values are
// the number of the fetch that answered (1, 2, ...).
struct GatedFetch {
    std::mutex mu;
    std::vector<std::vector<std::string>> calls;
    std::promise<void> first_started;
    std::promise<void> release_first;
    std::shared_future<void> first_released = release_first.get_future().share();

    Result<Map> operator()(const std::vector<std::string>& keys) {
        size_t number;
        {
            std::lock_guard lock(mu);
            calls.push_back(keys);
            number = calls.size();
        }
        if (number == 1) {
            first_started.set_value();
            first_released.wait();
        }
        Map found;
        for (const auto& k : keys) {
            if (k != "missing") found[k] = int(number);
        }
        return found;
    }
};

TEST(ReadCoalescer, AnswersALoneCallerWithAFetchOfItsOwn) {
    Coalescer coalescer(
        [](const std::vector<std::string>& keys) -> Result<Map> {
            EXPECT_EQ(keys.size(), 1u);
            return Map{{"a", 7}};
        },
        8, "test-reads");
    auto got = coalescer.Get("a");
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, std::optional<int>(7));
    auto missing = coalescer.Get("b");  // the fetch does not know it
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->has_value());
    EXPECT_EQ(coalescer.fetches(), 2u);
}

// The point of it: callers that ask while a fetch is in flight share the next fetch, and none
// is answered by a fetch that started before it asked (it would miss what was committed in
// between).
TEST(ReadCoalescer, CallersWhoAskDuringAFetchShareTheNextOneAndNeverJoinTheOneInFlight) {
    GatedFetch fetch;
    Coalescer coalescer([&](const std::vector<std::string>& k) { return fetch(k); }, 64,
                        "test-reads");
    auto first = std::async(std::launch::async, [&] { return coalescer.Get("k"); });
    fetch.first_started.get_future().wait();
    std::vector<std::future<Result<std::optional<int>>>> later;
    for (const char* key : {"k", "x", "y", "x", "missing"}) {
        later.push_back(
            std::async(std::launch::async, [&, key] { return coalescer.Get(std::string(key)); }));
    }
    ASSERT_TRUE(Eventually([&] { return coalescer.queued() == 5; }));
    fetch.release_first.set_value();

    auto got_first = first.get();
    ASSERT_TRUE(got_first);
    EXPECT_EQ(*got_first, std::optional<int>(1));
    std::vector<std::optional<int>> answers;
    for (auto& f : later) {
        auto got = f.get();
        ASSERT_TRUE(got);
        answers.push_back(*got);
    }
    // "k" was asked again after the first fetch started: the second fetch answers it.
    EXPECT_EQ(answers, (std::vector<std::optional<int>>{2, 2, 2, 2, std::nullopt}));
    ASSERT_EQ(fetch.calls.size(), 2u);
    EXPECT_EQ(fetch.calls[1].size(), 4u);  // k, x, y, missing: each key once
}

// Asking never waits, not even while a fetch is held (an I/O thread may ask): each answer comes
// on the coalescer's own thread.
TEST(ReadCoalescer, AskingNeverWaitsAndAnswersComeFromTheFetchingThread) {
    GatedFetch fetch;
    Coalescer coalescer([&](const std::vector<std::string>& k) { return fetch(k); }, 64,
                        "test-reads");
    std::promise<std::thread::id> a_on, b_on;
    coalescer.Ask("a", [&](Coalescer::Answer got) {
        EXPECT_EQ(*got, std::optional<int>(1));
        a_on.set_value(std::this_thread::get_id());
    });
    fetch.first_started.get_future().wait();
    coalescer.Ask("b", [&](Coalescer::Answer got) {
        EXPECT_EQ(*got, std::optional<int>(2));
        b_on.set_value(std::this_thread::get_id());
    });
    EXPECT_EQ(coalescer.queued(), 1u);  // asked, returned, while the first fetch is held
    fetch.release_first.set_value();
    const auto a_thread = a_on.get_future().get();
    EXPECT_NE(a_thread, std::this_thread::get_id());
    EXPECT_EQ(b_on.get_future().get(), a_thread);
}

TEST(ReadCoalescer, AFailedFetchFailsEveryCallerItServed) {
    GatedFetch gate;
    int calls = 0;
    Coalescer coalescer(
        [&](const std::vector<std::string>& k) -> Result<Map> {
            if (++calls == 1) return gate(k);
            return Unavailable("database away");
        },
        64, "test-reads");
    auto first = std::async(std::launch::async, [&] { return coalescer.Get("a"); });
    gate.first_started.get_future().wait();
    auto b = std::async(std::launch::async, [&] { return coalescer.Get("b"); });
    auto c = std::async(std::launch::async, [&] { return coalescer.Get("c"); });
    ASSERT_TRUE(Eventually([&] { return coalescer.queued() == 2; }));
    gate.release_first.set_value();
    EXPECT_TRUE(first.get());
    for (auto* f : {&b, &c}) {
        auto got = f->get();
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().code, Code::kUnavailable);
    }
    EXPECT_EQ(calls, 2);
}

TEST(ReadCoalescer, AFetchTakesAtMostItsBoundAndTheRestFollow) {
    GatedFetch fetch;
    Coalescer coalescer([&](const std::vector<std::string>& k) { return fetch(k); }, 2,
                        "test-reads");
    auto first = std::async(std::launch::async, [&] { return coalescer.Get("a"); });
    fetch.first_started.get_future().wait();
    std::vector<std::future<Result<std::optional<int>>>> later;
    for (const char* key : {"b", "c", "d"}) {
        later.push_back(
            std::async(std::launch::async, [&, key] { return coalescer.Get(std::string(key)); }));
    }
    ASSERT_TRUE(Eventually([&] { return coalescer.queued() == 3; }));
    fetch.release_first.set_value();
    EXPECT_TRUE(first.get());
    for (auto& f : later) {
        auto got = f.get();
        ASSERT_TRUE(got);
        EXPECT_TRUE(got->has_value());
    }
    ASSERT_EQ(fetch.calls.size(), 3u);
    EXPECT_EQ(fetch.calls[1].size() + fetch.calls[2].size(), 3u);
    EXPECT_LE(fetch.calls[1].size(), 2u);
}

}  // namespace
}  // namespace noderepair
