#include "telemetry/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <sstream>

namespace noderepair::telemetry {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using Buckets = prometheus::Histogram::BucketBoundaries;

// Remediation stages last from milliseconds (simulated) to hours (a reboot queue).
const Buckets kStageBuckets = {0.01, 0.1, 0.5,  1,    5,    15,   30,    60,    120,
                               300,  600, 1200, 1800, 3600, 7200, 14400, 43200, 86400};
const Buckets kHttpBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                              0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const Buckets kCommitBuckets = {0.0005, 0.001, 0.002, 0.004, 0.008, 0.016,
                                0.032,  0.064, 0.128, 0.256, 0.512, 1};
const Buckets kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// The stage a state is, as operators name it.
std::string_view StageOf(model::State state) {
    switch (state) {
        case model::State::kPendingApproval:
            return "waiting_for_approval";
        case model::State::kPending:
            return "queued";
        case model::State::kQuarantining:
            return "quarantine";
        case model::State::kQuarantined:
            return "action";
        case model::State::kRunning:
            return "recovery";
        default:
            return "";
    }
}

std::string_view OutcomeName(AlertOutcome outcome) {
    switch (outcome) {
        case AlertOutcome::kCreated:
            return "created";
        case AlertOutcome::kLinked:
            return "linked";
        case AlertOutcome::kWaiting:
            return "waiting";
        case AlertOutcome::kIgnored:
            return "ignored";
        case AlertOutcome::kUnmatched:
            return "unmatched";
        case AlertOutcome::kOutOfScope:
            return "out_of_scope";
    }
    return "";
}

}  // namespace

