// The engine (docs/design.md 3): claims PENDING remediations with a compare-and-set, then
// drives each through its mode's workflow. A step is intent -> call -> outcome: one store
// transaction records the intent (the step, its calls and a fresh fence), the provider call
// runs outside every transaction on the call pool with a deadline, and a second transaction
// records the outcome only if the fence still matches. The outcome's transaction records the
// next step's intent too, so a step costs one transaction when its call answers at once.
// A crash at any point resumes from the last committed intent; calls are keyed by step, so a
// repeated call never makes a second VM.
//
// Threads: one scheduling thread (timers, claims, dispatch), the store's writer (the
// transactions and their callbacks), and the call pool's threads (provider calls).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "engine/call_pool.hpp"
#include "engine/control.hpp"
#include "engine/workflow.hpp"
#include "providers/provider.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"

namespace noderepair::engine {

// The points between the halves of a step, where a crash leaves different things behind.
enum class Boundary {
    kAfterIntent,   // the intent committed; the call has not run
    kAfterCall,     // the call answered; its outcome is not recorded
    kAfterOutcome,  // the outcome committed
};

struct ExecutorOptions {
    int max_parallel = 1000;  // remediations worked on at once
    std::chrono::seconds step_timeout{900};
    std::chrono::seconds capacity_wait{600};
    std::chrono::milliseconds claim_interval{50};  // how often PENDING work is looked for
    std::vector<std::string> verify_tests;         // run before rejoin; none: the step is skipped
    // Provider calls at once: in all (0: max_parallel) and on one host.
    int max_calls = 0;
    int max_calls_per_host = 16;
    // Told about each step that completed, once its transaction committed (metrics).
    std::function<void(std::string_view step, std::chrono::microseconds took)> on_step_done;
    // Leases (docs/design.md 12): the replica this executor works for, and how long a job it
    // holds stays its own without a renewal (judged by the database's clock). Renewed every
    // quarter lease; a replica whose last renewal is older than three quarters starts no step.
    std::string replica_id = "local";
    std::chrono::milliseconds lease{15000};
    // At start, take every job (one process on the database: SQLite) rather than only this
    // replica's own.
    bool resume_everyone = true;
    // Told about each commit refused because the job's lease is no longer this replica's.
    std::function<void()> on_fence_refused;
    // Told about each look for PENDING work, also one that finds the engine paused and claims
    // nothing (metrics: proof that a paused engine would have claimed).
    std::function<void()> on_claim_scan;
    // Fault injection for tests: asked at every boundary of every step; true makes this
    // executor stop dead right there, as kill -9 would (nothing more is called or committed).
    std::function<bool(Boundary boundary, const std::string& remediation_id,
                       const std::string& step)>
        crash_at;
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
    // Stops scheduling and calling, and waits for the transactions already queued.
    void Stop();

    // For tests that drive a FakeClock: schedules what is due, waits for the calls and
    // transactions that follow, and repeats until nothing more is due at the clock's time.
    Status RunOnce();
    // Remediations being worked on.
    size_t InFlight();
    // Whether a crash_at boundary stopped this executor.
    bool Crashed();

    // The remediation being worked on, as far as the engine's steps need it. Fixed once it is
    // claimed (only the engine changes a claimed remediation, and never these), so it is kept
    // in memory and a step's transaction reads the row only to change its state.
    struct Subject {
        std::string id;
        std::string cluster_id;
        std::string instance_id;
        std::string instance_name;
        model::Mode mode = model::Mode::kRebootVm;
        std::string reason;  // the remediation's, for the provider (a Slurm drain names it)
    };
    // One call of a step, planned by a transaction: what to ask the provider, and when.
    struct PlannedCall {
        providers::Operation op;
        std::string handle;  // empty: Start it first
        Timestamp due;
    };
    // What a transaction left for the scheduler to do about one remediation.
    struct Plan {
        // kRefused: the job's lease is another replica's now; nothing was committed.
        enum class Kind { kCalls, kWait, kFinished, kLost, kDeferred, kRefused } kind = Kind::kLost;
        Subject subject;
        int64_t fence = 0;
        int64_t attempt = 0;  // set by a claim: the job's first lease
        std::string step;
        bool new_intent = false;   // this transaction recorded the step's intent
        std::string outcome_step;  // the step whose outcome this transaction recorded, if any
        Timestamp wake;            // kWait: when to look again (an engine step waits for room)
        Timestamp deadline;        // kCalls: when the step times out
        std::vector<PlannedCall> calls;
        std::vector<std::pair<std::string, std::chrono::microseconds>> finished_steps;
    };
    // A call's answer, on its way to the outcome transaction.
    struct CallAnswer {
        int64_t fence = 0;
        std::string instance_id;
        // kStarted: running under a handle the job does not know yet; kRunning: still running;
        // kLost: a handle from before a restart that the provider no longer knows.
        enum class Kind { kDone, kStarted, kRunning, kLost, kError } kind = Kind::kDone;
        std::string handle;
        Timestamp poll_at;
        Error error;
        std::string note;       // kDone: the provider's word for the timeline
        std::string attention;  // kDone: the node's `attention` from now on
    };

private:
    struct Call {
        PlannedCall planned;
        bool calling = false;    // in the call pool
        bool recording = false;  // its answer's transaction is queued
        std::shared_ptr<providers::Cancellation> cancellation;
    };
    // A transaction that committed (or failed), for the scheduling thread to act on: the
    // store's completion thread only hands it over.
    // The periodic lease transaction: this replica's leases renewed, expired ones taken over.
    struct LeaseTick {
        std::chrono::steady_clock::time_point submitted;
        std::vector<std::string> working;      // the work this replica had when it was submitted
        std::vector<storage::LeasedJob> held;  // renewed
        std::vector<storage::LeasedJob> taken;
    };
    // A batch of claims: the plan of each remediation it claimed (or looked at and left).
    struct Claims {
        int slots = 0;  // how many it was allowed to claim
        std::vector<std::pair<std::string, Plan>> plans;
    };
    struct Committed {
        std::shared_ptr<LeaseTick> lease_tick;  // set: this is the lease transaction
        std::shared_ptr<Claims> claims;         // set: this is a batch of claims
        std::string id;
        std::string answered;
        std::shared_ptr<Result<Plan>> result;
        Status status;
    };
    struct Work {
        Subject subject;  // known once a transaction planned it
        int64_t fence = -1;
        int64_t attempt = 0;  // of the lease this replica holds it under
        // When its claim (or takeover) was applied here, after its commit: a lease tick
        // submitted before then surely saw the job, one submitted later may not have
        // (AfterLeaseTick).
        std::chrono::steady_clock::time_point held_since{};
        std::string step;
        Timestamp deadline;
        std::optional<Timestamp> recheck;  // an engine step (or a timeout) to look at again
        bool deadline_queued = false;
        std::map<std::string, Call> calls;  // by instance
    };

