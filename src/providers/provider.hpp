// The infrastructure a remediation acts on (DESIGN.md 3). Every call is two-phase and
// idempotent: Start() with the engine step's key returns a handle (the same one when called
// again with that key), Poll() reports on a handle, also after a restart.
//
// Both run on the storage writer thread inside the transaction that records the engine's
// step, so a provider that keeps its state in the database (the simulated one) changes it
// atomically with the step; an external provider only reads and writes its own systems.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "storage/store.hpp"

namespace noderepair::providers {

enum class Action {
    kCordonHost,
    kUncordonHost,
    kDrain,        // the workload leaves the node (the drain hook, when configured)
    kReserve,      // slots for a replacement VM, before the old one goes
    kDeleteVm,     // the old VM goes, a replacement follows
    kEvictVm,      // the VM goes for good
    kProvisionVm,  // a new VM on the reserved host
    kRebootVm,
    kPowerCycleHost,  // every VM of the host restarts with it
    kWaitReady,
    kVerify,  // engine.verify_tests pass before the node rejoins
    kRejoin,  // the node takes work again (the rejoin hook, when configured)
};

std::string_view ActionName(Action action);
// The inverse of ActionName, for handles and records that store an action by name.
std::optional<Action> ParseAction(std::string_view name);

struct Operation {
    Action action = Action::kWaitReady;
    std::string key;  // idempotency key: "<remediation id>/<step>"
    std::string remediation_id;
    std::string cluster_id;
    std::string instance_id;
    std::string instance_name;
    std::string host;         // where the instance's VM runs (ran, at claim time)
    std::string target_host;  // kProvisionVm: the reserved host
    int num_gpus = 0;
    bool other_host = false;         // kReserve: the replacement must not go to `host`
    std::vector<std::string> tests;  // kVerify: the active tests to run
};

struct OperationStatus {
    enum class Phase { kRunning, kDone } phase = Phase::kRunning;
    Timestamp poll_at;   // kRunning: when it is worth asking again
    std::string result;  // kReserve: the reserved host
};

class Provider {
public:
    virtual ~Provider() = default;
    virtual Result<std::string> Start(storage::Txn& txn, const Operation& op, Timestamp now) = 0;
    // Errors: transient ones (IsTransient) are retried with backoff; others fail the step.
    virtual Result<OperationStatus> Poll(storage::Txn& txn, const std::string& handle,
                                         Timestamp now) = 0;
    // Frees what a failed remediation of the instance still holds (a reservation).
    virtual Status Release(storage::Txn& txn, const std::string& instance_id) = 0;
};

}  // namespace noderepair::providers
