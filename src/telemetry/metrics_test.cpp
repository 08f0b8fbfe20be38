#include "telemetry/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace noderepair::telemetry {
namespace {

using model::Mode;
using model::State;
using model::Trigger;

Timestamp At(int seconds) { return FromMicros(int64_t(seconds) * 1'000'000); }

model::Remediation Rem(State state, int update_s) {
    model::Remediation r;
    r.id = "r1";
    r.cluster_id = "c1";
    r.instance_id = "i1";
    r.mode = Mode::kRebootVm;
    r.trigger = Trigger::kAutomated;
    r.state = state;
    r.create_time = At(100);
    r.update_time = At(update_s);
    return r;
}

bool Has(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, TransitionsAndStagesAreCountedFromCommits) {
    Metrics metrics;
    storage::CommitReport report;
    report.batch_size = 3;
    report.latency = std::chrono::milliseconds(2);
    report.changes.push_back({Rem(State::kPendingApproval, 100), std::nullopt, "req"});
    metrics.OnCommit(report);
    report.changes = {{Rem(State::kPending, 160), State::kPendingApproval, ""}};
    metrics.OnCommit(report);
    // A mode escalation keeps the state: not a transition.
    report.changes = {{Rem(State::kPending, 161), State::kPending, ""}};
    metrics.OnCommit(report);
    report.changes = {{Rem(State::kRunning, 170), State::kPending, ""},
                      {Rem(State::kSucceeded, 200), State::kRunning, ""}};
    metrics.OnCommit(report);

    std::string text = metrics.Render({});
    EXPECT_TRUE(Has(text,
                    "noderepair_remediations_created_total{mode=\"REMEDIATION_MODE_REBOOT_VM\","
                    "trigger=\"REMEDIATION_TRIGGER_AUTOMATED\"} 1"))
        << text;
    EXPECT_TRUE(Has(text,
                    "noderepair_remediation_transitions_total{from=\"PENDING_APPROVAL\","
                    "to=\"PENDING\"} 1"));
    EXPECT_TRUE(
        Has(text, "noderepair_remediation_transitions_total{from=\"PENDING\",to=\"PENDING\"} 1") ==
        false);
    EXPECT_TRUE(Has(text,
                    "noderepair_remediation_stage_duration_seconds_sum{stage=\"waiting_for_"
                    "approval\"} 60"));
    // The escalation at 161 did not restart the PENDING stage, which began at 160.
    EXPECT_TRUE(
        Has(text, "noderepair_remediation_stage_duration_seconds_sum{stage=\"queued\"} 10"));
    EXPECT_TRUE(
        Has(text, "noderepair_remediation_stage_duration_seconds_sum{stage=\"recovery\"} 30"));
    EXPECT_TRUE(Has(text,
                    "noderepair_remediation_duration_seconds_sum{mode=\"REMEDIATION_MODE_REBOOT_"
                    "VM\",outcome=\"SUCCEEDED\"} 100"));
    EXPECT_TRUE(Has(text, "noderepair_storage_commit_batch_size_count 4"));
}

TEST(Metrics, AStageSeenOnlyAfterARestartIsTimedFromTheRemediation) {
    Metrics metrics;
    storage::CommitReport report;
    auto approved = Rem(State::kPending, 130);
    report.changes = {{approved, State::kPendingApproval, ""}};
    metrics.OnCommit(report);
    auto running = Rem(State::kRunning, 150);
    running.review_time = At(130);
    report.changes = {{running, State::kPending, ""}};
    metrics.OnCommit(report);
    std::string text = metrics.Render({});
    EXPECT_TRUE(Has(text,
                    "noderepair_remediation_stage_duration_seconds_sum{stage=\"waiting_for_"
                    "approval\"} 30"))
        << text;
    EXPECT_TRUE(
        Has(text, "noderepair_remediation_stage_duration_seconds_sum{stage=\"queued\"} 20"));
}

TEST(Metrics, GaugesComeFromTheSnapshot) {
    Metrics metrics;
    Snapshot snapshot;
    snapshot.remediations = {{State::kPending, Mode::kVmOnly, Trigger::kManual, 7},
                             {State::kPending, Mode::kRebootVm, Trigger::kAutomated, 2},
                             {State::kSucceeded, Mode::kVmOnly, Trigger::kManual, 40}};
    snapshot.engine_in_flight = 3;
    snapshot.engine_paused = true;
    snapshot.watch_streams = 5;
    std::string text = metrics.Render(snapshot);
    EXPECT_TRUE(Has(text, "noderepair_engine_queue_depth 9")) << text;
    EXPECT_TRUE(Has(text, "noderepair_engine_in_flight 3"));
    EXPECT_TRUE(Has(text, "noderepair_engine_paused 1"));
    EXPECT_TRUE(Has(text, "noderepair_watch_streams 5"));
    EXPECT_TRUE(Has(text,
                    "noderepair_remediations{mode=\"REMEDIATION_MODE_VM_ONLY\",state=\"SUCCEEDED\","
                    "trigger=\"REMEDIATION_TRIGGER_MANUAL\"} 40"));
}

TEST(Metrics, RequestsAlertsChecksAndStepsAreLabelled) {
    Metrics metrics;
    metrics.ObserveRequest("GET", "/v1/compute/clusters/{}", 404, std::chrono::microseconds(300));
    metrics.AlertReceived(true, 3);
    metrics.AlertReceived(false, 0);
    metrics.AlertHandled(AlertOutcome::kWaiting, 2);
    model::HealthCheckRun run;
    run.state = model::CheckState::kFailed;
    run.tests = {{"gpu_burn", model::CheckState::kFailed, ""},
                 {"storage", model::CheckState::kPassed, ""}};
    metrics.HealthCheckFinished(run);
    metrics.StepFinished("drain", std::chrono::seconds(2));
    std::string text = metrics.Render({});
    EXPECT_TRUE(Has(text,
                    "noderepair_http_request_duration_seconds_count{code=\"404\",method=\"GET\","
                    "route=\"/v1/compute/clusters/{}\"} 1"))
        << text;
    EXPECT_TRUE(Has(text, "noderepair_alerts_received_total{status=\"firing\"} 3"));
    EXPECT_EQ(text.find("status=\"resolved\""), std::string::npos) << "zero adds no series";
    EXPECT_TRUE(Has(text, "noderepair_alerts_matched_total{outcome=\"waiting\"} 2"));
    EXPECT_TRUE(Has(text, "noderepair_health_check_runs_total{result=\"FAILED\"} 1"));
    EXPECT_TRUE(
        Has(text, "noderepair_health_check_tests_total{result=\"PASSED\",test=\"storage\"} 1"));
    EXPECT_TRUE(Has(text, "noderepair_engine_step_duration_seconds_sum{step=\"drain\"} 2"));
}

}  // namespace
}  // namespace noderepair::telemetry
