// The infrastructure a remediation acts on (docs/design.md 3). Every call is two-phase and
// idempotent: Start() with the engine step's key returns a handle (the same one when called
// again with that key), Poll() reports on a handle, also after a restart.
//
// Providers know nothing of storage: the engine records intents and outcomes (placement,
// reservations, cordons, node status) in its own transactions, and calls a provider outside
// every transaction, on its call pool, with a deadline and a cancellation. Calls for different
// operations run concurrently, so a provider is thread-safe. A call may block (a synchronous
// BMC or hypervisor API); it delays only the remediation that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::providers {

enum class Action {
    kCordonHost,
    kUncordonHost,
    kDrain,        // the workload leaves the node (the drain hook, when configured)
    kReserve,      // slots for a replacement VM, before the old one goes: the engine's own step
    kDeleteVm,     // the old VM goes, a replacement follows
    kEvictVm,      // the VM goes for good
    kProvisionVm,  // a new VM on the reserved host
    kRebootVm,
    kPowerCycleHost,  // every VM of the host restarts with it
    kWaitReady,
    kVerify,  // engine.verify_tests pass before the node rejoins
    kRejoin,  // the node takes work again (the rejoin hook, when configured)
};

// The stable name of an action: the engine's step name in stored jobs and in the timeline.
std::string_view ActionName(Action action);
// The inverse of ActionName, for handles and records that store an action by name.
std::optional<Action> ParseAction(std::string_view name);

struct Operation {
    Action action = Action::kWaitReady;
    std::string key;  // idempotency key: "<remediation id>/<step>[/<co-tenant instance>]"
    std::string remediation_id;
    std::string remediation_reason;  // why it was asked for (a Slurm drain reason names it)
    std::string cluster_id;          // of the instance acted on (a co-tenant's may differ)
    std::string instance_id;
    std::string instance_name;
    // Where it happens: the host the VM is on (kProvisionVm: the reserved host; cordons and
    // power cycles: the host itself).
    std::string host;
    int num_gpus = 0;
    std::vector<std::string> tests;  // kVerify: the active tests to run
    // When the engine recorded the step's intent: a call without an idempotency key (a BMC's
    // power cycle) looks for signs that it already happened since then.
    Timestamp intent_at;
};

struct OperationStatus {
    // kLost (Poll only): the provider no longer has the operation, which lived only in a
    // process that has since restarted (a hook's command, an operation kept in memory). The
    // engine starts it again under its key at once: a restart is not the operation failing, so
    // it neither backs the step off nor counts toward giving it up.
    enum class Phase { kRunning, kDone, kLost } phase = Phase::kRunning;
    Timestamp poll_at;  // kRunning: when it is worth asking again
    // kDone: what the timeline should say besides "done" (a drain kept, a power cycle not
    // sent again); kLost: what was lost. Empty for nothing.
    std::string note;
    // kDone: why a person should look at the node (a drain someone else holds was kept), shown
    // as the worker node's `attention`; empty for nothing.
    std::string attention;
};

// The answer of a Poll whose operation a restart lost (`note` says which).
OperationStatus Lost(std::string note);

// Shared by the engine and one call: the engine cancels it when it stops, or when it gave up
// on the call (its step timed out). Thread-safe.
class Cancellation {
public:
    void Cancel();
    bool IsCancelled() const;
    // Blocks for `duration` of real time, or until cancelled; false when cancelled.
    bool WaitFor(std::chrono::microseconds duration) const;

private:
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    bool cancelled_ = false;
};

// What one provider call may spend: a deadline on the clock of the engine, and a cancellation.
// A provider that blocks honours both; one that cannot (a C library call) is abandoned by the
// engine when the deadline passes, and its late answer is discarded (fencing).
class CallContext {
public:
    CallContext(const Clock& clock, Timestamp deadline, std::shared_ptr<Cancellation> cancellation)
        : clock_(clock), deadline_(deadline), cancellation_(std::move(cancellation)) {}

    Timestamp Now() const { return clock_.Now(); }
    Timestamp deadline() const { return deadline_; }
    bool Cancelled() const { return cancellation_->IsCancelled(); }
    // Blocks until `until`, the deadline or a cancellation, whichever comes first; true only
    // when `until` was reached.
    bool SleepUntil(Timestamp until) const;

private:
    const Clock& clock_;
    Timestamp deadline_;
    std::shared_ptr<Cancellation> cancellation_;
};

class Provider {
public:
    virtual ~Provider() = default;
    virtual Result<std::string> Start(const Operation& op, const CallContext& call) = 0;
    // Errors: transient ones (IsTransient) are retried with backoff; others fail the step.
    virtual Result<OperationStatus> Poll(const std::string& handle, const CallContext& call) = 0;
};

}  // namespace noderepair::providers
