#include "storage/open.hpp"

#include "storage/postgres/pg_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace noderepair::storage {

Result<std::unique_ptr<Store>> OpenStore(const std::string& db_url, StoreOptions options) {
    constexpr std::string_view kSqlite = "sqlite:";
    if (db_url.starts_with(kSqlite)) {
        std::string path = db_url.substr(kSqlite.size());
        if (path.empty()) return InvalidArgument("--db sqlite: needs a file path");
        NR_ASSIGN_OR_RETURN(auto store, sqlite::SqliteStore::Open(
                                            path, options.max_batch, options.max_queued_writes,
                                            options.clock, options.throwaway));
        return std::unique_ptr<Store>(std::move(store));
    }
    if (db_url.starts_with("postgres://") || db_url.starts_with("postgresql://")) {
        NR_ASSIGN_OR_RETURN(auto store, postgres::PgStore::Open(db_url, options.max_batch,
                                                                options.max_queued_writes,
                                                                options.clock, options.writers));
        return std::unique_ptr<Store>(std::move(store));
    }
    return InvalidArgument("unsupported --db '" + db_url +
                           "': use sqlite:PATH or postgres://USER[:PASSWORD]@HOST:PORT/DBNAME");
}

void SetDatabaseAnswerTimeout(std::chrono::milliseconds timeout) {
    postgres::Connection::SetAnswerTimeout(timeout);
}

}  // namespace noderepair::storage
