#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {
namespace {

constexpr int64_t kDayMicros = int64_t(86400) * 1000000;

int64_t Micros(std::chrono::milliseconds d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

Result<std::vector<ReplicaRecord>> SqlReplicas::List() {
    const std::string now = DatabaseNowMicros(conn_.dialect());
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("SELECT r.id, r.started_at, r.last_seen, CASE WHEN l.replica_id = r.id AND "
                      "l.lease_until >= " +
                      now +
                      " THEN 1 ELSE 0 END FROM replicas r LEFT JOIN replica_leader l ON l.id = 1 "
                      "WHERE r.last_seen >= " +
                      now + " - ?1 ORDER BY r.id"));
    stmt.Bind(1, kDayMicros);
    return stmt.Rows([](const Statement& s) {
        return ReplicaRecord{s.Text(0), FromMicros(s.Int(1)), FromMicros(s.Int(2)), s.Int(3) != 0};
    });
}

Status SqlReplicas::Register(const std::string& id) {
    const std::string now = DatabaseNowMicros(conn_.dialect());
    NR_ASSIGN_OR_RETURN(
        auto upsert, conn_.Prepare("INSERT INTO replicas(id, started_at, last_seen) VALUES(?1, " +
                                   now + ", " + now +
                                   ") ON CONFLICT(id) DO UPDATE SET started_at = "
                                   "excluded.started_at, last_seen = excluded.last_seen"));
    upsert.Bind(1, id);
    NR_RETURN_IF_ERROR(upsert.Send());
    // Replicas gone for a day are forgotten, so the list does not grow with every address a
    // replica ever had.
    NR_ASSIGN_OR_RETURN(auto prune,
                        conn_.Prepare("DELETE FROM replicas WHERE last_seen < " + now + " - ?1"));
    prune.Bind(1, kDayMicros);
    return prune.Send();
}

Result<bool> SqlReplicas::Heartbeat(const std::string& id, bool lead,
                                    std::chrono::milliseconds lease) {
    const std::string now = DatabaseNowMicros(conn_.dialect());
    NR_ASSIGN_OR_RETURN(auto seen,
                        conn_.Prepare("UPDATE replicas SET last_seen = " + now + " WHERE id = ?1"));
    seen.Bind(1, id);
    NR_RETURN_IF_ERROR(seen.Send());
    if (!lead) return false;
    // Taken when free or expired, renewed when ours; the row is locked by the upsert, so two
    // replicas contending see each other's outcome, never both win.
    NR_ASSIGN_OR_RETURN(
        auto take,
        conn_.Prepare("INSERT INTO replica_leader(id, replica_id, lease_until) VALUES(1, ?1, " +
                      now +
                      " + ?2) ON CONFLICT(id) DO UPDATE SET replica_id = excluded.replica_id, "
                      "lease_until = excluded.lease_until WHERE replica_leader.replica_id = "
                      "excluded.replica_id OR replica_leader.lease_until < " +
                      now + " RETURNING replica_id"));
    take.Bind(1, id).Bind(2, Micros(lease));
    NR_ASSIGN_OR_RETURN(auto rows, take.Rows([](const Statement& s) { return s.Text(0); }));
    return !rows.empty() && rows[0] == id;
}

Status SqlReplicas::Resign(const std::string& id) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("DELETE FROM replica_leader WHERE replica_id = ?1"));
    stmt.Bind(1, id);
    return stmt.Send();
}

Result<std::vector<HostPowerReading>> SqlReplicas::ListHostPower() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT host_name, power, read_at FROM host_power "
                                                 "ORDER BY host_name"));
    return stmt.Rows([](const Statement& row) {
        return HostPowerReading{row.Text(0), row.Text(1), FromMicros(row.Int(2))};
    });
}

Status SqlReplicas::PutHostPower(const std::string& host_name, std::string_view power) {
    const std::string now = DatabaseNowMicros(conn_.dialect());
    NR_ASSIGN_OR_RETURN(
        auto stmt, conn_.Prepare("INSERT INTO host_power(host_name, power, read_at) VALUES(?1, "
                                 "?2, " +
                                 now +
                                 ") ON CONFLICT(host_name) DO UPDATE SET power = "
                                 "excluded.power, read_at = excluded.read_at"));
    stmt.Bind(1, host_name).Bind(2, power);
    return stmt.Send();
}

}  // namespace noderepair::storage::sql
