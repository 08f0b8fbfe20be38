#include "engine/call_pool.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "common/thread_name.hpp"

namespace noderepair::engine {

namespace {

// An idle thread ends after this long; the next burst of calls starts new ones.
constexpr auto kIdleThreadLife = std::chrono::seconds(60);
// Threads started at once, before any call had to wait.
constexpr int kEagerThreads = 8;
// A queued call that waited this long means the running ones block: one more thread.
constexpr auto kQueueWait = std::chrono::milliseconds(1);

using SteadyTime = std::chrono::steady_clock::time_point;

struct QueuedCall {
    std::string host;
    std::function<void()> call;
    SteadyTime queued_at;
};

}  // namespace

struct CallPool::State {
    int max_calls = 0;
    int max_calls_per_host = 0;
    mutable std::mutex mu;
    std::condition_variable work;                              // a call is ready, or the pool stops
    std::condition_variable done;                              // a call finished
    std::deque<QueuedCall> ready;                              // within their host's limit
    std::map<std::string, std::deque<QueuedCall>> over_limit;  // by host, in order
    std::map<std::string, int> admitted;                       // per host: ready or running
    int threads = 0;
    int idle = 0;
    int running = 0;
    uint64_t finished = 0;  // calls that returned, ever
    bool supervising = false;
    bool stopping = false;

    void StartThread(const std::shared_ptr<State>& self) {
        ++threads;
        std::thread([self] {
            NameThisThread("nr-call");
            CallPool::Work(self);
        }).detach();
    }
};

CallPool::CallPool(int max_calls, int max_calls_per_host) : state_(std::make_shared<State>()) {
    state_->max_calls = max_calls < 1 ? 1 : max_calls;
    state_->max_calls_per_host = max_calls_per_host < 1 ? 1 : max_calls_per_host;
}

CallPool::~CallPool() { Stop(std::chrono::seconds(5)); }

void CallPool::Submit(const std::string& host, std::function<void()> call) {
    std::unique_lock lock(state_->mu);
    State& s = *state_;
    if (s.stopping) return;
    int& admitted = s.admitted[host];
    if (!host.empty() && admitted >= s.max_calls_per_host) {
        s.over_limit[host].push_back({host, std::move(call), {}});
        return;
    }
    ++admitted;
    s.ready.push_back({host, std::move(call), std::chrono::steady_clock::now()});
    if (s.idle >= int(s.ready.size())) {
        s.work.notify_one();
    } else if (s.threads < std::min(kEagerThreads, s.max_calls)) {
        s.StartThread(state_);
    } else if (!s.supervising && s.threads < s.max_calls) {
        s.supervising = true;
        std::thread([state = state_] {
            NameThisThread("nr-call-watch");
            Supervise(state);
        }).detach();
    }
}

void CallPool::Supervise(const std::shared_ptr<State>& state) {
    State& s = *state;
    std::unique_lock lock(s.mu);
    uint64_t seen = s.finished;
    while (!s.stopping && !s.ready.empty() && s.threads < s.max_calls) {
        // No call finished for a while and calls wait: the running ones block.
        if (s.finished == seen && s.idle == 0 &&
            std::chrono::steady_clock::now() - s.ready.front().queued_at >= kQueueWait) {
            s.StartThread(state);
        }
        seen = s.finished;
        lock.unlock();
        std::this_thread::sleep_for(kQueueWait);
        lock.lock();
    }
    s.supervising = false;
}

void CallPool::Work(const std::shared_ptr<State>& state) {
    State& s = *state;
    std::unique_lock lock(s.mu);
    while (true) {
        if (s.ready.empty()) {
            if (s.stopping) break;
            ++s.idle;
            const bool woken = s.work.wait_for(lock, kIdleThreadLife,
                                               [&] { return s.stopping || !s.ready.empty(); });
            --s.idle;
            if (!woken) break;
            continue;
        }
        QueuedCall next = std::move(s.ready.front());
        s.ready.pop_front();
        ++s.running;
        lock.unlock();
        next.call();
        next.call = nullptr;  // what it captured goes before the lock is taken again
        lock.lock();
        --s.running;
        ++s.finished;
        // The host's next call, if one waits for room on it.
        auto waiting = s.over_limit.find(next.host);
        if (waiting != s.over_limit.end() && !waiting->second.empty() && !s.stopping) {
            waiting->second.front().queued_at = std::chrono::steady_clock::now();
            s.ready.push_back(std::move(waiting->second.front()));
            waiting->second.pop_front();
            if (waiting->second.empty()) s.over_limit.erase(waiting);
        } else if (--s.admitted[next.host] == 0) {
            s.admitted.erase(next.host);
        }
        s.done.notify_all();
    }
    --s.threads;
    s.done.notify_all();
}

void CallPool::Stop(std::chrono::milliseconds grace) {
    std::unique_lock lock(state_->mu);
    State& s = *state_;
    s.stopping = true;
    s.ready.clear();
    s.over_limit.clear();
    s.work.notify_all();
    s.done.wait_for(lock, grace, [&] { return s.running == 0; });
}

size_t CallPool::Running() const {
    std::lock_guard lock(state_->mu);
    return size_t(state_->running);
}

size_t CallPool::Queued() const {
    std::lock_guard lock(state_->mu);
    size_t queued = state_->ready.size();
    for (const auto& [host, calls] : state_->over_limit) queued += calls.size();
    return queued;
}

}  // namespace noderepair::engine
