// Opens the backend a database URL names: `sqlite:PATH`, or a PostgreSQL URI
// (`postgres://USER[:PASSWORD]@HOST:PORT/DBNAME`, also `postgresql://`).
#pragma once

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
};

Result<std::unique_ptr<Store>> OpenStore(const std::string& db_url, StoreOptions options = {});

}  // namespace noderepair::storage
