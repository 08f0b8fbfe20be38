#include <limits>
#include <unordered_map>

#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {

using model::Remediation;
using model::State;

Result<AlertPage> SqlAlerts::List(const AlertQuery& q) {
    std::string sql = std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE cluster_id = ?1";
    if (q.after) sql += " AND (started_at, id) < (?2, ?3)";
    if (q.firing) sql += *q.firing ? " AND resolved_at IS NULL" : " AND resolved_at IS NOT NULL";
    sql += " ORDER BY started_at DESC, id DESC LIMIT ?4";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, q.cluster_id);
    if (q.after) stmt.Bind(2, q.after->time_us).Bind(3, q.after->id);
    stmt.Bind(4, int64_t(q.limit) + 1);
    AlertPage page;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        if (int(page.alerts.size()) == q.limit) {
            page.has_next = true;
            break;
        }
        page.alerts.push_back(ReadAlert(stmt));
    }
    return page;
}

Result<std::optional<model::Alert>> SqlAlerts::GetByFingerprint(const std::string& fingerprint) {
    static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                   " FROM alerts WHERE fingerprint = ?1 ORDER BY "
                                   "started_at DESC LIMIT 1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, fingerprint);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<model::Alert>();
    return std::optional<model::Alert>(ReadAlert(stmt));
}

Result<std::vector<model::Alert>> SqlAlerts::GetByFingerprints(
    const std::vector<std::string>& fingerprints) {
    // GetByFingerprint's lookup per element: a fingerprint's older episodes are not read.
    static const std::string sqlite = "SELECT " + Qualified("a", kAlertColumns) +
                                      " FROM json_each(?1) k JOIN alerts a ON a.rowid = (SELECT "
                                      "rowid FROM alerts WHERE fingerprint = k.value ORDER BY "
                                      "started_at DESC LIMIT 1)";
    static const std::string postgres =
        "SELECT " + Qualified("a", kAlertColumns) +
        " FROM jsonb_array_elements_text(CAST(?1 AS jsonb)) AS k(fp) CROSS JOIN LATERAL (SELECT " +
        kAlertColumns + " FROM alerts WHERE fingerprint = k.fp ORDER BY started_at DESC LIMIT 1) a";
    NR_ASSIGN_OR_RETURN(auto stmt, PrepareForList(conn_, sqlite, postgres, fingerprints));
    return stmt.Rows([](const Statement& row) { return ReadAlert(row); });
}

Result<std::vector<model::Alert>> SqlAlerts::ListWaiting(const std::string& cluster_id,
                                                         Timestamp now, int limit) {
    // Only the due ones (alerts_waiting): a signal held by the cooldown costs nothing until
    // its cooldown ends.
    static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                   " FROM alerts WHERE waiting = 1 AND cluster_id = ?2 AND "
                                   "wait_until <= ?3 ORDER BY started_at LIMIT ?1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, int64_t(limit)).Bind(2, cluster_id).Bind(3, ToMicros(now));
    return stmt.Rows([](const Statement& row) { return ReadAlert(row); });
}

Result<std::vector<std::string>> SqlAlerts::ListClustersWithWaiting(Timestamp now) {
    // One probe of alerts_waiting per cluster: the cost does not grow with the waiting signals.
    NR_ASSIGN_OR_RETURN(
        auto stmt, conn_.Prepare("SELECT c.cluster_id FROM clusters c WHERE EXISTS (SELECT 1 "
                                 "FROM alerts a WHERE a.waiting = 1 AND a.cluster_id = "
                                 "c.cluster_id AND a.wait_until <= ?1) ORDER BY c.cluster_id"));
    stmt.Bind(1, ToMicros(now));
    return FirstColumn(stmt);
}

Result<std::vector<model::Alert>> SqlAlerts::ListOpen(const std::string& instance_id) {
    // alerts_open_by_instance holds the unlinked and the waiting ones; a linked one is reached
    // from its instance's remediations (an index of remediations by instance) through
    // alerts_by_remediation, so a storm's linked signals cost that index nothing.
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns +
        " FROM alerts WHERE instance_id = ?2 AND resolved_at IS NULL AND (remediation_id IS "
        "NULL OR waiting = 1) UNION ALL SELECT " +
        kAlertColumns +
        " FROM alerts WHERE remediation_id IS NOT NULL AND remediation_id IN (SELECT id FROM "
        "remediations WHERE instance_id = ?2) AND instance_id = ?2 AND resolved_at IS NULL AND "
        "waiting <> 1 ORDER BY started_at LIMIT ?1";
    return Alerts(sql, instance_id, 10000);
}

