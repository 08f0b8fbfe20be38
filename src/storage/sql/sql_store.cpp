#include "storage/sql/sql_store.hpp"

#include <algorithm>
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

// How often one change is run again after the database aborted it to break a deadlock.
constexpr int kMaxConflictRetries = 3;

std::atomic<uint64_t> next_store_serial{0};

// Lanes of a store with several writers: more than the threads that write to a server (two I/O
// threads, the engine's, a few workers'), so that each has its own.
constexpr size_t kLanesOfSeveralWriters = 32;

bool IsConflict(const Status& status) {
    return !status && status.error().code == Code::kAborted &&
           std::string_view(status.error().message).starts_with(kConflictPrefix);
}

// Every repository over one connection: the writer's transaction, or a pooled reader's.
class SqlTxn final : public Txn {
public:
    // `reads`: what the writer read ahead for the batch, if anything; `row`: where its rows of
    // changes hold their appends.
    SqlTxn(Connection& conn, ChangeLog* log, BatchReads* reads = nullptr, RowWrites* row = nullptr)
        : remediations_(conn, log, reads, row),
          inventory_(conn, log, reads),
          engine_jobs_(conn),
          alerts_(conn),
          health_checks_(conn),
          tokens_(conn, log),
          settings_(conn, log, row),
          simulated_(conn),
          stats_(conn, log),
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
      first_writer_(std::move(writer)),
      serial_(next_store_serial.fetch_add(1, std::memory_order_relaxed)) {}

void SqlStore::StartWriter(int writers) {
    lanes_ = std::vector<Lane>(writers > 1 ? kLanesOfSeveralWriters : 1);
    for (int i = 0; i < std::max(writers, 1); ++i) {
        auto& writer = *writers_.emplace_back(std::make_unique<Writer>());
        if (i == 0) writer.conn = std::move(first_writer_);
    }
    completer_ = std::thread([this] {
        NameThisThread("nr-store-done");
        CompletionLoop();
    });
    for (auto& writer : writers_) {
        writer->thread = std::thread([this, w = writer.get()] {
            NameThisThread("nr-store-write");
            WriterLoop(*w);
        });
    }
}

SqlStore::~SqlStore() { Close(); }

void SqlStore::Close() {
    {
        std::lock_guard lock(queue_mu_);
        if (closed_) return;
        closing_ = closed_ = true;
    }
    queue_cv_.notify_all();
    for (auto& writer : writers_) {
        if (writer->thread.joinable()) writer->thread.join();
    }
    // The writers are gone: what they handed over is answered, then the completer ends.
    {
        std::lock_guard lock(completions_mu_);
        completions_closing_ = true;
    }
    completions_cv_.notify_all();
    if (completer_.joinable()) completer_.join();
}

void SqlStore::Fail(std::vector<PendingWrite>& batch, const Status& status) {
    Completion failed;
    failed.answers.reserve(batch.size());
    for (auto& w : batch) failed.answers.emplace_back(std::move(w.done), status);
    Complete(std::move(failed));
}

void SqlStore::Complete(Completion completion) {
    if (throwaway_) return Answer(completion);
    {
        std::lock_guard lock(completions_mu_);
        completions_.push_back(std::move(completion));
    }
    completions_cv_.notify_one();
}

void SqlStore::CompletionLoop() {
    while (true) {
        Completion completion;
        {
            std::unique_lock lock(completions_mu_);
            completions_cv_.wait(lock,
                                 [this] { return completions_closing_ || !completions_.empty(); });
            if (completions_.empty()) return;  // closing and drained
            completion = std::move(completions_.front());
            completions_.pop_front();
        }
        Answer(completion);
    }
}

void SqlStore::Answer(Completion& completion) {
    for (auto& [done, status] : completion.answers) done(std::move(status));
    if (!completion.report) return;
    std::lock_guard lock(observers_mu_);
    for (auto* observer : observers_) observer->OnCommit(*completion.report);
}

void SqlStore::Write(TxnWork work, CommitCallback done) {
    PendingWrite write;
    write.work = std::move(work);
    write.done = std::move(done);
    Queue(std::move(write));
}

void SqlStore::WriteWithReadAhead(ReadAhead ahead, TxnWork work, CommitCallback done) {
    PendingWrite write;
    write.work = std::move(work);
    write.done = std::move(done);
    write.ahead = std::move(ahead);
    Queue(std::move(write));
}

SqlStore::Lane& SqlStore::LaneOfThisThread() {
    if (lanes_.size() == 1) return lanes_[0];
    // The lanes this thread was given, by store; the store it writes to now is nearly always
    // the last one it was given a lane of (a process has one store with several writers; tests
    // open one after another).
    struct Given {
        uint64_t store;
        size_t lane;
    };
    thread_local std::vector<Given> given;
    for (auto it = given.rbegin(); it != given.rend(); ++it) {
        if (it->store == serial_) return lanes_[it->lane];
    }
    const size_t lane =
        size_t(next_lane_.fetch_add(1, std::memory_order_relaxed) % uint64_t(lanes_.size()));
    given.push_back({serial_, lane});
    return lanes_[lane];
}

SqlStore::Lane* SqlStore::NextLane() {
    for (size_t i = 0; i < lanes_.size(); ++i) {
        const size_t at = (next_scan_ + i) % lanes_.size();
        Lane& lane = lanes_[at];
        if (lane.in_flight || lane.queue.empty()) continue;
        next_scan_ = (at + 1) % lanes_.size();
        return &lane;
    }
    return nullptr;
}

void SqlStore::Queue(PendingWrite write) {
    Status refused;
    {
        Lane& lane = LaneOfThisThread();
        std::lock_guard lock(queue_mu_);
        const std::string& request_id = CurrentRequestId();
        if (closing_) {
            refused = Unavailable("storage is shutting down");
        } else if (!request_id.empty() && queued_ >= max_queued_writes_) {
            // docs/http-api.md 10: a request past the bound is refused at once (503), so the
            // queue and the wait for a commit stay bounded however many clients write.
            refused = Unavailable("storage is busy: " + std::to_string(queued_) +
                                  " writes are queued (storage.max_queued_writes); retry shortly");
        } else {
            write.request_id = request_id;
            write.actor = CurrentActor();
            lane.queue.push_back(std::move(write));
            ++queued_;
            // A writer that waits takes it, unless its lane's batch is in flight: then that
            // batch's writer takes it next.
            queue_cv_.notify_one();
            return;
        }
    }
    write.done(std::move(refused));
}

void SqlStore::WriterLoop(Writer& writer) {
    std::vector<PendingWrite> batch;
    while (true) {
        Lane* lane = nullptr;
        {
            std::unique_lock lock(queue_mu_);
            queue_cv_.wait(lock, [&] {
                lane = NextLane();
                return lane != nullptr || (closing_ && queued_ == 0);
            });
            if (lane == nullptr) return;  // closing and drained
            // One batch of a lane at a time: its next batch cannot commit before this one.
            lane->in_flight = true;
            while (!lane->queue.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(lane->queue.front()));
                lane->queue.pop_front();
                --queued_;
            }
        }
        CommitBatch(writer, *lane, batch);
        batch.clear();
        bool wake_one = false, wake_all = false;
        {
            std::lock_guard lock(queue_mu_);
            lane->in_flight = false;
            // What was queued in the lane meanwhile is for whichever writer waits (this one
            // may take another lane next); closing, the others may be waiting for the end.
            wake_one = !lane->queue.empty();
            wake_all = closing_;
        }
        if (wake_all) {
            queue_cv_.notify_all();
        } else if (wake_one) {
            queue_cv_.notify_one();
        }
    }
}

