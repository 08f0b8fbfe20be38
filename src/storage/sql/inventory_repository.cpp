#include <algorithm>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/json.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {

using model::Remediation;
using model::State;

namespace {

// What ReadInstance reads, in its order.
constexpr const char* kInstanceColumns =
    "instance_id, cluster_id, instance_name, num_gpus, host_name, status, auto_repair";

// One instance by `where`, its text built once per statement: a lookup per alert on the
// ingest path (docs/http-api.md 5, "Ingest rate") builds no string.
std::string OneInstanceSql(const char* where) {
    return std::string("SELECT ") + kInstanceColumns + " FROM instances WHERE " + where +
           " LIMIT 1";
}

// What ReadHost reads, in its order: a host without its instances.
constexpr const char* kHostColumns = "host_name, gpu_slots, cordoned, rack, suspect";

model::Host ReadHost(const Statement& s) {
    model::Host host{s.Text(0), int(s.Int(1)), 0, s.Int(2) != 0, {}, ""};
    host.rack = s.Text(3);
    host.suspect = s.Text(4);
    return host;
}

}  // namespace

Status ReadAheadInstances(Connection& conn, const std::vector<std::string>& instance_ids,
                          BatchReads& reads) {
    // Every id, with its instance (if any) and its active remediation (if any). The lateral
    // subqueries keep their columns apart (both tables have instance_id and cluster_id), and
    // their LIMIT keeps each one an index lookup per id: without it the planner joins the
    // whole remediations table by hash, a scan that grows with history (11 ms at 13,000 rows).
    static const std::string sql =
        std::string(
            "SELECT k.id, i.*, r.* FROM json_array_elements_text(CAST(?1 AS json)) AS "
            "k(id) LEFT JOIN LATERAL (SELECT ") +
        kInstanceColumns +
        " FROM instances WHERE instance_id = k.id LIMIT 1) i ON true LEFT JOIN LATERAL (SELECT " +
        kRemediationColumns +
        " FROM remediations WHERE instance_id = k.id AND state NOT IN (6, 7, 8, 9) LIMIT 1) r "
        "ON true";
    constexpr int kFirstRemediationColumn = 8;  // after k.id and the seven of kInstanceColumns
    NR_ASSIGN_OR_RETURN(auto stmt, conn.Prepare(sql));
    stmt.Bind(1, JsonArray(instance_ids));
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return OkStatus();
        BatchReads::Entry entry;
        if (!stmt.IsNull(1)) entry.instance = SqlInventory::ReadInstance(stmt, 1);
        if (!stmt.IsNull(kFirstRemediationColumn)) {
            entry.active = ReadRemediation(stmt, kFirstRemediationColumn);
        }
        reads.instances.emplace(stmt.Text(0), std::move(entry));
    }
}

Result<std::optional<model::Instance>> SqlInventory::GetInstance(const std::string& instance_id) {
    if (reads_ != nullptr) {
        if (const auto* ahead = reads_->Find(instance_id)) return ahead->instance;
    }
    static const std::string sql = OneInstanceSql("instance_id = ?1");
    return OneInstance(sql, instance_id);
}

Result<std::vector<model::Instance>> SqlInventory::GetInstances(
    const std::vector<std::string>& instance_ids) {
    // A primary-key lookup per id on both backends (PostgreSQL: a lateral join per element,
    // as ReadAheadInstances).
    static const std::string sqlite = std::string("SELECT ") + kInstanceColumns +
                                      " FROM instances WHERE instance_id IN (SELECT value FROM "
                                      "json_each(?1))";
    static const std::string postgres =
        "SELECT " + Qualified("i", kInstanceColumns) +
        " FROM jsonb_array_elements_text(CAST(?1 AS jsonb)) AS k(id) CROSS JOIN LATERAL (SELECT " +
        kInstanceColumns + " FROM instances WHERE instance_id = k.id LIMIT 1) i";
    NR_ASSIGN_OR_RETURN(auto stmt, PrepareForList(conn_, sqlite, postgres, instance_ids));
    return stmt.Rows([](const Statement& row) { return ReadInstance(row); });
}

Result<std::optional<model::Instance>> SqlInventory::OneInstance(const std::string& sql,
                                                                 const std::string& key) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, key);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::Instance>();
    return std::optional<model::Instance>(ReadInstance(stmt));
}

Result<std::optional<model::Instance>> SqlInventory::FindInstanceByName(const std::string& name) {
    static const std::string sql = OneInstanceSql("instance_name = ?1");
    return OneInstance(sql, name);
}

Result<bool> SqlInventory::HasCluster(const std::string& cluster_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT 1 FROM clusters WHERE cluster_id = ?1"));
    stmt.Bind(1, cluster_id);
    return stmt.Step();
}

Result<std::optional<model::Host>> SqlInventory::GetHost(const std::string& host_name) {
    static const std::string sql =
        std::string("SELECT ") + kHostColumns + " FROM hosts WHERE host_name = ?1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, host_name);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::Host>();
    return std::optional<model::Host>(ReadHost(stmt));
}

