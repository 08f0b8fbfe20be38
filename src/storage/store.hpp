// The storage interface every backend implements (SQLite now, PostgreSQL later). Services
// keep the rules; a backend gives them transactional primitives and group commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/health_check.hpp"
#include "model/inventory.hpp"
#include "model/remediation.hpp"

namespace noderepair::storage {

enum class OrderField { kCreateTime, kUpdateTime };

// Where a page ends: the order key of its last row.
struct Cursor {
    int64_t time_us = 0;
    std::string id;
};

// One page of remediations of a cluster (or one instance of it), keyset-paged (API.md 4.3).
struct ListQuery {
    std::string cluster_id;
    std::string instance_id;           // empty: every instance of the cluster
    std::vector<model::State> states;  // any-of; empty: all
    std::vector<model::Mode> modes;
    std::vector<model::Trigger> triggers;
    OrderField order = OrderField::kCreateTime;
    bool descending = true;
    std::optional<Cursor> after;
    int limit = 50;
};

struct RemediationPage {
    std::vector<model::Remediation> remediations;
    bool has_next = false;
};

enum class Role : uint8_t { kViewer = 1, kOperator = 2, kApprover = 3, kAdmin = 4 };

struct TokenRecord {
    std::string name;
    Role role = Role::kViewer;
    std::vector<std::string> clusters;  // empty: every cluster
};

// The fleet as a provider describes it, imported into the database on start.
struct FleetImport {
    std::vector<model::Cluster> clusters;  // with gpu_worker_nodes (instance_id, name, gpus, host)
    std::vector<model::Host> hosts;        // host_name, gpu_slots
};

// The engine's durable progress on one remediation (DESIGN.md 3): which step of the mode's
// workflow it is at and the provider operation that step started.
struct EngineJob {
    std::string remediation_id;
    int step = 0;          // index into the mode's workflow
    bool started = false;  // the step's operation was started; `handle` names it
    std::string handle;
    int attempts = 0;         // failed tries of the current step
    Timestamp step_started;   // when the current step began (timeouts, capacity wait)
    Timestamp next_check;     // when the engine should look at it again
    std::string source_host;  // where the VM ran when the remediation was claimed
    std::string target_host;  // where its replacement is reserved
    int num_gpus = 0;
    bool host_was_cordoned = false;  // before this remediation cordoned it
};

// One operation of the simulated provider, kept so a retry or a restart finds it again.
struct SimOperation {
    std::string key;  // the engine step's idempotency key
    std::string action;
    std::string instance_id;
    std::string host;
    std::string target_host;
    int num_gpus = 0;
    Timestamp ready_at;
    bool applied = false;
};

// One page of a cluster's alerts, newest first.
struct AlertQuery {
    std::string cluster_id;
    std::optional<bool> firing;   // nullopt: both
    std::optional<Cursor> after;  // started_at, id
    int limit = 50;
};

struct AlertPage {
    std::vector<model::Alert> alerts;
    bool has_next = false;
};

// Reads. Every method sees one consistent snapshot when called inside a transaction.
// How many remediations are in one state, mode and trigger.
struct RemediationCount {
    model::State state;
    model::Mode mode;
    model::Trigger trigger;
    int64_t count = 0;
};

class Reader {
public:
    virtual ~Reader() = default;
    virtual Result<std::optional<model::Remediation>> GetRemediation(const std::string& id) = 0;
    virtual Result<RemediationPage> ListRemediations(const ListQuery& query) = 0;
    // The non-terminal remediation of an instance, if any.
    virtual Result<std::optional<model::Remediation>> GetActiveRemediation(
        const std::string& instance_id) = 0;
    virtual Result<std::vector<model::RemediationEvent>> ListEvents(
        const std::string& remediation_id) = 0;
    virtual Result<std::optional<model::Instance>> GetInstance(const std::string& instance_id) = 0;
    virtual Result<bool> HasCluster(const std::string& cluster_id) = 0;
    // A host without its instances.
    virtual Result<std::optional<model::Host>> GetHost(const std::string& host_name) = 0;
    // Clusters without their nodes.
    virtual Result<std::vector<model::Cluster>> ListClusters() = 0;
    // One cluster with its nodes and each node's latest remediation.
    virtual Result<std::optional<model::Cluster>> GetCluster(const std::string& cluster_id) = 0;
    virtual Result<std::vector<model::Host>> ListHosts() = 0;
    virtual Result<std::optional<TokenRecord>> FindToken(const std::string& token_hash) = 0;
    virtual Result<bool> HasAnyToken() = 0;
    virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
    // Ids of remediations in `state`, oldest first.
    virtual Result<std::vector<std::string>> ListOldestInState(model::State state, int limit) = 0;
    virtual Result<std::vector<EngineJob>> ListEngineJobs() = 0;
    virtual Result<std::optional<EngineJob>> GetEngineJob(const std::string& remediation_id) = 0;
    // The modes of the remediations the engine is working on whose VM was on `host_name`.
    virtual Result<std::vector<model::Mode>> ModesWorkingOnHost(const std::string& host_name) = 0;