void SqlStore::CommitBatch(Writer& writer, Lane& lane, std::vector<PendingWrite>& batch) {
    const auto began = std::chrono::steady_clock::now();
    std::vector<Status> outcomes(batch.size());
    if (writer.conn == nullptr || !writer.conn->Healthy()) {
        // The server went away since the last batch: connect anew, or fail this batch at once
        // (UNAVAILABLE, so clients retry) and try again with the next. Within a second of a
        // failed attempt batches fail without one, so writes queued behind an attempt that
        // waits out its connect timeout are answered at once (docs/http-api.md 9: 503 within
        // 5 s).
        writer.conn.reset();
        if (began - writer.last_connect_failure < std::chrono::seconds(1)) {
            return Fail(batch, writer.last_connect_error);
        }
        auto connected = Connect();
        if (!connected) {
            writer.last_connect_failure = std::chrono::steady_clock::now();
            writer.last_connect_error = connected.error();
            return Fail(batch, connected.error());
        }
        writer.conn = std::move(*connected);
    }
    Connection& conn = *writer.conn;
    const Tally tally_before = conn.Tallied();
    // PostgreSQL: the changes that declared their reads run in rows (RunAheadRow); BEGIN is
    // sent without waiting, to be answered with the first row's reads.
    const bool ahead = !throwaway_ && ReadsAreRoundTrips() &&
                       std::any_of(batch.begin(), batch.end(),
                                   [](const PendingWrite& w) { return w.ahead.has_value(); });
    Status begun = ahead ? Send(conn, BeginWrite()) : Run(conn, BeginWrite());
    if (!begun) return Fail(batch, begun);
    ChangeLog log;
    BatchReads reads;
    RowWrites row;
    SqlTxn txn(conn, &log, ahead ? &reads : nullptr, ahead ? &row : nullptr);
    for (size_t i = 0; i < batch.size();) {
        if (ahead && batch[i].ahead) {
            i = RunAheadRow(conn, txn, log, reads, row, batch, outcomes, i);
            continue;
        }
        reads.instances.clear();  // the change may write anything
        if (!RunAlone(conn, txn, log, batch[i], outcomes[i])) {
            (void)conn.Exec("ROLLBACK");
            return Fail(batch, outcomes[i]);
        }
        ++i;
    }
    // Commits take turns from here: the audit chain's head row admits one at a time anyway
    // (docs/design.md 11), and the observers hear of batches in the order they committed.
    std::lock_guard commit_lock(commit_mu_);
    // The batch's audit records join the chain in the batch's own transaction: they commit
    // exactly when the changes they describe do (docs/design.md 11). So do its recorded
    // changes, numbered under the same head lock (docs/design.md 12). The head row is locked
    // first, then the aggregates' rows, in the same order by every writer.
    Status committed = BeforeCommit(conn);
    if (committed && !throwaway_ && !log.audit.empty()) {
        committed = AppendAuditRecords(conn, log.audit, clock_.Now());
    }
    if (committed && !throwaway_ && !log.changes.empty()) {
        committed = AppendRecordedChanges(conn, log.changes, clock_.Now());
    }
    if (committed && !throwaway_) committed = ApplyStatDeltas(conn, log);
    if (committed) committed = Run(conn, "COMMIT");
    if (committed) conn.Push();  // the server's statistics of this connection's changes
    if (!committed) {
        (void)conn.Exec("ROLLBACK");
        return Fail(batch, committed);
    }
    Completion completion;
    const Tally tally = conn.Tallied();
    completion.report =
        CommitReport{batch.size(), std::chrono::steady_clock::now() - began, std::move(log.changes),
                     tally.waits - tally_before.waits, tally.sent - tally_before.sent};
    completion.answers.reserve(batch.size());
    std::vector<PendingWrite> again;
    for (size_t i = 0; i < batch.size(); ++i) {
        // A change the database aborted to break a deadlock (e.g. a row lock of this batch
        // against the automation lock another replica's batch holds, docs/design.md 12) runs
        // again in the next batch, after this one's locks are gone.
        if (IsConflict(outcomes[i]) && batch[i].conflicts < kMaxConflictRetries) {
            ++batch[i].conflicts;
            again.push_back(std::move(batch[i]));
            continue;
        }
        completion.answers.emplace_back(std::move(batch[i].done), std::move(outcomes[i]));
    }
    if (!again.empty()) {
        // To the front of the batch's lane, still in flight: its next batch, before the writes
        // queued since (those of the same threads among them).
        std::lock_guard lock(queue_mu_);
        for (auto it = again.rbegin(); it != again.rend(); ++it) {
            lane.queue.push_front(std::move(*it));
            ++queued_;
        }
    }
    // Still under commit_mu_: batches reach the completion thread in commit order.
    Complete(std::move(completion));
}

