#include <algorithm>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "common/json.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {

using model::Remediation;
using model::State;

namespace {

// Reads the rows of a remediation LEFT JOIN alerts (kRemediationColumns, then kAlertColumns,
// NULL when it has none), ordered so a remediation's rows follow each other, its alerts
// oldest first. Stops before the remediation past `limit` and says it was there in `more`.
// A row without a remediation (a scope's own row, joined to an empty page) is skipped; `rows`
// says whether any row came at all.
Result<std::vector<Remediation>> ReadJoinedAlerts(Statement& stmt, size_t limit, bool* more,
                                                  bool* rows = nullptr) {
    std::vector<Remediation> out;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return out;
        if (rows != nullptr) *rows = true;
        if (stmt.IsNull(0)) continue;
        if (out.empty() || out.back().id != stmt.Text(0)) {
            if (out.size() == limit) {
                if (more != nullptr) *more = true;
                return out;
            }
            out.push_back(ReadRemediation(stmt));
        }
        if (!stmt.IsNull(kRemediationColumnCount)) {
            out.back().linked_alerts.push_back(ReadAlert(stmt, kRemediationColumnCount));
        }
    }
}

// Timeline events as the records EventsFromRowsSql reads (remediation_event_row), in their
// order.
std::string EventRecords(
    const std::vector<std::pair<std::string, model::RemediationEvent>>& events) {
    RecordArray rows;
    for (const auto& [id, e] : events) {
        rows.BeginRecord().Text(id).Int(ToMicros(e.time)).Text(e.type);
        if (e.state) {
            rows.Int(int64_t(*e.state));
        } else {
            rows.Null();
        }
        rows.OptionalText(e.step).OptionalText(e.actor).OptionalText(e.detail).EndRecord();
    }
    return rows.Take();
}

// Inserts the events of the array `?N` (EventRecords), numbered in the array's order, so the
// timeline reads as the events were appended.
std::string EventsFromRowsSql(const char* param) {
    return std::string(
               "INSERT INTO remediation_events(remediation_id, n, time, type, state, step, "
               "actor, detail) SELECT remediation_id, nextval('remediation_event_numbers'), time, "
               "type, state, step, actor, detail FROM unnest(CAST(") +
           param + " AS remediation_event_row[]))";
}

// The one row of a list's scope, if it exists: the cluster (?1), or the instance (?2) in it.
const char* const kClusterScope = "SELECT 1 FROM clusters WHERE cluster_id = ?1";
const char* const kInstanceScope =
    "SELECT 1 FROM instances WHERE instance_id = ?2 AND cluster_id = ?1";

}  // namespace

Result<std::optional<Remediation>> SqlRemediations::Get(const std::string& id) {
    if (conn_.dialect() == Dialect::kPostgres) {
        // One round trip: the row and its alerts in one statement.
        static const std::string joined =
            "SELECT " + Qualified("r", kRemediationColumns) + ", " + Qualified("a", kAlertColumns) +
            " FROM remediations r LEFT JOIN alerts a ON a.remediation_id = r.id WHERE r.id = ?1 "
            "ORDER BY a.started_at, a.id";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(joined));
        stmt.Bind(1, id);
        NR_ASSIGN_OR_RETURN(auto found, ReadJoinedAlerts(stmt, 1, nullptr));
        if (found.empty()) return std::optional<Remediation>();
        return std::optional<Remediation>(std::move(found.front()));
    }
    NR_ASSIGN_OR_RETURN(auto r, GetRow(id));
    if (r) NR_RETURN_IF_ERROR(AttachAlerts(*r));
    return r;
}