Result<std::vector<model::Host>> SqlInventory::GetHosts(
    const std::vector<std::string>& host_names) {
    // A primary-key lookup per name, as GetInstances.
    static const std::string sqlite = std::string("SELECT ") + kHostColumns +
                                      " FROM hosts WHERE host_name IN (SELECT value FROM "
                                      "json_each(?1))";
    static const std::string postgres = "SELECT " + Qualified("h", kHostColumns) +
                                        " FROM jsonb_array_elements_text(CAST(?1 AS jsonb)) AS "
                                        "k(name) CROSS JOIN LATERAL (SELECT " +
                                        kHostColumns +
                                        " FROM hosts WHERE host_name = k.name LIMIT 1) h";
    NR_ASSIGN_OR_RETURN(auto stmt, PrepareForList(conn_, sqlite, postgres, host_names));
    return stmt.Rows([](const Statement& row) { return ReadHost(row); });
}

Result<std::vector<model::Cluster>> SqlInventory::ListClusters() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT cluster_id, cluster_name, status "
                                                 "FROM clusters ORDER BY cluster_id"));
    std::vector<model::Cluster> clusters;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        clusters.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), {}, {}, 0});
    }
    return clusters;
}

Result<std::optional<model::Cluster>> SqlInventory::GetCluster(const std::string& cluster_id) {
    model::Cluster cluster;
    {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT cluster_id, cluster_name, status FROM "
                                                     "clusters WHERE cluster_id = ?1"));
        stmt.Bind(1, cluster_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<model::Cluster>();
        cluster = {stmt.Text(0), stmt.Text(1), stmt.Text(2), {}, {}, 0};
    }
    NR_ASSIGN_OR_RETURN(cluster.automation, GetClusterAutomation(cluster_id));
    {
        NR_ASSIGN_OR_RETURN(auto waiting,
                            conn_.Prepare("SELECT COUNT(*) FROM alerts WHERE waiting = 1 "
                                          "AND cluster_id = ?1"));
        waiting.Bind(1, cluster_id);
        NR_ASSIGN_OR_RETURN(bool row, waiting.Step());
        if (row) cluster.waiting_signals = int(waiting.Int(0));
    }
    // SQLite keeps each instance's latest on the instance (its one writer updates it with each
    // insert). PostgreSQL reads it as the instance's remediation of the highest `seq`, an index
    // search per instance (remediations_by_instance_seq, migration 20): `seq` is drawn as the
    // row is inserted, and an instance's next remediation is inserted only once the one before
    // is no longer active (remediations_one_active waits for the inserting transaction and
    // refuses a second active one), so it orders an instance's remediations as they were
    // created, whichever replica's clock stamped them and whatever order their batches commit.
    static const std::string columns =
        "SELECT i.instance_id, i.cluster_id, i.instance_name, i.num_gpus, i.host_name, "
        "i.status, i.auto_repair, " +
        Qualified("r", kRemediationColumns);
    static const std::string sqlite =
        columns +
        " FROM instances i LEFT JOIN remediations r ON r.id = i.latest_remediation_id "
        "WHERE i.cluster_id = ?1 ORDER BY i.instance_name, i.instance_id";
    static const std::string postgres =
        columns + " FROM instances i LEFT JOIN LATERAL (SELECT " + kRemediationColumns +
        " FROM remediations WHERE instance_id = i.instance_id ORDER BY seq DESC LIMIT 1) r ON "
        "true WHERE i.cluster_id = ?1 ORDER BY i.instance_name, i.instance_id";
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kSqlite ? sqlite : postgres));
    stmt.Bind(1, cluster_id);
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        model::Instance instance = ReadInstance(stmt);
        if (!stmt.IsNull(7)) instance.latest_remediation = ReadRemediation(stmt, 7);
        cluster.gpu_worker_nodes.push_back(std::move(instance));
    }
    return std::optional<model::Cluster>(std::move(cluster));
}

Result<std::vector<model::Host>> SqlInventory::ListHosts() {
    std::vector<model::Host> hosts;
    {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT host_name, gpu_slots, cordoned, libvirt_uri, "
                                          "rack, suspect FROM hosts ORDER BY host_name"));
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            hosts.push_back(
                {stmt.Text(0), int(stmt.Int(1)), 0, stmt.Int(2) != 0, {}, stmt.Text(3)});
            hosts.back().rack = stmt.Text(4);
            hosts.back().suspect = stmt.Text(5);
        }
    }
    {
        // Reserved slots are taken too: a replacement VM is on its way there.
        NR_ASSIGN_OR_RETURN(auto reserved, conn_.Prepare("SELECT host_name, SUM(num_gpus) FROM "
                                                         "reservations GROUP BY host_name"));
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, reserved.Step());
            if (!row) break;
            std::string host_name = reserved.Text(0);
            for (auto& host : hosts) {
                if (host.host_name == host_name) host.used_gpus += int(reserved.Int(1));
            }
        }
    }
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT host_name, instance_id, num_gpus, cluster_id "
                                      "FROM instances WHERE host_name IS NOT NULL ORDER BY "
                                      "host_name, instance_id"));
    size_t h = 0;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        std::string host_name = stmt.Text(0);
        while (h < hosts.size() && hosts[h].host_name < host_name) ++h;
        if (h == hosts.size() || hosts[h].host_name != host_name) continue;
        hosts[h].instances.push_back({stmt.Text(1), stmt.Text(3)});
        hosts[h].used_gpus += int(stmt.Int(2));
    }
    return hosts;
}

Result<int> SqlInventory::CountInstances(const std::string& cluster_id) {
    // Kept by ImportFleet: one row by primary key, not a count of the cluster's instances.
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT instance_count FROM clusters WHERE "
                                                 "cluster_id = ?1"));
    stmt.Bind(1, cluster_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? int(stmt.Int(0)) : 0;
}

