#include <unordered_map>

#include "storage/sqlite/repositories.hpp"
#include "storage/sqlite/rows.hpp"

namespace noderepair::storage::sqlite {

using model::Remediation;
using model::State;

Result<std::optional<TokenRecord>> SqliteTokens::Find(const std::string& token_hash) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT name, role, clusters FROM tokens WHERE "
                                                 "token_hash = ?1"));
    stmt.Bind(1, token_hash);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(
        TokenRecord{stmt.Text(0), Role(stmt.Int(1)), SplitLines(stmt.Text(2))});
}

Result<bool> SqliteTokens::HasAny() {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT 1 FROM tokens LIMIT 1"));
    return stmt.Step();
}

Status SqliteTokens::Insert(const std::string& token_hash, const TokenRecord& token) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO tokens(token_hash, name, role, clusters) "
                                      "VALUES(?1, ?2, ?3, ?4)"));
    stmt.Bind(1, token_hash)
        .Bind(2, token.name)
        .Bind(3, int64_t(token.role))
        .Bind(4, JoinLines(token.clusters));
    return stmt.Run();
}

Result<std::optional<std::string>> SqliteSettings::Get(const std::string& key) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT value FROM settings WHERE key = ?1"));
    stmt.Bind(1, key);
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(stmt.Text(0));
}

Status SqliteSettings::Put(const std::string& key, const std::string& value) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("INSERT INTO settings(key, value) VALUES(?1, ?2) ON "
                                      "CONFLICT(key) DO UPDATE SET value = excluded.value"));
    stmt.Bind(1, key).Bind(2, value);
    return stmt.Run();
}

Status SqliteSettings::Delete(const std::string& key) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("DELETE FROM settings WHERE key = ?1"));
    stmt.Bind(1, key);
    return stmt.Run();
}

}  // namespace noderepair::storage::sqlite