Result<std::vector<Remediation>> SqlRemediations::GetMany(const std::vector<std::string>& ids) {
    if (conn_.dialect() != Dialect::kPostgres) {
        // In-process reads cost no round trip: one Get each.
        std::vector<Remediation> found;
        for (const auto& id : ids) {
            NR_ASSIGN_OR_RETURN(auto r, Get(id));
            if (r) found.push_back(*std::move(r));
        }
        return found;
    }
    // An index search per id, and one for the alerts of each, whatever the sizes of the tables
    // when the server cached the statement's generic plan: LIMIT and OFFSET keep the lateral
    // subqueries from being merged into joins, which that plan made hash joins over a scan of
    // every remediation (25 times the cost of the statement at 2,500 rows, bench/RESULTS.md).
    static const std::string joined =
        "SELECT " + Qualified("r", kRemediationColumns) + ", " + Qualified("a", kAlertColumns) +
        " FROM jsonb_array_elements_text(CAST(?1 AS jsonb)) AS k(id) CROSS JOIN LATERAL (SELECT "
        "* FROM remediations WHERE id = k.id LIMIT 1) r LEFT JOIN LATERAL (SELECT " +
        std::string(kAlertColumns) +
        " FROM alerts WHERE remediation_id = r.id OFFSET 0) a ON true ORDER BY r.id, "
        "a.started_at, a.id";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(joined));
    stmt.Bind(1, JsonArray(ids));
    return ReadJoinedAlerts(stmt, std::numeric_limits<size_t>::max(), nullptr);
}

Result<std::optional<Remediation>> SqlRemediations::GetRow(const std::string& id) {
    static const std::string sql =
        std::string("SELECT ") + kRemediationColumns + " FROM remediations WHERE id = ?1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<Remediation>();
    return std::optional<Remediation>(ReadRemediation(stmt));
}

Status SqlRemediations::AttachAlerts(std::vector<Remediation>& page) {
    if (page.empty()) return OkStatus();
    std::string ids;
    JsonWriter w(ids);
    w.BeginArray();
    for (const auto& r : page) w.String(r.id);
    w.EndArray();
    // The page's ids go as one JSON array parameter, so the statement text stays one.
    static const std::string sqlite = std::string("SELECT ") + kAlertColumns +
                                      " FROM alerts WHERE remediation_id IN (SELECT value FROM "
                                      "json_each(?1)) ORDER BY started_at, id";
    static const std::string postgres =
        std::string("SELECT ") + kAlertColumns +
        " FROM alerts WHERE remediation_id IN (SELECT jsonb_array_elements_text(CAST(?1 AS "
        "jsonb))) ORDER BY started_at, id";
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kSqlite ? sqlite : postgres));
    stmt.Bind(1, ids);
    std::unordered_map<std::string, Remediation*> by_id;
    for (auto& r : page) {
        r.linked_alerts.clear();
        by_id[r.id] = &r;
    }
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        model::Alert alert = ReadAlert(stmt);
        auto it = by_id.find(alert.remediation_id);
        if (it != by_id.end()) it->second->linked_alerts.push_back(std::move(alert));
    }
    return OkStatus();
}

Status SqlRemediations::AttachAlerts(Remediation& r) {
    static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                   " FROM alerts WHERE remediation_id = ?1 ORDER BY "
                                   "started_at, id";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, r.id);
    NR_ASSIGN_OR_RETURN(r.linked_alerts,
                        stmt.Rows([](const Statement& row) { return ReadAlert(row); }));
    return OkStatus();
}

Result<RemediationPage> SqlRemediations::List(const ListQuery& q) {
    NR_ASSIGN_OR_RETURN(auto page, ListPage(q, false));
    return *std::move(page);
}

Result<std::optional<RemediationPage>> SqlRemediations::ListInScope(const ListQuery& q) {
    return ListPage(q, true);
}

