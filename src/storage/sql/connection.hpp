// What the shared repositories need of a database connection, whatever the backend: prepared
// statements with positional parameters (`?1`, `?2`, ...), rows read by column, and the few
// places where SQLite and PostgreSQL spell a thing differently (Dialect). A backend
// implements Connection and StatementImpl (storage/sqlite, storage/postgres).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage::sql {

enum class Dialect { kSqlite, kPostgres };

// The start of the message of a change the database aborted to break a deadlock or a
// serialization conflict (PostgreSQL 40P01, 40001): nothing was wrong with the change itself,
// so the writer runs it again in the next batch instead of failing it.
inline constexpr std::string_view kConflictPrefix = "transaction conflict: ";

// A backend's prepared statement; Statement is the handle repositories hold.
class StatementImpl {
public:
    virtual ~StatementImpl() = default;
    virtual void BindInt(int index, int64_t value) = 0;
    virtual void BindText(int index, std::string_view text) = 0;
    virtual void BindNull(int index) = 0;
    virtual Result<bool> Step() = 0;
    // Runs the statement for its effect only; may return before the database answers.
    virtual Status Send() {
        auto stepped = Step();
        if (!stepped) return stepped.error();
        return OkStatus();
    }
    // Like Send; `changed` gets the number of rows the statement changed once its answer is
    // read (PostgreSQL: at the connection's next read or Flush), and is dropped if it failed.
    virtual Status SendThen(std::function<void(int changed)> changed) {
        auto stepped = Step();
        if (!stepped) return stepped.error();
        changed(Changes());
        return OkStatus();
    }
    virtual int64_t Int(int column) const = 0;
    virtual bool IsNull(int column) const = 0;
    virtual std::string Text(int column) const = 0;
    // Rows the last run changed.
    virtual int Changes() const = 0;
    // Forgets bindings and results so the statement can run again.
    virtual void Reset() = 0;
};

// A prepared statement borrowed from its connection's cache; reset when it goes away.
class Statement {
public:
    explicit Statement(StatementImpl* impl) : impl_(impl) {}
    Statement(Statement&& other) noexcept : impl_(other.impl_) { other.impl_ = nullptr; }
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    ~Statement() {
        if (impl_ != nullptr) impl_->Reset();
    }

    Statement& Bind(int index, int64_t value) {
        impl_->BindInt(index, value);
        return *this;
    }
    Statement& Bind(int index, std::string_view text) {
        impl_->BindText(index, text);
        return *this;
    }
    Statement& Bind(int index, std::optional<Timestamp> time) {  // null when unset
        if (time) return Bind(index, ToMicros(*time));
        return BindNull(index);
    }
    Statement& BindNull(int index) {
        impl_->BindNull(index);
        return *this;
    }
    // Empty text is stored as NULL (docs/http-api.md 2: unset fields are omitted).
    Statement& BindOptional(int index, std::string_view text) {
        if (text.empty()) return BindNull(index);
        return Bind(index, text);
    }

    // True while there is a row to read.
    Result<bool> Step() { return impl_->Step(); }
    // Runs a statement that returns no rows.
    Status Run() {
        auto stepped = Step();
        if (!stepped) return stepped.error();
        return OkStatus();
    }
    // Runs a statement whose rows and change count nobody reads. A backend may send it
    // without waiting for the answer (PostgreSQL pipelines it); its error then comes back from
    // the connection's next Step, Run or Flush instead, so a change that sends must Flush
    // before it counts as done (the group commit does, for every change).
    Status Send() { return impl_->Send(); }
    // Sends a write whose change count matters only once the change is done (an audit record
    // when a row was there): `changed` runs by the change's Flush at the latest.
    Status SendThen(std::function<void(int changed)> changed) {
        return impl_->SendThen(std::move(changed));
    }
    // Every row, each read by `read(*this)`.
    template <typename ReadRow>
    auto Rows(ReadRow read) -> Result<std::vector<decltype(read(*this))>> {
        std::vector<decltype(read(*this))> rows;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, Step());
            if (!row) return rows;
            rows.push_back(read(*this));
        }
    }

    int64_t Int(int column) const { return impl_->Int(column); }
    bool IsNull(int column) const { return impl_->IsNull(column); }
    std::string Text(int column) const { return impl_->Text(column); }
    std::optional<Timestamp> Time(int column) const {
        if (IsNull(column)) return std::nullopt;
        return FromMicros(Int(column));
    }
    int Changes() const { return impl_->Changes(); }

private:
    StatementImpl* impl_;
};

