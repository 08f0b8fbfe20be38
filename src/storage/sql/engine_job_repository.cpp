#include "common/json.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {
namespace {

constexpr const char* kJobColumns =
    "remediation_id, workflow_version, step, fence, attempts, step_started, next_check, "
    "source_host, target_host, num_gpus, host_was_cordoned, instances, calls, owner, attempt";

std::string JobSelect() { return std::string("SELECT ") + kJobColumns + " FROM engine_jobs"; }

std::string EncodeCalls(const std::vector<StepCall>& calls) {
    if (calls.empty()) return {};
    std::string out;
    JsonWriter w(out);
    w.BeginArray();
    for (const auto& c : calls) {
        w.BeginObject().Key("instance").String(c.instance_id);
        w.OptionalString("handle", c.handle);
        if (c.done) w.Key("done").Bool(true);
        w.EndObject();
    }
    w.EndArray();
    return out;
}

std::vector<StepCall> DecodeCalls(const std::string& text) {
    std::vector<StepCall> calls;
    auto parsed = ParseStrictJson(text);
    if (!parsed || !parsed->is_array()) return calls;
    for (const auto& v : parsed->as_array()) {
        const auto* o = v.if_object();
        if (o == nullptr) continue;
        StepCall c;
        if (const auto* i = o->if_contains("instance"); i && i->is_string()) {
            c.instance_id = i->as_string();
        }
        if (const auto* h = o->if_contains("handle"); h && h->is_string()) {
            c.handle = h->as_string();
        }
        if (const auto* d = o->if_contains("done"); d && d->is_bool()) c.done = d->as_bool();
        calls.push_back(std::move(c));
    }
    return calls;
}

EngineJob ReadJob(const Statement& s) {
    EngineJob j;
    j.remediation_id = s.Text(0);
    j.workflow_version = int(s.Int(1));
    j.step = s.Text(2);
    j.fence = s.Int(3);
    j.attempts = int(s.Int(4));
    j.step_started = FromMicros(s.Int(5));
    j.next_check = FromMicros(s.Int(6));
    j.source_host = s.Text(7);
    j.target_host = s.Text(8);
    j.num_gpus = int(s.Int(9));
    j.host_was_cordoned = s.Int(10) != 0;
    j.instances = SplitLines(s.Text(11));
    j.calls = DecodeCalls(s.Text(12));
    j.owner = s.Text(13);
    j.attempt = s.Int(14);
    return j;
}

}  // namespace

Result<std::vector<EngineJob>> SqlEngineJobs::List() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(JobSelect()));
    return stmt.Rows(ReadJob);
}

Result<std::optional<EngineJob>> SqlEngineJobs::Get(const std::string& remediation_id) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(JobSelect() + " WHERE remediation_id = ?1"));
    stmt.Bind(1, remediation_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<EngineJob>();
    return std::optional<EngineJob>(ReadJob(stmt));
}

Result<std::vector<HostWork>> SqlEngineJobs::ListHostWork(const std::vector<std::string>& hosts) {
    // Two index lookups per host (a job's source, its target), never a scan of every job. On
    // PostgreSQL a lateral join per host, which stays an index search in the plan the server
    // caches for the prepared statement: that plan is made while engine_jobs is still small,
    // and a plain `= ANY(...)` then scanned both tables whole for every batch.
    static const std::string postgres =
        "SELECT DISTINCT j.remediation_id, j.source_host, j.target_host, (SELECT r.mode FROM "
        "remediations r WHERE r.id = j.remediation_id) FROM "
        "jsonb_array_elements_text(CAST(?1 AS jsonb)) AS h(host) CROSS JOIN LATERAL (SELECT "
        "remediation_id, source_host, target_host FROM engine_jobs WHERE source_host = h.host "
        "UNION ALL SELECT remediation_id, source_host, target_host FROM engine_jobs WHERE "
        "target_host = h.host) j";
    static const std::string sqlite =
        "SELECT j.remediation_id, j.source_host, j.target_host, r.mode FROM engine_jobs j JOIN "
        "remediations r ON r.id = j.remediation_id WHERE j.source_host IN (SELECT value FROM "
        "json_each(?1)) OR j.target_host IN (SELECT value FROM json_each(?1))";
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kPostgres ? postgres : sqlite));
    stmt.Bind(1, JsonArray(hosts));
    return stmt.Rows([](const Statement& row) {
        return HostWork{row.Text(1), row.Text(2), model::Mode(row.Int(3))};
    });
}