Result<std::optional<RemediationPage>> SqlRemediations::ListPage(const ListQuery& q, bool scoped) {
    // One statement text per scope, order, direction and set of filters; filters are bit masks
    // so the prepared statements stay few and cached.
    const bool by_instance = !q.instance_id.empty();
    const char* scope_sql = by_instance ? kInstanceScope : kClusterScope;
    const char* time_col = q.order == OrderField::kCreateTime ? "create_time" : "update_time";
    const char* dir = q.descending ? "DESC" : "ASC";
    const char* cmp = q.descending ? "<" : ">";
    const bool joined = conn_.dialect() == Dialect::kPostgres;
    if (scoped && !joined) {
        // In-process reads cost no round trip: the scope first, in the read's transaction.
        NR_ASSIGN_OR_RETURN(auto scope, conn_.Prepare(scope_sql));
        scope.Bind(1, q.cluster_id);
        if (by_instance) scope.Bind(2, q.instance_id);
        NR_ASSIGN_OR_RETURN(bool found, scope.Step());
        if (!found) return std::optional<RemediationPage>();
    }
    std::string sql = std::string("SELECT ") + kRemediationColumns + " FROM remediations WHERE " +
                      (by_instance ? "instance_id = ?2 AND cluster_id = ?1" : "cluster_id = ?1");
    if (q.after) sql += std::string(" AND (") + time_col + ", id) " + cmp + " (?3, ?4)";
    // Only the filters given: PostgreSQL's planner guesses each mask keeps 0.5 % of the rows,
    // and three such guesses make it sort a scan of the table instead of walking the index.
    if (!q.states.empty()) sql += " AND (CAST(?5 AS BIGINT) >> state) & 1 = 1";
    if (!q.modes.empty()) sql += " AND (CAST(?6 AS BIGINT) >> mode) & 1 = 1";
    if (!q.triggers.empty()) sql += " AND (CAST(?7 AS BIGINT) >> trigger) & 1 = 1";
    sql += std::string(" ORDER BY ") + time_col + " " + dir + ", id " + dir + " LIMIT ?8";
    if (joined) {
        // PostgreSQL: the scope, the page and its alerts in one statement, one round trip. An
        // existing scope gives a row even when the page is empty (the page LEFT JOINed to it).
        // Each row's alerts are an index search of their own (OFFSET 0 keeps the lateral
        // subquery from being merged into a join): the page's plan, generic or not, would
        // otherwise read every linked alert of the table in one scan (bench/RESULTS.md).
        sql = "WITH page AS (" + sql + ") SELECT " + Qualified("page", kRemediationColumns) + ", " +
              Qualified("a", kAlertColumns) + " FROM " +
              (scoped ? "(" + std::string(scope_sql) + ") AS scope LEFT JOIN page ON true"
                      : std::string("page")) +
              " LEFT JOIN LATERAL (SELECT " + kAlertColumns +
              " FROM alerts WHERE remediation_id = page.id OFFSET 0) a ON true "
              "ORDER BY page." +
              time_col + " " + dir + ", page.id " + dir + ", a.started_at, a.id";
    }
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, q.cluster_id);
    if (by_instance) stmt.Bind(2, q.instance_id);
    if (q.after) {
        stmt.Bind(3, q.after->time_us);
        stmt.Bind(4, q.after->id);
    }
    if (!q.states.empty()) stmt.Bind(5, MaskOf(q.states));
    if (!q.modes.empty()) stmt.Bind(6, MaskOf(q.modes));
    if (!q.triggers.empty()) stmt.Bind(7, MaskOf(q.triggers));
    stmt.Bind(8, int64_t(q.limit) + 1);
    RemediationPage page;
    if (joined) {
        // Whatever the parameters, the plan is the same walk of the keyset index (an instance's:
        // a sort of its few remediations, PostgreSQL migration 20); planning it again for each
        // page cost the server more than the page itself (bench/RESULTS.md).
        NR_RETURN_IF_ERROR(conn_.UseGenericPlans(true));
        bool rows = false;
        auto read = ReadJoinedAlerts(stmt, size_t(q.limit), &page.has_next, &rows);
        NR_RETURN_IF_ERROR(conn_.UseGenericPlans(false));
        NR_ASSIGN_OR_RETURN(page.remediations, std::move(read));
        if (scoped && !rows) return std::optional<RemediationPage>();
        return std::optional<RemediationPage>(std::move(page));
    }
    page.remediations.reserve(size_t(q.limit));
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        if (int(page.remediations.size()) == q.limit) {
            page.has_next = true;
            break;
        }
        page.remediations.push_back(ReadRemediation(stmt));
    }
    NR_RETURN_IF_ERROR(AttachAlerts(page.remediations));
    return std::optional<RemediationPage>(std::move(page));
}

Result<std::optional<Remediation>> SqlRemediations::GetActive(const std::string& instance_id) {
    if (reads_ != nullptr) {
        if (const auto* ahead = reads_->Find(instance_id)) return ahead->active;
    }
    static const std::string sql = std::string("SELECT ") + kRemediationColumns +
                                   " FROM remediations WHERE instance_id = ?1 AND state "
                                   "NOT IN (6, 7, 8, 9)";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, instance_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<Remediation>();
    return std::optional<Remediation>(ReadRemediation(stmt));
}

