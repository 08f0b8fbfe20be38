#include "storage/postgres/connection.hpp"

#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/thread_name.hpp"

namespace noderepair::storage::postgres {
namespace {

// SQLSTATE classes and codes (PostgreSQL's errcodes): what a caller can do about each.
Error ErrorOf(std::string_view sqlstate, std::string message, bool connection_ok) {
    if (!connection_ok || sqlstate.starts_with("08") || sqlstate.starts_with("53") ||
        sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "57014") {
        return Unavailable("storage unavailable: " + message);
    }
    // A second active remediation of an instance (remediations_one_active) is only ever a race:
    // every writer reads the instance's active one first, and another writer's (or replica's)
    // committed after that read. The change runs again in the next batch, where its read sees
    // the other's and its own rules answer.
    if (sqlstate == "23505" && message.find("\"remediations_one_active\"") != std::string::npos) {
        return Aborted(std::string(sql::kConflictPrefix) + message);
    }
    if (sqlstate == "23505") return AlreadyExists(message);
    if (sqlstate == "40001" || sqlstate == "40P01") {
        return Aborted(std::string(sql::kConflictPrefix) + message);
    }
    return Internal(message);
}

std::string Trimmed(const char* message) {
    std::string s = message != nullptr ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::atomic<int64_t> answer_timeout_ms{0};

// Shuts down the sockets of connections whose call waited too long (Connection::Deadline).
// One thread for the process, started by the first guard.
class Watchdog {
public:
    static Watchdog& Get() {
        static auto* watchdog = new Watchdog();  // never destroyed: guards may run at exit
        return *watchdog;
    }

    void Arm(PGconn* conn, std::atomic<bool>* timed_out) {
        std::lock_guard lock(mu_);
        armed_[conn] = {std::chrono::steady_clock::now() + Connection::AnswerTimeout(), timed_out};
        if (!started_) {
            started_ = true;
            std::thread([this] {
                NameThisThread("nr-pg-watchdog");
                Loop();
            }).detach();
        }
    }

    void Disarm(PGconn* conn) {
        std::lock_guard lock(mu_);
        armed_.erase(conn);
    }

private:
    struct Armed {
        std::chrono::steady_clock::time_point deadline;
        std::atomic<bool>* timed_out;
    };

    void Loop() {
        std::unique_lock lock(mu_);
        while (true) {
            cv_.wait_for(lock, std::chrono::milliseconds(100));
            const auto now = std::chrono::steady_clock::now();
            for (auto it = armed_.begin(); it != armed_.end();) {
                if (it->second.deadline > now) {
                    ++it;
                    continue;
                }
                // Under the lock: the connection cannot be disarmed (and freed) meanwhile.
                it->second.timed_out->store(true);
                const int fd = PQsocket(it->first);
                if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
                it = armed_.erase(it);
            }
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::map<PGconn*, Armed> armed_;
    bool started_ = false;  // one thread for the process, never joined
};

}  // namespace

void Connection::SetAnswerTimeout(std::chrono::milliseconds timeout) {
    answer_timeout_ms.store(timeout.count());
}

std::chrono::milliseconds Connection::AnswerTimeout() {
    return std::chrono::milliseconds(answer_timeout_ms.load());
}

Connection::Deadline::Deadline(Connection& conn)
    : conn_(conn), armed_(AnswerTimeout().count() > 0) {
    if (armed_ && conn_.deadlines_++ == 0) {
        Watchdog::Get().Arm(conn_.conn_, &conn_.timed_out_);
    }
}

Connection::Deadline::~Deadline() {
    if (armed_ && --conn_.deadlines_ == 0) Watchdog::Get().Disarm(conn_.conn_);
}

std::string ToPostgresParameters(std::string_view sql, std::vector<bool>* used) {
    std::string out;
    out.reserve(sql.size() + 8);
    used->clear();
    int next_bare = 1;
    bool quoted = false;
    for (size_t i = 0; i < sql.size(); ++i) {
        char c = sql[i];
        if (c == '\'') quoted = !quoted;
        if (c != '?' || quoted) {
            out += c;
            continue;
        }
        size_t end = i + 1;
        while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9') ++end;
        int index = next_bare;
        if (end > i + 1) {
            std::from_chars(sql.data() + i + 1, sql.data() + end, index);
        }
        next_bare = index + 1;
        if (size_t(index) > used->size()) used->resize(size_t(index));
        (*used)[size_t(index - 1)] = true;
        out += '$';
        out += std::to_string(index);
        i = end - 1;
    }
    return out;
}

void PgStatement::BindInt(int index, int64_t value) {
    params_[size_t(index - 1)] = std::to_string(value);
}

void PgStatement::BindText(int index, std::string_view text) {
    params_[size_t(index - 1)] = std::string(text);
}

void PgStatement::BindNull(int index) { params_[size_t(index - 1)].reset(); }

std::vector<const char*> PgStatement::Values() const {
    std::vector<const char*> values(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
        values[i] = params_[i] ? params_[i]->c_str() : nullptr;
    }
    return values;
}

Status PgStatement::Send() { return SendThen(nullptr); }

Status PgStatement::SendThen(std::function<void(int changed)> changed) {
    NR_RETURN_IF_ERROR(conn_.SendHeld());
    Connection::Deadline deadline(conn_);
    NR_RETURN_IF_ERROR(conn_.EnterPipeline());
    const auto values = Values();
    if (PQsendQueryPrepared(conn_.handle(), name_.c_str(), int(values.size()), values.data(),
                            nullptr, nullptr, 0) == 0) {
        return conn_.ResultError(nullptr, "cannot send statement");
    }
    conn_.Owe(std::move(changed));
    Reset();
    return OkStatus();
}

Result<bool> PgStatement::Step() {
    if (result_ == nullptr) {
        NR_RETURN_IF_ERROR(conn_.SendHeld());
        Connection::Deadline deadline(conn_);
        const auto values = Values();
        if (conn_.pipelined()) {
            // Behind the statements sent before it: read their answers first, then its own.
            if (PQsendQueryPrepared(conn_.handle(), name_.c_str(), int(values.size()),
                                    values.data(), nullptr, nullptr, 0) == 0) {
                return conn_.ResultError(nullptr, "cannot send statement");
            }
            NR_RETURN_IF_ERROR(conn_.SendAndDrain());
            result_ = PQgetResult(conn_.handle());
            // The end of this statement's answers.
            while (PGresult* extra = PQgetResult(conn_.handle())) PQclear(extra);
        } else {
            conn_.CountWait();
            result_ = PQexecPrepared(conn_.handle(), name_.c_str(), int(values.size()),
                                     values.data(), nullptr, nullptr, 0);
        }
        ExecStatusType status = PQresultStatus(result_);
        if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
            PGresult* failed = result_;
            result_ = nullptr;
            Error error = conn_.ResultError(failed, "query failed");
            if (conn_.pipelined()) conn_.Resync();  // the server skips on until a sync point
            return error;
        }
        const char* changed = PQcmdTuples(result_);
        changes_ = changed != nullptr && *changed != '\0' ? std::atoi(changed) : 0;
        row_ = -1;
    }
    ++row_;
    return row_ < PQntuples(result_);
}

int64_t PgStatement::Int(int column) const {
    if (PQgetisnull(result_, row_, column) != 0) return 0;
    const char* value = PQgetvalue(result_, row_, column);
    // Booleans (EXISTS, comparisons) come back as t and f.
    if (value[0] == 't') return 1;
    if (value[0] == 'f') return 0;
    int64_t n = 0;
    std::from_chars(value, value + PQgetlength(result_, row_, column), n);
    return n;
}

std::string PgStatement::Text(int column) const {
    if (PQgetisnull(result_, row_, column) != 0) return {};
    return std::string(PQgetvalue(result_, row_, column),
                       size_t(PQgetlength(result_, row_, column)));
}

void PgStatement::Reset() {
    if (result_ != nullptr) PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    for (auto& p : params_) p.reset();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& uri) {
    // Defaults first: what the URI says wins (libpq takes the last value of a keyword, and the
    // URI in dbname is expanded in place).
    // A server that does not answer is given up on quickly (docs/http-api.md 9: writes get 503
    // within 5 s): 2 s to connect, keepalives for a peer that vanished; a connection that
    // hangs with its peer's kernel still acknowledging is Deadline's.
    const char* keywords[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "application_name", "dbname",          nullptr};
    const char* values[] = {"2", "1", "2", "1", "2", "noderepair", uri.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keywords, values, 1);
    if (conn == nullptr) return Unavailable("storage unavailable: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = Trimmed(PQerrorMessage(conn));
        PQfinish(conn);
        return Unavailable("storage unavailable: cannot connect to PostgreSQL: " + message);
    }
    std::unique_ptr<Connection> connection(new Connection(conn));
    // Our own notices (IF NOT EXISTS in migrations) are not worth a line on stderr.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    NR_RETURN_IF_ERROR(connection->Exec("SET client_min_messages = warning"));
    return connection;
}

Connection::~Connection() {
    statements_.clear();
    PQfinish(conn_);
}

Status Connection::EnterPipeline() {
    if (pipelined()) return OkStatus();
    if (PQenterPipelineMode(conn_) == 0) return ResultError(nullptr, "cannot enter pipeline mode");
    return OkStatus();
}

Status Connection::SendAndDrain() {
    // The server buffers its answers until asked to flush them.
    ++tally_.waits;
    if (PQsendFlushRequest(conn_) == 0 || PQflush(conn_) != 0) {
        return ResultError(nullptr, "cannot send to the server");
    }
    return ReadOwed();
}

Status Connection::ReadOwed() {
    std::optional<Error> first;
    for (; owed_ > 0; --owed_) {
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) {
            first = first.value_or(ResultError(nullptr, "lost the server's answer"));
            owed_ = 0;
            break;
        }
        const ExecStatusType status = PQresultStatus(result);
        const int64_t answer = answered_++;
        std::function<void(int)> changed;
        if (!on_answer_.empty() && on_answer_.front().first == answer) {
            changed = std::move(on_answer_.front().second);
            on_answer_.pop_front();
        }
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
            Error error = ResultError(result, "query failed");
            if (!first) first = std::move(error);
        } else {
            if (changed && status == PGRES_COMMAND_OK && !first) {
                const char* count = PQcmdTuples(result);
                changed(count != nullptr && *count != '\0' ? std::atoi(count) : 0);
            }
            PQclear(result);
        }
        while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);  // its end marker
    }
    // Whatever was not answered never will be: its callbacks go, and counting starts anew.
    on_answer_.clear();
    answered_ = sent_ = 0;
    if (!first) return OkStatus();
    // After an error the server skips everything up to a sync point: set one and read up to
    // it, so the next statement runs (in a transaction the caller rolls back to a savepoint).
    Resync();
    return *first;
}