Result<model::ClusterAutomation> SqlInventory::GetClusterAutomation(const std::string& cluster_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT automatic, automatic_alerts FROM clusters "
                                                 "WHERE cluster_id = ?1"));
    stmt.Bind(1, cluster_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    model::ClusterAutomation a;
    if (!row) return a;
    a.automatic = stmt.Int(0) != 0;
    a.automatic_alerts = SplitLines(stmt.Text(1));
    return a;
}

Result<std::optional<std::string>> SqlInventory::FindHostWithRoom(int num_gpus,
                                                                  const std::string& exclude) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT host_name FROM hosts WHERE cordoned = 0 AND "
                                      "(gpu_slots - used_gpus) >= ?1 AND host_name != ?2 ORDER BY "
                                      "(gpu_slots - used_gpus) DESC, host_name LIMIT 1"));
    stmt.Bind(1, int64_t(num_gpus)).Bind(2, exclude);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(stmt.Text(0));
}

Result<std::vector<model::Instance>> SqlInventory::ListInstancesOnHost(
    const std::string& host_name) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT instance_id, cluster_id, instance_name, num_gpus, "
                                      "host_name, status, auto_repair FROM instances WHERE "
                                      "host_name = ?1 ORDER BY instance_id"));
    stmt.Bind(1, host_name);
    return stmt.Rows([](const Statement& row) { return ReadInstance(row); });
}

Status SqlInventory::ImportFleet(const FleetImport& fleet) {
    // A host's libvirt URI and rack are configuration, not state: a new fleet file updates
    // them. The fleet parser refuses a host or an instance listed twice, so no statement
    // meets one row twice (PostgreSQL refuses an upsert that would).
    NR_RETURN_IF_ERROR(InBatches(fleet.hosts, [&](std::span<const model::Host> rows) -> Status {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("INSERT INTO hosts(host_name, gpu_slots, libvirt_uri, "
                                          "rack) VALUES" +
                                          ValuesRows(4, rows.size()) +
                                          " ON CONFLICT(host_name) DO UPDATE SET libvirt_uri = "
                                          "excluded.libvirt_uri, rack = excluded.rack"));
        int p = 1;
        for (const auto& host : rows) {
            stmt.Bind(p, host.host_name)
                .Bind(p + 1, int64_t(host.gpu_slots))
                .BindOptional(p + 2, host.libvirt_uri)
                .BindOptional(p + 3, host.rack);
            p += 4;
        }
        return stmt.Run();
    }));
    for (const auto& cluster : fleet.clusters) {
        {
            NR_ASSIGN_OR_RETURN(
                auto stmt,
                conn_.Prepare("INSERT INTO clusters(cluster_id, "
                              "cluster_name, status) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING"));
            stmt.Bind(1, cluster.cluster_id).Bind(2, cluster.cluster_name).Bind(3, "Ready");
            NR_RETURN_IF_ERROR(stmt.Run());
        }
        int64_t added = 0;
        NR_RETURN_IF_ERROR(InBatches(
            cluster.gpu_worker_nodes, [&](std::span<const model::Instance> rows) -> Status {
                NR_ASSIGN_OR_RETURN(
                    auto stmt,
                    conn_.Prepare("INSERT INTO instances(instance_id, cluster_id, "
                                  "instance_name, num_gpus, host_name, status) "
                                  "VALUES" +
                                  ValuesRows(6, rows.size()) + " ON CONFLICT DO NOTHING"));
                int p = 1;
                for (const auto& node : rows) {
                    stmt.Bind(p, node.instance_id)
                        .Bind(p + 1, cluster.cluster_id)
                        .Bind(p + 2, node.instance_name)
                        .Bind(p + 3, int64_t(node.num_gpus))
                        .BindOptional(p + 4, node.host_name)
                        .Bind(p + 5, node.host_name.empty() ? "Evicted" : "Ready");
                    p += 6;
                }
                NR_RETURN_IF_ERROR(stmt.Run());
                added += stmt.Changes();
                return OkStatus();
            }));
        // Added to, not counted: an import running beside another replica's adds what it
        // inserted to what the other committed (the row lock orders the two).
        if (added > 0) {
            NR_ASSIGN_OR_RETURN(auto stmt,
                                conn_.Prepare("UPDATE clusters SET instance_count = "
                                              "instance_count + ?2 WHERE cluster_id = ?1"));
            stmt.Bind(1, cluster.cluster_id).Bind(2, added);
            NR_RETURN_IF_ERROR(stmt.Run());
        }
    }
    size_t instances = 0;
    for (const auto& cluster : fleet.clusters) instances += cluster.gpu_worker_nodes.size();
    RecordAudit(log_, "fleet.import", "fleet",
                AuditDetail({{"clusters", std::to_string(fleet.clusters.size())},
                             {"hosts", std::to_string(fleet.hosts.size())},
                             {"instances", std::to_string(instances)}}));
    return OkStatus();
}

Status SqlInventory::SetHostCordoned(const std::string& host_name, bool cordoned) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("UPDATE hosts SET cordoned = ?2 WHERE host_name = ?1"));
    stmt.Bind(1, host_name).Bind(2, int64_t(cordoned));
    NR_RETURN_IF_ERROR(stmt.Run());
    if (stmt.Changes() != 1) return NotFound("host " + host_name + " not found");
    RecordAudit(log_, cordoned ? "host.cordon" : "host.uncordon", "hosts/" + host_name, "{}");
    return OkStatus();
}

