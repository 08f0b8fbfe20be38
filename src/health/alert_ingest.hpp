// Passive health signals in (docs/http-api.md 5): stores each alert as it came (deduplicated by
// fingerprint, acting on each alert's own status), maps it to an instance by its labels, and
// hands the firing ones to the signal router, all in one transaction answered after commit.
// Called from the API's workers; the transaction runs on the store's writer thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "health/signal_router.hpp"
#include "model/alert.hpp"
#include "storage/store.hpp"
#include "telemetry/metrics.hpp"

namespace noderepair::health {

struct IngestResult {
    int alerts = 0;
    int remediations_created = 0;
    // For metrics: alerts by status, and what the firing ones led to besides a creation.
    int firing = 0;
    int resolved = 0;
    int linked = 0;     // joined (or escalated) the instance's active remediation
    int waiting = 0;    // held back by the cooldown or the blast radius (cluster or rack)
    int ignored = 0;    // no action by policy or opt-out, or a person called (ladder's top)
    int unmatched = 0;  // no instance of the fleet matches its labels
    // Dropped, not in `alerts`: its instance is unknown or outside the sender's clusters.
    int out_of_scope = 0;
    PolicyTally policy;  // what the policy engine decided besides
};

// Whether the sender may touch a cluster (docs/http-api.md 10); null: every cluster.
using ClusterFilter = std::function<bool(const std::string& cluster_id)>;

class AlertIngest {
public:
    AlertIngest(storage::Store& store, const Clock& clock, SignalRouter& router,
                telemetry::Metrics* metrics)
        : store_(store), clock_(clock), router_(router), metrics_(metrics) {}

    // Stores the alerts and acts on each by its own status; `done` after commit. With
    // `in_scope`, an alert whose instance is unknown or refused, or whose fingerprint belongs to
    // an alert of a refused cluster, is neither stored nor acted on, only counted.
    void Ingest(std::vector<model::IncomingAlert> alerts, ClusterFilter in_scope,
                std::function<void(Result<IngestResult>)> done);
    Result<storage::AlertPage> List(const storage::AlertQuery& query);

private:
    Result<IngestResult> IngestInTxn(storage::Txn& txn,
                                     const std::vector<model::IncomingAlert>& alerts,
                                     const ClusterFilter& in_scope);
    void Count(const IngestResult& result);

    storage::Store& store_;
    const Clock& clock_;
    SignalRouter& router_;
    telemetry::Metrics* metrics_;  // null: not counted
};

}  // namespace noderepair::health