void Connection::Resync() {
    if (PQpipelineSync(conn_) == 0) return;
    ++tally_.waits;
    for (int nulls = 0; nulls < 4;) {
        PGresult* result = PQgetResult(conn_);
        if (result == nullptr) {
            ++nulls;
            continue;
        }
        const bool synced = PQresultStatus(result) == PGRES_PIPELINE_SYNC;
        PQclear(result);
        if (synced) return;
    }
}

Status Connection::Flush() {
    Status drained = SendHeld();
    if (pipelined() && owed_ > 0) {
        Deadline deadline(*this);
        Status read = SendAndDrain();
        if (drained) drained = std::move(read);
    }
    // A check on an answer read here or earlier (FailAtFlush) fails the change too.
    Status checked = TakeFailureAtFlush();
    return drained ? checked : drained;
}

void Connection::Push() {
    // In pipeline mode libpq keeps what is sent until its buffer fills; the server runs each
    // statement as it arrives, whether or not its answer is asked for.
    if (!pipelined()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sync_ < std::chrono::seconds(1)) {
        (void)PQflush(conn_);
        return;
    }
    // At most once a second, a sync point too: only there, outside a transaction, does the
    // server report the connection's table statistics, which autovacuum goes by. A connection
    // that never reaches one leaves every table's dead rows uncounted and unvacuumed.
    last_sync_ = now;
    Deadline deadline(*this);
    if (SendAndDrain()) Resync();
}

