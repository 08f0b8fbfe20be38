// Health signals become remediations (docs/http-api.md 5). The service puts together the three
// parts: alert ingest (passive signals in), the signal router (where a signal goes: linked,
// escalated, created, waiting) and the check runner (active runs); and it runs the sweeper, a
// thread that takes up waiting signals, auto-resolves, and carries active runs forward.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "health/alert_ingest.hpp"
#include "health/alertmanager.hpp"
#include "health/check_runner.hpp"
#include "health/policy.hpp"
#include "health/signal_router.hpp"
#include "model/health_check.hpp"
#include "model/inventory.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"
#include "telemetry/metrics.hpp"

namespace noderepair::health {

class HealthService {
public:
    HealthService(storage::Store& store, const Clock& clock, Policy policy,
                  AutomationOptions options, CheckOptions checks, remediation::Lifecycle& lifecycle,
                  telemetry::Metrics* metrics = nullptr);
    ~HealthService();

    // Passive signals: see AlertIngest.
    void Ingest(std::vector<IncomingAlert> alerts, ClusterFilter in_scope,
                std::function<void(Result<IngestResult>)> done) {
        ingest_.Ingest(std::move(alerts), std::move(in_scope), std::move(done));
    }
    Result<storage::AlertPage> ListAlerts(const storage::AlertQuery& query) {
        return ingest_.List(query);
    }

    // Active checks: see CheckRunner.
    void StartHealthCheck(const std::string& cluster_id, const std::string& instance_id,
                          std::vector<std::string> tests,
                          std::function<void(Result<model::HealthCheckRun>)> done) {
        checks_.Start(cluster_id, instance_id, std::move(tests), std::move(done));
    }
    Result<model::HealthCheckRun> GetHealthCheck(const std::string& cluster_id,
                                                 const std::string& instance_id,
                                                 const std::string& run_id) {
        return checks_.Get(cluster_id, instance_id, run_id);
    }
    Result<std::vector<model::HealthCheckRun>> ListHealthChecks(const std::string& cluster_id,
                                                                const std::string& instance_id) {
        return checks_.List(cluster_id, instance_id);
    }

    // The automation settings of a cluster and of an instance (docs/http-api.md 5).
    void SetClusterAutomation(const std::string& cluster_id, model::ClusterAutomation automation,
                              std::function<void(Status)> done);
    // An instance's auto_repair (when given) and, with `clear_attention`, its attention cleared
    // (a person took note: docs/http-api.md 11), in one transaction.
    void PatchInstance(const std::string& cluster_id, const std::string& instance_id,
                       std::optional<bool> auto_repair, bool clear_attention,
                       std::function<void(Status)> done);

    // docs/http-api.md 11: a cluster's incidents (newest first), and a person's release or
    // dismissal of an open one.
    Result<std::vector<model::Incident>> ListIncidents(const std::string& cluster_id);
    void CloseIncident(const std::string& cluster_id, const std::string& incident_id, bool release,
                       const std::string& actor, std::function<void(Result<model::Incident>)> done);

    // The sweeper: held-back signals, auto-resolve and active checks, every `interval`.
    // With `leads`, the store's part of the sweep (held-back signals, auto-resolve) runs only
    // while it says this replica leads (docs/design.md 12); active checks this replica started
    // advance either way.
    void Start(std::chrono::milliseconds interval, std::function<bool()> leads = nullptr);
    void Stop();
    // One sweep, committed before it returns (tests).
    Status SweepOnce(bool duties = true);

    static int BlastRadiusLimit(int instances, double fraction, int max_active) {
        return SignalRouter::BlastRadiusLimit(instances, fraction, max_active);
    }

private:
    storage::Store& store_;
    const Clock& clock_;
    telemetry::Metrics* metrics_;
    SignalRouter router_;
    AlertIngest ingest_;
    CheckRunner checks_;

    std::mutex mu_;  // guards the sweeper's state
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread sweeper_;
};

}  // namespace noderepair::health
