// Health signals become remediations (API.md 5): alert ingest, the policy, linking,
// escalation, cooldown, the blast radius, auto-resolve, and the cluster automation settings.
// Every ingest is one store transaction, answered after commit; a sweeper thread takes up
// held-back signals and auto-resolves remediations whose alerts have cleared.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "common/subprocess.hpp"
#include "common/time.hpp"
#include "health/alertmanager.hpp"
#include "health/policy.hpp"
#include "model/health_check.hpp"
#include "model/inventory.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"
#include "telemetry/metrics.hpp"

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
    // For metrics: alerts by status, and what the firing ones led to besides a creation.
    int firing = 0;
    int resolved = 0;
    int linked = 0;     // joined (or escalated) the instance's active remediation
    int waiting = 0;    // held back by the blast radius
    int ignored = 0;    // no action by policy, cooldown or opt-out
    int unmatched = 0;  // no instance of the fleet matches its labels
};

// How active checks run: a command per test, or the simulated fleet's verdict.
struct CheckOptions {
    std::string command;  // hooks.health_check; empty: simulated (or SKIPPED without a fleet)
    bool simulated = true;
    std::chrono::seconds timeout{600};
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

class HealthService {
public:
    HealthService(storage::Store& store, const Clock& clock, Policy policy,
                  AutomationOptions options, CheckOptions checks, remediation::Lifecycle& lifecycle,
                  telemetry::Metrics* metrics = nullptr);
    ~HealthService();

    // Stores the alerts and acts on each by its own status; `done` after commit.
    void Ingest(std::vector<IncomingAlert> alerts, std::function<void(Result<IngestResult>)> done);

    Result<storage::AlertPage> ListAlerts(const storage::AlertQuery& query);
    void SetClusterAutomation(const std::string& cluster_id, model::ClusterAutomation automation,
                              std::function<void(Status)> done);
    void SetAutoRepair(const std::string& cluster_id, const std::string& instance_id,
                       bool auto_repair, std::function<void(Status)> done);

    // Active health checks (API.md 5): starts a run of known tests; it answers RUNNING and
    // the sweeper carries it out.
    void StartHealthCheck(const std::string& cluster_id, const std::string& instance_id,
                          std::vector<std::string> tests,
                          std::function<void(Result<model::HealthCheckRun>)> done);
    Result<model::HealthCheckRun> GetHealthCheck(const std::string& cluster_id,
                                                 const std::string& instance_id,
                                                 const std::string& run_id);
    Result<std::vector<model::HealthCheckRun>> ListHealthChecks(const std::string& cluster_id,
                                                                const std::string& instance_id);
    // The sweeper: held-back signals, auto-resolve and active checks, every `interval`.
    void Start(std::chrono::milliseconds interval);
    void Stop();
    // One sweep, committed before it returns (tests).
    Status SweepOnce();

    // max(1, floor(fraction x instances)), capped by max_active (API.md 5).
    static int BlastRadiusLimit(int instances, double fraction, int max_active);

private:
    Result<IngestResult> IngestInTxn(storage::Txn& txn, const std::vector<IncomingAlert>& alerts);
    // Joins the instance's active remediation (escalating a waiting automated one), or creates
    // an automated one, or holds the signal back by the blast radius.
    // Whether the cluster is below its blast radius (API.md 5).
    Result<bool> HasRoom(storage::Txn& txn, const std::string& cluster_id);
    Result<SignalOutcome> Act(storage::Txn& txn, const Signal& signal,
                              const model::Instance& instance, Timestamp now);
    // Act for an alert; records the outcome on it. Returns whether a remediation was created.
    Result<bool> Consider(storage::Txn& txn, model::Alert& alert, const model::Instance& instance,
                          Timestamp now);
    Result<bool> ConsiderRun(storage::Txn& txn, model::HealthCheckRun& run, Timestamp now);
    Status SweepInTxn(storage::Txn& txn);
    // Runs the next test of a run (simulated at once, or one command at a time).
    Status AdvanceRun(storage::Txn& txn, model::HealthCheckRun& run, Timestamp now);
    void CountIngest(const IngestResult& result);

    storage::Store& store_;
    telemetry::Metrics* metrics_;  // null: not counted
    // Runs finished by the sweep being committed; counted once it is. Sweeper thread only.
    std::vector<model::HealthCheckRun> finished_runs_;
    const Clock& clock_;
    const Policy policy_;
    const AutomationOptions options_;
    const CheckOptions checks_;
    remediation::Lifecycle& lifecycle_;
    struct RunningTest {
        Subprocess process;
        Timestamp deadline;
    };
    std::map<std::string, RunningTest> running_tests_;  // "<run id>/<test>", writer thread only
    // Active remediations per cluster in the current transaction; writer thread only.
    std::map<std::string, int> active_in_txn_;

    std::mutex mu_;  // guards the sweeper's state and instance_counts_
    std::map<std::string, int> instance_counts_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread sweeper_;
};

}  // namespace noderepair::health