Result<std::vector<model::RemediationEvent>> SqlRemediations::ListEvents(
    const std::string& remediation_id) {
    NR_RETURN_IF_ERROR(SendBulkEvents());  // what this change appended is part of the timeline
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT time, type, state, step, actor, detail FROM "
                                      "remediation_events WHERE remediation_id = ?1 "
                                      "ORDER BY n"));
    stmt.Bind(1, remediation_id);
    std::vector<model::RemediationEvent> events;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        model::RemediationEvent e;
        e.time = FromMicros(stmt.Int(0));
        e.type = stmt.Text(1);
        if (!stmt.IsNull(2)) e.state = State(stmt.Int(2));
        e.step = stmt.Text(3);
        e.actor = stmt.Text(4);
        e.detail = stmt.Text(5);
        events.push_back(std::move(e));
    }
    return events;
}

Result<std::vector<std::string>> SqlRemediations::ListOldestInState(State state, int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT id FROM remediations WHERE state = ?1 ORDER "
                                      "BY create_time LIMIT ?2"));
    stmt.Bind(1, int64_t(state)).Bind(2, int64_t(limit));
    return FirstColumn(stmt);
}

Result<std::vector<RemediationCount>> SqlRemediations::Count() {
    // PostgreSQL keeps the newest changes as deltas beside the folded counts (its schema.cpp).
    static const std::string sqlite =
        "SELECT state, mode, trigger, n FROM remediation_counts ORDER BY 1, 2, 3";
    static const std::string postgres =
        "SELECT state, mode, trigger, SUM(n) FROM (SELECT state, mode, trigger, n FROM "
        "remediation_counts UNION ALL SELECT state, mode, trigger, n FROM "
        "remediation_count_deltas) c GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kSqlite ? sqlite : postgres));
    std::vector<RemediationCount> out;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        out.push_back({model::State(stmt.Int(0)), model::Mode(stmt.Int(1)),
                       model::Trigger(stmt.Int(2)), stmt.Int(3)});
    }
    return out;
}

Result<int> SqlRemediations::CountActive(const std::string& cluster_id) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT COUNT(*) FROM remediations WHERE cluster_id "
                                      "= ?1 AND state NOT IN (6, 7, 8, 9)"));
    stmt.Bind(1, cluster_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? int(stmt.Int(0)) : 0;
}

Result<std::optional<Timestamp>> SqlRemediations::LastEnd(const std::string& instance_id) {
    // The newest end first (remediations_by_instance_end, whose condition is spelled as the
    // query's so the planner takes it), not MAX() over every remediation the instance ever
    // had: a long history made each cooldown check a scan.
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT end_time FROM remediations WHERE "
                                      "instance_id = ?1 AND state IN (6, 7, 8) AND "
                                      "COALESCE(reviewed_by, '') <> 'system:incidents' AND "
                                      "end_time IS NOT NULL ORDER BY end_time DESC LIMIT 1"));
    stmt.Bind(1, instance_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<Timestamp>();
    return stmt.Time(0);
}

Result<std::optional<Remediation>> SqlRemediations::LastFinished(const std::string& instance_id) {
    // Succeeded or failed. The condition names remediations_by_instance_end's (states 6, 7, 8)
    // before leaving 8 out: SQLite takes a partial index only for a query that states it.
    static const std::string sql = std::string("SELECT ") + kRemediationColumns +
                                   " FROM remediations WHERE instance_id = ?1 AND state IN (6, 7, "
                                   "8) AND state <> 8 "
                                   "ORDER BY end_time DESC, id DESC LIMIT 1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, instance_id);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<Remediation>();
    return std::optional<Remediation>(ReadRemediation(stmt));
}

Result<std::vector<std::string>> SqlRemediations::ListNeverRemediated(
    const std::vector<std::string>& instance_ids) {
    // One probe per id of an index by instance that holds every remediation (on SQLite one of
    // the two by instance and time, on PostgreSQL remediations_by_instance_seq).
    static const std::string sqlite =
        "SELECT value FROM json_each(?1) k WHERE NOT EXISTS (SELECT 1 FROM remediations WHERE "
        "instance_id = k.value)";
    static const std::string postgres =
        "SELECT k.id FROM jsonb_array_elements_text(CAST(?1 AS jsonb)) AS k(id) WHERE NOT EXISTS "
        "(SELECT 1 FROM remediations WHERE instance_id = k.id)";
    NR_ASSIGN_OR_RETURN(auto stmt, PrepareForList(conn_, sqlite, postgres, instance_ids));
    return FirstColumn(stmt);
}

