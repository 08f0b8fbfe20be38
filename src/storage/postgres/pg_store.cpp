#include "storage/postgres/pg_store.hpp"

#include <utility>

#include "storage/postgres/schema.hpp"

namespace noderepair::storage::postgres {

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& uri, int max_batch,
                                               size_t max_queued_writes, const Clock* clock,
                                               int writers) {
    NR_ASSIGN_OR_RETURN(auto writer, Connection::Open(uri));
    NR_RETURN_IF_ERROR(Migrate(*writer));
    return std::unique_ptr<PgStore>(
        new PgStore(uri, std::move(writer), max_batch, max_queued_writes, clock, writers));
}

PgStore::PgStore(std::string uri, std::unique_ptr<Connection> writer, int max_batch,
                 size_t max_queued_writes, const Clock* clock, int writers)
    : SqlStore(std::move(writer), max_batch, max_queued_writes, clock), uri_(std::move(uri)) {
    ReadOneStatementAlone();
    StartWriter(writers);
}

PgStore::~PgStore() { Close(); }

Status PgStore::BeforeCommit(sql::Connection& writer) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_fold_ < std::chrono::seconds(1)) return OkStatus();
    last_fold_ = now;
    NR_ASSIGN_OR_RETURN(auto fold, writer.Prepare(FoldCountsSql()));
    return fold.Send();
}

Result<std::unique_ptr<sql::Connection>> PgStore::Connect() {
    NR_ASSIGN_OR_RETURN(auto conn, Connection::Open(uri_));
    return std::unique_ptr<sql::Connection>(std::move(conn));
}

}  // namespace noderepair::storage::postgres
