#include "common/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace noderepair {
namespace {

// docs/http-api.md 10: a full queue refuses at once instead of growing.
TEST(WorkerPool, RefusesATaskWhenTheQueueIsFull) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> started;
    std::atomic<int> ran{0};
    {
        WorkerPool pool(1, 2);
        ASSERT_TRUE(pool.TryPost([&] {
            started.set_value();
            released.wait();
            ++ran;
        }));
        started.get_future().wait();  // the one thread is busy; the queue is empty
        EXPECT_TRUE(pool.TryPost([&] { ++ran; }));
        EXPECT_TRUE(pool.TryPost([&] { ++ran; }));
        EXPECT_FALSE(pool.TryPost([&] { ++ran; }));
        release.set_value();
    }
    EXPECT_EQ(ran.load(), 3);
}

TEST(WorkerPool, TakesTasksAgainOnceTheQueueDrains) {
    WorkerPool pool(1, 1);
    for (int i = 0; i < 50; ++i) {
        std::promise<void> done;
        // One at a time: each finds the queue empty again.
        ASSERT_TRUE(pool.TryPost([&] { done.set_value(); })) << i;
        done.get_future().wait();
    }
}

}  // namespace
}  // namespace noderepair
