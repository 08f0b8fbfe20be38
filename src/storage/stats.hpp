// The overview's aggregates behind the store contract (docs/http-api.md 11, "Overview"):
// remediations created, succeeded and failed per cluster, UTC day and mode, and a histogram of
// stage durations per cluster, day and stage, written by remediation::Lifecycle in the
// transaction of the change they count; and the "needs a person" reads the overview and the
// notifications share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"
#include "model/stats.hpp"

namespace noderepair::storage {

// One cluster's remediations of one mode on one UTC day.
struct DailyCount {
    int64_t day = 0;  // model::UtcDay
    model::Mode mode = model::Mode::kVmOnly;
    int64_t created = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
};

// How many stage durations fell in one histogram bucket (model::DurationBucket).
struct StageBucketCount {
    model::Stage stage = model::Stage::kQueued;
    int bucket = 0;
    int64_t count = 0;
};

// What needs a person in a cluster now (docs/http-api.md 11).
struct NeedsPerson {
    int64_t approvals_waiting = 0;
    int64_t attention = 0;
    int64_t suspect_hosts = 0;
    int64_t open_incidents = 0;
};

// A remediation waiting for approval, as a notification names it.
struct WaitingApproval {
    std::string remediation_id;
    std::string cluster_id;
    std::string instance_id;
    std::string instance_name;
    Timestamp create_time;
};

// A worker node whose automation called a person (its `attention` setting).
struct AttentionNode {
    std::string cluster_id;
    std::string instance_id;
    std::string instance_name;
    std::string why;
};

// A host the fault ledger made suspect (docs/http-api.md 11).
struct SuspectHost {
    std::string host_name;
    std::string rack;  // empty when the fleet file gives none
    std::string why;
};

// An incident still OPEN.
struct OpenIncident {
    std::string id;
    std::string cluster_id;
    std::string rack;  // empty: the incident covers the cluster's hosts without a rack
    int64_t signals = 0;
    Timestamp first_seen;
};

class StatsReads {
public:
    virtual ~StatsReads() = default;
    // The cluster's daily counts for days in [first_day, last_day], only rows that exist.
    virtual Result<std::vector<DailyCount>> ListDaily(const std::string& cluster_id,
                                                      int64_t first_day, int64_t last_day) = 0;
    // The cluster's stage histograms over days in [first_day, last_day], summed per bucket.
    virtual Result<std::vector<StageBucketCount>> SumStageBuckets(const std::string& cluster_id,
                                                                  int64_t first_day,
                                                                  int64_t last_day) = 0;
    virtual Result<NeedsPerson> CountNeedsPerson(const std::string& cluster_id) = 0;
    // Every cluster's remediations in PENDING_APPROVAL created at or before `cutoff`, oldest
    // first.
    virtual Result<std::vector<WaitingApproval>> ListWaitingApproval(Timestamp cutoff,
                                                                     int limit) = 0;
    // Every worker node with attention set, by instance id.
    virtual Result<std::vector<AttentionNode>> ListAttention(int limit) = 0;
    // Every suspect host, by name.
    virtual Result<std::vector<SuspectHost>> ListSuspectHosts(int limit) = 0;
    // Every cluster's open incidents, oldest first.
    virtual Result<std::vector<OpenIncident>> ListOpenIncidents(int limit) = 0;
};

class StatsRepository : public StatsReads {
public:
    // Adds `created`, `succeeded` and `failed` to the cluster's row for (day, mode).
    virtual Status AddDaily(const std::string& cluster_id, int64_t day, model::Mode mode,
                            int64_t created, int64_t succeeded, int64_t failed) = 0;
    // Counts each sample in its bucket of the cluster's histogram for `day`.
    virtual Status AddStages(const std::string& cluster_id, int64_t day,
                             const std::vector<model::StageSample>& samples) = 0;
};

}  // namespace noderepair::storage