// What a connection did so far (counts only grow): statements sent without waiting
// (Statement::Send), errors the database answered or the connection met, and waits for the
// server. The writer tells from them whether a change wrote or failed where it cannot see, and
// reports its round trips per batch.
struct Tally {
    uint64_t sent = 0;
    uint64_t errors = 0;
    uint64_t waits = 0;
};

// A connection's prepared statements by SQL text (Connection::Prepare). Every statement run
// looks its text up (the writer: ~15 times per new alert), so the lookup takes a string_view
// (a literal makes no std::string) and hashes the text's length and five of its 8-byte words
// instead of every byte: texts alike there are told apart by the whole-text comparison that
// every hit makes anyway.
struct SqlTextHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const {
        auto word = [&sql](size_t at) {
            uint64_t w = 0;
            std::memcpy(&w, sql.data() + at, sizeof w);
            return w;
        };
        uint64_t h = sql.size();
        if (sql.size() >= sizeof(uint64_t)) {
            const size_t last = sql.size() - sizeof(uint64_t);
            for (size_t at : {size_t(0), last / 4, last / 2, last / 4 * 3, last}) {
                h = (h ^ word(at)) * 0x9E3779B97F4A7C15ULL;
                h ^= h >> 29;
            }
        } else {
            for (char c : sql) h = (h ^ uint8_t(c)) * 0x9E3779B97F4A7C15ULL;
        }
        return size_t(h);
    }
};
template <class Prepared>
using PreparedStatements =
    std::unordered_map<std::string, std::unique_ptr<Prepared>, SqlTextHash, std::equal_to<>>;

class Connection {
public:
    virtual ~Connection() = default;
    virtual Dialect dialect() const = 0;
    // Prepares once per connection and SQL text, then reuses. Parameters are `?N`.
    virtual Result<Statement> Prepare(std::string_view sql) = 0;
    // Runs one or more statements that return no rows, unprepared (schema, BEGIN, ROLLBACK).
    virtual Status Exec(const char* sql) = 0;
    // Waits for every statement sent with Statement::Send; the first one's error, if any, or
    // else the one FailAtFlush left.
    virtual Status Flush() { return TakeFailureAtFlush(); }
    // Fails the change being written at its next Flush (the first call counts): for a check
    // made when the answer of a statement sent with Statement::SendThen is read, after its
    // change went on.
    void FailAtFlush(Error error) {
        if (!failed_at_flush_) failed_at_flush_ = std::move(error);
    }
    // Hands what Statement::Send left in the client's buffer to the server without waiting for
    // an answer: a read's COMMIT ends its transaction now, not at the connection's next use.
    virtual void Push() {}
    // Before a statement that runs alone, outside a transaction (Store::ReadOneStatement):
    // answers still owed are read and the next statement is answered at once.
    virtual Status RunNextAlone() { return OkStatus(); }
    // PostgreSQL: from UseGenericPlans(true) to UseGenericPlans(false) or the end of the
    // transaction, statements run on their generic plan (made once per prepared statement)
    // instead of one made again for each run's parameters. For a statement the server would
    // otherwise plan anew every time although one plan serves every value: a list page, whose
    // LIMIT parameter the generic estimate takes to keep a tenth of the rows, so the page of a
    // large cluster looks dear unplanned. Sent with the next statement, not waited for.
    virtual Status UseGenericPlans(bool /*on*/) { return OkStatus(); }
    // Statements prepared or reused so far (0: the backend does not count them).
    virtual uint64_t StatementsUsed() const { return 0; }
    // Zeros where the backend does not count (SQLite: nothing is sent, nothing is waited for).
    virtual Tally Tallied() const { return {}; }
    // False once the connection to the server is lost; the store then opens a new one.
    virtual bool Healthy() const { return true; }
    // Writes held back to go as one statement (a row of changes' appends, SqlStore::
    // RunAheadRow): `send` sends them before the next statement runs or is sent and before the
    // next Flush, so every later statement sees them. Replaces what was held; nullptr drops it
    // unsent. Only a backend whose writes travel to a server holds (PostgreSQL).
    void HoldBack(std::function<Status()> send) { held_ = std::move(send); }
    // Sends what HoldBack holds, if anything (the backend calls it before each statement).
    Status SendHeld() {
        if (!held_) return OkStatus();
        auto send = std::move(held_);
        held_ = nullptr;
        return send();
    }

protected:
    Status TakeFailureAtFlush() {
        if (!failed_at_flush_) return OkStatus();
        Error error = std::move(*failed_at_flush_);
        failed_at_flush_.reset();
        return error;
    }

private:
    std::optional<Error> failed_at_flush_;
    std::function<Status()> held_;
};

}  // namespace noderepair::storage::sql
