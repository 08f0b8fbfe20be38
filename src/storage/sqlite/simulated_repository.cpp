#include <unordered_map>

#include "storage/sqlite/repositories.hpp"
#include "storage/sqlite/rows.hpp"

namespace noderepair::storage::sqlite {

using model::Remediation;
using model::State;

Result<std::optional<SimOperation>> SqliteSimulated::GetOperation(const std::string& key) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT key, action, instance_id, host_name, "
                                                 "target_host, num_gpus, ready_at, applied FROM "
                                                 "sim_operations WHERE key = ?1"));
    stmt.Bind(1, key);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<SimOperation>();
    SimOperation op{stmt.Text(0),
                    stmt.Text(1),
                    stmt.Text(2),
                    stmt.Text(3),
                    stmt.Text(4),
                    int(stmt.Int(5)),
                    FromMicros(stmt.Int(6)),
                    stmt.Int(7) != 0};
    return std::optional<SimOperation>(std::move(op));
}

Status SqliteSimulated::PutOperation(const SimOperation& op) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT OR REPLACE INTO sim_operations(key, action, "
                                      "instance_id, host_name, target_host, num_gpus, "
                                      "ready_at, applied) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
                                      "?7, ?8)"));
    stmt.Bind(1, op.key)
        .Bind(2, op.action)
        .BindOptional(3, op.instance_id)
        .BindOptional(4, op.host)
        .BindOptional(5, op.target_host)
        .Bind(6, int64_t(op.num_gpus))
        .Bind(7, ToMicros(op.ready_at))
        .Bind(8, int64_t(op.applied));
    return stmt.Run();
}

}  // namespace noderepair::storage::sqlite