    // Health signals (API.md 5).
    virtual Result<AlertPage> ListAlerts(const AlertQuery& query) = 0;
    // The newest alert with this fingerprint.
    virtual Result<std::optional<model::Alert>> GetAlertByFingerprint(
        const std::string& fingerprint) = 0;
    virtual Result<std::optional<model::Instance>> FindInstanceByName(
        const std::string& instance_name) = 0;
    // Every combination ever seen, including those now at zero; cheap (kept by the backend).
    virtual Result<std::vector<RemediationCount>> CountRemediations() = 0;
    virtual Result<int> CountActiveRemediations(const std::string& cluster_id) = 0;
    virtual Result<int> CountInstances(const std::string& cluster_id) = 0;
    // When the instance's last SUCCEEDED, FAILED or CANCELLED remediation ended.
    virtual Result<std::optional<Timestamp>> LastRemediationEnd(const std::string& instance_id) = 0;
    // A cluster's alerts held back by the blast radius, oldest first.
    virtual Result<std::vector<model::Alert>> ListWaitingAlerts(const std::string& cluster_id,
                                                                int limit) = 0;
    virtual Result<std::vector<std::string>> ListClustersWithWaitingAlerts() = 0;
    // An instance's firing alerts.
    virtual Result<std::vector<model::Alert>> ListOpenAlerts(const std::string& instance_id) = 0;
    // Waiting alerts whose instance has an active remediation by now.
    virtual Result<std::vector<model::Alert>> ListWaitingAlertsWithActiveRemediation(int limit) = 0;
    // PENDING_APPROVAL remediations whose linked alerts all resolved at or before `cutoff`.
    virtual Result<std::vector<std::string>> ListAutoResolvable(Timestamp cutoff, int limit) = 0;
    virtual Result<model::ClusterAutomation> GetClusterAutomation(
        const std::string& cluster_id) = 0;
    virtual Result<std::optional<model::HealthCheckRun>> GetHealthCheckRun(
        const std::string& run_id) = 0;
    // An instance's runs, newest first.
    virtual Result<std::vector<model::HealthCheckRun>> ListHealthCheckRuns(
        const std::string& instance_id, int limit) = 0;
    virtual Result<std::vector<model::HealthCheckRun>> ListRunningHealthChecks(int limit) = 0;
    virtual Result<std::vector<model::HealthCheckRun>> ListWaitingHealthChecks(int limit) = 0;
};

// Reads and writes inside one transaction of the writer.
class Txn : public Reader {
public:
    // Also records it as its instance's latest remediation.
    virtual Status InsertRemediation(const model::Remediation& remediation) = 0;
    // Compare-and-set: writes `remediation` only if the stored state is still `expected`;
    // otherwise Aborted and nothing changes.
    virtual Status UpdateRemediation(const model::Remediation& remediation,
                                     model::State expected) = 0;
    virtual Status AppendEvent(const std::string& remediation_id,
                               const model::RemediationEvent& event) = 0;
    virtual Status InsertToken(const std::string& token_hash, const TokenRecord& token) = 0;
    virtual Status PutSetting(const std::string& key, const std::string& value) = 0;
    // Adds clusters, hosts and instances not yet stored; keeps the stored state of the rest.
    virtual Status ImportFleet(const FleetImport& fleet) = 0;