namespace {

// The larger and the smaller of two values in SQL: SQLite's scalar MAX and MIN are PostgreSQL's
// GREATEST and LEAST.
const char* Larger(Dialect dialect) { return dialect == Dialect::kSqlite ? "MAX" : "GREATEST"; }
const char* Smaller(Dialect dialect) { return dialect == Dialect::kSqlite ? "MIN" : "LEAST"; }

// The `seq` of the host fault this session inserted last.
std::string NewFaultSeq(Dialect dialect) {
    return dialect == Dialect::kSqlite ? "last_insert_rowid()" : "currval('host_faults_seq_seq')";
}

// The SQL `build` makes for `dialect`, built once per dialect and call site (each lambda is a
// type of its own).
template <class Build>
std::string_view InDialect(Dialect dialect, Build build) {
    static const std::string texts[] = {build(Dialect::kSqlite), build(Dialect::kPostgres)};
    return texts[dialect == Dialect::kPostgres];
}

// A ledger row's own columns as ?1 to ?7 (host_name, rack, cluster_id, instance_id, name,
// remediation_id, time).
void BindFault(Statement& stmt, const model::HostFault& f) {
    stmt.Bind(1, f.host_name)
        .Bind(2, f.rack)
        .Bind(3, f.cluster_id)
        .Bind(4, f.instance_id)
        .Bind(5, f.name)
        .BindOptional(6, f.remediation_id)
        .Bind(7, ToMicros(f.time));
}

// A host's ledger newest first along its chain (`prev_seq`), from its newest row (the ceiling
// row's `last_seq`), with `columns` of each row (`f`). The walk goes from a row (`chain`, at
// `depth`) to the one before it (`f`) when `go_on`, carrying `low` to it.
std::string HostChain(const std::string& columns, const std::string& low,
                      const std::string& go_on) {
    return "WITH RECURSIVE chain(seq, prev_seq, depth, low) AS (SELECT f.seq, f.prev_seq, 1, "
           "f.time FROM host_fault_ceilings c JOIN host_faults f ON f.seq = c.last_seq WHERE "
           "c.host_name = ?1 UNION ALL SELECT f.seq, f.prev_seq, chain.depth + 1, " +
           low + " FROM chain JOIN host_faults f ON f.seq = chain.prev_seq WHERE " + go_on +
           ") SELECT " + columns + " FROM chain JOIN host_faults f ON f.seq = chain.seq";
}

}  // namespace

Status SqlInventory::AddHostFault(const model::HostFault& f) {
    // The row joins its host's chain and its scope's (cluster and rack) and becomes the newest
    // of each: the ceiling and head rows read and then written here are the host's and the
    // scope's, and every caller appends under Txn::SerializeAutomation (the one writer on
    // SQLite, the automation's lock on PostgreSQL), so no other append to either comes between
    // the statements.
    auto append = [](Dialect d) {
        return std::string(
                   "INSERT INTO host_faults(host_name, rack, cluster_id, instance_id, name, "
                   "remediation_id, time, prev_seq, reach, scope_prev_seq, scope_reach) "
                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT last_seq FROM "
                   "host_fault_ceilings WHERE host_name = ?1), ") +
               Larger(d) +
               "(?7, COALESCE((SELECT reach FROM host_fault_ceilings WHERE host_name = ?1), "
               "?7)), (SELECT last_seq FROM scope_fault_heads WHERE cluster_id = ?3 AND rack = "
               "?2), " +
               Larger(d) +
               "(?7, COALESCE((SELECT reach FROM scope_fault_heads WHERE cluster_id = ?3 AND "
               "rack = ?2), ?7)))";
    };
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(InDialect(conn_.dialect(), append)));
    BindFault(stmt, f);
    NR_RETURN_IF_ERROR(stmt.Send());
    // A signal also raises its host's ceiling (CountHostFaultsReaching); a host's first row
    // gets one whose `since` no window reaches, so its first check counts from the ledger.
    auto head = [](Dialect d) {
        return std::string(
                   "INSERT INTO host_fault_ceilings(host_name, since, signals, last_seq, "
                   "reach) VALUES(?1, 9223372036854775807, 0, ") +
               NewFaultSeq(d) +
               ", ?2) ON CONFLICT(host_name) DO UPDATE SET signals = host_fault_ceilings.signals "
               "+ ?3, last_seq = excluded.last_seq, reach = " +
               Larger(d) + "(host_fault_ceilings.reach, excluded.reach)";
    };
    NR_ASSIGN_OR_RETURN(auto raise, conn_.Prepare(InDialect(conn_.dialect(), head)));
    raise.Bind(1, f.host_name)
        .Bind(2, ToMicros(f.time))
        .Bind(3, int64_t(f.remediation_id.empty() ? 1 : 0));
    NR_RETURN_IF_ERROR(raise.Send());
    // (An insert into a WITHOUT ROWID table, as the ceiling's, leaves last_insert_rowid() as
    // it was.)
    auto scope_head = [](Dialect d) {
        return "INSERT INTO scope_fault_heads(cluster_id, rack, last_seq, reach) VALUES(?1, ?2, " +
               NewFaultSeq(d) +
               ", ?3) ON CONFLICT(cluster_id, rack) DO UPDATE SET last_seq = excluded.last_seq, "
               "reach = " +
               Larger(d) + "(scope_fault_heads.reach, excluded.reach)";
    };
    NR_ASSIGN_OR_RETURN(auto advance, conn_.Prepare(InDialect(conn_.dialect(), scope_head)));
    advance.Bind(1, f.cluster_id).Bind(2, f.rack).Bind(3, ToMicros(f.time));
    return advance.Send();
}

