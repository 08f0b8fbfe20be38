// A thin RAII layer over the SQLite C API: one connection, its cached prepared statements,
// and SQLite result codes turned into Errors. Not thread-safe: one thread uses it at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage::sqlite {

// A prepared statement borrowed from its connection's cache; reset when it goes away.
class Statement {
public:
    explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
    Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    ~Statement();

    Statement& Bind(int index, int64_t value);
    Statement& Bind(int index, std::string_view text);
    Statement& Bind(int index, std::optional<Timestamp> time);  // null when unset
    Statement& BindNull(int index);
    // Empty text is stored as NULL (docs/http-api.md 2: unset fields are omitted).
    Statement& BindOptional(int index, std::string_view text);

    // True while there is a row to read.
    Result<bool> Step();
    // Runs a statement that returns no rows.
    Status Run();
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

    int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
    bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
    std::string Text(int column) const;
    std::optional<Timestamp> Time(int column) const;
    int Changes() const { return sqlite3_changes(sqlite3_db_handle(stmt_)); }

private:
    sqlite3_stmt* stmt_;
};

class Connection {
public:
    static Result<std::unique_ptr<Connection>> Open(const std::string& path);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Prepares once per connection and SQL text, then reuses.
    Result<Statement> Prepare(const std::string& sql);
    Status Exec(const char* sql);
    sqlite3* handle() { return db_; }

private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// The Error for a failed SQLite call: busy and I/O troubles are Unavailable (retry later),
// a uniqueness violation is AlreadyExists, the rest Internal.
Error SqliteError(sqlite3* db, int rc, std::string_view what);

}  // namespace noderepair::storage::sqlite
