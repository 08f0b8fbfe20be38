#include <unordered_map>

#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {

using model::Remediation;
using model::State;

Result<std::optional<model::HealthCheckRun>> SqlHealthChecks::Get(const std::string& id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(std::string("SELECT ") + kRunColumns +
                                                 " FROM health_check_runs WHERE id = ?1"));
    stmt.Bind(1, id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::HealthCheckRun>();
    return std::optional<model::HealthCheckRun>(ReadRun(stmt));
}

Result<std::vector<model::HealthCheckRun>> SqlHealthChecks::ListForInstance(
    const std::string& instance_id, int limit) {
    return Runs(std::string("SELECT ") + kRunColumns +
                    " FROM health_check_runs WHERE instance_id = ?1 ORDER BY create_time "
                    "DESC, id DESC LIMIT ?2",
                instance_id, limit);
}

Result<std::vector<model::HealthCheckRun>> SqlHealthChecks::ListRunning(int limit) {
    return Runs(std::string("SELECT ") + kRunColumns +
                    " FROM health_check_runs WHERE state = 1 AND ?1 = ?1 ORDER BY "
                    "create_time LIMIT ?2",
                "", limit);
}

Result<std::vector<model::HealthCheckRun>> SqlHealthChecks::ListWaiting(int limit) {
    return Runs(std::string("SELECT ") + kRunColumns +
                    " FROM health_check_runs WHERE waiting = 1 AND ?1 = ?1 ORDER BY "
                    "create_time LIMIT ?2",
                "", limit);
}

Status SqlHealthChecks::Put(const model::HealthCheckRun& r) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(UpsertSql("health_check_runs", kRunColumns, "id")));
    stmt.Bind(1, r.id)
        .Bind(2, r.cluster_id)
        .Bind(3, r.instance_id)
        .Bind(4, int64_t(r.state))
        .Bind(5, EncodeTests(r.tests))
        .Bind(6, ToMicros(r.create_time))
        .Bind(7, r.end_time)
        .BindOptional(8, r.remediation_id)
        .Bind(9, int64_t(r.waiting));
    return stmt.Send();
}

Result<std::vector<model::HealthCheckRun>> SqlHealthChecks::Runs(const std::string& sql,
                                                                 const std::string& arg,
                                                                 int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, arg).Bind(2, int64_t(limit));
    return stmt.Rows(ReadRun);
}

}  // namespace noderepair::storage::sql
