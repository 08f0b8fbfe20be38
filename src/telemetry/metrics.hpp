// Prometheus metrics (README "Metrics"): counters and histograms kept in memory by the parts
// that act, and gauges read at scrape time from state the store keeps counted, so a scrape
// costs the same with ten instances or a hundred thousand. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "storage/store.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace noderepair::telemetry {

// What a firing alert led to (health service).
enum class AlertOutcome { kCreated, kLinked, kWaiting, kIgnored, kUnmatched, kOutOfScope };

// Values read right before a scrape is rendered.
struct Snapshot {
    std::vector<storage::RemediationCount> remediations;
    size_t engine_in_flight = 0;
    bool engine_paused = false;
    size_t watch_streams = 0;
};

class Metrics final : public storage::CommitObserver {
public:
    Metrics();
    ~Metrics() override;
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Commit latency and batch size; remediations created, transitions and the time each
    // spent in the state it left. Called on the store's completion thread only.
    void OnCommit(const storage::CommitReport& report) override;

    // One HTTP request answered: `route` is its pattern, never the raw path.
    void ObserveRequest(std::string_view method, std::string_view route, int status,
                        std::chrono::nanoseconds latency);
    void AlertReceived(bool firing, int count = 1);
    void AlertHandled(AlertOutcome outcome, int count = 1);
    // What the policy engine decided in a committed transaction (docs/http-api.md 11):
    // remediations escalated (ladder, suspect host), nodes given to a person, hosts made suspect,
    // incidents opened.
    void PolicyDecided(int escalations, int attention, int suspect_hosts, int incidents);
    // A finished active health check run (PASSED or FAILED) and each of its tests.
    void HealthCheckFinished(const model::HealthCheckRun& run);
    // An engine step that completed, with how long it took from its start.
    void StepFinished(std::string_view step, std::chrono::microseconds took);
    // An engine commit refused because the remediation's lease is another replica's now
    // (docs/design.md 12): this replica was paused or cut off past its lease.
    void FenceRefused();
    // One look of the engine for PENDING work (also while paused).
    void EngineScanned();
    // One pass of the health sweeper committed (waiting signals, auto-resolve).
    void HealthSwept();
    // One poll of a workload manager's node states answered (the Slurm watchers).
    void WorkloadPolled();

    // One push of noderepair's own alerts to Alertmanager (docs/http-api.md 11), and how many
    // of one alertname were firing in it.
    void NotifyPosted(bool sent);
    void NotifyFiring(std::string_view alertname, size_t firing);

    // The text exposition format, version 0.0.4.
    std::string Render(const Snapshot& snapshot);

private:
    prometheus::Counter& Counter(prometheus::Family<prometheus::Counter>& family,
                                 std::vector<std::pair<std::string, std::string>> labels);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Gauge>* remediations_;
    prometheus::Family<prometheus::Counter>* created_;
    prometheus::Family<prometheus::Counter>* transitions_;
    prometheus::Family<prometheus::Histogram>* stage_seconds_;
    prometheus::Family<prometheus::Histogram>* total_seconds_;
    prometheus::Family<prometheus::Histogram>* step_seconds_;
    prometheus::Counter* fence_refused_;
    prometheus::Counter* engine_scans_;
    prometheus::Counter* health_sweeps_;
    prometheus::Counter* workload_polls_;
    prometheus::Gauge* queue_depth_;
    prometheus::Gauge* in_flight_;
    prometheus::Gauge* paused_;
    prometheus::Gauge* watch_streams_;
    prometheus::Family<prometheus::Counter>* alerts_received_;
    prometheus::Family<prometheus::Counter>* alerts_handled_;
    prometheus::Family<prometheus::Counter>* policy_decisions_;
    prometheus::Family<prometheus::Counter>* check_runs_;
    prometheus::Family<prometheus::Counter>* check_tests_;
    prometheus::Family<prometheus::Histogram>* http_seconds_;
    // Tells this registry's request histograms apart in the threads' caches (ObserveRequest).
    const uint64_t cache_id_;
    prometheus::Histogram* commit_seconds_;
    prometheus::Histogram* batch_size_;
    prometheus::Family<prometheus::Counter>* notify_posts_;
    prometheus::Family<prometheus::Gauge>* notify_firing_;

    // When each unfinished remediation entered its state, for the stage histograms. Touched
    // by the store's completion thread only; a remediation not seen since this process started is
    // timed from the fields it carries when those say when its state began.
    std::unordered_map<std::string, Timestamp> entered_;
};

}  // namespace noderepair::telemetry