namespace {
std::atomic<uint64_t> next_cache_id{1};
}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()), cache_id_(next_cache_id++) {
    auto& r = *registry_;
    remediations_ = &BuildGauge()
                         .Name("noderepair_remediations")
                         .Help("Remediations stored, by state, mode and trigger")
                         .Register(r);
    created_ = &BuildCounter()
                    .Name("noderepair_remediations_created_total")
                    .Help("Remediations created, by mode and trigger")
                    .Register(r);
    transitions_ = &BuildCounter()
                        .Name("noderepair_remediation_transitions_total")
                        .Help("Remediation state changes, by the state left and entered")
                        .Register(r);
    stage_seconds_ =
        &BuildHistogram()
             .Name("noderepair_remediation_stage_duration_seconds")
             .Help(
                 "Time a remediation spent in a stage: waiting_for_approval, queued, "
                 "quarantine (cordon and drain), action (delete or power cycle), recovery "
                 "(provision, boot, verify, rejoin)")
             .Register(r);
    total_seconds_ = &BuildHistogram()
                          .Name("noderepair_remediation_duration_seconds")
                          .Help("Time from creation to a terminal state, by mode and outcome")
                          .Register(r);
    step_seconds_ = &BuildHistogram()
                         .Name("noderepair_engine_step_duration_seconds")
                         .Help("Time an engine step took (drain, rejoin, provision_vm, ...)")
                         .Register(r);
    fence_refused_ = &BuildCounter()
                          .Name("noderepair_engine_fence_refused_total")
                          .Help(
                              "Engine commits this replica made after its lease on the "
                              "remediation had passed to another replica; none changed anything")
                          .Register(r)
                          .Add({});
    engine_scans_ = &BuildCounter()
                         .Name("noderepair_engine_scans_total")
                         .Help(
                             "Looks of the engine for PENDING work, also those that find it "
                             "paused and claim nothing")
                         .Register(r)
                         .Add({});
    health_sweeps_ = &BuildCounter()
                          .Name("noderepair_health_sweeps_total")
                          .Help(
                              "Passes of the health sweeper over waiting signals and auto-resolve "
                              "on this replica (only the leader sweeps): stalls when it stops")
                          .Register(r)
                          .Add({});
    workload_polls_ = &BuildCounter()
                           .Name("noderepair_workload_polls_total")
                           .Help(
                               "Polls of the workload managers' node states answered on this "
                               "replica (only the leader polls)")
                           .Register(r)
                           .Add({});
    queue_depth_ = &BuildGauge()
                        .Name("noderepair_engine_queue_depth")
                        .Help("Remediations in PENDING, waiting for the engine")
                        .Register(r)
                        .Add({});
    in_flight_ = &BuildGauge()
                      .Name("noderepair_engine_in_flight")
                      .Help("Remediations this process's engine is working on")
                      .Register(r)
                      .Add({});
    paused_ = &BuildGauge()
                   .Name("noderepair_engine_paused")
                   .Help("1 while the engine is paused")
                   .Register(r)
                   .Add({});
    watch_streams_ = &BuildGauge()
                          .Name("noderepair_watch_streams")
                          .Help("Open live-update (server-sent events) streams")
                          .Register(r)
                          .Add({});
    alerts_received_ = &BuildCounter()
                            .Name("noderepair_alerts_received_total")
                            .Help("Alerts received (webhook or simulated), by status")
                            .Register(r);
    alerts_handled_ = &BuildCounter()
                           .Name("noderepair_alerts_matched_total")
                           .Help(
                               "What firing alerts led to: created a remediation, linked to "
                               "one, waiting for room, ignored by policy, unmatched to an "
                               "instance, or outside the sender's clusters (dropped)")
                           .Register(r);
    policy_decisions_ = &BuildCounter()
                             .Name("noderepair_policy_decisions_total")
                             .Help(
                                 "Fleet-intelligence decisions: automated remediations escalated "
                                 "(ladder or suspect host), nodes given to a person past the top "
                                 "of the ladder, hosts made suspect, incidents opened")
                             .Register(r);
    check_runs_ = &BuildCounter()
                       .Name("noderepair_health_check_runs_total")
                       .Help("Active health check runs finished, by result")
                       .Register(r);
    check_tests_ = &BuildCounter()
                        .Name("noderepair_health_check_tests_total")
                        .Help("Active health check tests finished, by test and result")
                        .Register(r);
    http_seconds_ = &BuildHistogram()
                         .Name("noderepair_http_request_duration_seconds")
                         .Help("HTTP requests answered, by method, route pattern and status code")
                         .Register(r);
    commit_seconds_ = &BuildHistogram()
                           .Name("noderepair_storage_commit_duration_seconds")
                           .Help("Group commit latency, BEGIN to durable COMMIT")
                           .Register(r)
                           .Add({}, kCommitBuckets);
    batch_size_ = &BuildHistogram()
                       .Name("noderepair_storage_commit_batch_size")
                       .Help("Changes per group commit")
                       .Register(r)
                       .Add({}, kBatchBuckets);
    notify_posts_ = &BuildCounter()
                         .Name("noderepair_notify_posts_total")
                         .Help(
                             "Pushes of noderepair's own alerts to Alertmanager, by result "
                             "(sent, failed)")
                         .Register(r);
    notify_firing_ = &BuildGauge()
                          .Name("noderepair_notify_alerts_firing")
                          .Help("noderepair's own alerts firing at the last push, by alertname")
                          .Register(r);
    // Both results exist from the start, so a rule on failures has a series to watch.
    Counter(*notify_posts_, {{"result", "sent"}});
    Counter(*notify_posts_, {{"result", "failed"}});
}

Metrics::~Metrics() = default;

void Metrics::NotifyPosted(bool sent) {
    Counter(*notify_posts_, {{"result", sent ? "sent" : "failed"}}).Increment();
}

void Metrics::NotifyFiring(std::string_view alertname, size_t firing) {
    notify_firing_->Add({{"alertname", std::string(alertname)}}).Set(double(firing));
}

prometheus::Counter& Metrics::Counter(prometheus::Family<prometheus::Counter>& family,
                                      std::vector<std::pair<std::string, std::string>> labels) {
    return family.Add(prometheus::Labels(labels.begin(), labels.end()));
}

