#include "storage/sqlite/connection.hpp"

#include <string>

#include "storage/sqlite/wal_write_buffer.hpp"

namespace noderepair::storage::sqlite {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
    std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PROTOCOL:
            return Unavailable("storage unavailable: " + message);
        case SQLITE_CONSTRAINT:
            if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
                return AlreadyExists(message);
            }
            return Internal(message);
        default:
            return Internal(message);
    }
}

Result<bool> SqliteStatement::Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3* db = sqlite3_db_handle(stmt_);
    return SqliteError(db, sqlite3_extended_errcode(db), "query failed");
}

std::string SqliteStatement::Text(int column) const {
    const auto* text = sqlite3_column_text(stmt_, column);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       size_t(sqlite3_column_bytes(stmt_, column)));
}

namespace {

// SQLite counts every allocation of the process under one mutex unless told not to; no one
// reads those counts here, and threads writing to stores of their own (the policy replay's
// partitions) took turns on that mutex for each malloc (bench/RESULTS.md), as the writer does
// with the readers. Process-wide, and only before SQLite is first used, hence once, before
// anything else here touches SQLite: registering the WAL write buffer's VFS is a first use too.
void TurnOffAllocationCounts() {
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::OpenWith(const std::string& path, int flags,
                                                         const char* vfs) {
    TurnOffAllocationCounts();
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        Error error = SqliteError(db, rc, "cannot open database " + path);
        sqlite3_close(db);
        return error;
    }
    std::unique_ptr<Connection> conn(new Connection(db));
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    NR_RETURN_IF_ERROR(conn->Exec("PRAGMA cache_size=-32768"));
    return conn;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     bool gather_wal_writes) {
    TurnOffAllocationCounts();  // before the VFS below registers
    NR_ASSIGN_OR_RETURN(auto conn, OpenWith(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                            gather_wal_writes ? WalWriteBufferVfs() : nullptr));
    // WAL lets readers run beside the one writer; FULL syncs the WAL on every commit so an
    // acknowledged change survives a power cut, not only a crash (docs/http-api.md 4.1).
    NR_RETURN_IF_ERROR(conn->Exec("PRAGMA journal_mode=WAL"));
    NR_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=FULL"));
    NR_RETURN_IF_ERROR(conn->Exec("PRAGMA foreign_keys=ON"));
    return conn;
}

Result<std::unique_ptr<Connection>> Connection::OpenReadOnly(const std::string& path) {
    return OpenWith(path, SQLITE_OPEN_READONLY);
}

Connection::~Connection() {
    statements_.clear();
    sqlite3_close_v2(db_);
}

Result<sql::Statement> Connection::Prepare(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return sql::Statement(it->second.get());
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "cannot prepare statement");
    auto& cached = statements_[std::string(sql)] = std::make_unique<SqliteStatement>(stmt);
    return sql::Statement(cached.get());
}

Status Connection::Exec(const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string what = message ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return SqliteError(nullptr, rc, what);
    }
    return OkStatus();
}

}  // namespace noderepair::storage::sqlite
