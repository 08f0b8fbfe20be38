#include "storage/sql/repositories.hpp"
#include "storage/sql/rows.hpp"

namespace noderepair::storage::sql {
namespace {

constexpr const char* kTokenColumns =
    "name, role, clusters, created_at, expires_at, revoked_at, last_used_at";

TokenRecord ReadToken(const Statement& s) {
    return TokenRecord{s.Text(0), Role(s.Int(1)), SplitLines(s.Text(2)), s.Time(3), s.Time(4),
                       s.Time(5), s.Time(6)};
}

std::string TimeOrEmpty(const std::optional<Timestamp>& t) {
    return t ? FormatRfc3339(*t) : std::string();
}

}  // namespace

Result<std::optional<TokenRecord>> SqlTokens::Find(const std::string& token_hash) {
    static const std::string sql =
        std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE token_hash = ?1";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    stmt.Bind(1, token_hash);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(ReadToken(stmt));
}

Result<bool> SqlTokens::HasAny() {
    // In a write on PostgreSQL, where several processes write at once: a lock that writers of
    // tokens take in turn, so "no token yet, insert the first" is decided by one of them (the
    // other then finds the token). SQLite's writer is alone already.
    if (log_ != nullptr && conn_.dialect() == Dialect::kPostgres) {
        NR_RETURN_IF_ERROR(conn_.Exec("LOCK TABLE tokens IN SHARE ROW EXCLUSIVE MODE"));
    }
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT 1 FROM tokens LIMIT 1"));
    return stmt.Step();
}

Result<std::vector<TokenRecord>> SqlTokens::List() {
    static const std::string sql = std::string("SELECT ") + kTokenColumns +
                                   " FROM tokens WHERE revoked_at IS NULL ORDER BY name, "
                                   "created_at";
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
    return stmt.Rows(&ReadToken);
}

Status SqlTokens::Insert(const std::string& token_hash, const TokenRecord& token) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO tokens(token_hash, name, role, clusters, "
                                      "created_at, expires_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
    stmt.Bind(1, token_hash)
        .Bind(2, token.name)
        .Bind(3, int64_t(token.role))
        .Bind(4, JoinLines(token.clusters))
        .Bind(5, token.created_at)
        .Bind(6, token.expires_at);
    NR_RETURN_IF_ERROR(stmt.Run());
    RecordAudit(log_, "token.create", "tokens/" + token.name,
                AuditDetail({{"role", RoleName(token.role)},
                             {"clusters", AuditList(token.clusters)},
                             {"expires_at", TimeOrEmpty(token.expires_at)}}));
    return OkStatus();
}

Status SqlTokens::Revoke(const std::string& name, Timestamp when) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("UPDATE tokens SET revoked_at = ?2 WHERE name = "
                                                 "?1 AND revoked_at IS NULL"));
    stmt.Bind(1, name).Bind(2, ToMicros(when));
    NR_RETURN_IF_ERROR(stmt.Run());
    const int revoked = stmt.Changes();
    if (revoked == 0) return NotFound("no token named '" + name + "' to revoke");
    RecordAudit(log_, "token.revoke", "tokens/" + name,
                AuditDetail({{"tokens", std::to_string(revoked)}}));
    return OkStatus();
}

Status SqlTokens::TouchLastUsed(const std::string& token_hash, Timestamp when) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("UPDATE tokens SET last_used_at = ?2 WHERE token_hash = ?1 "
                                      "AND (last_used_at IS NULL OR last_used_at < ?2)"));
    stmt.Bind(1, token_hash).Bind(2, ToMicros(when));
    return stmt.Run();
}

Result<std::optional<std::string>> SqlSettings::Get(const std::string& key) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT value FROM settings WHERE key = ?1"));
    stmt.Bind(1, key);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(stmt.Text(0));
}

Status SqlSettings::Put(const std::string& key, const std::string& value) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO settings(key, value) VALUES(?1, ?2) ON "
                                      "CONFLICT(key) DO UPDATE SET value = excluded.value"));
    stmt.Bind(1, key).Bind(2, value);
    NR_RETURN_IF_ERROR(stmt.Run());
    // The engine's pause switch (docs/http-api.md 6) reads as what it is in the trail.
    if (key == "engine.paused") {
        RecordAudit(log_, value == "true" ? "engine.pause" : "engine.resume", "engine", "{}");
    } else {
        RecordAudit(log_, "setting.put", "settings/" + key, AuditDetail({{"value", value}}));
    }
    return OkStatus();
}

Status SqlSettings::Delete(const std::string& key) {
    if (row_ != nullptr && row_->holding) {
        // With the row's other appends (SendRowWrites, which says how a deletion is audited).
        row_->deleted_settings.push_back(key);
        return HoldRowWrites(conn_, *row_);
    }
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("DELETE FROM settings WHERE key = ?1"));
    stmt.Bind(1, key);
    // Audited only when there was a row, known by the change's flush: every create deletes the
    // instance's attention setting, and waiting here would cost it a round trip.
    // The actor is this change's: the answer may be read while a later change runs.
    std::string actor = log_ != nullptr ? log_->actor : "";
    return stmt.SendThen([log = log_, key, actor = std::move(actor)](int changed) {
        if (changed > 0 && log != nullptr) {
            log->audit.push_back({actor, "setting.delete", "settings/" + key, "{}"});
        }
    });
}

}  // namespace noderepair::storage::sql
