// The SQLite repositories behind the store contract, one per aggregate, each over one
// connection: the writer's (inside a group-commit transaction) or a pooled reader's (inside a
// read transaction). Not thread-safe: they belong to the thread that uses the connection.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/sql/connection.hpp"
#include "storage/store.hpp"

namespace noderepair::storage::sql {

// An audit record as a repository makes it: the writer stamps, numbers and hashes it at commit.
struct PendingAuditRecord {
    std::string actor;
    std::string action;
    std::string target;
    std::string detail;
};

// Additions to the overview's aggregates (remediation_daily, stage_daily) a change asked for:
// the writer adds them up per row and writes them at commit, so a batch locks each hot row
// once and only for its commit, not from its first change on (several PostgreSQL writers would
// otherwise queue behind each other's batches on the same day's row).
struct DailyDelta {
    std::string cluster_id;
    int64_t day = 0;
    int mode = 0;
    int64_t created = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
};
struct BucketDelta {
    std::string cluster_id;
    int64_t day = 0;
    int stage = 0;
    int bucket = 0;
    int64_t n = 0;
};

// What the batch being committed changed: remediation changes for the commit observers, audit
// records, appended to the chain just before COMMIT (docs/design.md 11), and the aggregates'
// additions. A change rolled back to its savepoint drops its entries of each.
struct ChangeLog {
    std::vector<RemediationChange> changes;
    std::vector<PendingAuditRecord> audit;
    std::vector<DailyDelta> daily;
    std::vector<BucketDelta> buckets;
    std::string request_id;  // of the change being run
    std::string actor;       // of the change being run

    void Audit(std::string action, std::string target, std::string detail) {
        audit.push_back({actor, std::move(action), std::move(target), std::move(detail)});
    }

    // How long each list was, to drop what the changes after it logged.
    struct Mark {
        size_t changes = 0;
        size_t audit = 0;
        size_t daily = 0;
        size_t buckets = 0;
    };
    Mark Marked() const { return {changes.size(), audit.size(), daily.size(), buckets.size()}; }
    void DropAfter(const Mark& mark) {
        changes.resize(mark.changes);
        audit.resize(mark.audit);
        daily.resize(mark.daily);
        buckets.resize(mark.buckets);
    }
};

// The instances and active remediations read ahead for a row of a batch's changes (Store::
// WriteWithReadAhead, ReadAheadInstances), by instance id. Kept true while used: a
// remediation written by the batch drops its instance's entry (the next read goes to the
// database), and the writer drops every entry before a change that did not declare its reads
// (it may write anything) and when a row of changes is rolled back.
struct BatchReads {
    struct Entry {
        std::optional<model::Instance> instance;
        std::optional<model::Remediation> active;
    };
    std::unordered_map<std::string, Entry> instances;

    const Entry* Find(const std::string& instance_id) const {
        auto it = instances.find(instance_id);
        return it == instances.end() ? nullptr : &it->second;
    }
};

// The appends of a row of changes that declared their reads (SqlStore::RunAheadRow) on
// PostgreSQL: while `holding`, the repositories keep each remediation inserted, timeline event
// and deleted setting here instead of sending a statement each, and hold them back on the
// connection (Connection::HoldBack), to go as one statement (SendRowWrites) once a few
// changes' worth is held, at the row's end, or before anything else runs. A change costs the
// server a share of one statement's executor start-up instead of three of its own
// (bench/RESULTS.md).
struct RowWrites {
    bool holding = false;
    std::vector<model::Remediation> inserted;  // in the order of their `seq`
    std::vector<std::pair<std::string, model::RemediationEvent>> events;  // by remediation id
    std::vector<std::string> deleted_settings;                            // keys
    size_t held = 0;  // writes held since the row began, sent or not
    size_t sent = 0;  // statements SendRowWrites sent since the row began

