// A fixed set of threads running queued tasks in order of arrival, with a bounded queue. The API
// runs handlers here so the I/O threads never wait on the database.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace noderepair {

class WorkerPool {
public:
    // At most `max_queued` tasks wait for a thread (docs/http-api.md 10: every queue is bounded).
    explicit WorkerPool(int threads, size_t max_queued = std::numeric_limits<size_t>::max());
    ~WorkerPool();  // runs what is queued, then joins
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues `task`; false (and `task` dropped) when max_queued tasks already wait.
    [[nodiscard]] bool TryPost(std::function<void()> task);
    size_t max_queued() const { return max_queued_; }

private:
    const size_t max_queued_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace noderepair
