// Opens the backend a database URL names: `sqlite:PATH`, or a PostgreSQL URI
// (`postgres://USER[:PASSWORD]@HOST:PORT/DBNAME`, also `postgresql://`).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.hpp"
#include "common/time.hpp"
#include "storage/store.hpp"

namespace noderepair::storage {

struct StoreOptions {
    // Most changes one group commit takes; 1 turns group commit off (for measurements).
    int max_batch = 1024;
    // Writes of HTTP requests waiting for a batch; past it such a write fails with UNAVAILABLE
    // at once (docs/http-api.md 10). Background writes are not counted against it.
    size_t max_queued_writes = 1024;
    // What stamps audit records; null: the system clock.
    const Clock* clock = nullptr;
    // PostgreSQL: writer connections, each group-committing its own batches (SQLite has one).
    int writers = 1;
    // A throw-away database (the policy replay's scratch store): no fsync and no audit chain.
    // SQLite only; never for a database whose changes are acknowledged to anyone.
    bool throwaway = false;
};

Result<std::unique_ptr<Store>> OpenStore(const std::string& db_url, StoreOptions options = {});

// For the server (docs/design.md 12): a PostgreSQL call that waits on the server longer than
// `timeout` has its connection dropped and fails UNAVAILABLE, so a replica cut off from the
// database answers within seconds. Process-wide; zero (the default, for the CLI's long
// one-off work such as `db copy`) waits as long as libpq does.
void SetDatabaseAnswerTimeout(std::chrono::milliseconds timeout);

}  // namespace noderepair::storage