    void Clear() {
        inserted.clear();
        events.clear();
        deleted_settings.clear();
    }
};

// Sends what `writes` holds as one statement and empties it. A deleted setting that was there
// fails the row at its flush (Connection::FailAtFlush): which change's it was, and so whose
// audit record it has, only the row's rerun change by change tells.
Status SendRowWrites(Connection& conn, RowWrites& writes);
// Counts one more write added to `writes` and holds them back on `conn` (SendRowWrites);
// sends them once they are a few changes' worth.
Status HoldRowWrites(Connection& conn, RowWrites& writes);

// Reads `instance_ids` with their active remediations into `reads`, in one statement.
Status ReadAheadInstances(Connection& conn, const std::vector<std::string>& instance_ids,
                          BatchReads& reads);

// Adds an audit record to `log` when there is one (a repository on a read connection has
// none, and never writes).
inline void RecordAudit(ChangeLog* log, std::string action, std::string target,
                        std::string detail) {
    if (log != nullptr) log->Audit(std::move(action), std::move(target), std::move(detail));
}

// Appends `records` to the audit chain inside the open transaction, all stamped `time`: reads
// the head row, inserts each record with the next seq and its hash, and moves the head.
Status AppendAuditRecords(Connection& conn, const std::vector<PendingAuditRecord>& records,
                          Timestamp time);

// Writes the batch's additions to the aggregates, one upsert per row, in key order (writers
// that lock the same rows lock them in one order).
Status ApplyStatDeltas(Connection& conn, const ChangeLog& log);

// Records `changes` (the change stream, RecordedChange) inside the open transaction, stamped
// `time`, numbered after the audit head's change_seq, which it moves: the head's row lock
// (taken here if the batch's audit records did not take it) orders the numbers as the commits.
Status AppendRecordedChanges(Connection& conn, const std::vector<RemediationChange>& changes,
                             Timestamp time);

// Remediations, their timelines and counts on one connection. Records every remediation it
// inserts or moves in the batch's ChangeLog (null on read connections), and audits each
// creation, change of state and change of mode.
class SqlRemediations final : public RemediationRepository {
public:
    // `reads`: what the writer read ahead for the batch (null on read connections).
    // `row`: where the writer's row of changes holds its appends (null on read connections).
    SqlRemediations(Connection& conn, ChangeLog* log, BatchReads* reads = nullptr,
                    RowWrites* row = nullptr)
        : conn_(conn), log_(log), reads_(reads), row_(row) {}
    Result<std::optional<model::Remediation>> Get(const std::string& id) override;
    Result<std::vector<model::Remediation>> GetMany(const std::vector<std::string>& ids) override;
    Result<std::optional<model::Remediation>> GetRow(const std::string& id) override;
    Result<RemediationPage> List(const ListQuery& q) override;
    Result<std::optional<RemediationPage>> ListInScope(const ListQuery& q) override;
    Result<std::optional<model::Remediation>> GetActive(const std::string& instance_id) override;
    Result<std::vector<model::RemediationEvent>> ListEvents(
        const std::string& remediation_id) override;
    Result<std::vector<std::string>> ListOldestInState(model::State state, int limit) override;
    Result<std::vector<RemediationCount>> Count() override;
    Result<int> CountActive(const std::string& cluster_id) override;
    Result<std::optional<Timestamp>> LastEnd(const std::string& instance_id) override;
    Result<std::optional<model::Remediation>> LastFinished(const std::string& instance_id) override;
    Result<std::vector<std::string>> ListNeverRemediated(
        const std::vector<std::string>& instance_ids) override;
    Result<int> CountActiveInRack(const std::string& rack) override;
    Result<std::vector<std::string>> ListActiveOnHost(const std::string& host_name) override;
    Result<std::vector<std::string>> ListAutoResolvable(Timestamp cutoff, int limit) override;
    Result<std::vector<RecordedChange>> ListChangesAfter(int64_t after_seq, int limit) override;
    Result<int64_t> LastChangeSeq() override;
    Result<int64_t> PruneChanges(int64_t keep) override;
    Status Insert(const RemediationWriteKey& key, const model::Remediation& r) override;
    Status Update(const RemediationWriteKey& key, const model::Remediation& r,
                  model::State expected) override;
    Status AppendEvent(const std::string& remediation_id,
                       const model::RemediationEvent& e) override;
    void BeginBulk() override;
    Status EndBulk() override;

private:
    // The audit record of a state_change or mode_change event, with what the change logged.
    void AuditEvent(const std::string& remediation_id, const model::RemediationEvent& e);
    // List and ListInScope; with `scoped`, nothing when the scope does not exist.
    Result<std::optional<RemediationPage>> ListPage(const ListQuery& q, bool scoped);
    // Fills linked_alerts for a whole page with one query instead of one per row.
    Status AttachAlerts(std::vector<model::Remediation>& page);
    // Fills linked_alerts (docs/http-api.md 5): every alert linked to the remediation, oldest
    // first.
    Status AttachAlerts(model::Remediation& r);
    // Sends the events AppendEvent collected in bulk (PostgreSQL), as one statement.
    Status SendBulkEvents();
    // A remediation of `instance_id` was written: what was read ahead of it is no longer true.
    void Forget(const std::string& instance_id) {
        if (reads_ != nullptr) reads_->instances.erase(instance_id);
    }
    // Inside a row of changes that holds its appends.
    bool Holding() const { return row_ != nullptr && row_->holding; }
    Connection& conn_;
    ChangeLog* log_;
    BatchReads* reads_;
    RowWrites* row_;
    bool bulk_ = false;
    std::vector<std::pair<std::string, model::RemediationEvent>> bulk_events_;
};

// Clusters, hosts, instances, placement and reservations on one connection. Audits cordons,
// automation settings and fleet imports in the batch's ChangeLog (null on read connections).
class SqlInventory final : public InventoryRepository {
public:
    // `reads`: what the writer read ahead for the batch (null on read connections).
    SqlInventory(Connection& conn, ChangeLog* log, const BatchReads* reads = nullptr)
        : conn_(conn), log_(log), reads_(reads) {}
    // Reads instance_id, cluster_id, instance_name, num_gpus, host_name, status, auto_repair
    // from column `first` on.
    static model::Instance ReadInstance(const Statement& s, int first = 0);
    Result<std::optional<model::Instance>> GetInstance(const std::string& instance_id) override;
    Result<std::vector<model::Instance>> GetInstances(
        const std::vector<std::string>& instance_ids) override;
    Result<std::optional<model::Instance>> FindInstanceByName(const std::string& name) override;
    Result<bool> HasCluster(const std::string& cluster_id) override;
    Result<std::optional<model::Host>> GetHost(const std::string& host_name) override;
    Result<std::vector<model::Host>> GetHosts(const std::vector<std::string>& host_names) override;
    Result<std::vector<model::Cluster>> ListClusters() override;
    Result<std::optional<model::Cluster>> GetCluster(const std::string& cluster_id) override;
    Result<std::vector<model::Host>> ListHosts() override;
    Result<int> CountInstances(const std::string& cluster_id) override;
    Result<model::ClusterAutomation> GetClusterAutomation(const std::string& cluster_id) override;
    Result<std::optional<std::string>> FindHostWithRoom(int num_gpus,
                                                        const std::string& exclude) override;
    Result<std::vector<model::Instance>> ListInstancesOnHost(const std::string& host_name) override;
    Result<std::vector<model::HostFault>> ListHostFaults(const std::string& host_name,
                                                         int limit) override;
    Result<model::HostFaultCounts> CountHostFaults(const std::string& host_name,
                                                   Timestamp since) override;
    Result<int> CountSuspectHosts() override;
    Result<std::vector<model::InstanceSignals>> ListScopeSignals(const std::string& cluster_id,
                                                                 const std::string& rack,
                                                                 Timestamp since) override;
    Result<int> CountScopeInstances(const std::string& cluster_id, const std::string& rack,
                                    Timestamp since) override;
    Result<std::optional<model::Incident>> GetIncident(const std::string& id) override;
    Result<bool> TouchScopeInstance(const std::string& cluster_id, const std::string& rack,
                                    const std::string& instance_id, Timestamp since,
                                    Timestamp when) override;
    Result<std::optional<model::Incident>> GetLatestIncident(const std::string& cluster_id,
                                                             const std::string& rack) override;
    Result<std::vector<model::Incident>> GetLatestIncidents(
        const std::vector<std::pair<std::string, std::string>>& scopes) override;
    Result<std::vector<model::Incident>> ListIncidents(const std::string& cluster_id,
                                                       int limit) override;
    Status PutIncident(const model::Incident& incident) override;
    Status ImportFleet(const FleetImport& fleet) override;
    Status SetHostCordoned(const std::string& host_name, bool cordoned) override;
    Status SetHostPowerCycled(const std::string& host_name, Timestamp when) override;
    Status SetInstancePlacement(const std::string& instance_id, const std::string& host_name,
                                const std::string& status) override;
    Status SetInstanceStatus(const std::string& instance_id, const std::string& status) override;
    Status PutReservation(const std::string& instance_id, const std::string& host_name,
                          int num_gpus) override;
    Status DeleteReservation(const std::string& instance_id) override;
    Status SetClusterAutomation(const std::string& cluster_id,
                                const model::ClusterAutomation& a) override;
    Status SetInstanceAutoRepair(const std::string& instance_id, bool auto_repair) override;
    Status AddHostFault(const model::HostFault& fault) override;
    Result<std::optional<model::HostFaultCounts>> AddHostFaultReaching(
        const model::HostFault& fault, Timestamp since, int at_least) override;
    Result<std::optional<model::HostFaultCounts>> CountHostFaultsReaching(
        const std::string& host_name, Timestamp since, int at_least) override;
    Status SetHostSuspect(const std::string& host_name, const std::string& why) override;

private:
    // CountHostFaultsReaching for a host whose ceiling is `ceiling_since` and `ceiling_signals`.
    Result<std::optional<model::HostFaultCounts>> CountFromCeiling(const std::string& host_name,
                                                                   Timestamp since, int at_least,
                                                                   int64_t ceiling_since,
                                                                   int64_t ceiling_signals);
    // The first instance `sql` (OneInstanceSql) selects, with ?1 bound to `key`.
    Result<std::optional<model::Instance>> OneInstance(const std::string& sql,
                                                       const std::string& key);
    Connection& conn_;
    ChangeLog* log_;
    const BatchReads* reads_;
};

// The engine's jobs on one connection.
class SqlEngineJobs final : public EngineJobRepository {
public:
    explicit SqlEngineJobs(Connection& conn) : conn_(conn) {}
    Result<std::vector<EngineJob>> List() override;
    Result<std::optional<EngineJob>> Get(const std::string& remediation_id) override;
    Result<std::vector<HostWork>> ListHostWork(const std::vector<std::string>& hosts) override;
    Status Put(const EngineJob& job) override;
    Status Delete(const std::string& remediation_id) override;
    Result<HeldJob> HoldLease(const std::string& remediation_id, const std::string& owner,
                              int64_t attempt, std::chrono::milliseconds lease) override;
    Result<std::vector<LeasedJob>> RenewLeases(const std::string& owner,
                                               const std::vector<std::string>& ids,
                                               std::chrono::milliseconds lease) override;
    Result<std::vector<LeasedJob>> TakeOver(const std::string& owner, TakeOverScope scope,
                                            std::chrono::milliseconds lease, int limit) override;
    Result<std::vector<PendingClaim>> LockPending(int limit) override;

private:
    Connection& conn_;
};

// The replicas and the leader lease on one connection.
class SqlReplicas final : public ReplicaRepository {
public:
    explicit SqlReplicas(Connection& conn) : conn_(conn) {}
    Result<std::vector<ReplicaRecord>> List() override;
    Status Register(const std::string& id) override;
    Result<bool> Heartbeat(const std::string& id, bool lead,
                           std::chrono::milliseconds lease) override;
    Status Resign(const std::string& id) override;
    Result<std::vector<HostPowerReading>> ListHostPower() override;
    Status PutHostPower(const std::string& host_name, std::string_view power) override;

private:
    Connection& conn_;
};

// The database's clock in microseconds since the epoch, as SQL: leases and heartbeats are
// judged by it, never by a replica's clock (docs/design.md 12).
const char* DatabaseNowMicros(Dialect dialect);

// Passive health alerts on one connection.
class SqlAlerts final : public AlertRepository {
public:
    explicit SqlAlerts(Connection& conn) : conn_(conn) {}
    Result<AlertPage> List(const AlertQuery& q) override;
    Result<std::optional<model::Alert>> GetByFingerprint(const std::string& fingerprint) override;
    Result<std::vector<model::Alert>> GetByFingerprints(
        const std::vector<std::string>& fingerprints) override;
    Result<std::vector<model::Alert>> ListWaiting(const std::string& cluster_id, Timestamp now,
                                                  int limit) override;
    Result<std::vector<std::string>> ListClustersWithWaiting(Timestamp now) override;
    Result<std::vector<model::Alert>> ListOpen(const std::string& instance_id) override;
    Result<std::vector<model::Alert>> ListWaitingWithActiveRemediation(int limit) override;
    Status Put(const model::Alert& a) override;
    Result<std::vector<SignalOccurrence>> ListOccurrences(Timestamp since, int64_t after_seq,
                                                          int limit) override;
    Status AppendOccurrence(const SignalOccurrence& o) override;

private:
    Result<std::vector<model::Alert>> Alerts(const std::string& sql, const std::string& cluster_id,
                                             int limit);
    Connection& conn_;
};

// Active health check runs on one connection.
class SqlHealthChecks final : public HealthCheckRepository {
public:
    explicit SqlHealthChecks(Connection& conn) : conn_(conn) {}
    Result<std::optional<model::HealthCheckRun>> Get(const std::string& id) override;
    Result<std::vector<model::HealthCheckRun>> ListForInstance(const std::string& instance_id,
                                                               int limit) override;
    Result<std::vector<model::HealthCheckRun>> ListRunning(int limit) override;
    Result<std::vector<model::HealthCheckRun>> ListWaiting(int limit) override;
    Status Put(const model::HealthCheckRun& r) override;

private:
    Result<std::vector<model::HealthCheckRun>> Runs(const std::string& sql, const std::string& arg,
                                                    int limit);
    Connection& conn_;
};

// Token hashes on one connection. Audits creation and revocation in the batch's ChangeLog.
class SqlTokens final : public TokenRepository {
public:
    SqlTokens(Connection& conn, ChangeLog* log) : conn_(conn), log_(log) {}
    Result<std::optional<TokenRecord>> Find(const std::string& token_hash) override;
    Result<bool> HasAny() override;
    Result<std::vector<TokenRecord>> List() override;
    Status Insert(const std::string& token_hash, const TokenRecord& token) override;
    Status Revoke(const std::string& name, Timestamp when) override;
    Status TouchLastUsed(const std::string& token_hash, Timestamp when) override;

private:
    Connection& conn_;
    ChangeLog* log_;
};

// Settings on one connection. Audits every change in the batch's ChangeLog; the engine's pause
// switch as engine.pause and engine.resume.
class SqlSettings final : public SettingRepository {
public:
    // `row`: where the writer's row of changes holds its appends (null on read connections).
    SqlSettings(Connection& conn, ChangeLog* log, RowWrites* row = nullptr)
        : conn_(conn), log_(log), row_(row) {}
    Result<std::optional<std::string>> Get(const std::string& key) override;
    Status Put(const std::string& key, const std::string& value) override;
    Status Delete(const std::string& key) override;

private:
    Connection& conn_;
    ChangeLog* log_;
    RowWrites* row_;
};

// The overview's aggregates and "needs a person" reads on one connection (docs/http-api.md 11).
class SqlStats final : public StatsRepository {
public:
    // With a log (the writer's batch), additions wait in it for ApplyStatDeltas at commit;
    // without one they are written at once.
    explicit SqlStats(Connection& conn, ChangeLog* log = nullptr) : conn_(conn), log_(log) {}
    Result<std::vector<DailyCount>> ListDaily(const std::string& cluster_id, int64_t first_day,
                                              int64_t last_day) override;
    Result<std::vector<StageBucketCount>> SumStageBuckets(const std::string& cluster_id,
                                                          int64_t first_day,
                                                          int64_t last_day) override;
    Result<NeedsPerson> CountNeedsPerson(const std::string& cluster_id) override;
    Result<std::vector<WaitingApproval>> ListWaitingApproval(Timestamp cutoff, int limit) override;
    Result<std::vector<AttentionNode>> ListAttention(int limit) override;
    Result<std::vector<SuspectHost>> ListSuspectHosts(int limit) override;
    Result<std::vector<OpenIncident>> ListOpenIncidents(int limit) override;
    Status AddDaily(const std::string& cluster_id, int64_t day, model::Mode mode, int64_t created,
                    int64_t succeeded, int64_t failed) override;
    Status AddStages(const std::string& cluster_id, int64_t day,
                     const std::vector<model::StageSample>& samples) override;
    // Adds `n` to one cell of the cluster's stage histogram for `day`.
    Status AddBucket(const std::string& cluster_id, int64_t day, model::Stage stage, int bucket,
                     int64_t n);

private:
    Connection& conn_;
    ChangeLog* log_;
};

// Fills the overview's aggregates from the stored history (every remediation and its
// timeline), as if each had been counted when it happened: the back-fill of the migration that
// adds them. Inside the caller's transaction, on tables that are still empty.
Status BackfillStats(Connection& conn);

// The audit chain on one connection, read only: the writer appends with AppendAuditRecords.
class SqlAudit final : public AuditReads {
public:
    explicit SqlAudit(Connection& conn) : conn_(conn) {}
    Result<std::vector<AuditRecord>> List(int64_t after_seq, int limit) override;
    Result<AuditHead> Head() override;

private:
    Connection& conn_;
};

// The simulated fleet's records on one connection.
class SqlSimulated final : public SimulatedRepository {
public:
    explicit SqlSimulated(Connection& conn) : conn_(conn) {}
    Result<std::optional<SimOperation>> GetOperation(const std::string& key) override;
    Result<std::vector<SimVm>> ListVms() override;
    Result<std::vector<SimVm>> ListVmsOfInstance(const std::string& instance_id) override;
    Result<bool> IsHostDegraded(const std::string& host_name) override;
    Result<std::vector<SimFault>> ListFaults(const std::string& instance_id) override;
    Status PutOperation(const SimOperation& op) override;
    Status Adopt(const std::vector<SimInstance>& instances) override;
    Status PutVm(const SimVm& vm) override;
    Status DeleteVm(const std::string& vm_id) override;
    Status SetHostDegraded(const std::string& host_name, bool degraded) override;
    Status PutFault(const SimFault& fault) override;
    Status DeleteFaults(const std::string& instance_id) override;

private:
    Connection& conn_;
};

}  // namespace noderepair::storage::sql