Result<std::vector<model::Alert>> SqlAlerts::ListWaitingWithActiveRemediation(int limit) {
    // The sweeper asks five times a second, and the walk below visits every active remediation
    // (60,000 of them under durable creates cost the writer thread 9 % of each create's time,
    // bench/RESULTS.md): with no signal waiting at all (alerts_waiting) there is nothing to join.
    NR_ASSIGN_OR_RETURN(auto any, conn_.Prepare("SELECT 1 FROM alerts WHERE waiting = 1 LIMIT 1"));
    NR_ASSIGN_OR_RETURN(bool waits, any.Step());
    if (!waits) return std::vector<model::Alert>();
    // From the active remediations to their instances' waiting signals (alerts_open_by_instance:
    // a waiting signal is firing): a storm's many waiting signals are not each looked at.
    static const std::string sql =
        std::string("SELECT ") + kAlertColumns +
        " FROM alerts WHERE resolved_at IS NULL AND waiting = 1 AND instance_id IN (SELECT "
        "instance_id FROM remediations WHERE state NOT IN (6, 7, 8, 9)) ORDER BY started_at "
        "LIMIT ?1";
    return Alerts(sql, "", limit);
}

Result<std::vector<model::Alert>> SqlAlerts::Alerts(const std::string& sql,
                                                    const std::string& cluster_id, int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, int64_t(limit));
    if (!cluster_id.empty()) stmt.Bind(2, cluster_id);
    return stmt.Rows([](const Statement& row) { return ReadAlert(row); });
}

Status SqlAlerts::Put(const model::Alert& a) {
    static const std::string sql = UpsertSql("alerts", kAlertColumns, "id");
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, a.id)
        .Bind(2, a.fingerprint)
        .Bind(3, a.alert_name)
        .BindOptional(4, a.cluster_id)
        .BindOptional(5, a.instance_id)
        .BindOptional(6, a.target_vm)
        .Bind(7, int64_t(a.severity))
        .Bind(8, EncodeMap(a.labels))
        .Bind(9, EncodeMap(a.annotations))
        .Bind(10, ToMicros(a.started_at))
        .Bind(11, a.resolved_at)
        .BindOptional(12, a.remediation_id)
        .Bind(13, int64_t(a.waiting))
        .Bind(14, ToMicros(a.wait_until));
    return stmt.Send();
}

Status SqlAlerts::AppendOccurrence(const SignalOccurrence& o) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO signal_occurrences(time, cluster_id, "
                                      "instance_id, signal, mode, alert_id, run_id) VALUES(?1, "
                                      "?2, ?3, ?4, ?5, ?6, ?7)"));
    stmt.Bind(1, ToMicros(o.time))
        .Bind(2, o.cluster_id)
        .Bind(3, o.instance_id)
        .Bind(4, o.signal)
        .BindOptional(6, o.alert_id)
        .BindOptional(7, o.run_id);
    if (o.mode) {
        stmt.Bind(5, int64_t(*o.mode));
    } else {
        stmt.BindNull(5);
    }
    return stmt.Send();
}

Result<std::vector<SignalOccurrence>> SqlAlerts::ListOccurrences(Timestamp since, int64_t after_seq,
                                                                 int limit) {
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("SELECT seq, time, cluster_id, instance_id, signal, mode, alert_id, run_id "
                      "FROM signal_occurrences WHERE (time, seq) > (?1, ?2) ORDER BY time, seq "
                      "LIMIT ?3"));
    // (since, after_seq) with after_seq 0 includes every occurrence at `since` itself.
    stmt.Bind(1, after_seq == 0 ? ToMicros(since) - 1 : ToMicros(since))
        .Bind(2, after_seq == 0 ? std::numeric_limits<int64_t>::max() : after_seq)
        .Bind(3, int64_t(limit));
    return stmt.Rows([](const Statement& s) {
        SignalOccurrence o;
        o.seq = s.Int(0);
        o.time = FromMicros(s.Int(1));
        o.cluster_id = s.Text(2);
        o.instance_id = s.Text(3);
        o.signal = s.Text(4);
        if (!s.IsNull(5)) o.mode = model::Mode(s.Int(5));
        if (!s.IsNull(6)) o.alert_id = s.Text(6);
        if (!s.IsNull(7)) o.run_id = s.Text(7);
        return o;
    });
}

}  // namespace noderepair::storage::sql
