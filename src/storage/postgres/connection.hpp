// The PostgreSQL connection behind the shared repositories, on libpq: statements prepared once
// per connection (the repositories' `?N` parameters become `$N`), parameters and results in
// text form, and SQLSTATEs turned into Errors. Not thread-safe: one thread uses it at a time.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sql/connection.hpp"

namespace noderepair::storage::postgres {

class Connection;

class PgStatement final : public sql::StatementImpl {
public:
    PgStatement(Connection& conn, std::string name, int num_params)
        : conn_(conn), name_(std::move(name)), params_(size_t(num_params)) {}
    ~PgStatement() override { Reset(); }
    PgStatement(const PgStatement&) = delete;
    PgStatement& operator=(const PgStatement&) = delete;

    void BindInt(int index, int64_t value) override;
    void BindText(int index, std::string_view text) override;
    void BindNull(int index) override;
    // The first call runs the statement and fetches its rows; each call moves to the next.
    Result<bool> Step() override;
    // Pipelines the statement: sends it and returns; the connection reads its answer later.
    Status Send() override;
    Status SendThen(std::function<void(int changed)> changed) override;
    int64_t Int(int column) const override;
    bool IsNull(int column) const override { return PQgetisnull(result_, row_, column) != 0; }
    std::string Text(int column) const override;
    int Changes() const override { return changes_; }
    void Reset() override;

private:
    // Parameter values as libpq takes them.
    std::vector<const char*> Values() const;
    Connection& conn_;
    const std::string name_;
    std::vector<std::optional<std::string>> params_;  // unbound: NULL, as in SQLite
    PGresult* result_ = nullptr;
    int row_ = -1;
    int changes_ = 0;
};

class Connection final : public sql::Connection {
public:
    // `uri`: any libpq connection string or URI. Waits at most 5 s for the server unless the
    // URI says otherwise.
    static Result<std::unique_ptr<Connection>> Open(const std::string& uri);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    sql::Dialect dialect() const override { return sql::Dialect::kPostgres; }
    Result<sql::Statement> Prepare(std::string_view sql) override;
    Status Exec(const char* sql) override;
    // Leaves pipeline mode (a round trip only when the connection was in it): a statement run
    // outside it is answered with its own sync point, in a transaction of its own.
    Status RunNextAlone() override;
    // SET LOCAL plan_cache_mode: only inside a transaction (outside one it does nothing).
    Status UseGenericPlans(bool on) override;
    uint64_t StatementsUsed() const override { return statements_used_; }
    sql::Tally Tallied() const override { return tally_; }
    Status Flush() override;
    // Also, at most once a second, waits for the answers and sets a sync point: only there,
    // outside a transaction, does the server report its table statistics, autovacuum's input.
    void Push() override;
    bool Healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }
    // While one is alive, a call that waits on the server longer than AnswerTimeout() has its
    // socket shut down (docs/design.md 12): the call fails UNAVAILABLE instead of hanging on a
    // server that was cut off without a reset (TCP keepalives do not notice a peer whose
    // kernel still acknowledges), and the store replaces the connection.
    class Deadline {
    public:
        explicit Deadline(Connection& conn);
        ~Deadline();
        Deadline(const Deadline&) = delete;
        Deadline& operator=(const Deadline&) = delete;

    private:
        Connection& conn_;
        const bool armed_;  // a timeout was set when it began
    };
    // Zero (the default): no limit. The server sets it (storage::SetDatabaseAnswerTimeout).
    static void SetAnswerTimeout(std::chrono::milliseconds timeout);
    static std::chrono::milliseconds AnswerTimeout();
    PGconn* handle() { return conn_; }

    // The Error for a failed result (null: the connection's own error). Clears `result`.
    Error ResultError(PGresult* result, std::string_view what);

    // Pipeline mode (docs/design.md 7): statements sent with Send are answered in order; a
    // read or Flush first reads the answers still owed. In pipeline mode, after `sent` was
    // queued: sends it, asks the server to flush, and reads every earlier answer.
    Status EnterPipeline();
    Status SendAndDrain();
    // Sets a sync point and reads up to it: after an error the server skips every statement
    // until one.
    void Resync();
    // Counts a statement sent in pipeline mode whose answer is still to be read; `changed`, if
    // any, gets its change count when that answer is read and says it succeeded.
    void Owe(std::function<void(int changed)> changed = nullptr) {
        ++owed_;
        ++tally_.sent;
        if (changed) on_answer_.push_back({sent_, std::move(changed)});
        ++sent_;
    }
    bool pipelined() const { return PQpipelineStatus(conn_) != PQ_PIPELINE_OFF; }
    // Counts a wait for the server made outside the connection's own calls.
    void CountWait() { ++tally_.waits; }

private:
    explicit Connection(PGconn* conn) : conn_(conn) {}
    // Reads the owed answers; after an error, syncs so the server takes commands again.
    Status ReadOwed();
    // Ends pipeline mode (synchronous libpq calls need it off); keeps any error for later.
    Status LeavePipeline();
    PGconn* conn_;
    int owed_ = 0;
    // Statements sent in pipeline mode so far, and the callbacks waiting for some of their
    // answers, by that number (answers come back in order).
    int64_t sent_ = 0;
    int64_t answered_ = 0;
    std::deque<std::pair<int64_t, std::function<void(int changed)>>> on_answer_;
    std::chrono::steady_clock::time_point last_sync_{};  // Push's last sync point
    uint64_t statements_used_ = 0;                       // Prepare calls
    sql::Tally tally_;
    int deadlines_ = 0;                   // nested Deadline guards
    std::atomic<bool> timed_out_{false};  // the watchdog shut the socket down
    sql::PreparedStatements<PgStatement> statements_;
};

// The repositories' SQL with `?N` parameters spelled `$N`; `used[N-1]` tells whether the text
// names parameter N (its size is the highest N).
std::string ToPostgresParameters(std::string_view sql, std::vector<bool>* used);

}  // namespace noderepair::storage::postgres
