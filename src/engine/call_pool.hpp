// The provider executor: provider calls run here, on threads of their own, outside every
// transaction, so a call that blocks (a BMC, a synchronous hypervisor API, a scheduler that
// never answers) delays only the remediation that made it. At most `max_calls` run at once and
// at most `max_calls_per_host` on one host; the rest queue in order.
//
// Threads: a few start as calls arrive; more start only when a queued call has waited, which
// is what blocked calls cause (quick calls drain the queue first, so a burst of them does not
// make a thousand threads). A supervisor thread checks that every millisecond while calls wait.
// Idle threads end after a minute. Thread-safe; owned by the executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace noderepair::engine {

class CallPool {
public:
    CallPool(int max_calls, int max_calls_per_host);
    ~CallPool();
    CallPool(const CallPool&) = delete;
    CallPool& operator=(const CallPool&) = delete;

    // Queues `call`, which acts on `host` (empty: no host), unless the pool is stopping.
    void Submit(const std::string& host, std::function<void()> call);
    // Drops the queued calls and waits up to `grace` for the running ones; a call still
    // running after that is left to finish on its own thread, which ends with it.
    void Stop(std::chrono::milliseconds grace);
    size_t Running() const;
    size_t Queued() const;

private:
    struct State;
    static void Work(const std::shared_ptr<State>& state);
    static void Supervise(const std::shared_ptr<State>& state);
    std::shared_ptr<State> state_;
};

}  // namespace noderepair::engine