    void Loop();
    // Submits due work and claims; returns when the loop should look again.
    Timestamp Schedule(std::unique_lock<std::mutex>& lock);
    void Service(const std::string& id, Work& work, Timestamp now);
    void Dispatch(const std::string& id, Work& work, Call& call);
    void OnAnswer(const std::string& id, const CallAnswer& answer);
    void Apply(const std::string& id, const Plan& plan);
    void AfterCommit(Committed& committed);
    void Forget(const std::string& id);
    // The remediations this replica works on (mu_ held): the leases its ticks renew.
    std::vector<std::string> WorkingIds() const;
    // Work taken under a lease (at start, or from a replica that stopped renewing): a recheck
    // finds where it stands.
    void Adopt(const storage::LeasedJob& job, Timestamp now);
    void SubmitLeaseTick(int room);
    // On the store's completion thread: hands a transaction's outcome to the scheduling thread.
    void HandOver(Committed committed, Status status);
    void AfterLeaseTick(const LeaseTick& tick, Status status);
    bool LeaseFresh() const;
    bool CrashAt(Boundary boundary, const std::string& id, const std::string& step);

    // Runs `in_txn` on the writer after the job's fence, with the job as the fence read it;
    // the plan it returns is applied after the commit. `answered` names the instance whose
    // call's answer it records, if any.
    void Submit(const std::string& id,
                std::function<Result<Plan>(storage::Txn&, storage::EngineJob&, Timestamp)> in_txn,
                const std::string& answered = {});
    // Claims up to `slots` PENDING remediations in one transaction.
    void SubmitClaims(int slots);

    // In-transaction halves, on the writer thread. `r` is the remediation's row, read only
    // when its state changes (nullopt until then).
    Result<std::vector<std::pair<std::string, Plan>>> ClaimInTxn(storage::Txn& txn, int slots,
                                                                 Timestamp now);
    // One claim of a batch; a job it makes is added to `working`. `host_is_current`: no
    // earlier claim of the batch touched the host read with it.
    Result<Plan> ClaimOne(storage::Txn& txn, storage::PendingClaim& claim,
                          std::vector<storage::HostWork>& working, bool host_is_current,
                          Timestamp now);
    Result<Plan> AnswerInTxn(storage::Txn& txn, const Subject& subject, storage::EngineJob& job,
                             const CallAnswer& answer, Timestamp now);
    Result<Plan> RecheckInTxn(storage::Txn& txn, const std::string& id, storage::EngineJob& job,
                              int64_t fence, Timestamp now);
    // `source_host`: the job's source host as read in this transaction, when known.
    Result<Plan> Advance(storage::Txn& txn, const Subject& subject,
                         std::optional<model::Remediation>& r, storage::EngineJob& job,
                         Timestamp now, Plan plan,
                         const std::optional<model::Host>* source_host = nullptr);
    // Moves the remediation to `to` (reading it first if need be).
    Status Transition(storage::Txn& txn, const Subject& subject,
                      std::optional<model::Remediation>& r, model::State to, std::string detail);
    Result<Plan> PlanOf(storage::Reader& reader, const Subject& subject,
                        const storage::EngineJob& job, Plan plan);
    Result<bool> MustWaitForHost(storage::Txn& txn, const model::Remediation& r,
                                 const std::string& host,
                                 const std::vector<storage::HostWork>& working);
    Result<Plan> Fail(storage::Txn& txn, const Subject& subject,
                      std::optional<model::Remediation>& r, const std::string& why, Plan plan);
    Status Note(storage::Txn& txn, const std::string& id, std::string_view step,
                std::string detail);
    std::chrono::seconds LimitOf(const storage::EngineJob& job) const;

    storage::Store& store_;
    providers::Provider& provider_;
    EngineControl& control_;
    const Clock& clock_;
    remediation::Lifecycle& lifecycle_;
    const ExecutorOptions options_;
    CallPool calls_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::unordered_map<std::string, Work> work_;       // remediations being worked on
    std::set<std::pair<Timestamp, std::string>> due_;  // when to look at one again
    int claiming_ = 0;                                 // slots of the claim transactions queued
    std::vector<Committed> committed_;
    int writes_in_flight_ = 0;
    int calls_in_flight_ = 0;
    Timestamp next_claim_scan_;
    std::chrono::steady_clock::time_point next_lease_tick_{};
    std::chrono::steady_clock::time_point lease_renewed_{};  // submission of the last renewal
    bool lease_tick_queued_ = false;
    bool stopping_ = false;
    bool crashed_ = false;
    std::thread thread_;
};

}  // namespace noderepair::engine