Status SqlEngineJobs::Put(const EngineJob& j) {
    // A new job's first lease is part of its insert (a claim's, by the database's clock); an
    // update of progress leaves the lease to the lease methods.
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare(std::string("INSERT INTO engine_jobs(remediation_id, workflow_version, step, "
                                  "fence, attempts, step_started, next_check, source_host, "
                                  "target_host, num_gpus, host_was_cordoned, instances, calls, "
                                  "owner, attempt, lease_until) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                  "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, CASE WHEN ?16 > 0 THEN ") +
                      DatabaseNowMicros(conn_.dialect()) +
                      " + ?16 ELSE 0 END) ON CONFLICT(remediation_id) DO UPDATE SET "
                      "step = ?3, fence = ?4, attempts = ?5, step_started = ?6, next_check = ?7, "
                      "target_host = ?9, host_was_cordoned = ?11, calls = ?13"));
    stmt.Bind(1, j.remediation_id)
        .Bind(2, int64_t(j.workflow_version))
        .Bind(3, j.step)
        .Bind(4, j.fence)
        .Bind(5, int64_t(j.attempts))
        .Bind(6, ToMicros(j.step_started))
        .Bind(7, ToMicros(j.next_check))
        .BindOptional(8, j.source_host)
        .BindOptional(9, j.target_host)
        .Bind(10, int64_t(j.num_gpus))
        .Bind(11, int64_t(j.host_was_cordoned))
        .BindOptional(12, JoinLines(j.instances))
        .BindOptional(13, EncodeCalls(j.calls))
        .Bind(14, j.owner)
        .Bind(15, j.attempt)
        .Bind(
            16,
            int64_t(std::chrono::duration_cast<std::chrono::microseconds>(j.first_lease).count()));
    return stmt.Send();
}

Status SqlEngineJobs::Delete(const std::string& remediation_id) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("DELETE FROM engine_jobs WHERE remediation_id = ?1"));
    stmt.Bind(1, remediation_id);
    return stmt.Send();
}

}  // namespace noderepair::storage::sql

namespace noderepair::storage::sql {
namespace {

constexpr const char* kLeasedColumns = " RETURNING remediation_id, attempt, fence, step";

LeasedJob ReadLeased(const Statement& s) { return {s.Text(0), s.Int(1), s.Int(2), s.Text(3)}; }

int64_t Micros(std::chrono::milliseconds lease) {
    return std::chrono::duration_cast<std::chrono::microseconds>(lease).count();
}

}  // namespace

const char* DatabaseNowMicros(Dialect dialect) {
    // clock_timestamp(), not now(): now() is the transaction's start, and a batch may have
    // waited on a lock since.
    return dialect == Dialect::kPostgres
               ? "(extract(epoch from clock_timestamp()) * 1000000)::bigint"
               : "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";
}

Result<HeldJob> SqlEngineJobs::HoldLease(const std::string& remediation_id,
                                         const std::string& owner, int64_t attempt,
                                         std::chrono::milliseconds lease) {
    // One statement: it locks the row (a takeover waits for this transaction, or this one
    // for the takeover's, and then sees its owner), says whose it is and reads it.
    const std::string now = DatabaseNowMicros(conn_.dialect());
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("UPDATE engine_jobs SET lease_until = CASE WHEN owner = ?2 AND attempt = ?3 "
                      "THEN " +
                      now + " + ?4 ELSE lease_until END WHERE remediation_id = ?1 RETURNING " +
                      kJobColumns));
    stmt.Bind(1, remediation_id).Bind(2, owner).Bind(3, attempt).Bind(4, Micros(lease));
    NR_ASSIGN_OR_RETURN(auto rows, stmt.Rows(ReadJob));
    HeldJob held;
    if (rows.empty()) return held;
    held.check = rows[0].owner == owner && rows[0].attempt == attempt ? LeaseCheck::kHeld
                                                                      : LeaseCheck::kLost;
    held.job = std::move(rows[0]);
    return held;
}

