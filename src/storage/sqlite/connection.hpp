// The SQLite connection behind the shared repositories: a thin RAII layer over the SQLite C
// API, its cached prepared statements, and SQLite result codes turned into Errors. Not
// thread-safe: one thread uses it at a time.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "storage/sql/connection.hpp"

namespace noderepair::storage::sqlite {

class SqliteStatement final : public sql::StatementImpl {
public:
    explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
    ~SqliteStatement() override { sqlite3_finalize(stmt_); }
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    void BindInt(int index, int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
    void BindText(int index, std::string_view text) override {
        sqlite3_bind_text(stmt_, index, text.data(), int(text.size()), SQLITE_TRANSIENT);
    }
    void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }
    Result<bool> Step() override;
    int64_t Int(int column) const override { return sqlite3_column_int64(stmt_, column); }
    bool IsNull(int column) const override {
        return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
    }
    std::string Text(int column) const override;
    int Changes() const override { return sqlite3_changes(sqlite3_db_handle(stmt_)); }
    void Reset() override {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

private:
    sqlite3_stmt* stmt_;
};

class Connection final : public sql::Connection {
public:
    // `gather_wal_writes`: through WalWriteBufferVfs(), for a connection that keeps
    // synchronous=FULL (the store's writer; wal_write_buffer.hpp says why only there).
    static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                    bool gather_wal_writes = false);
    // SQLITE_OPEN_READONLY: any write through it fails (policy replay's source).
    static Result<std::unique_ptr<Connection>> OpenReadOnly(const std::string& path);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    sql::Dialect dialect() const override { return sql::Dialect::kSqlite; }
    Result<sql::Statement> Prepare(std::string_view sql) override;
    Status Exec(const char* sql) override;
    sqlite3* handle() { return db_; }

private:
    explicit Connection(sqlite3* db) : db_(db) {}
    static Result<std::unique_ptr<Connection>> OpenWith(const std::string& path, int flags,
                                                        const char* vfs = nullptr);
    sqlite3* db_;
    // Declared after db_ so they are finalized before the database closes.
    sql::PreparedStatements<SqliteStatement> statements_;
};

// The Error for a failed SQLite call: busy and I/O troubles are Unavailable (retry later),
// a uniqueness violation is AlreadyExists, the rest Internal.
Error SqliteError(sqlite3* db, int rc, std::string_view what);

}  // namespace noderepair::storage::sqlite
