#include "storage/history.hpp"

#include <filesystem>
#include <utility>

#include "storage/postgres/connection.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sqlite/connection.hpp"

namespace noderepair::storage {

History::History(std::unique_ptr<sql::Connection> conn) : conn_(std::move(conn)) {}

History::~History() {
    // A read-only transaction has nothing to keep: ending it only lets go of the snapshot.
    if (conn_) (void)conn_->Exec("ROLLBACK");
}

Result<std::unique_ptr<History>> History::Open(const std::string& db_url) {
    constexpr std::string_view kSqlite = "sqlite:";
    std::unique_ptr<sql::Connection> conn;
    if (db_url.starts_with(kSqlite)) {
        const std::string path = db_url.substr(kSqlite.size());
        std::error_code error;
        if (path.empty() || !std::filesystem::exists(path, error)) {
            return NotFound("database " + db_url + " does not exist");
        }
        NR_ASSIGN_OR_RETURN(conn, sqlite::Connection::OpenReadOnly(path));
        NR_RETURN_IF_ERROR(conn->Exec("BEGIN"));
    } else if (db_url.starts_with("postgres://") || db_url.starts_with("postgresql://")) {
        NR_ASSIGN_OR_RETURN(conn, postgres::Connection::Open(db_url));
        NR_RETURN_IF_ERROR(
            conn->Exec("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    } else {
        return InvalidArgument("--db must be sqlite:PATH or a postgres:// URI, got '" + db_url +
                               "'");
    }
    std::unique_ptr<History> history(new History(std::move(conn)));
    // A database no server has migrated to the signal history has nothing to replay, and a
    // read-only open cannot migrate it.
    if (!history->conn_->Prepare("SELECT seq FROM signal_occurrences LIMIT 1")) {
        return FailedPrecondition("database " + db_url +
                                  " keeps no signal history yet: start this version's server "
                                  "on it once, and replay the signals recorded from then on");
    }
    return history;
}

Result<FleetImport> History::Fleet() {
    sql::SqlInventory inventory(*conn_, nullptr);
    FleetImport fleet;
    NR_ASSIGN_OR_RETURN(auto clusters, inventory.ListClusters());
    for (const auto& listed : clusters) {
        NR_ASSIGN_OR_RETURN(auto cluster, inventory.GetCluster(listed.cluster_id));
        if (cluster) fleet.clusters.push_back(*std::move(cluster));
    }
    NR_ASSIGN_OR_RETURN(fleet.hosts, inventory.ListHosts());
    return fleet;
}

Result<std::vector<model::Remediation>> History::Remediations(Timestamp since) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_->Prepare(std::string("SELECT ") + sql::kRemediationColumns +
                                       " FROM remediations WHERE create_time >= ?1 ORDER BY "
                                       "create_time, id"));
    stmt.Bind(1, ToMicros(since));
    return stmt.Rows([](const sql::Statement& s) { return sql::ReadRemediation(s); });
}

Result<std::vector<SignalOccurrence>> History::Occurrences(Timestamp since, int64_t after_seq,
                                                           int limit) {
    sql::SqlAlerts alerts(*conn_);
    return alerts.ListOccurrences(since, after_seq, limit);
}

Result<std::optional<model::Alert>> History::Alert(const std::string& id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_->Prepare(std::string("SELECT ") + sql::kAlertColumns +
                                                  " FROM alerts WHERE id = ?1"));
    stmt.Bind(1, id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::Alert>();
    return std::optional<model::Alert>(sql::ReadAlert(stmt));
}

Result<std::optional<model::HealthCheckRun>> History::Run(const std::string& id) {
    sql::SqlHealthChecks runs(*conn_);
    return runs.Get(id);
}

}  // namespace noderepair::storage