Status Connection::LeavePipeline() {
    if (!pipelined()) return OkStatus();
    Status drained = SendAndDrain();
    Resync();  // a sync point ends pipeline mode cleanly (open transactions stay open)
    if (PQexitPipelineMode(conn_) == 0 && drained) {
        drained = ResultError(nullptr, "cannot leave pipeline mode");
    }
    return drained;
}

Error Connection::ResultError(PGresult* result, std::string_view what) {
    ++tally_.errors;
    std::string message = std::string(what) + ": ";
    std::string sqlstate;
    if (result != nullptr) {
        message += Trimmed(PQresultErrorMessage(result));
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        if (state != nullptr) sqlstate = state;
        PQclear(result);
    } else {
        message += Trimmed(PQerrorMessage(conn_));
    }
    if (timed_out_) {
        message += " (no answer within " + std::to_string(AnswerTimeout().count()) +
                   " ms: the connection was dropped)";
    }
    return ErrorOf(sqlstate, std::move(message), Healthy());
}

Result<sql::Statement> Connection::Prepare(std::string_view sql) {
    ++statements_used_;
    auto it = statements_.find(sql);
    if (it != statements_.end()) return sql::Statement(it->second.get());
    Deadline deadline(*this);
    NR_RETURN_IF_ERROR(LeavePipeline());  // PQprepare is synchronous
    std::vector<bool> used;
    std::string text = ToPostgresParameters(sql, &used);
    // A parameter the text skips (one statement text serves several filters) has no type to
    // infer: say text, and it is never read.
    constexpr Oid kTextOid = 25;
    std::vector<Oid> types(used.size());
    for (size_t i = 0; i < used.size(); ++i) types[i] = used[i] ? 0 : kTextOid;
    const int num_params = int(used.size());
    std::string name = "nr" + std::to_string(statements_.size() + 1);
    ++tally_.waits;
    PGresult* prepared = PQprepare(conn_, name.c_str(), text.c_str(), num_params, types.data());
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
        return ResultError(prepared, "cannot prepare statement (" + std::string(sql) + ")");
    }
    PQclear(prepared);
    auto& cached = statements_[std::string(sql)] =
        std::make_unique<PgStatement>(*this, name, num_params);
    return sql::Statement(cached.get());
}

Status Connection::UseGenericPlans(bool on) {
    NR_ASSIGN_OR_RETURN(auto set, Prepare(on ? "SET LOCAL plan_cache_mode = force_generic_plan"
                                             : "SET LOCAL plan_cache_mode TO DEFAULT"));
    return set.Send();
}

Status Connection::RunNextAlone() {
    if (!pipelined()) return OkStatus();
    Deadline deadline(*this);
    return LeavePipeline();
}

Status Connection::Exec(const char* sql) {
    NR_RETURN_IF_ERROR(SendHeld());
    Deadline deadline(*this);
    NR_RETURN_IF_ERROR(LeavePipeline());  // PQexec is synchronous
    ++tally_.waits;
    PGresult* result = PQexec(conn_, sql);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        return ResultError(result, "statement failed");
    }
    PQclear(result);
    return OkStatus();
}

}  // namespace noderepair::storage::postgres