Result<int> SqlRemediations::CountActiveInRack(const std::string& rack) {
    // From the rack's hosts through their instances to the one active remediation each may
    // have (remediations_one_active): the cost follows the rack's size, not the history's.
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT COUNT(*) FROM hosts h JOIN instances i ON "
                                      "i.host_name = h.host_name JOIN remediations r ON "
                                      "r.instance_id = i.instance_id AND r.state NOT IN (6, 7, 8, "
                                      "9) WHERE h.rack = ?1"));
    stmt.Bind(1, rack);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? int(stmt.Int(0)) : 0;
}

Result<std::vector<std::string>> SqlRemediations::ListActiveOnHost(const std::string& host_name) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT r.id FROM instances i JOIN remediations r ON "
                                      "r.instance_id = i.instance_id AND r.state NOT IN (6, 7, 8, "
                                      "9) WHERE i.host_name = ?1 ORDER BY r.id"));
    stmt.Bind(1, host_name);
    return FirstColumn(stmt);
}

Result<std::vector<std::string>> SqlRemediations::ListAutoResolvable(Timestamp cutoff, int limit) {
    NR_ASSIGN_OR_RETURN(
        auto stmt, conn_.Prepare("SELECT r.id FROM remediations r WHERE r.state = 1 AND EXISTS "
                                 "(SELECT 1 FROM alerts a WHERE a.remediation_id = r.id) AND NOT "
                                 "EXISTS (SELECT 1 FROM alerts a WHERE a.remediation_id = r.id AND "
                                 "(a.resolved_at IS NULL OR a.resolved_at > ?1)) LIMIT ?2"));
    stmt.Bind(1, ToMicros(cutoff)).Bind(2, int64_t(limit));
    return FirstColumn(stmt);
}

namespace {

// PostgreSQL takes a batch's changes as one array in one INSERT, as the audit records (a
// statement per change cost the writer's connection as much as the change's own); the last
// change is numbered by the head just moved, the first `?3 - 1` before it.
Status InsertChangesAsOne(Connection& conn, const std::vector<RemediationChange>& changes,
                          Timestamp time) {
    RecordArray rows;
    for (const auto& change : changes) WriteRemediationRecord(rows, change.remediation);
    static const std::string sql =
        std::string("INSERT INTO remediation_changes(seq, time, ") + kRemediationColumns +
        ") SELECT (SELECT change_seq FROM audit_head WHERE id = 1) - ?3 + r.ordinality, ?2, " +
        Qualified("r", kRemediationColumns) +
        " FROM unnest(CAST(?1 AS remediation_row[])) WITH ORDINALITY AS r";
    NR_ASSIGN_OR_RETURN(auto insert, conn.Prepare(sql));
    insert.Bind(1, rows.Take()).Bind(2, ToMicros(time)).Bind(3, int64_t(changes.size()));
    return insert.Send();
}

}  // namespace

Status AppendRecordedChanges(Connection& conn, const std::vector<RemediationChange>& changes,
                             Timestamp time) {
    // The UPDATE locks the head row (PostgreSQL: waits for another writer's commit, then reads
    // the head it left), so a number becomes visible only after every smaller one did: a
    // reader of the change stream never meets a gap still in flight (docs/design.md 12). Each
    // insert reads the moved head in this transaction; nothing waits for an answer.
    NR_ASSIGN_OR_RETURN(auto move, conn.Prepare("UPDATE audit_head SET change_seq = change_seq + "
                                                "?1 WHERE id = 1"));
    move.Bind(1, int64_t(changes.size()));
    NR_RETURN_IF_ERROR(move.Send());
    if (conn.dialect() == Dialect::kPostgres) return InsertChangesAsOne(conn, changes, time);
    static const std::string insert_sql =
        std::string("INSERT INTO remediation_changes(seq, time, ") + kRemediationColumns +
        ") VALUES((SELECT change_seq FROM audit_head WHERE id = 1) - ?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)";
    int64_t after = int64_t(changes.size());
    for (const auto& change : changes) {
        NR_ASSIGN_OR_RETURN(auto insert, conn.Prepare(insert_sql));
        insert.Bind(1, --after).Bind(2, ToMicros(time));
        BindRemediation(insert, change.remediation, 3);
        NR_RETURN_IF_ERROR(insert.Send());
    }
    return OkStatus();
}

