// The cluster's overview (docs/http-api.md 11, "Overview"): remediations per UTC day by mode
// and outcome, p50/p90 time per stage, and what needs a person now, read from the daily
// aggregates remediation::Lifecycle keeps, so a call costs the same whatever the history holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"
#include "model/stats.hpp"
#include "storage/store.hpp"

namespace noderepair::overview {

inline constexpr int kDefaultDays = 30;
inline constexpr int kMaxDays = 365;

// Counts by mode, in model::kAllModes order, modes with none left out.
using ModeCounts = std::vector<std::pair<model::Mode, int64_t>>;

struct DayStats {
    int64_t day = 0;  // model::UtcDay
    ModeCounts created;
    ModeCounts succeeded;
    ModeCounts failed;
};

struct StageStats {
    model::Stage stage = model::Stage::kQueued;
    int64_t count = 0;
    std::optional<double> p50_s;  // nullopt: no remediation went through it in those days
    std::optional<double> p90_s;
};

struct ClusterStats {
    std::vector<DayStats> days;      // every day of the window, oldest first, empty ones too
    std::vector<StageStats> stages;  // in model::kAllStages order
    storage::NeedsPerson needs_person;
};

// The `days` query parameter: absent is kDefaultDays; else 1 to kMaxDays, anything else
// INVALID_ARGUMENT.
Result<int> ParseDays(const std::optional<std::string>& text);

// The p-quantile (0 < p <= 1, nearest rank) of one stage's histogram, buckets in ascending
// order; nullopt when it is empty.
std::optional<double> Percentile(const std::vector<storage::StageBucketCount>& buckets, double p);

// The last `days` UTC days up to and including the day of `now`. NOT_FOUND for an unknown
// cluster.
Result<ClusterStats> ReadStats(storage::Store& store, const std::string& cluster_id, int days,
                               Timestamp now);

}  // namespace noderepair::overview