Result<std::optional<model::HostFaultCounts>> SqlInventory::AddHostFaultReaching(
    const model::HostFault& f, Timestamp since, int at_least) {
    // AddHostFault's append read first: the host's ceiling and the scope's head in one
    // statement, then the row and the two heads written from what it read (no subquery, each
    // head updated by its key), and the check answered from the ceiling as the append leaves
    // it. Fewer lookups than the subqueries, the upserts and the check's own read; on
    // PostgreSQL the read is the one round trip the check took anyway. Under
    // Txn::SerializeAutomation, as every append, so nothing changes either head in between.
    NR_ASSIGN_OR_RETURN(auto heads,
                        conn_.Prepare("SELECT c.since, c.signals, c.last_seq, c.reach, s.last_seq, "
                                      "s.reach FROM (SELECT 1) AS one LEFT JOIN "
                                      "host_fault_ceilings c ON c.host_name = ?1 LEFT JOIN "
                                      "scope_fault_heads s ON s.cluster_id = ?2 AND s.rack = ?3"));
    heads.Bind(1, f.host_name).Bind(2, f.cluster_id).Bind(3, f.rack);
    NR_ASSIGN_OR_RETURN(bool row, heads.Step());
    if (!row) return Internal("the host fault heads of " + f.host_name + " were not read");
    const int64_t time = ToMicros(f.time);
    const bool has_ceiling = !heads.IsNull(1), has_head = !heads.IsNull(4);
    // A host's first row gets a ceiling whose `since` no window reaches (AddHostFault's).
    int64_t ceiling_since = std::numeric_limits<int64_t>::max(), ceiling_signals = 0;
    if (has_ceiling) {
        ceiling_since = heads.Int(0);
        ceiling_signals = heads.Int(1) + (f.remediation_id.empty() ? 1 : 0);
    }
    const int64_t reach = has_ceiling ? std::max(time, heads.Int(3)) : time;
    const int64_t scope_reach = has_head ? std::max(time, heads.Int(5)) : time;
    NR_ASSIGN_OR_RETURN(auto append,
                        conn_.Prepare("INSERT INTO host_faults(host_name, rack, cluster_id, "
                                      "instance_id, name, remediation_id, time, prev_seq, reach, "
                                      "scope_prev_seq, scope_reach) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
                                      "?7, ?8, ?9, ?10, ?11)"));
    BindFault(append, f);
    append.Bind(9, reach).Bind(11, scope_reach);
    if (has_ceiling && !heads.IsNull(2)) {
        append.Bind(8, heads.Int(2));
    } else {
        append.BindNull(8);
    }
    if (has_head) {
        append.Bind(10, heads.Int(4));
    } else {
        append.BindNull(10);
    }
    NR_RETURN_IF_ERROR(append.Send());
    // (An insert into a WITHOUT ROWID table, as the ceiling's, leaves last_insert_rowid() as
    // it was.)
    auto raise_ceiling = [](Dialect d) {
        return "UPDATE host_fault_ceilings SET signals = ?2, last_seq = " + NewFaultSeq(d) +
               ", reach = ?3 WHERE host_name = ?1";
    };
    auto first_ceiling = [](Dialect d) {
        return "INSERT INTO host_fault_ceilings(host_name, since, signals, last_seq, reach) "
               "VALUES(?1, 9223372036854775807, ?2, " +
               NewFaultSeq(d) + ", ?3)";
    };
    NR_ASSIGN_OR_RETURN(auto raise,
                        conn_.Prepare(has_ceiling ? InDialect(conn_.dialect(), raise_ceiling)
                                                  : InDialect(conn_.dialect(), first_ceiling)));
    raise.Bind(1, f.host_name).Bind(2, ceiling_signals).Bind(3, reach);
    NR_RETURN_IF_ERROR(raise.Send());
    auto move_head = [](Dialect d) {
        return "UPDATE scope_fault_heads SET last_seq = " + NewFaultSeq(d) +
               ", reach = ?3 WHERE cluster_id = ?1 AND rack = ?2";
    };
    auto first_head = [](Dialect d) {
        return "INSERT INTO scope_fault_heads(cluster_id, rack, last_seq, reach) VALUES(?1, ?2, " +
               NewFaultSeq(d) + ", ?3)";
    };
    NR_ASSIGN_OR_RETURN(auto advance,
                        conn_.Prepare(has_head ? InDialect(conn_.dialect(), move_head)
                                               : InDialect(conn_.dialect(), first_head)));
    advance.Bind(1, f.cluster_id).Bind(2, f.rack).Bind(3, scope_reach);
    NR_RETURN_IF_ERROR(advance.Send());
    return CountFromCeiling(f.host_name, since, at_least, ceiling_since, ceiling_signals);
}

Result<std::optional<model::HostFaultCounts>> SqlInventory::CountHostFaultsReaching(
    const std::string& host_name, Timestamp since, int at_least) {
    NR_ASSIGN_OR_RETURN(auto ceiling,
                        conn_.Prepare("SELECT since, signals FROM host_fault_ceilings WHERE "
                                      "host_name = ?1"));
    ceiling.Bind(1, host_name);
    NR_ASSIGN_OR_RETURN(bool row, ceiling.Step());
    // A host without a ceiling has no signals the ceiling vouches for: its ledger is read.
    const int64_t ceiling_since = row ? ceiling.Int(0) : std::numeric_limits<int64_t>::max();
    const int64_t ceiling_signals = row ? ceiling.Int(1) : 0;
    return CountFromCeiling(host_name, since, at_least, ceiling_since, ceiling_signals);
}

