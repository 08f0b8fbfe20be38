// Where a health signal goes (docs/http-api.md 5): joins the instance's active remediation as
// evidence (escalating a waiting automated one), or creates an automated remediation (approved
// at once where the cluster's policy allows), or waits for room under the blast radius, or is
// only recorded (no rule, opt-out, cooldown). Every change of a remediation goes through the one
// writer, remediation::Lifecycle. Runs inside the caller's transaction, on the store's writer
// thread; it also takes up the signals that waited, and auto-resolves.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.hpp"
#include "common/time.hpp"
#include "health/policy.hpp"
#include "model/alert.hpp"
#include "model/health_check.hpp"
#include "model/inventory.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"

namespace noderepair::health {

struct AutomationOptions {
    std::chrono::seconds auto_resolve_ttl{300};
    std::chrono::seconds cooldown{1800};
    double max_active_fraction = 0.10;
    int max_active = 0;  // 0: no absolute cap
    // test name -> mode of the remediation its failure asks for (default HOST_AWARE).
    std::map<std::string, model::Mode> test_modes;
};

// A health signal asking for a remediation: a firing alert or a failed active run.
struct Signal {
    std::string name;  // the alert name, or "health_check:<test>"
    std::optional<model::Mode> mode;
    std::string reason;
    std::string alert_id;  // passive_health_check_event_id
    std::string run_id;    // active_health_check_run_id
};

struct SignalOutcome {
    enum class Kind { kIgnored, kJoined, kCreated, kWaiting } kind = Kind::kIgnored;
    std::string remediation_id;  // kJoined, kCreated
};

class SignalRouter {
public:
    SignalRouter(Policy policy, AutomationOptions options, remediation::Lifecycle& lifecycle)
        : policy_(std::move(policy)), options_(options), lifecycle_(lifecycle) {}

    const Policy& policy() const { return policy_; }
    const AutomationOptions& options() const { return options_; }

    // Forgets the per-transaction counts: call at the start of each transaction that routes.
    void BeginTransaction() { active_in_txn_.clear(); }

    // Routes a firing alert of a known instance; records the outcome on the alert. Returns
    // whether a remediation was created.
    Result<bool> RouteAlert(storage::Txn& txn, model::Alert& alert, const model::Instance& instance,
                            Timestamp now);
    // Routes a failed run; records the outcome on the run.
    Result<bool> RouteFailedRun(storage::Txn& txn, model::HealthCheckRun& run, Timestamp now);
    // Takes up the signals that waited for room, oldest first, as room allows.
    Status TakeUpWaiting(storage::Txn& txn, Timestamp now);
    // Remediations waiting for approval whose alerts all resolved the TTL ago.
    Status AutoResolve(storage::Txn& txn, Timestamp now);

    // max(1, floor(fraction x instances)), capped by max_active (docs/http-api.md 5).
    static int BlastRadiusLimit(int instances, double fraction, int max_active);

private:
    Result<SignalOutcome> Route(storage::Txn& txn, const Signal& signal,
                                const model::Instance& instance, Timestamp now);
    // Whether the cluster is below its blast radius.
    Result<bool> HasRoom(storage::Txn& txn, const std::string& cluster_id);

    const Policy policy_;
    const AutomationOptions options_;
    remediation::Lifecycle& lifecycle_;
    // Active remediations per cluster in the current transaction; writer thread only.
    std::map<std::string, int> active_in_txn_;
    std::mutex mu_;  // guards instance_counts_
    std::map<std::string, int> instance_counts_;
};

}  // namespace noderepair::health
