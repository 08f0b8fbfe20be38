#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {

Status AppendAuditRecords(Connection& conn, const std::vector<PendingAuditRecord>& records,
                          Timestamp time) {
    AuditHead head;
    {
        // On SQLite the writer's transaction already excludes every other writer. PostgreSQL
        // has several (a server and `token create`, or replicas): FOR UPDATE makes each wait
        // for the last one's commit and read the head it left (docs/design.md 11).
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn.Prepare(conn.dialect() == Dialect::kSqlite
                                             ? "SELECT seq, hash FROM audit_head WHERE id = 1"
                                             : "SELECT seq, hash FROM audit_head WHERE id = 1 "
                                               "FOR UPDATE"));
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return Internal("the audit chain's head row is missing");
        head = {stmt.Int(0), stmt.Text(1)};
    }
    AuditRecord record;
    record.time = time;
    // PostgreSQL takes the batch's records as one array (RecordArray) in one INSERT: the
    // appends run while the head row is locked, so what they cost is every writer's wait
    // (docs/design.md 11).
    const bool as_one = conn.dialect() == Dialect::kPostgres;
    RecordArray rows;
    for (const auto& pending : records) {
        record.seq = head.seq + 1;
        record.actor = pending.actor;
        record.action = pending.action;
        record.target = pending.target;
        record.detail = pending.detail;
        head.hash = AuditHash(head.hash, record);
        head.seq = record.seq;
        if (as_one) {
            rows.BeginRecord()
                .Int(record.seq)
                .Int(ToMicros(record.time))
                .Text(record.actor)
                .Text(record.action)
                .Text(record.target)
                .Text(record.detail)
                .Text(head.hash)
                .EndRecord();
            continue;
        }
        // Prepared once (the connection caches it); each Statement resets it when it goes.
        NR_ASSIGN_OR_RETURN(auto insert, conn.Prepare("INSERT INTO audit_records(seq, time, "
                                                      "actor, action, target, detail, hash) "
                                                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
        insert.Bind(1, record.seq)
            .Bind(2, ToMicros(record.time))
            .Bind(3, record.actor)
            .Bind(4, record.action)
            .Bind(5, record.target)
            .Bind(6, record.detail)
            .Bind(7, head.hash);
        NR_RETURN_IF_ERROR(insert.Send());
    }
    if (as_one) {
        NR_ASSIGN_OR_RETURN(auto insert,
                            conn.Prepare("INSERT INTO audit_records(seq, time, actor, action, "
                                         "target, detail, hash) SELECT seq, time, actor, action, "
                                         "target, detail, hash FROM unnest(CAST(?1 AS "
                                         "audit_record_row[]))"));
        insert.Bind(1, rows.Take());
        NR_RETURN_IF_ERROR(insert.Send());
    }
    NR_ASSIGN_OR_RETURN(auto move,
                        conn.Prepare("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1"));
    move.Bind(1, head.seq).Bind(2, head.hash);
    return move.Send();
}

Result<std::vector<AuditRecord>> SqlAudit::List(int64_t after_seq, int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT seq, time, actor, action, target, detail, hash FROM "
                                      "audit_records WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
    stmt.Bind(1, after_seq).Bind(2, int64_t(limit));
    return stmt.Rows([](const Statement& s) {
        return AuditRecord{
            s.Int(0), FromMicros(s.Int(1)), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6)};
    });
}

Result<AuditHead> SqlAudit::Head() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT seq, hash FROM audit_head WHERE id = 1"));
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Internal("the audit chain's head row is missing");
    return AuditHead{stmt.Int(0), stmt.Text(1)};
}

}  // namespace noderepair::storage::sql
