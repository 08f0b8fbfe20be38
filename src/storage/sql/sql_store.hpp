// The part of a SQL backend that does not depend on the database: writer threads that
// group-commit queued changes (a transaction per batch, a savepoint per change, the batch's
// aggregates and audit records written just before COMMIT), the commit observers, and a pool
// of read connections used by the calling threads. SQLite has one writer thread; PostgreSQL
// several, each on its own connection with its own batches: their changes run side by side,
// and their commits take turns (docs/design.md 6), which the audit chain's head row needs
// anyway, so observers see batches in commit order. Every write a thread queues goes to that
// thread's queue (its lane); a batch is of one lane, and a lane has one batch in flight at a
// time, so the writes of one thread commit in the order queued whatever the number of writers. One
// completion thread runs the writes' callbacks and then the observers, batch after batch in commit
// order. The write queue is bounded for the writes of HTTP requests (docs/http-api.md 10);
// background work (the engine, the automation) bounds itself by its own thread counts and is always
// queued. A backend says how to connect and how to begin.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/sql/connection.hpp"
#include "storage/store.hpp"

namespace noderepair::storage::sql {

struct BatchReads;
struct RowWrites;
struct ChangeLog;

class SqlStore : public Store {
public:
    ~SqlStore() override;

    void Write(TxnWork work, CommitCallback done) override;
    // On PostgreSQL the batch's declared reads are one statement after BEGIN, and a row of such
    // changes runs in one savepoint with one wait at its end (store.hpp ReadAhead).
    void WriteWithReadAhead(ReadAhead ahead, TxnWork work, CommitCallback done) override;
    void AddObserver(CommitObserver* observer) override;
    Status Read(const std::function<Status(Reader&)>& read) override;
    // No BEGIN and COMMIT: the statement is its own transaction, answered with its own sync
    // point, so the connection holds no snapshot after it.
    Status ReadOneStatement(const std::function<Status(Reader&)>& read) override;
    // The backend whose reads run alone is the one whose reads travel (PostgreSQL).
    bool ReadsAreRoundTrips() const override { return one_statement_alone_; }
    // Stops the writer after the queued batches commit. A backend's destructor calls it
    // before its own members go.
    void Close() override;

protected:
    // `clock` stamps audit records; null: the system clock.
    SqlStore(std::unique_ptr<Connection> writer, int max_batch, size_t max_queued_writes,
             const Clock* clock);
    // Starts `writers` writer threads (the first on the writer connection given to the
    // constructor, the others connect on their first batch); the backend calls it last in its
    // constructor.
    void StartWriter(int writers = 1);

    // A new connection: for the read pool, and to replace a writer whose server went away.
    virtual Result<std::unique_ptr<Connection>> Connect() = 0;
    // Begins the batch's read-modify-write transaction.
    virtual const char* BeginWrite() const = 0;
    // Begins a read: one consistent snapshot for every statement of it.
    virtual const char* BeginRead() const = 0;
    // Upkeep of the backend's own in the batch's transaction, before its audit records and
    // COMMIT; a failure fails the batch.
    virtual Status BeforeCommit(Connection&) { return OkStatus(); }
    // A throw-away database (the policy replay's scratch store): its audit records are dropped
    // instead of chained, and nobody reads its change stream or the overview's aggregates, so
    // neither is written; a change runs without a savepoint of its own, and one that fails
    // fails its whole batch (the savepoint's statement journal was most of a long replay
    // transaction's cost, bench/RESULTS.md). Call before the first write.
    void Throwaway() { throwaway_ = true; }
    // Runs ReadOneStatement without a transaction (the repositories answer such reads in one
    // statement on this backend); otherwise it is a Read.
    void ReadOneStatementAlone() { one_statement_alone_ = true; }

private:
    struct PendingWrite {
        TxnWork work;
        CommitCallback done;
        std::string request_id;          // of the HTTP request that queued it
        std::string actor;               // who queued it, for its audit records
        int conflicts = 0;               // times the database aborted it to break a deadlock
        std::optional<ReadAhead> ahead;  // what it reads first, if it said so
    };

    // The writes queued by the threads given this lane, in the order queued (under queue_mu_).
    struct Lane {
        std::deque<PendingWrite> queue;
        bool in_flight = false;  // a writer is committing a batch of it
    };