bool SqlStore::RunAlone(Connection& conn, Txn& txn, ChangeLog& log, PendingWrite& write,
                        Status& outcome) {
    // A savepoint per change: a change whose rules fail leaves no trace, the others in the
    // batch still commit. A throw-away store's failed change fails the batch instead.
    Status saved = throwaway_ ? OkStatus() : Send(conn, "SAVEPOINT change");
    if (!saved) {
        outcome = saved;
        return true;
    }
    const ChangeLog::Mark mark = log.Marked();
    log.request_id = write.request_id;
    log.actor = write.actor;
    outcome = write.work(txn);
    // What the change sent without waiting must have worked before the change counts.
    Status flushed = conn.Flush();
    if (outcome && !flushed) outcome = flushed;
    if (throwaway_) return outcome.ok();
    if (!outcome) {
        (void)Run(conn, "ROLLBACK TO change");
        log.DropAfter(mark);
    }
    (void)Send(conn, "RELEASE change");
    return true;
}

size_t SqlStore::RunAheadRow(Connection& conn, Txn& txn, ChangeLog& log, BatchReads& reads,
                             RowWrites& row, std::vector<PendingWrite>& batch,
                             std::vector<Status>& outcomes, size_t first) {
    size_t end = first;
    while (end < batch.size() && batch[end].ahead) ++end;
    const ChangeLog::Mark mark = log.Marked();
    const Tally start = conn.Tallied();
    bool clean = Send(conn, "SAVEPOINT ahead").ok();
    if (clean) {
        // What the row's changes read first, in one statement instead of a wait per read.
        std::vector<std::string> instance_ids;
        for (size_t i = first; i < end; ++i) instance_ids.push_back(batch[i].ahead->instance_id);
        reads.instances.clear();
        clean = ReadAheadInstances(conn, instance_ids, reads).ok();
    }
    // The row's appends are held back, to go as one statement (RowWrites).
    row.holding = true;
    row.held = row.sent = 0;
    for (size_t i = first; i < end && clean; ++i) {
        const Tally before = conn.Tallied();
        const size_t held_before = row.held, row_sent_before = row.sent;
        const ChangeLog::Mark change = log.Marked();
        log.request_id = batch[i].request_id;
        log.actor = batch[i].actor;
        outcomes[i] = batch[i].work(txn);
        if (outcomes[i]) continue;
        // Refused by its rules before it sent or held a write or met an error: nothing of it to
        // undo (its reads may have sent earlier changes' held writes). What it logged goes;
        // audit records logged meanwhile are earlier changes' (a setting's delete is audited
        // when its answer is read, which this change's reads may have done).
        const Tally after = conn.Tallied();
        clean = after.sent - before.sent == row.sent - row_sent_before &&
                after.errors == before.errors && row.held == held_before;
        if (clean) {
            log.changes.resize(change.changes);
            log.daily.resize(change.daily);
            log.buckets.resize(change.buckets);
        }
    }
    row.holding = false;
    if (clean) clean = conn.Flush().ok() && conn.Tallied().errors == start.errors;
    if (clean) {
        (void)Send(conn, "RELEASE ahead");
        return end;
    }
    // Which change failed is not known from a failed answer in the row: run each again alone.
    // What is held goes unsent; what was sent is answered first: after a failure the server
    // skips statements up to a sync point, which the rollback must not be one of.
    conn.HoldBack(nullptr);
    row.Clear();
    (void)conn.Flush();
    (void)Run(conn, "ROLLBACK TO ahead");
    (void)Send(conn, "RELEASE ahead");
    log.DropAfter(mark);
    reads.instances.clear();
    for (size_t i = first; i < end; ++i) (void)RunAlone(conn, txn, log, batch[i], outcomes[i]);
    return end;
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
        // A read that sat in the client's buffer until the connection's next use would keep
        // its snapshot open meanwhile, holding back VACUUM on every table (bench/soak.mjs).
        conn->Push();
    }
    ReleaseReader(std::move(conn));
    return status;
}

Status SqlStore::ReadOneStatement(const std::function<Status(Reader&)>& read) {
    if (!one_statement_alone_) return Read(read);
    NR_ASSIGN_OR_RETURN(auto conn, AcquireReader());
    Status status = conn->RunNextAlone();
    if (status) {
        const uint64_t before = conn->StatementsUsed();
        SqlTxn reader(*conn, nullptr);
        status = read(reader);
        const uint64_t used = conn->StatementsUsed() - before;
        if (status && used > 1) {
            // Each statement saw a snapshot of its own: the read was not consistent.
            status = Internal("a one-statement read ran " + std::to_string(used) +
                              " statements; use Store::Read");
        }
    }
    ReleaseReader(std::move(conn));
    return status;
}

}  // namespace noderepair::storage::sql
