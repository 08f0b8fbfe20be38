// The PostgreSQL backend: the shared group-committing store over libpq connections to a
// site's server. Several writer connections each commit their own batches, each one READ
// COMMITTED transaction (row locks, Txn::SerializeAutomation and the audit head's lock keep
// what they share exact, as between replicas: docs/design.md 12); reads run in REPEATABLE READ,
// READ ONLY transactions, so every statement of one read sees one snapshot. A lost connection is
// replaced on the next batch or read; meanwhile they fail with UNAVAILABLE.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "storage/postgres/connection.hpp"
#include "storage/sql/sql_store.hpp"

namespace noderepair::storage::postgres {

class PgStore final : public sql::SqlStore {
public:
    // `uri`: a libpq URI (postgres://USER[:PASSWORD]@HOST:PORT/DBNAME) or connection string.
    // `writers`: writer connections, each group-committing its own batches.
    static Result<std::unique_ptr<PgStore>> Open(const std::string& uri, int max_batch,
                                                 size_t max_queued_writes = 1024,
                                                 const Clock* clock = nullptr,
                                                 int writers = kDefaultWriters);
    static constexpr int kDefaultWriters = 1;
    ~PgStore() override;

protected:
    Result<std::unique_ptr<sql::Connection>> Connect() override;
    const char* BeginWrite() const override { return "BEGIN"; }
    const char* BeginRead() const override {
        return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    }
    // Folds the remediation count deltas about once a second, so reads of the counts add up a
    // few thousand rows at most.
    Status BeforeCommit(sql::Connection& writer) override;

private:
    PgStore(std::string uri, std::unique_ptr<Connection> writer, int max_batch,
            size_t max_queued_writes, const Clock* clock, int writers);
    const std::string uri_;
    std::chrono::steady_clock::time_point last_fold_{};  // under SqlStore's commit turn
};

}  // namespace noderepair::storage::postgres
