// The SQLite schema: versioned migrations, applied in order under one write transaction.
#pragma once

#include "common/status.hpp"
#include "storage/sqlite/connection.hpp"

namespace noderepair::storage::sqlite {

// Brings the database to this binary's schema version; refuses a newer one.
Status Migrate(Connection& conn);

}  // namespace noderepair::storage::sqlite
