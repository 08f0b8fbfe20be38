#include <algorithm>

#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {
namespace {

Result<std::vector<SimVm>> ReadVms(Statement& stmt) {
    std::vector<SimVm> vms;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        vms.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2)});
    }
    return vms;
}

}  // namespace

Result<std::optional<SimOperation>> SqlSimulated::GetOperation(const std::string& key) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT key, action, instance_id, host_name, ready_at, "
                                      "applied FROM sim_operations WHERE key = ?1"));
    stmt.Bind(1, key);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<SimOperation>();
    return std::optional<SimOperation>(SimOperation{stmt.Text(0), stmt.Text(1), stmt.Text(2),
                                                    stmt.Text(3), FromMicros(stmt.Int(4)),
                                                    stmt.Int(5) != 0});
}

Status SqlSimulated::PutOperation(const SimOperation& op) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO sim_operations(key, action, instance_id, "
                                      "host_name, target_host, num_gpus, ready_at, applied) "
                                      "VALUES(?1, ?2, ?3, ?4, NULL, 0, ?5, ?6) ON CONFLICT(key) "
                                      "DO UPDATE SET action = excluded.action, instance_id = "
                                      "excluded.instance_id, host_name = excluded.host_name, "
                                      "ready_at = excluded.ready_at, applied = excluded.applied"));
    stmt.Bind(1, op.key)
        .Bind(2, op.action)
        .BindOptional(3, op.instance_id)
        .BindOptional(4, op.host)
        .Bind(5, ToMicros(op.ready_at))
        .Bind(6, int64_t(op.applied));
    return stmt.Send();
}

Result<std::vector<SimVm>> SqlSimulated::ListVms() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT vm_id, instance_id, host_name "
                                                 "FROM sim_vms ORDER BY instance_id, vm_id"));
    return ReadVms(stmt);
}

Result<std::vector<SimVm>> SqlSimulated::ListVmsOfInstance(const std::string& instance_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT vm_id, instance_id, host_name "
                                                 "FROM sim_vms WHERE instance_id = ?1 ORDER BY "
                                                 "vm_id"));
    stmt.Bind(1, instance_id);
    return ReadVms(stmt);
}

Result<bool> SqlSimulated::IsHostDegraded(const std::string& host_name) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT 1 FROM sim_hosts WHERE host_name = ?1 "
                                                 "AND degraded = 1"));
    stmt.Bind(1, host_name);
    return stmt.Step();
}

Result<std::vector<SimFault>> SqlSimulated::ListFaults(const std::string& instance_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT fingerprint, instance_id, labels, "
                                                 "annotations, started_at FROM sim_faults WHERE "
                                                 "instance_id = ?1 ORDER BY fingerprint"));
    stmt.Bind(1, instance_id);
    std::vector<SimFault> faults;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        faults.push_back({stmt.Text(0), stmt.Text(1), DecodeMap(stmt.Text(2)),
                          DecodeMap(stmt.Text(3)), FromMicros(stmt.Int(4))});
    }
    return faults;
}

Status SqlSimulated::Adopt(const std::vector<SimInstance>& instances) {
    return InBatches(instances, [&](std::span<const SimInstance> rows) -> Status {
        NR_ASSIGN_OR_RETURN(auto known,
                            conn_.Prepare("INSERT INTO sim_instances(instance_id) VALUES" +
                                          ValuesRows(1, rows.size()) +
                                          " ON CONFLICT DO NOTHING RETURNING instance_id"));
        for (size_t i = 0; i < rows.size(); ++i) known.Bind(int(i) + 1, rows[i].instance_id);
        NR_ASSIGN_OR_RETURN(auto first_seen, FirstColumn(known));
        std::sort(first_seen.begin(), first_seen.end());  // RETURNING has no order
        // A VM for each instance seen for the first time that has a host.
        std::vector<SimVm> vms;
        for (const auto& instance : rows) {
            if (instance.host_name.empty() ||
                !std::binary_search(first_seen.begin(), first_seen.end(), instance.instance_id)) {
                continue;
            }
            vms.push_back({"vm-" + instance.instance_id, instance.instance_id, instance.host_name});
        }
        return InBatches(vms, [&](std::span<const SimVm> batch) -> Status {
            NR_ASSIGN_OR_RETURN(auto stmt,
                                conn_.Prepare(UpsertSql("sim_vms", "vm_id, instance_id, host_name",
                                                        "vm_id", batch.size())));
            int p = 1;
            for (const auto& vm : batch) {
                stmt.Bind(p, vm.vm_id).Bind(p + 1, vm.instance_id).Bind(p + 2, vm.host_name);
                p += 3;
            }
            return stmt.Send();
        });
    });
}

Status SqlSimulated::PutVm(const SimVm& vm) {
    NR_ASSIGN_OR_RETURN(
        auto stmt, conn_.Prepare(UpsertSql("sim_vms", "vm_id, instance_id, host_name", "vm_id")));
    stmt.Bind(1, vm.vm_id).Bind(2, vm.instance_id).Bind(3, vm.host_name);
    return stmt.Send();
}

Status SqlSimulated::DeleteVm(const std::string& vm_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("DELETE FROM sim_vms WHERE vm_id = ?1"));
    stmt.Bind(1, vm_id);
    return stmt.Send();
}

Status SqlSimulated::SetHostDegraded(const std::string& host_name, bool degraded) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO sim_hosts(host_name, degraded) VALUES(?1, ?2) "
                                      "ON CONFLICT(host_name) DO UPDATE SET degraded = "
                                      "excluded.degraded"));
    stmt.Bind(1, host_name).Bind(2, int64_t(degraded));
    return stmt.Run();
}

// The first raise stays: a repeat of a firing alert refreshes its occurrence, which keeps the
// first start time, and resolving it must name that start.
Status SqlSimulated::PutFault(const SimFault& fault) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO sim_faults(fingerprint, "
                                      "instance_id, labels, annotations, started_at) "
                                      "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING"));
    stmt.Bind(1, fault.fingerprint)
        .Bind(2, fault.instance_id)
        .Bind(3, EncodeMap(fault.labels))
        .Bind(4, EncodeMap(fault.annotations))
        .Bind(5, ToMicros(fault.started_at));
    return stmt.Send();
}

Status SqlSimulated::DeleteFaults(const std::string& instance_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("DELETE FROM sim_faults WHERE instance_id = ?1"));
    stmt.Bind(1, instance_id);
    return stmt.Send();
}

}  // namespace noderepair::storage::sql