Result<std::optional<model::HostFaultCounts>> SqlInventory::CountFromCeiling(
    const std::string& host_name, Timestamp since, int at_least, int64_t ceiling_since,
    int64_t ceiling_signals) {
    // Every signal at or after `since` is within the ceiling when it starts no later.
    if (ceiling_since <= ToMicros(since) && ceiling_signals < at_least) {
        return std::optional<model::HostFaultCounts>();
    }
    NR_ASSIGN_OR_RETURN(auto counts, CountHostFaults(host_name, since));
    NR_ASSIGN_OR_RETURN(auto reset,
                        conn_.Prepare("INSERT INTO host_fault_ceilings(host_name, since, signals) "
                                      "VALUES(?1, ?2, ?3) ON CONFLICT(host_name) DO UPDATE SET "
                                      "since = excluded.since, signals = excluded.signals"));
    reset.Bind(1, host_name).Bind(2, ToMicros(since)).Bind(3, int64_t(counts.signals));
    NR_RETURN_IF_ERROR(reset.Send());
    if (counts.signals < at_least) return std::optional<model::HostFaultCounts>();
    return std::optional<model::HostFaultCounts>(counts);
}

Result<std::vector<model::HostFault>> SqlInventory::ListHostFaults(const std::string& host_name,
                                                                   int limit) {
    // Newest first by time. The chain is in order of arrival, which is the order of time
    // unless the clock stepped back, so the walk takes the first `limit` rows and goes on only
    // while an older row may still be newer than the oldest of them (`low`, their earliest
    // time): one whose `reach` (the newest time at or before it) is later. With an ordered
    // clock that is `limit` rows and one more.
    auto page = [](Dialect d) {
        return HostChain(
                   "f.host_name, f.rack, f.cluster_id, f.instance_id, f.name, "
                   "f.remediation_id, f.time",
                   std::string("CASE WHEN chain.depth < ?2 THEN ") + Smaller(d) +
                       "(chain.low, f.time) ELSE chain.low END",
                   "chain.depth < ?2 OR f.reach > chain.low") +
               " ORDER BY f.time DESC, f.seq DESC LIMIT ?2";
    };
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(InDialect(conn_.dialect(), page)));
    stmt.Bind(1, host_name).Bind(2, int64_t(limit));
    std::vector<model::HostFault> faults;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        faults.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4),
                          stmt.Text(5), FromMicros(stmt.Int(6))});
    }
    return faults;
}

Result<model::HostFaultCounts> SqlInventory::CountHostFaults(const std::string& host_name,
                                                             Timestamp since) {
    // The window's rows from the host's chain, newest first, until a row whose `reach` (the
    // newest time at or before it) is before `since`: every row older is too, even when the
    // clock stepped back. Their instances are counted here. COUNT(DISTINCT) built a temporary
    // b-tree for every counted signal, which cost more than reading the window's few rows
    // (bench/RESULTS.md, policy engine under a storm).
    static const std::string kWindow = HostChain("f.instance_id", "chain.low", "f.reach >= ?2") +
                                       " WHERE f.time >= ?2 AND f.remediation_id IS NULL";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(kWindow));
    stmt.Bind(1, host_name).Bind(2, ToMicros(since));
    model::HostFaultCounts counts;
    std::vector<std::string> instances;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        ++counts.signals;
        std::string instance = stmt.Text(0);
        if (std::find(instances.begin(), instances.end(), instance) == instances.end()) {
            instances.push_back(std::move(instance));
        }
    }
    counts.instances = int(instances.size());
    return counts;
}

Result<int> SqlInventory::CountSuspectHosts() {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT COUNT(*) FROM hosts WHERE suspect IS NOT NULL"));
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? int(stmt.Int(0)) : 0;
}

Status SqlInventory::SetHostSuspect(const std::string& host_name, const std::string& why) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("UPDATE hosts SET suspect = ?2 WHERE host_name = ?1"));
    stmt.Bind(1, host_name).BindOptional(2, why);
    NR_RETURN_IF_ERROR(stmt.Run());
    if (stmt.Changes() != 1) return NotFound("host " + host_name + " not found");
    RecordAudit(log_, why.empty() ? "host.clear_suspect" : "host.suspect", "hosts/" + host_name,
                "{}");
    return OkStatus();
}

namespace {

constexpr const char* kIncidentColumns =
    "id, cluster_id, rack, state, instances, signals, first_seen, last_seen, closed_at, closed_by";

model::Incident ReadIncident(const Statement& s) {
    model::Incident i;
    i.id = s.Text(0);
    i.cluster_id = s.Text(1);
    i.rack = s.Text(2);
    i.state = model::IncidentState(s.Int(3));
    i.instances = SplitLines(s.Text(4));
    i.signals = int(s.Int(5));
    i.first_seen = FromMicros(s.Int(6));
    i.last_seen = FromMicros(s.Int(7));
    i.closed_at = s.Time(8);
    i.closed_by = s.Text(9);
    return i;
}

}  // namespace

