// The PostgreSQL schema and its migrations, run under an advisory lock so several servers
// starting together on an empty database migrate it exactly once.
#pragma once

#include "storage/postgres/connection.hpp"

namespace noderepair::storage::postgres {

Status Migrate(Connection& conn);

// Moves the remediation count deltas into the counts (one statement; safe beside other
// writers: each delta is deleted, and so added, by one of them).
const char* FoldCountsSql();

}  // namespace noderepair::storage::postgres