Result<std::vector<RecordedChange>> SqlRemediations::ListChangesAfter(int64_t after_seq,
                                                                      int limit) {
    static const std::string sql = std::string("SELECT seq, ") + kRemediationColumns +
                                   " FROM remediation_changes WHERE seq > ?1 ORDER BY seq "
                                   "LIMIT ?2";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, after_seq).Bind(2, int64_t(limit));
    return stmt.Rows([](const Statement& s) {
        return RecordedChange{s.Int(0), ReadRemediation(s, 1)};
    });
}

Result<int64_t> SqlRemediations::LastChangeSeq() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT change_seq FROM audit_head WHERE id = 1"));
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.Int(0) : int64_t(0);
}

Result<int64_t> SqlRemediations::PruneChanges(int64_t keep) {
    // Replicas prune too: on PostgreSQL each skips the rows another is deleting instead of
    // waiting for its commit, so two prunes never hold up (or deadlock) their batches.
    static const std::string sqlite =
        "DELETE FROM remediation_changes WHERE seq <= (SELECT change_seq FROM audit_head WHERE "
        "id = 1) - ?1";
    static const std::string postgres =
        "DELETE FROM remediation_changes WHERE seq IN (SELECT seq FROM remediation_changes "
        "WHERE seq <= (SELECT change_seq FROM audit_head WHERE id = 1) - ?1 FOR UPDATE SKIP "
        "LOCKED)";
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kSqlite ? sqlite : postgres));
    stmt.Bind(1, keep);
    NR_RETURN_IF_ERROR(stmt.Run());
    return int64_t(stmt.Changes());
}

Status SqlRemediations::Insert(const RemediationWriteKey&, const Remediation& r) {
    Forget(r.instance_id);
    if (Holding()) {
        // Held with the row's others; one instance's second goes after the first, so its `seq`,
        // which orders an instance's remediations (SqlInventory::GetCluster), is the higher.
        const auto same = [&r](const Remediation& held) {
            return held.instance_id == r.instance_id;
        };
        if (std::any_of(row_->inserted.begin(), row_->inserted.end(), same)) {
            NR_RETURN_IF_ERROR(conn_.SendHeld());
        }
        row_->inserted.push_back(r);
        if (log_ != nullptr) log_->changes.push_back({r, std::nullopt, log_->request_id});
        return HoldRowWrites(conn_, *row_);
    }
    static const std::string sql = std::string("INSERT INTO remediations(") + kRemediationColumns +
                                   ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                   "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)";
    {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        BindRemediation(stmt, r);
        NR_RETURN_IF_ERROR(stmt.Send());
    }
    // SQLite keeps an instance's latest on the instance; PostgreSQL reads it from the
    // instance's remediations by `seq` (migration 20).
    if (conn_.dialect() == Dialect::kSqlite) {
        NR_ASSIGN_OR_RETURN(auto latest,
                            conn_.Prepare("UPDATE instances SET latest_remediation_id = ?1 "
                                          "WHERE instance_id = ?2"));
        latest.Bind(1, r.id).Bind(2, r.instance_id);
        NR_RETURN_IF_ERROR(latest.Send());
    }
    if (log_ != nullptr) log_->changes.push_back({r, std::nullopt, log_->request_id});
    return OkStatus();
}