void Metrics::OnCommit(const storage::CommitReport& report) {
    commit_seconds_->Observe(Seconds(report.latency));
    batch_size_->Observe(double(report.batch_size));
    for (const auto& change : report.changes) {
        const auto& r = change.remediation;
        const std::string state(model::WireName(r.state));
        if (!change.previous_state) {
            Counter(*created_, {{"mode", std::string(model::WireName(r.mode))},
                                {"trigger", std::string(model::WireName(r.trigger))}})
                .Increment();
            Counter(*transitions_, {{"from", "NEW"}, {"to", state}}).Increment();
            entered_[r.id] = r.update_time;
            continue;
        }
        const model::State from = *change.previous_state;
        if (from == r.state) continue;  // a mode escalation, not a transition
        Counter(*transitions_, {{"from", std::string(model::WireName(from))}, {"to", state}})
            .Increment();
        // When the state it left began: seen here, or known from the remediation itself.
        std::optional<Timestamp> began;
        if (auto it = entered_.find(r.id); it != entered_.end()) {
            began = it->second;
        } else if (from == model::State::kPendingApproval) {
            began = r.create_time;
        } else if (from == model::State::kPending) {
            began = r.review_time ? *r.review_time : r.create_time;
        }
        if (began && !StageOf(from).empty()) {
            stage_seconds_->Add({{"stage", std::string(StageOf(from))}}, kStageBuckets)
                .Observe(Seconds(r.update_time - *began));
        }
        if (model::IsTerminal(r.state)) {
            entered_.erase(r.id);
            total_seconds_
                ->Add({{"mode", std::string(model::WireName(r.mode))}, {"outcome", state}},
                      kStageBuckets)
                .Observe(Seconds(r.update_time - r.create_time));
        } else {
            entered_[r.id] = r.update_time;
        }
    }
}

void Metrics::ObserveRequest(std::string_view method, std::string_view route, int status,
                             std::chrono::nanoseconds latency) {
    // Each thread remembers the histogram of each (method, route, code) it has seen: the
    // family's lookup builds a label map and takes the family's lock on every request. Entries
    // stay valid as long as the registry (series are never removed), and a registry's id is
    // never reused.
    thread_local std::unordered_map<std::string, prometheus::Histogram*> cache;
    std::string key = std::to_string(cache_id_);
    key.append(1, ' ').append(method).append(1, ' ').append(route).append(1, ' ');
    key += std::to_string(status);
    auto& histogram = cache[key];
    if (histogram == nullptr) {
        histogram = &http_seconds_->Add({{"method", std::string(method)},
                                         {"route", std::string(route)},
                                         {"code", std::to_string(status)}},
                                        kHttpBuckets);
    }
    histogram->Observe(Seconds(latency));
}

void Metrics::AlertReceived(bool firing, int count) {
    if (count > 0) {
        Counter(*alerts_received_, {{"status", firing ? "firing" : "resolved"}}).Increment(count);
    }
}

void Metrics::AlertHandled(AlertOutcome outcome, int count) {
    if (count > 0) {
        Counter(*alerts_handled_, {{"outcome", std::string(OutcomeName(outcome))}})
            .Increment(count);
    }
}

void Metrics::PolicyDecided(int escalations, int attention, int suspect_hosts, int incidents) {
    const std::pair<const char*, int> decisions[] = {{"escalation", escalations},
                                                     {"attention", attention},
                                                     {"suspect_host", suspect_hosts},
                                                     {"incident", incidents}};
    for (const auto& [decision, count] : decisions) {
        if (count > 0) Counter(*policy_decisions_, {{"decision", decision}}).Increment(count);
    }
}

void Metrics::HealthCheckFinished(const model::HealthCheckRun& run) {
    Counter(*check_runs_, {{"result", std::string(model::WireName(run.state))}}).Increment();
    for (const auto& test : run.tests) {
        Counter(*check_tests_,
                {{"test", test.name}, {"result", std::string(model::WireName(test.state))}})
            .Increment();
    }
}

void Metrics::StepFinished(std::string_view step, std::chrono::microseconds took) {
    step_seconds_->Add({{"step", std::string(step)}}, kStageBuckets).Observe(Seconds(took));
}

void Metrics::FenceRefused() { fence_refused_->Increment(); }

void Metrics::EngineScanned() { engine_scans_->Increment(); }

void Metrics::HealthSwept() { health_sweeps_->Increment(); }
void Metrics::WorkloadPolled() { workload_polls_->Increment(); }

std::string Metrics::Render(const Snapshot& snapshot) {
    int64_t pending = 0;
    for (const auto& c : snapshot.remediations) {
        remediations_
            ->Add({{"state", std::string(model::WireName(c.state))},
                   {"mode", std::string(model::WireName(c.mode))},
                   {"trigger", std::string(model::WireName(c.trigger))}})
            .Set(double(c.count));
        if (c.state == model::State::kPending) pending += c.count;
    }
    queue_depth_->Set(double(pending));
    in_flight_->Set(double(snapshot.engine_in_flight));
    paused_->Set(snapshot.engine_paused ? 1 : 0);
    watch_streams_->Set(double(snapshot.watch_streams));
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_->Collect());
    return out.str();
}

}  // namespace noderepair::telemetry
