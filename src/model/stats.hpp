// The overview's numbers (docs/http-api.md 11, "Overview"): the stages a remediation passes
// through, how a stage's duration falls into a histogram bucket, and the UTC day a time falls
// on. Plain functions over a remediation's timeline, shared by the live aggregates, their
// back-fill and the stats endpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"
#include "model/remediation.hpp"

namespace noderepair::model {

// Numeric values are stored in the database: never renumber, only append.
// As the stage histogram of /metrics names them (README "Metrics"): the host modes' states
// bound them; RUNNING of the modes without quarantine is split at its first recovery step.
enum class Stage : uint8_t {
    kWaitingForApproval = 1,  // in PENDING_APPROVAL
    kQueued = 2,              // in PENDING
    kQuarantine = 3,          // in QUARANTINING: cordon, drain
    kAction = 4,              // in QUARANTINED; or RUNNING until provision_vm or wait_ready
    kRecovery = 5,            // RUNNING after QUARANTINED; or from provision_vm or wait_ready
};

inline constexpr Stage kAllStages[] = {Stage::kWaitingForApproval, Stage::kQueued,
                                       Stage::kQuarantine, Stage::kAction, Stage::kRecovery};

std::string_view WireName(Stage stage);

// One stage a remediation went through, and how long it took.
struct StageSample {
    Stage stage;
    std::chrono::microseconds duration;
};

// The stages a remediation went through, from its timeline (oldest first): each stage that it
// entered and left, in order. A stage still in progress (the remediation has not left it) has
// no sample. The definitions are in docs/http-api.md 11 ("Overview").
std::vector<StageSample> StagesOf(const std::vector<RemediationEvent>& timeline);

// Durations are kept as a histogram with eight buckets per doubling of milliseconds: bucket 0
// holds anything under a millisecond, bucket b >= 1 holds [2^((b-1)/8), 2^(b/8)) ms. So a
// percentile read back from it is within 4.5% of the true value, whatever the scale.
int DurationBucket(std::chrono::microseconds duration);
// The value a bucket stands for, in seconds: the geometric middle of its bounds, to the
// millisecond (0 for bucket 0).
double BucketSeconds(int bucket);

// Days since 1970-01-01 (UTC) of `t`, and the ISO date ("2026-12-06") of such a day.
int64_t UtcDay(Timestamp t);
std::string FormatUtcDay(int64_t day);

}  // namespace noderepair::model
