#include "storage/sql/sql_store.hpp"

#include <chrono>
#include <utility>

#include "common/request_context.hpp"
#include "common/thread_name.hpp"
#include "storage/sql/repositories.hpp"

namespace noderepair::storage::sql {
namespace {

// Runs a statement of the group commit's own (BEGIN, SAVEPOINT, ...), prepared once: run for
// every change, parsing them each time would cost more than a small change itself.
Status Run(Connection& conn, const std::string& sql) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn.Prepare(sql));
    return stmt.Run();
}

// The same, for statements whose answer can come later (Statement::Send).
Status Send(Connection& conn, const std::string& sql) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn.Prepare(sql));
    return stmt.Send();
}

// Every repository over one connection: the writer's transaction, or a pooled reader's.
class SqlTxn final : public Txn {
public:
    SqlTxn(Connection& conn, ChangeLog* log)
        : remediations_(conn, log),
          inventory_(conn, log),
          engine_jobs_(conn),
          alerts_(conn),
          health_checks_(conn),
          tokens_(conn, log),
          settings_(conn, log),
          simulated_(conn),
          stats_(conn),
          audit_(conn),
          replicas_(conn),
          conn_(conn) {}

    RemediationRepository& Remediations() override { return remediations_; }
    InventoryRepository& Inventory() override { return inventory_; }
    EngineJobRepository& EngineJobs() override { return engine_jobs_; }
    AlertRepository& Alerts() override { return alerts_; }
    HealthCheckRepository& HealthChecks() override { return health_checks_; }
    TokenRepository& Tokens() override { return tokens_; }
    SettingRepository& Settings() override { return settings_; }
    SimulatedRepository& Simulated() override { return simulated_; }
    StatsRepository& Stats() override { return stats_; }
    AuditReads& Audit() override { return audit_; }
    ReplicaRepository& Replicas() override { return replicas_; }
    Status SerializeAutomation() override {
        // SQLite has one writer: every transaction is serialized already. PostgreSQL: a
        // transaction-scoped advisory lock, released by COMMIT or ROLLBACK, so a batch holds it
        // from its first automation change to its commit and other replicas' wait. Taken by
        // every change that asks (a change rolled back to its savepoint releases it).
        if (conn_.dialect() != Dialect::kPostgres) return OkStatus();
        return Run(conn_, "SELECT pg_advisory_xact_lock(7163021969)");
    }

private:
    SqlRemediations remediations_;
    SqlInventory inventory_;
    SqlEngineJobs engine_jobs_;
    SqlAlerts alerts_;
    SqlHealthChecks health_checks_;
    SqlTokens tokens_;
    SqlSettings settings_;
    SqlSimulated simulated_;
    SqlStats stats_;
    SqlAudit audit_;
    SqlReplicas replicas_;
    Connection& conn_;
};

}  // namespace

SqlStore::SqlStore(std::unique_ptr<Connection> writer, int max_batch, size_t max_queued_writes,
                   const Clock* clock)
    : max_batch_(size_t(max_batch < 1 ? 1 : max_batch)),
      max_queued_writes_(max_queued_writes < 1 ? 1 : max_queued_writes),
      clock_(clock != nullptr ? *clock : system_clock_),
      writer_(std::move(writer)) {}

void SqlStore::StartWriter() {
    writer_thread_ = std::thread([this] {
        NameThisThread("nr-store-write");
        WriterLoop();
    });
}

SqlStore::~SqlStore() { Close(); }

void SqlStore::Close() {
    {
        std::lock_guard lock(queue_mu_);
        if (closing_ && !writer_thread_.joinable()) return;
        closing_ = true;
    }
    queue_cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
}

void SqlStore::Write(TxnWork work, CommitCallback done) {
    Status refused;
    {
        std::lock_guard lock(queue_mu_);
        const std::string& request_id = CurrentRequestId();
        if (closing_) {
            refused = Unavailable("storage is shutting down");
        } else if (!request_id.empty() && queue_.size() >= max_queued_writes_) {
            // docs/http-api.md 10: a request past the bound is refused at once (503), so the
            // queue and the wait for a commit stay bounded however many clients write.
            refused = Unavailable("storage is busy: " + std::to_string(queue_.size()) +
                                  " writes are queued (storage.max_queued_writes); retry shortly");
        } else {
            queue_.push_back({std::move(work), std::move(done), request_id, CurrentActor()});
            queue_cv_.notify_one();
            return;
        }
    }
    done(std::move(refused));
}