Result<std::vector<model::InstanceSignals>> SqlInventory::ListScopeSignals(
    const std::string& cluster_id, const std::string& rack, Timestamp since) {
    // The scope's chain newest first until a row whose `scope_reach` (the newest time at or
    // before it) is before `since`: every row older is too, even when the clock stepped back
    // (CountHostFaults walks a host's chain alike). Never another scope's rows.
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("WITH RECURSIVE chain(seq, prev_seq) AS (SELECT f.seq, f.scope_prev_seq "
                      "FROM scope_fault_heads h JOIN host_faults f ON f.seq = h.last_seq WHERE "
                      "h.cluster_id = ?1 AND h.rack = ?2 UNION ALL SELECT f.seq, "
                      "f.scope_prev_seq FROM chain JOIN host_faults f ON f.seq = chain.prev_seq "
                      "WHERE f.scope_reach >= ?3) SELECT f.instance_id, COUNT(*), MIN(f.time) "
                      "FROM chain JOIN host_faults f ON f.seq = chain.seq WHERE f.time >= ?3 AND "
                      "f.remediation_id IS NULL GROUP BY f.instance_id ORDER BY MIN(f.seq)"));
    stmt.Bind(1, cluster_id).Bind(2, rack).Bind(3, ToMicros(since));
    std::vector<model::InstanceSignals> out;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        out.push_back({stmt.Text(0), int(stmt.Int(1)), FromMicros(stmt.Int(2))});
    }
    return out;
}

Result<int> SqlInventory::CountScopeInstances(const std::string& cluster_id,
                                              const std::string& rack, Timestamp since) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT COUNT(*) FROM scope_instances WHERE cluster_id = ?1 "
                                      "AND rack = ?2 AND last_signal >= ?3"));
    stmt.Bind(1, cluster_id).Bind(2, rack).Bind(3, ToMicros(since));
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? int(stmt.Int(0)) : 0;
}

Result<bool> SqlInventory::TouchScopeInstance(const std::string& cluster_id,
                                              const std::string& rack,
                                              const std::string& instance_id, Timestamp since,
                                              Timestamp when) {
    {
        // Within the window already: one update, the common case of a storm's repeats.
        NR_ASSIGN_OR_RETURN(auto moved,
                            conn_.Prepare("UPDATE scope_instances SET last_signal = ?4 WHERE "
                                          "cluster_id = ?1 AND rack = ?2 AND instance_id = ?3 AND "
                                          "last_signal >= ?5"));
        moved.Bind(1, cluster_id)
            .Bind(2, rack)
            .Bind(3, instance_id)
            .Bind(4, ToMicros(when))
            .Bind(5, ToMicros(since));
        NR_RETURN_IF_ERROR(moved.Run());
        if (moved.Changes() == 1) return false;
    }
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO scope_instances(cluster_id, rack, instance_id, "
                                      "last_signal) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(cluster_id, "
                                      "rack, instance_id) DO UPDATE SET last_signal = "
                                      "excluded.last_signal"));
    stmt.Bind(1, cluster_id).Bind(2, rack).Bind(3, instance_id).Bind(4, ToMicros(when));
    NR_RETURN_IF_ERROR(stmt.Run());
    return true;
}

Result<std::optional<model::Incident>> SqlInventory::GetIncident(const std::string& id) {
    static const std::string sql =
        std::string("SELECT ") + kIncidentColumns + " FROM incidents WHERE id = ?1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::Incident>();
    return std::optional<model::Incident>(ReadIncident(stmt));
}

Result<std::optional<model::Incident>> SqlInventory::GetLatestIncident(
    const std::string& cluster_id, const std::string& rack) {
    static const std::string sql = std::string("SELECT ") + kIncidentColumns +
                                   " FROM incidents WHERE cluster_id = ?1 AND rack = ?2 ORDER BY "
                                   "first_seen DESC, id DESC LIMIT 1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, cluster_id).Bind(2, rack);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::Incident>();
    return std::optional<model::Incident>(ReadIncident(stmt));
}

Result<std::vector<model::Incident>> SqlInventory::GetLatestIncidents(
    const std::vector<std::pair<std::string, std::string>>& scopes) {
    // GetLatestIncident's search of incidents_by_scope per scope; each scope goes as a
    // [cluster, rack] pair of one JSON array.
    static const std::string sqlite =
        "SELECT " + Qualified("i", kIncidentColumns) +
        " FROM json_each(?1) k JOIN incidents i ON i.id = (SELECT id FROM incidents WHERE "
        "cluster_id = k.value ->> 0 AND rack = k.value ->> 1 ORDER BY first_seen DESC, id DESC "
        "LIMIT 1)";
    static const std::string postgres =
        "SELECT " + Qualified("i", kIncidentColumns) +
        " FROM jsonb_array_elements(CAST(?1 AS jsonb)) AS k(scope) CROSS JOIN LATERAL (SELECT " +
        std::string(kIncidentColumns) +
        " FROM incidents WHERE cluster_id = k.scope ->> 0 AND rack = k.scope ->> 1 ORDER BY "
        "first_seen DESC, id DESC LIMIT 1) i";
    std::string pairs;
    JsonWriter w(pairs);
    w.BeginArray();
    for (const auto& [cluster_id, rack] : scopes) {
        w.BeginArray();
        w.String(cluster_id);
        w.String(rack);
        w.EndArray();
    }
    w.EndArray();
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kSqlite ? sqlite : postgres));
    stmt.Bind(1, pairs);
    return stmt.Rows([](const Statement& row) { return ReadIncident(row); });
}

