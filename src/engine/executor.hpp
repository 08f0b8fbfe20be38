// The engine (DESIGN.md 3): claims PENDING remediations with a compare-and-set, then drives
// each through its mode's workflow one step at a time. Every advance is one store
// transaction that records the step and (for the simulated provider) its effect, so a crash at
// any moment resumes from the last committed step. One thread schedules; the store's writer
// runs the steps.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "engine/control.hpp"
#include "providers/provider.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"

namespace noderepair::engine {

struct ExecutorOptions {
    int max_parallel = 1000;  // remediations worked on at once
    std::chrono::seconds step_timeout{900};
    std::chrono::seconds capacity_wait{600};
    std::chrono::milliseconds claim_interval{50};  // how often PENDING work is looked for
    std::vector<std::string> verify_tests;         // run before rejoin; none: the step is skipped
    // Told about each step that completed, once its transaction committed (metrics).
    std::function<void(std::string_view step, std::chrono::microseconds took)> on_step_done;
};

class Executor {
public:
    Executor(storage::Store& store, providers::Provider& provider, EngineControl& control,
             const Clock& clock, remediation::Lifecycle& lifecycle, ExecutorOptions options);
    ~Executor();

    // Loads unfinished work from the store and starts the scheduling thread.
    Status Start();
    // Loads unfinished work only (Start does it too); tests then drive RunOnce().
    Status Resume();
    // Stops scheduling and waits for the steps already submitted to commit.
    void Stop();

    // One round of scheduling, for tests that drive a FakeClock: submits due steps and claims,
    // then waits until they committed.
    Status RunOnce();
    size_t InFlight();

private:
    // kDeferred: a claim that must wait for other work on its host; it stays PENDING.
    enum class Outcome { kWaiting, kFinished, kLost, kDeferred };
    struct Advance {
        Outcome outcome = Outcome::kLost;
        Timestamp next_check;
    };
    struct FinishedStep {
        std::string step;
        std::chrono::microseconds took;
    };

    void Loop();
    // Submits due advances and claims; returns when the loop should look again.
    Timestamp Schedule(std::unique_lock<std::mutex>& lock);
    void Submit(const std::string& id, bool claim);
    Result<Advance> ClaimInTxn(storage::Txn& txn, const std::string& id, Timestamp now);
    // Whether `r` must stay PENDING while other work on `host` runs (WaitsForOnSameHost);
    // notes it in the timeline once.
    Result<bool> MustWaitForHost(storage::Txn& txn, const model::Remediation& r,
                                 const std::string& host);
    Result<Advance> AdvanceInTxn(storage::Txn& txn, const std::string& id, Timestamp now);
    Result<Advance> Drive(storage::Txn& txn, model::Remediation& r, storage::EngineJob& job,
                          Timestamp now);
    Status SetState(storage::Txn& txn, model::Remediation& r, model::State to, std::string detail);
    Result<Advance> Fail(storage::Txn& txn, model::Remediation& r, const std::string& why);
    void WaitForWrites(std::unique_lock<std::mutex>& lock);

    storage::Store& store_;
    providers::Provider& provider_;
    EngineControl& control_;
    const Clock& clock_;
    remediation::Lifecycle& lifecycle_;
    const ExecutorOptions options_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::unordered_map<std::string, Timestamp> waiting_;  // id -> next check, not submitted
    std::set<std::pair<Timestamp, std::string>> due_;     // the same, by time
    std::set<std::string> submitted_;                     // a write is queued for these
    // The steps the transaction being run completed; set on the writer thread around it.
    std::vector<FinishedStep>* finished_steps_ = nullptr;
    int writes_in_flight_ = 0;
    Timestamp next_claim_scan_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace noderepair::engine
