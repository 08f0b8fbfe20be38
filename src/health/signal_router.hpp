// The policy engine: where a health signal goes (docs/http-api.md 5 and 11, "order of the
// rules"), every rule in one place. A signal is recorded in the host fault ledger (which may make
// the host suspect), then joins the instance's active remediation as evidence (escalating a
// waiting automated one), or is only recorded (no rule, opt-out), or waits (cooldown, the
// cluster's or the rack's blast radius), or calls a person (past the top of the escalation
// ladder), or creates an automated remediation of the highest of the policy's mode, the ladder's
// next rung and HOST_AWARE on a suspect host (approved at once where the cluster's policy
// allows). Every change of a remediation goes through the one writer, remediation::Lifecycle.
// Runs inside the caller's transaction with the caller's `now` (no thread or clock of its own),
// so every count it decides on comes from the database in that transaction; it also takes up the
// signals that waited, and auto-resolves.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "health/policy.hpp"
#include "model/alert.hpp"
#include "model/health_check.hpp"
#include "model/incident.hpp"
#include "model/inventory.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"

namespace noderepair::health {

struct AutomationOptions {
    std::chrono::seconds auto_resolve_ttl{300};
    std::chrono::seconds cooldown{1800};
    double max_active_fraction = 0.10;
    int max_active = 0;  // 0: no absolute cap
    // test name -> mode of the remediation its failure asks for (default HOST_AWARE).
    std::map<std::string, model::Mode> test_modes;
    // docs/http-api.md 11. The escalation ladder, lightest rung first; empty: no ladder.
    std::vector<model::Mode> ladder{model::Mode::kRebootVm, model::Mode::kVmOnly,
                                    model::Mode::kHostAware};
    std::chrono::seconds ladder_window{86400};
    int suspect_host_instances = 0;  // 0: off
    int suspect_host_faults = 0;     // 0: off
    std::chrono::seconds suspect_host_window{604800};
    bool cordon_suspect_hosts = true;
    int max_active_per_rack = 0;  // 0: off
    int incident_threshold = 0;   // 0: off
    std::chrono::seconds incident_window{120};
};

// What the engine decided in one transaction, for the metrics once it committed.
struct PolicyTally {
    int escalations = 0;    // ladder rungs climbed, and suspect-host escalations
    int attention = 0;      // nodes given to a person past the top of the ladder
    int suspect_hosts = 0;  // hosts that became suspect
    int incidents = 0;      // incidents opened
};

// A health signal asking for a remediation: a firing alert or a failed active run.
struct Signal {
    std::string name;  // the alert name, or "health_check:<test>"
    std::optional<model::Mode> mode;
    std::string evidence;  // the reason's first part; the engine adds the mode and why
    std::string alert_id;  // passive_health_check_event_id
    std::string run_id;    // active_health_check_run_id
    // A new occurrence: it counts in the host fault ledger. A repeat, or a waiting signal taken
    // up again, was counted when it arrived.
    bool first = true;
};

struct SignalOutcome {
    enum class Kind { kIgnored, kJoined, kCreated, kWaiting } kind = Kind::kIgnored;
    std::string remediation_id;  // kJoined, kCreated
    // kWaiting: when it is worth looking at again (the cooldown's end); the epoch: as soon as
    // there is room.
    Timestamp wait_until{};
};

class SignalRouter {
public:
    SignalRouter(Policy policy, AutomationOptions options, remediation::Lifecycle& lifecycle)
        : policy_(std::move(policy)), options_(options), lifecycle_(lifecycle) {}

    const Policy& policy() const { return policy_; }
    const AutomationOptions& options() const { return options_; }

    // Forgets the per-transaction counts: call at the start of each transaction that routes.
    void BeginTransaction() {
        active_in_txn_.clear();
        instances_in_txn_.clear();
        active_in_rack_.clear();
        incident_in_txn_.clear();
        host_in_txn_.clear();
        never_remediated_in_txn_.clear();
        tally_ = {};
    }
    // Reads, in one statement each, what routing signals of these instances looks up per
    // signal otherwise: their hosts, which of them never had a remediation and, with incidents
    // on, each (cluster, rack)'s latest incident (a webhook's 100 alerts: docs/http-api.md 5,
    // "Ingest rate"). Call after BeginTransaction; what it read is kept, and kept up to date,
    // until the next. It holds while the router is the transaction's only writer of hosts,
    // incidents and remediations (a webhook's transaction).
    Status ReadAhead(storage::Txn& txn, const std::vector<const model::Instance*>& instances);
    // What the engine decided since BeginTransaction.
    const PolicyTally& tally() const { return tally_; }

