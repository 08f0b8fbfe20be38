// The SQLite schema: versioned migrations, applied in order under one write transaction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.hpp"
#include "storage/sqlite/connection.hpp"

namespace noderepair::storage::sqlite {

// Brings the database to this binary's schema version (or to `target`, for tests of an
// upgrade); refuses a newer one.
Status Migrate(Connection& conn, size_t target = SIZE_MAX);

}  // namespace noderepair::storage::sqlite