Result<std::vector<LeasedJob>> SqlEngineJobs::RenewLeases(const std::string& owner,
                                                          const std::vector<std::string>& ids,
                                                          std::chrono::milliseconds lease) {
    // The ids as a list parameter (?1), each found by its primary key.
    auto renew = [](Dialect d) {
        return std::string("UPDATE engine_jobs SET lease_until = ") + DatabaseNowMicros(d) +
               " + ?3 WHERE owner = ?2 AND remediation_id " +
               (d == Dialect::kSqlite
                    ? "IN (SELECT value FROM json_each(?1))"
                    : "= ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(?1 AS jsonb))))") +
               kLeasedColumns;
    };
    static const std::string sqlite = renew(Dialect::kSqlite);
    static const std::string postgres = renew(Dialect::kPostgres);
    NR_ASSIGN_OR_RETURN(auto stmt, PrepareForList(conn_, sqlite, postgres, ids));
    stmt.Bind(2, owner).Bind(3, Micros(lease));
    return stmt.Rows(ReadLeased);
}

Result<std::vector<LeasedJob>> SqlEngineJobs::TakeOver(const std::string& owner,
                                                       TakeOverScope scope,
                                                       std::chrono::milliseconds lease, int limit) {
    const std::string now = DatabaseNowMicros(conn_.dialect());
    std::string which = "SELECT remediation_id FROM engine_jobs";
    if (scope == TakeOverScope::kExpired) which += " WHERE lease_until < " + now;
    if (scope == TakeOverScope::kOwn) which += " WHERE owner = ?1";
    which += " ORDER BY lease_until LIMIT ?3";
    // Rows another replica is renewing or taking are skipped, not waited for; a row renewed
    // meanwhile is judged again on its new version and left alone.
    if (conn_.dialect() == Dialect::kPostgres) which += " FOR UPDATE SKIP LOCKED";
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("UPDATE engine_jobs SET owner = ?1, attempt = attempt + 1, "
                      "lease_until = " +
                      now + " + ?2 WHERE remediation_id IN (" + which + ")" + kLeasedColumns));
    stmt.Bind(1, owner).Bind(2, Micros(lease)).Bind(3, int64_t(limit));
    return stmt.Rows(ReadLeased);
}

Result<std::vector<PendingClaim>> SqlEngineJobs::LockPending(int limit) {
    // The oldest PENDING rows, locked, then what each claim reads of its instance and host,
    // all in one round trip. The lock is on the remediations only (FOR UPDATE of a CTE's
    // rows), so a claim never waits on an instance or a host that a step is changing.
    static const std::string columns = std::string(kRemediationColumns);
    const bool pg = conn_.dialect() == Dialect::kPostgres;
    const std::string sql =
        "WITH c AS (SELECT " + columns +
        " FROM remediations WHERE state = ?1 ORDER BY create_time, id LIMIT ?2" +
        (pg ? " FOR UPDATE SKIP LOCKED" : "") +
        ") SELECT c.*, i.instance_id, i.cluster_id, i.instance_name, i.num_gpus, i.host_name, "
        "i.status, i.auto_repair, h.host_name, h.gpu_slots, h.cordoned, h.rack, h.suspect FROM c "
        "LEFT JOIN instances i ON i.instance_id = c.instance_id LEFT JOIN hosts h ON h.host_name "
        "= i.host_name ORDER BY c.create_time, c.id";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, int64_t(model::State::kPending)).Bind(2, int64_t(limit));
    constexpr int kInstance = kRemediationColumnCount;
    constexpr int kHost = kInstance + 7;
    return stmt.Rows([](const Statement& row) {
        PendingClaim claim;
        claim.remediation = ReadRemediation(row);
        if (!row.IsNull(kInstance)) claim.instance = SqlInventory::ReadInstance(row, kInstance);
        if (!row.IsNull(kHost)) {
            model::Host host;
            host.host_name = row.Text(kHost);
            host.gpu_slots = int(row.Int(kHost + 1));
            host.cordoned = row.Int(kHost + 2) != 0;
            host.rack = row.Text(kHost + 3);
            host.suspect = row.Text(kHost + 4);
            claim.host = std::move(host);
        }
        return claim;
    });
}

}  // namespace noderepair::storage::sql