    // Routes a firing alert of a known instance; records the outcome on the alert. `first`: a
    // new occurrence (Signal::first). Returns whether a remediation was created.
    Result<bool> RouteAlert(storage::Txn& txn, model::Alert& alert, const model::Instance& instance,
                            Timestamp now, bool first = true);
    // Routes a failed run; records the outcome on the run.
    Result<bool> RouteFailedRun(storage::Txn& txn, model::HealthCheckRun& run, Timestamp now,
                                bool first = true);
    // Takes up the signals that waited and are due, oldest first, as room allows (TakeUpDue);
    // then the waiting signals whose instance has a remediation by now join it.
    Status TakeUpWaiting(storage::Txn& txn, Timestamp now);
    // The two parts of TakeUpWaiting, for a driver that knows one of them has nothing to do
    // (the replay): what a freed slot may take up, and the joins. A waiting signal's instance
    // gains a remediation only by a creation, so without one since the last JoinWaiting there
    // is nothing to join.
    Status TakeUpDue(storage::Txn& txn, Timestamp now);
    Status JoinWaiting(storage::Txn& txn, Timestamp now);
    // Remediations waiting for approval whose alerts all resolved the TTL ago, at most
    // kAutoResolveBatch of them; returns how many it resolved.
    Result<int> AutoResolve(storage::Txn& txn, Timestamp now);
    static constexpr int kAutoResolveBatch = 500;
    // A person closes an open incident of the cluster: released, its instances' firing signals
    // wait again to be considered under the usual limits; dismissed, nothing more happens.
    Result<model::Incident> CloseIncident(storage::Txn& txn, const std::string& cluster_id,
                                          const std::string& incident_id, bool release,
                                          const std::string& actor, Timestamp now);

    // max(1, floor(fraction x instances)), capped by max_active (docs/http-api.md 5).
    static int BlastRadiusLimit(int instances, double fraction, int max_active);

private:
    Result<SignalOutcome> Route(storage::Txn& txn, const Signal& signal,
                                const model::Instance& instance, Timestamp now);
    // The host `host_name` as of now in this transaction (nullptr: no such host), read once.
    Result<model::Host*> HostInTxn(storage::Txn& txn, const std::string& host_name);
    // Whether the cluster is below its blast radius.
    Result<bool> HasRoom(storage::Txn& txn, const std::string& cluster_id);
    // Whether the rack is below automation.max_active_per_rack (always, when off or no rack).
    Result<bool> HasRackRoom(storage::Txn& txn, const std::string& rack);
    // Step 1: a counted signal in the ledger of the host the VM is on now; the host becomes
    // suspect when it crosses a threshold.
    Status RecordFault(storage::Txn& txn, const Signal& signal, const model::Instance& instance,
                       model::Host& host, Timestamp now);
    // Step 2: whether an open incident of the instance's rack (or cluster) takes the signal,
    // opening one when this signal crosses the threshold.
    Result<bool> TakenByIncident(storage::Txn& txn, const Signal& signal,
                                 const model::Instance& instance, const model::Host& host,
                                 Timestamp now);
    // A new incident: the automated remediations of its instances still waiting for approval
    // are cancelled (they count for neither cooldown nor the ladder).
    Status OpenIncident(storage::Txn& txn, model::Incident& incident);
    // A host that just became suspect: cordoned (when configured), and the automated
    // remediations of its instances still waiting for approval escalated to HOST_AWARE.
    Status MakeSuspect(storage::Txn& txn, model::Host& host, const std::string& why);
    // Step 6: the mode of a new remediation and why it is heavier than the policy's; nullopt
    // when the ladder is exhausted (the node's attention was set instead).
    struct Decision {
        model::Mode mode;
        std::string why;  // empty: the policy's own mode
    };
    Result<std::optional<Decision>> Decide(storage::Txn& txn, const Signal& signal,
                                           const model::Instance& instance, const model::Host* host,
                                           Timestamp now);

    const Policy policy_;
    const AutomationOptions options_;
    remediation::Lifecycle& lifecycle_;
    // Active remediations per cluster in the current transaction; writer thread only.
    std::map<std::string, int> active_in_txn_;
    std::map<std::string, int> active_in_rack_;  // the same, per rack
    // The latest incident of each (cluster, rack) read in the current transaction.
    std::map<std::pair<std::string, std::string>, std::optional<model::Incident>> incident_in_txn_;
    // The hosts read in the current transaction (nullopt: none of that name), changed here as
    // the transaction changes them (MakeSuspect): a host's node is stable in an unordered_map.
    std::unordered_map<std::string, std::optional<model::Host>> host_in_txn_;
    // Instances of the current transaction known to have had no remediation, until Route
    // creates one: no active one, no last end, no last finished.
    std::unordered_set<std::string> never_remediated_in_txn_;
    PolicyTally tally_;
    std::map<std::string, int> instances_in_txn_;  // instances per cluster, as read
};

}  // namespace noderepair::health
