// Health signals become remediations (API.md 5): alert ingest, the policy, linking,
// escalation, cooldown, the blast radius, auto-resolve, and the cluster automation settings.
// Every ingest is one store transaction, answered after commit; a sweeper thread takes up
// held-back signals and auto-resolves remediations whose alerts have cleared.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "health/alertmanager.hpp"
#include "health/policy.hpp"
#include "model/inventory.hpp"
#include "storage/store.hpp"

namespace noderepair::health {

struct AutomationOptions {
    std::chrono::seconds auto_resolve_ttl{300};
    std::chrono::seconds cooldown{1800};
    double max_active_fraction = 0.10;
    int max_active = 0;  // 0: no absolute cap
};

struct IngestResult {
    int alerts = 0;
    int remediations_created = 0;
};

class HealthService {
public:
    HealthService(storage::Store& store, const Clock& clock, Policy policy,
                  AutomationOptions options, std::function<Timestamp()> next_timestamp);
    ~HealthService();

    // Stores the alerts and acts on each by its own status; `done` after commit.
    void Ingest(std::vector<IncomingAlert> alerts, std::function<void(Result<IngestResult>)> done);

    Result<storage::AlertPage> ListAlerts(const storage::AlertQuery& query);
    void SetClusterAutomation(const std::string& cluster_id, model::ClusterAutomation automation,
                              std::function<void(Status)> done);
    void SetAutoRepair(const std::string& cluster_id, const std::string& instance_id,
                       bool auto_repair, std::function<void(Status)> done);

    // The sweeper: held-back signals and auto-resolve, every `interval`.
    void Start(std::chrono::milliseconds interval);
    void Stop();
    // One sweep, committed before it returns (tests).
    Status SweepOnce();

    // max(1, floor(fraction x instances)), capped by max_active (API.md 5).
    static int BlastRadiusLimit(int instances, double fraction, int max_active);

private:
    Result<IngestResult> IngestInTxn(storage::Txn& txn, const std::vector<IncomingAlert>& alerts);
    // Links the alert to the instance's active remediation (escalating it), or creates an
    // automated one, or holds the signal back. Returns whether it created one.
    Result<bool> Consider(storage::Txn& txn, model::Alert& alert, const model::Instance& instance,
                          Timestamp now);
    Status SweepInTxn(storage::Txn& txn);

    storage::Store& store_;
    const Clock& clock_;
    const Policy policy_;
    const AutomationOptions options_;
    std::function<Timestamp()> next_timestamp_;

    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread sweeper_;
};

}  // namespace noderepair::health