    // One writer thread's connection and its last failed reconnect (that thread's only).
    struct Writer {
        std::unique_ptr<Connection> conn;
        std::chrono::steady_clock::time_point last_connect_failure{};
        Error last_connect_error;
        std::thread thread;
    };

    // A batch's answers: each write's callback with its outcome, then, when it committed, the
    // observers' report.
    struct Completion {
        std::vector<std::pair<CommitCallback, Status>> answers;
        std::optional<CommitReport> report;
    };

    void WriterLoop(Writer& writer);
    // The lane of the calling thread: given round-robin the first time it writes to this store,
    // the same ever after.
    Lane& LaneOfThisThread();
    // A lane with writes queued and no batch in flight, the lanes taken in turn; null if none.
    // Under queue_mu_.
    Lane* NextLane();
    void Queue(PendingWrite write);
    // `lane`: the batch's, where a change to run again goes back to.
    void CommitBatch(Writer& writer, Lane& lane, std::vector<PendingWrite>& batch);
    // Every write of `batch` answered with `status`, no report: a batch that never committed.
    void Fail(std::vector<PendingWrite>& batch, const Status& status);
    // Queues `completion` for the completion thread, in the order batches finish; a throw-away
    // store answers on the writer thread itself (its one caller waits for each batch).
    void Complete(Completion completion);
    void CompletionLoop();
    // Runs the callbacks, then the observers.
    void Answer(Completion& completion);
    // Runs one change of the batch in a savepoint of its own (a throw-away store: without
    // one), and waits for what it sent before it counts. False: a throw-away store's change
    // failed, which fails its whole batch.
    bool RunAlone(Connection& conn, Txn& txn, ChangeLog& log, PendingWrite& write, Status& outcome);
    // Runs the row of read-ahead changes that starts at batch[first] in one savepoint: what
    // they declared is read into `reads` in one statement, and the row waits once at its end.
    // A change refused by its rules before it wrote is just refused; any other failure rolls
    // the row back and runs each of its changes again alone (store.hpp ReadAhead). Returns the
    // index after the row.
    // Its changes' appends are held in `row` and go as one statement (RowWrites).
    size_t RunAheadRow(Connection& conn, Txn& txn, ChangeLog& log, BatchReads& reads,
                       RowWrites& row, std::vector<PendingWrite>& batch,
                       std::vector<Status>& outcomes, size_t first);
    Result<std::unique_ptr<Connection>> AcquireReader();
    void ReleaseReader(std::unique_ptr<Connection> conn);

    bool throwaway_ = false;
    bool one_statement_alone_ = false;
    const size_t max_batch_;
    const size_t max_queued_writes_;
    const SystemClock system_clock_{};
    const Clock& clock_;
    std::unique_ptr<Connection> first_writer_;  // until StartWriter hands it to writers_[0]
    std::vector<std::unique_ptr<Writer>> writers_;
    // Held from a batch's aggregates and audit records through its COMMIT until it is handed
    // to the completion thread: commits take turns in commit order.
    std::mutex commit_mu_;

    // This store among those of the process, for the threads' lanes: never reused, unlike its
    // address.
    const uint64_t serial_;
    std::atomic<uint64_t> next_lane_{0};
    // One lane with one writer; with several, many more lanes than writers, so threads that
    // write (the I/O threads, the engine's, the workers) seldom share one.
    std::vector<Lane> lanes_;
    std::mutex queue_mu_;  // guards the lanes and what follows
    std::condition_variable queue_cv_;
    size_t next_scan_ = 0;  // the lane NextLane looks at first
    size_t queued_ = 0;     // writes in all lanes: max_queued_writes_ bounds the store, not a lane
    bool closing_ = false;
    bool closed_ = false;

    std::mutex observers_mu_;
    std::vector<CommitObserver*> observers_;

    // Batches whose callbacks and observers the completion thread has yet to run. The writer
    // only hands them over: the replies (a response encoded, a request measured and logged, a
    // hop to its connection) and the observers cost the writer thread a sixth of a durable
    // create's time when it ran them itself, time in which no batch was written
    // (bench/RESULTS.md).
    std::mutex completions_mu_;
    std::condition_variable completions_cv_;
    std::deque<Completion> completions_;
    bool completions_closing_ = false;
    std::thread completer_;

    std::mutex readers_mu_;
    std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace noderepair::storage::sql
