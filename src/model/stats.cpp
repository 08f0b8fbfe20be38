#include "model/stats.hpp"

#include <cmath>
#include <cstdio>

namespace noderepair::model {
namespace {

constexpr int kBucketsPerDoubling = 8;

constexpr std::string_view kRecoverySteps[] = {"provision_vm", "wait_ready"};

// The stage a remediation enters with `state`, from the stage it is in; nullopt for terminal
// states. RUNNING after QUARANTINED (the host modes' action) is already recovery.
std::optional<Stage> StageOnEntering(State state, std::optional<Stage> current) {
    switch (state) {
        case State::kPendingApproval:
            return Stage::kWaitingForApproval;
        case State::kPending:
            return Stage::kQueued;
        case State::kQuarantining:
            return Stage::kQuarantine;
        case State::kQuarantined:
            return Stage::kAction;
        case State::kRunning:
            return current == Stage::kAction ? Stage::kRecovery : Stage::kAction;
        case State::kSucceeded:
        case State::kFailed:
        case State::kCancelled:
        case State::kAutoResolved:
            return std::nullopt;
    }
    return std::nullopt;
}

bool IsRecoveryStep(std::string_view step) {
    for (auto name : kRecoverySteps) {
        if (step == name) return true;
    }
    return false;
}

}  // namespace

std::string_view WireName(Stage stage) {
    switch (stage) {
        case Stage::kWaitingForApproval:
            return "waiting_for_approval";
        case Stage::kQueued:
            return "queued";
        case Stage::kQuarantine:
            return "quarantine";
        case Stage::kAction:
            return "action";
        case Stage::kRecovery:
            return "recovery";
    }
    return "unknown";
}

std::vector<StageSample> StagesOf(const std::vector<RemediationEvent>& timeline) {
    std::vector<StageSample> samples;
    std::optional<Stage> current;
    Timestamp entered{};
    auto enter = [&](std::optional<Stage> next, Timestamp when) {
        if (current == next) return;
        if (current) samples.push_back({*current, when - entered});
        current = next;
        entered = when;
    };
    for (const auto& event : timeline) {
        if (event.type == "state_change" && event.state) {
            enter(StageOnEntering(*event.state, current), event.time);
        } else if (event.type == "step" && current == Stage::kAction &&
                   IsRecoveryStep(event.step)) {
            enter(Stage::kRecovery, event.time);
        }
    }
    return samples;
}

int DurationBucket(std::chrono::microseconds duration) {
    const double ms = double(duration.count()) / 1000.0;
    if (ms < 1.0) return 0;
    return 1 + int(std::floor(std::log2(ms) * kBucketsPerDoubling));
}

double BucketSeconds(int bucket) {
    if (bucket <= 0) return 0.0;
    // Rounded to the millisecond: more digits than the bucket's width would be noise.
    return std::round(std::exp2((double(bucket) - 0.5) / kBucketsPerDoubling)) / 1000.0;
}

int64_t UtcDay(Timestamp t) {
    return std::chrono::floor<std::chrono::days>(t).time_since_epoch().count();
}

std::string FormatUtcDay(int64_t day) {
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()));
    return text;
}

}  // namespace noderepair::model