Status SqlRemediations::Update(const RemediationWriteKey&, const Remediation& r, State expected) {
    Forget(r.instance_id);
    // Only what a change of state or mode can touch: a column left out of SET leaves its
    // indexes (create_time's, the id's) alone, which is most of an update's cost.
    static const std::string sql =
        "UPDATE remediations SET mode = ?2, state = ?3, reviewed_by = ?4, review_time = ?5, "
        "review_comment = ?6, update_time = ?7, start_time = ?8, end_time = ?9, "
        "error_message = ?10, version = ?11 + 1 WHERE id = ?1 AND version = ?11 AND state = ?12";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, r.id)
        .Bind(2, int64_t(r.mode))
        .Bind(3, int64_t(r.state))
        .BindOptional(4, r.reviewed_by)
        .Bind(5, r.review_time)
        .BindOptional(6, r.review_comment)
        .Bind(7, ToMicros(r.update_time))
        .Bind(8, r.start_time)
        .Bind(9, r.end_time)
        .BindOptional(10, r.error_message)
        .Bind(11, r.version)
        .Bind(12, int64_t(expected));
    // A row that no longer matches: on PostgreSQL, another transaction (another writer's
    // batch, another replica's) may have changed it and committed after this one read it (READ
    // COMMITTED reads what is committed when each statement starts): a conflict, so the writer
    // runs the change again in its lane's next batch, where it reads the row as it is now (a
    // cancel that lost the race to the engine's pick-up is then refused for the state it
    // finds). SQLite's one writer runs no other transaction in between: the caller's copy was
    // stale before its change began, which running it again would not mend.
    const bool conflict = conn_.dialect() == Dialect::kPostgres;
    const auto changed_since_read = [conflict](const std::string& id) {
        return Aborted(std::string(conflict ? kConflictPrefix : "") + "remediation " + id +
                       " changed since it was read");
    };
    if (bulk_ && conn_.dialect() == Dialect::kPostgres) {
        // The caller holds the row locked as it read it: the answer is not waited for, and
        // should the row not match after all, the change still fails before it commits.
        NR_RETURN_IF_ERROR(
            stmt.SendThen([&conn = conn_, id = r.id, changed_since_read](int changed) {
                if (changed != 1) conn.FailAtFlush(changed_since_read(id));
            }));
    } else {
        NR_RETURN_IF_ERROR(stmt.Run());
        if (stmt.Changes() != 1) return changed_since_read(r.id);
    }
    if (log_ != nullptr) {
        log_->changes.push_back({r, expected, log_->request_id});
        ++log_->changes.back().remediation.version;
    }
    return OkStatus();
}

Status SqlRemediations::AppendEvent(const std::string& remediation_id,
                                    const model::RemediationEvent& e) {
    // SQLite has one writing process: the next number of the remediation's own timeline.
    // PostgreSQL may have several: a sequence, so appends never collide (docs/design.md 7).
    static const std::string sqlite =
        "INSERT INTO remediation_events(remediation_id, n, time, type, state, step, actor, "
        "detail) VALUES(?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM remediation_events WHERE "
        "remediation_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7)";
    static const std::string postgres =
        "INSERT INTO remediation_events(remediation_id, n, time, type, state, step, actor, "
        "detail) VALUES(?1, nextval('remediation_event_numbers'), ?2, ?3, ?4, ?5, ?6, ?7)";
    // PostgreSQL: kept to go with others in one statement, held by the row or sent at EndBulk.
    auto* kept = Holding()                                        ? &row_->events
                 : bulk_ && conn_.dialect() == Dialect::kPostgres ? &bulk_events_
                                                                  : nullptr;
    if (kept != nullptr) {
        kept->emplace_back(remediation_id, e);
        if (log_ != nullptr && (e.type == "state_change" || e.type == "mode_change")) {
            AuditEvent(remediation_id, e);
        }
        return Holding() ? HoldRowWrites(conn_, *row_) : OkStatus();
    }
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare(conn_.dialect() == Dialect::kSqlite ? sqlite : postgres));
    stmt.Bind(1, remediation_id).Bind(2, ToMicros(e.time)).Bind(3, e.type);
    if (e.state) {
        stmt.Bind(4, int64_t(*e.state));
    } else {
        stmt.BindNull(4);
    }
    stmt.BindOptional(5, e.step).BindOptional(6, e.actor).BindOptional(7, e.detail);
    NR_RETURN_IF_ERROR(stmt.Send());
    if (log_ != nullptr && (e.type == "state_change" || e.type == "mode_change")) {
        AuditEvent(remediation_id, e);
    }
    return OkStatus();
}

void SqlRemediations::BeginBulk() {
    bulk_ = true;
    bulk_events_.clear();  // a change that failed in bulk left them; they went with it
}

