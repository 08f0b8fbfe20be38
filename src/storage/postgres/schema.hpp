// The PostgreSQL schema and its migrations, run under an advisory lock so several servers
// starting together on an empty database migrate it exactly once.
#pragma once

#include "storage/postgres/connection.hpp"

namespace noderepair::storage::postgres {

Status Migrate(Connection& conn);

}  // namespace noderepair::storage::postgres
