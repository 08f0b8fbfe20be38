// `noderepair db copy`: moves a whole installation from a SQLite file to a PostgreSQL
// database — inventory, remediations and their timelines, engine jobs, alerts, health check
// runs, tokens, settings, the simulated fleet and the audit chain, unchanged — in one read
// snapshot of the source and one transaction on the target.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace noderepair::storage {

struct CopiedTable {
    std::string table;
    int64_t rows = 0;
};

// `from`: sqlite:PATH (the file must exist; a running server may be using it). `to`: a
// postgres:// URI of a database with no noderepair data (migrated here if empty); a target
// holding any is refused with FAILED_PRECONDITION and left unchanged.
Result<std::vector<CopiedTable>> CopyDatabase(const std::string& from, const std::string& to);

}  // namespace noderepair::storage