    virtual Status PutEngineJob(const EngineJob& job) = 0;
    virtual Status DeleteEngineJob(const std::string& remediation_id) = 0;

    // Placement, for providers that keep the fleet in the database.
    virtual Status SetHostCordoned(const std::string& host_name, bool cordoned) = 0;
    // Moves an instance's VM to `host_name` (empty: no VM) with a node status.
    virtual Status SetInstancePlacement(const std::string& instance_id,
                                        const std::string& host_name,
                                        const std::string& status) = 0;
    virtual Status SetInstanceStatus(const std::string& instance_id, const std::string& status) = 0;
    // A host that is not cordoned, is not `exclude_host`, and has `num_gpus` slots free after
    // its VMs and reservations; the one with most room first.
    virtual Result<std::optional<std::string>> FindHostWithRoom(
        int num_gpus, const std::string& exclude_host) = 0;
    // Slots held on a host for an instance's replacement VM: at most one per instance.
    virtual Status PutReservation(const std::string& instance_id, const std::string& host_name,
                                  int num_gpus) = 0;
    virtual Status DeleteReservation(const std::string& instance_id) = 0;
    virtual Result<std::optional<SimOperation>> GetSimOperation(const std::string& key) = 0;
    virtual Status PutSimOperation(const SimOperation& op) = 0;

    // Inserts or replaces by id.
    virtual Status PutAlert(const model::Alert& alert) = 0;
    virtual Status SetClusterAutomation(const std::string& cluster_id,
                                        const model::ClusterAutomation& automation) = 0;
    virtual Status SetInstanceAutoRepair(const std::string& instance_id, bool auto_repair) = 0;
    // Inserts or replaces by id.
    virtual Status PutHealthCheckRun(const model::HealthCheckRun& run) = 0;
    virtual Status DeleteSetting(const std::string& key) = 0;
};

using TxnWork = std::function<Status(Txn&)>;
using CommitCallback = std::function<void(Status)>;

// A remediation as a committed transaction left it: the feed behind live updates, metrics
// and transition logs. Changes that were rolled back never appear.
struct RemediationChange {
    model::Remediation remediation;
    std::optional<model::State> previous_state;  // nullopt: it was created
    std::string request_id;                      // the HTTP request that caused it, if any
};

// What one group commit did.
struct CommitReport {
    size_t batch_size = 0;                   // changes in the batch, committed or not
    std::chrono::nanoseconds latency{0};     // BEGIN to COMMIT, fsync included
    std::vector<RemediationChange> changes;  // in commit order
};

// Told about every commit, on the writer thread, after the commit's callbacks ran: keep it
// short and never call back into the store's Write from it.
class CommitObserver {
public:
    virtual ~CommitObserver() = default;
    virtual void OnCommit(const CommitReport& report) = 0;
};

class Store {
public:
    virtual ~Store() = default;
    // Queues `work` for the next group-commit batch. It runs on the writer thread inside the
    // batch's transaction; when it fails, only its own changes are rolled back. `done` is
    // called on the writer thread after the batch committed (with work's own error, or the
    // commit's error), so a reply sent from it is durable. Keep `done` short.
    virtual void Write(TxnWork work, CommitCallback done) = 0;
    // Adds an observer of every later commit. It must outlive the store's Close().
    virtual void AddObserver(CommitObserver* observer) = 0;
    // Runs `read` on a pooled read connection in the calling thread, in one read transaction.
    virtual Status Read(const std::function<Status(Reader&)>& read) = 0;
    // Stops the writer after the queued batches commit.
    virtual void Close() = 0;

    // Blocks the caller until `work` committed. Not for I/O threads.
    Status WriteAndWait(TxnWork work);
};

}  // namespace noderepair::storage
