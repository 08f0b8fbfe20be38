// A database's recorded history, opened read-only, for `policy replay` (docs/http-api.md 11):
// SQLite opened with SQLITE_OPEN_READONLY, PostgreSQL inside a READ ONLY transaction; either
// way one snapshot, and nothing can be written through it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/alert.hpp"
#include "model/health_check.hpp"
#include "model/remediation.hpp"
#include "storage/alerts.hpp"
#include "storage/inventory.hpp"

namespace noderepair::storage {

namespace sql {
class Connection;
}

class History {
public:
    // `db_url`: sqlite:PATH (which must exist) or a PostgreSQL URI.
    static Result<std::unique_ptr<History>> Open(const std::string& db_url);
    ~History();
    History(const History&) = delete;
    History& operator=(const History&) = delete;

    // Every cluster (with its worker nodes and automation) and host.
    Result<FleetImport> Fleet();
    // Remediations created at or after `since`, oldest first (linked alerts not attached).
    Result<std::vector<model::Remediation>> Remediations(Timestamp since);
    // As AlertReads::ListOccurrences.
    Result<std::vector<SignalOccurrence>> Occurrences(Timestamp since, int64_t after_seq,
                                                      int limit);
    Result<std::optional<model::Alert>> Alert(const std::string& id);
    Result<std::optional<model::HealthCheckRun>> Run(const std::string& id);

private:
    explicit History(std::unique_ptr<sql::Connection> conn);

    std::unique_ptr<sql::Connection> conn_;
};

}  // namespace noderepair::storage