void SqlStore::WriterLoop() {
    std::vector<PendingWrite> batch;
    while (true) {
        {
            std::unique_lock lock(queue_mu_);
            queue_cv_.wait(lock, [this] { return closing_ || !queue_.empty(); });
            if (queue_.empty()) return;  // closing and drained
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        CommitBatch(batch);
        batch.clear();
    }
}

void SqlStore::CommitBatch(std::vector<PendingWrite>& batch) {
    const auto began = std::chrono::steady_clock::now();
    std::vector<Status> outcomes(batch.size());
    if (writer_ == nullptr || !writer_->Healthy()) {
        // The server went away since the last batch: connect anew, or fail this batch at once
        // (UNAVAILABLE, so clients retry) and try again with the next. Within a second of a
        // failed attempt batches fail without one, so writes queued behind an attempt that
        // waits out its connect timeout are answered at once (docs/http-api.md 9: 503 within
        // 5 s).
        writer_.reset();
        if (began - last_connect_failure_ < std::chrono::seconds(1)) {
            for (auto& w : batch) w.done(last_connect_error_);
            return;
        }
        auto connected = Connect();
        if (!connected) {
            last_connect_failure_ = std::chrono::steady_clock::now();
            last_connect_error_ = connected.error();
            for (auto& w : batch) w.done(connected.error());
            return;
        }
        writer_ = std::move(*connected);
    }
    Status begun = Run(*writer_, BeginWrite());
    if (!begun) {
        for (auto& w : batch) w.done(begun);
        return;
    }
    ChangeLog log;
    SqlTxn txn(*writer_, &log);
    for (size_t i = 0; i < batch.size(); ++i) {
        // A savepoint per change: a change whose rules fail leaves no trace, the others in
        // the batch still commit.
        Status saved = Send(*writer_, "SAVEPOINT change");
        if (!saved) {
            outcomes[i] = saved;
            continue;
        }
        const size_t recorded = log.changes.size();
        const size_t audited = log.audit.size();
        log.request_id = std::move(batch[i].request_id);
        log.actor = std::move(batch[i].actor);
        outcomes[i] = batch[i].work(txn);
        // What the change sent without waiting must have worked before the change counts.
        Status flushed = writer_->Flush();
        if (outcomes[i] && !flushed) outcomes[i] = flushed;
        if (!outcomes[i]) {
            (void)Run(*writer_, "ROLLBACK TO change");
            log.changes.resize(recorded);
            log.audit.resize(audited);
        }
        (void)Send(*writer_, "RELEASE change");
    }
    // The batch's audit records join the chain in the batch's own transaction: they commit
    // exactly when the changes they describe do (docs/design.md 11).
    Status committed = BeforeCommit(*writer_);
    if (committed && audit_chain_ && !log.audit.empty()) {
        committed = AppendAuditRecords(*writer_, log.audit, clock_.Now());
    }
    if (committed) committed = Run(*writer_, "COMMIT");
    if (!committed) {
        (void)writer_->Exec("ROLLBACK");
        for (auto& w : batch) w.done(committed);
        return;
    }
    CommitReport report{batch.size(), std::chrono::steady_clock::now() - began,
                        std::move(log.changes)};
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(outcomes[i]));
    std::lock_guard lock(observers_mu_);
    for (auto* observer : observers_) observer->OnCommit(report);
}

void SqlStore::AddObserver(CommitObserver* observer) {
    std::lock_guard lock(observers_mu_);
    observers_.push_back(observer);
}

Result<std::unique_ptr<Connection>> SqlStore::AcquireReader() {
    {
        std::lock_guard lock(readers_mu_);
        if (!idle_readers_.empty()) {
            auto conn = std::move(idle_readers_.back());
            idle_readers_.pop_back();
            return conn;
        }
    }
    return Connect();
}

void SqlStore::ReleaseReader(std::unique_ptr<Connection> conn) {
    if (!conn->Healthy()) return;  // its server went away: the next read connects anew
    std::lock_guard lock(readers_mu_);
    idle_readers_.push_back(std::move(conn));
}

Status SqlStore::Read(const std::function<Status(Reader&)>& read) {
    NR_ASSIGN_OR_RETURN(auto conn, AcquireReader());
    // Prepared once per connection: sqlite3_exec would parse BEGIN and COMMIT every time.
    // Sent, not run: on PostgreSQL they travel with the read's first statement and the next
    // read's, instead of costing a round trip each.
    Status status = Send(*conn, BeginRead());
    if (status) {
        SqlTxn reader(*conn, nullptr);
        status = read(reader);
        Status ended = Send(*conn, "COMMIT");
        if (status && !ended) status = ended;
    }
    ReleaseReader(std::move(conn));
    return status;
}

}  // namespace noderepair::storage::sql