Status SqlRemediations::EndBulk() {
    bulk_ = false;
    return SendBulkEvents();
}

Status SqlRemediations::SendBulkEvents() {
    if (bulk_events_.empty()) return OkStatus();
    const std::string rows = EventRecords(bulk_events_);
    bulk_events_.clear();
    static const std::string sql = EventsFromRowsSql("?1");
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, rows);
    return stmt.Send();
}

Status HoldRowWrites(Connection& conn, RowWrites& writes) {
    ++writes.held;
    conn.HoldBack([&conn, &writes] { return SendRowWrites(conn, writes); });
    // A few changes' worth at a time: the server runs them while the writer runs the row's
    // next changes, instead of the whole row after the writer is done with it.
    constexpr size_t kWritesPerStatement = 24;  // eight creates
    const size_t kept =
        writes.inserted.size() + writes.events.size() + writes.deleted_settings.size();
    return kept >= kWritesPerStatement ? conn.SendHeld() : OkStatus();
}

Status SendRowWrites(Connection& conn, RowWrites& writes) {
    // The remediations, their events and the settings' deletes: one statement's executor
    // start-up for the row, its parts running on one snapshot (none reads what another
    // writes). The remediations and events go as arrays of records (RecordArray), inserted in
    // the array's order, so an instance's second remediation in the row draws the higher `seq`.
    // The settings are found by `= ANY(ARRAY(...))`, an index search for the array's keys.
    static const std::string sql =
        std::string("WITH inserted AS (INSERT INTO remediations(") + kRemediationColumns +
        ") SELECT " + kRemediationColumns +
        " FROM unnest(CAST(?1 AS remediation_row[]))), events AS (" + EventsFromRowsSql("?2") +
        ") DELETE FROM settings WHERE key = ANY(ARRAY(SELECT json_array_elements_text(CAST(?3 AS "
        "json))))";
    RecordArray remediations;
    for (const auto& r : writes.inserted) WriteRemediationRecord(remediations, r);
    const std::string events = EventRecords(writes.events);
    const std::string settings = JsonArray(writes.deleted_settings);
    writes.Clear();
    ++writes.sent;
    NR_ASSIGN_OR_RETURN(auto stmt, conn.Prepare(sql));
    stmt.Bind(1, remediations.Take()).Bind(2, events).Bind(3, settings);
    return stmt.SendThen([&conn](int deleted) {
        if (deleted > 0) {
            conn.FailAtFlush(
                Aborted("a setting the row deleted was there: its changes run again "
                        "one by one, each audited"));
        }
    });
}

void SqlRemediations::AuditEvent(const std::string& remediation_id,
                                 const model::RemediationEvent& e) {
    // Lifecycle writes the row, then its event: the change just logged is this event's.
    const RemediationChange* change = nullptr;
    if (!log_->changes.empty() && log_->changes.back().remediation.id == remediation_id) {
        change = &log_->changes.back();
    }
    std::string target = "remediations/" + remediation_id;
    if (change != nullptr) {
        const auto& r = change->remediation;
        target = "clusters/" + r.cluster_id + "/instances/" + r.instance_id + "/" + target;
    }
    const std::string_view state = e.state ? model::WireName(*e.state) : "";
    if (e.type == "mode_change") {
        log_->Audit("remediation.mode_change", std::move(target),
                    AuditDetail({{"mode", change ? model::WireName(change->remediation.mode) : ""},
                                 {"by", e.actor},
                                 {"event", e.detail}}));
    } else if (change != nullptr && !change->previous_state) {
        const auto& r = change->remediation;
        log_->Audit("remediation.create", std::move(target),
                    AuditDetail({{"state", state},
                                 {"mode", model::WireName(r.mode)},
                                 {"trigger", model::WireName(r.trigger)},
                                 {"reason", r.reason},
                                 {"by", e.actor},
                                 {"event", e.detail}}));
    } else {
        log_->Audit("remediation.state_change", std::move(target),
                    AuditDetail({{"from", change ? model::WireName(*change->previous_state) : ""},
                                 {"to", state},
                                 {"by", e.actor},
                                 {"event", e.detail}}));
    }
}

}  // namespace noderepair::storage::sql
