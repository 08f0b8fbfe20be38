// Active health checks (docs/http-api.md 5): runs of named tests on one instance. A run is
// stored RUNNING when asked for; the sweeper carries it forward with Advance(), which runs the
// tests outside every transaction (the hooks.health_check command, one test at a time, or the
// simulated fleet's verdict) and then records what finished, routing a failed run to the signal
// router, in one transaction. Start/Get/List are called from the API's workers; Advance from
// the sweeper thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/subprocess.hpp"
#include "common/time.hpp"
#include "health/signal_router.hpp"
#include "model/health_check.hpp"
#include "storage/store.hpp"
#include "telemetry/metrics.hpp"

namespace noderepair::health {

// How active checks run: a command per test, or the simulated fleet's verdict.
struct CheckOptions {
    std::string command;  // hooks.health_check; empty: simulated (or SKIPPED without a fleet)
    bool simulated = true;
    std::chrono::seconds timeout{600};
};

class CheckRunner {
public:
    CheckRunner(storage::Store& store, const Clock& clock, SignalRouter& router,
                remediation::Lifecycle& lifecycle, CheckOptions options,
                telemetry::Metrics* metrics)
        : store_(store),
          clock_(clock),
          router_(router),
          lifecycle_(lifecycle),
          options_(std::move(options)),
          metrics_(metrics) {}

    // Starts a run of known tests; it answers RUNNING, after commit.
    void Start(const std::string& cluster_id, const std::string& instance_id,
               std::vector<std::string> tests,
               std::function<void(Result<model::HealthCheckRun>)> done);
    Result<model::HealthCheckRun> Get(const std::string& cluster_id, const std::string& instance_id,
                                      const std::string& run_id);
    // An instance's runs, newest first.
    Result<std::vector<model::HealthCheckRun>> List(const std::string& cluster_id,
                                                    const std::string& instance_id);
    // Carries the running runs forward; committed before it returns.
    Status Advance();

private:
    // Keeps a failed run as a signal occurrence for policy replay.
    Status RecordOccurrence(storage::Txn& txn, const model::HealthCheckRun& run, Timestamp now);
    struct RunningTest {
        Subprocess process;
        Timestamp deadline;
    };
    // Runs the next tests of `run` on `instance` (its VM's host degraded or not); whether any
    // test changed.
    bool AdvanceRun(model::HealthCheckRun& run, const std::optional<model::Instance>& instance,
                    bool host_degraded, Timestamp now);

    storage::Store& store_;
    const Clock& clock_;
    SignalRouter& router_;
    remediation::Lifecycle& lifecycle_;
    const CheckOptions options_;
    telemetry::Metrics* metrics_;                       // null: not counted
    std::map<std::string, RunningTest> running_tests_;  // "<run id>/<test>"; sweeper only
};

}  // namespace noderepair::health