Result<std::vector<model::Incident>> SqlInventory::ListIncidents(const std::string& cluster_id,
                                                                 int limit) {
    static const std::string sql = std::string("SELECT ") + kIncidentColumns +
                                   " FROM incidents WHERE cluster_id = ?1 ORDER BY first_seen "
                                   "DESC, id DESC LIMIT ?2";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, cluster_id).Bind(2, int64_t(limit));
    std::vector<model::Incident> out;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        out.push_back(ReadIncident(stmt));
    }
    return out;
}

Status SqlInventory::PutIncident(const model::Incident& i) {
    static const std::string sql = UpsertSql("incidents", kIncidentColumns, "id");
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, i.id)
        .Bind(2, i.cluster_id)
        .Bind(3, i.rack)
        .Bind(4, int64_t(i.state))
        .Bind(5, JoinLines(i.instances))
        .Bind(6, int64_t(i.signals))
        .Bind(7, ToMicros(i.first_seen))
        .Bind(8, ToMicros(i.last_seen))
        .Bind(9, i.closed_at)
        .BindOptional(10, i.closed_by);
    NR_RETURN_IF_ERROR(stmt.Run());
    if (i.state != model::IncidentState::kOpen) {  // a person's release or dismissal
        RecordAudit(log_, "incident." + std::string(model::WireName(i.state)),
                    "clusters/" + i.cluster_id + "/incidents/" + i.id, "{}");
    }
    return OkStatus();
}

Status SqlInventory::SetHostPowerCycled(const std::string& host_name, Timestamp when) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("UPDATE hosts SET power_cycled_at = ?2 WHERE "
                                                 "host_name = ?1"));
    stmt.Bind(1, host_name).Bind(2, ToMicros(when));
    NR_RETURN_IF_ERROR(stmt.Run());
    if (stmt.Changes() != 1) return NotFound("host " + host_name + " not found");
    return OkStatus();
}

Status SqlInventory::SetInstancePlacement(const std::string& instance_id,
                                          const std::string& host_name, const std::string& status) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("UPDATE instances SET host_name = ?2, status = ?3 "
                                                 "WHERE instance_id = ?1"));
    stmt.Bind(1, instance_id).BindOptional(2, host_name).Bind(3, status);
    NR_RETURN_IF_ERROR(stmt.Run());
    if (stmt.Changes() != 1) return NotFound("instance " + instance_id + " not found");
    return OkStatus();
}

Status SqlInventory::SetInstanceStatus(const std::string& instance_id, const std::string& status) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("UPDATE instances SET status = ?2 WHERE instance_id = "
                                      "?1"));
    stmt.Bind(1, instance_id).Bind(2, status);
    // Nobody reads its answer: pipelined (an engine step's intent waits on nothing here).
    return stmt.Send();
}

Status SqlInventory::PutReservation(const std::string& instance_id, const std::string& host_name,
                                    int num_gpus) {
    // Delete, then insert: REPLACE would skip the delete trigger that frees the old slots.
    NR_RETURN_IF_ERROR(DeleteReservation(instance_id));
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("INSERT INTO reservations(instance_id, host_name, "
                                                 "num_gpus) VALUES(?1, ?2, ?3)"));
    stmt.Bind(1, instance_id).Bind(2, host_name).Bind(3, int64_t(num_gpus));
    return stmt.Send();
}

Status SqlInventory::DeleteReservation(const std::string& instance_id) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("DELETE FROM reservations WHERE instance_id = ?1"));
    stmt.Bind(1, instance_id);
    return stmt.Send();
}

Status SqlInventory::SetClusterAutomation(const std::string& cluster_id,
                                          const model::ClusterAutomation& a) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("UPDATE clusters SET automatic = ?2, automatic_alerts "
                                      "= ?3 WHERE cluster_id = ?1"));
    stmt.Bind(1, cluster_id).Bind(2, int64_t(a.automatic)).Bind(3, JoinLines(a.automatic_alerts));
    NR_RETURN_IF_ERROR(stmt.Run());
    if (stmt.Changes() != 1) return NotFound("cluster " + cluster_id + " not found");
    RecordAudit(log_, "cluster.automation", "clusters/" + cluster_id,
                AuditDetail({{"automatic", a.automatic ? "true" : "false"},
                             {"automatic_alerts", AuditList(a.automatic_alerts)}}));
    return OkStatus();
}

Status SqlInventory::SetInstanceAutoRepair(const std::string& instance_id, bool auto_repair) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("UPDATE instances SET auto_repair = ?2 WHERE "
                                                 "instance_id = ?1"));
    stmt.Bind(1, instance_id).Bind(2, int64_t(auto_repair));
    NR_RETURN_IF_ERROR(stmt.Run());
    if (stmt.Changes() != 1) return NotFound("instance " + instance_id + " not found");
    RecordAudit(log_, "instance.auto_repair", "instances/" + instance_id,
                AuditDetail({{"auto_repair", auto_repair ? "true" : "false"}}));
    return OkStatus();
}

model::Instance SqlInventory::ReadInstance(const Statement& s, int first) {
    model::Instance i;
    i.instance_id = s.Text(first);
    i.cluster_id = s.Text(first + 1);
    i.instance_name = s.Text(first + 2);
    i.num_gpus = int(s.Int(first + 3));
    i.host_name = s.Text(first + 4);
    i.status = s.Text(first + 5);
    i.auto_repair = s.Int(first + 6) != 0;
    return i;
}

}  // namespace noderepair::storage::sql
