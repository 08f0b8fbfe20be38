#include "cli/database.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "auth/tokens.hpp"
#include "cli/commands.hpp"
#include "cli/table.hpp"
#include "common/request_context.hpp"
#include "storage/copy.hpp"
#include "storage/open.hpp"

namespace noderepair::cli {
namespace {

int Failed(const std::string& message, int code = kExitFailure) {
    std::fprintf(stderr, "noderepair: %s\n", message.c_str());
    return code;
}

std::string TimeCell(const std::optional<Timestamp>& t) {
    return t ? ShortTime(FormatRfc3339(*t)) : std::string();
}

// Opens the store of `db`; with `must_exist`, a SQLite file that is not there is an error
// rather than a new empty database.
Result<std::unique_ptr<storage::Store>> OpenDatabase(const std::string& db, bool must_exist) {
    constexpr std::string_view kSqlite = "sqlite:";
    if (must_exist && db.starts_with(kSqlite)) {
        std::error_code error;
        if (!std::filesystem::exists(db.substr(kSqlite.size()), error)) {
            return NotFound("database " + db + " does not exist");
        }
    }
    return storage::OpenStore(db, {});
}

}  // namespace

std::string FormatTokenTable(const std::vector<storage::TokenRecord>& tokens) {
    std::vector<TableRow> rows;
    for (const auto& t : tokens) {
        rows.push_back({t.name, std::string(storage::RoleName(t.role)),
                        t.clusters.empty() ? "all" : storage::AuditList(t.clusters),
                        TimeCell(t.created_at), t.expires_at ? TimeCell(t.expires_at) : "never",
                        TimeCell(t.last_used_at)});
    }
    return FormatTable({"NAME", "ROLE", "CLUSTERS", "CREATED", "EXPIRES", "LAST USED"}, rows);
}

constexpr const char* kDbHelp = "sqlite:PATH or postgres://USER[:PASSWORD]@HOST:PORT/DBNAME";

DatabaseCommands::DatabaseCommands(CLI::App& app) {
    auto* token = app.add_subcommand("token", "manage API tokens (in the database)");
    token->require_subcommand(1);
    create_ = token->add_subcommand("create", "create a token and print it");
    create_->add_option("--db", flags_.db, kDbHelp);
    create_->add_option("--name", flags_.name, "who the token is for")->required();
    create_->add_option("--role", flags_.role, "viewer|operator|approver|admin")->required();
    create_->add_option("--cluster", flags_.clusters, "limit the token to these clusters");
    create_->add_option("--expires-in", flags_.expires_in,
                        "lifetime: a number and s, m, h or d (e.g. 90d); default never");
    list_ = token->add_subcommand("list", "list the tokens that are not revoked");
    list_->add_option("--db", flags_.db, kDbHelp);
    revoke_ = token->add_subcommand("revoke", "revoke every token of a name");
    revoke_->add_option("--db", flags_.db, kDbHelp);
    revoke_->add_option("--name", flags_.name, "the token's name")->required();

    auto* audit = app.add_subcommand("audit", "the audit trail (in the database)");
    audit->require_subcommand(1);
    verify_ = audit->add_subcommand("verify", "check the audit chain's hashes");
    verify_->add_option("--db", flags_.db, kDbHelp);
    verify_->add_option("--head", flags_.head,
                        "a head hash seen earlier: also catch records cut off the end");

    auto* db = app.add_subcommand("db", "move or copy the database");
    db->require_subcommand(1);
    copy_ = db->add_subcommand("copy", "copy a whole SQLite installation into PostgreSQL");
    copy_->add_option("--from", flags_.from, "sqlite:PATH")->required();
    copy_->add_option("--to", flags_.to, "postgres://USER[:PASSWORD]@HOST:PORT/DBNAME (empty)")
        ->required();
}

std::optional<int> DatabaseCommands::RunParsed() {
    // What these verbs change is audited as the command line's.
    ScopedActor actor("cli");
    if (create_->parsed()) return CreateToken();
    if (list_->parsed()) return ListTokens();
    if (revoke_->parsed()) return RevokeToken();
    if (verify_->parsed()) return VerifyAudit();
    if (copy_->parsed()) return CopyDatabase();
    return std::nullopt;
}

int DatabaseCommands::CreateToken() {
    auto role = auth::ParseRole(flags_.role);
    if (!role) return Failed("--role must be viewer, operator, approver or admin", kExitUsage);
    if (flags_.name.empty() || flags_.name.size() > 200) {
        return Failed("--name must be 1-200 characters", kExitUsage);
    }
    storage::TokenRecord record{flags_.name, *role, flags_.clusters};
    record.created_at = SystemClock().Now();
    if (!flags_.expires_in.empty()) {
        auto lifetime = auth::ParseExpiresIn(flags_.expires_in);
        if (!lifetime) return Failed(lifetime.error().message, kExitUsage);
        record.expires_at = *record.created_at + *lifetime;
    }
    auto store = OpenDatabase(flags_.db, false);
    if (!store) return Failed(store.error().message);
    auto token = auth::CreateToken(**store, record);
    (*store)->Close();
    if (!token) return Failed(token.error().message);
    std::printf("%s\n", token->c_str());
    return 0;
}

int DatabaseCommands::ListTokens() {
    auto store = OpenDatabase(flags_.db, true);
    if (!store) return Failed(store.error().message);
    std::vector<storage::TokenRecord> tokens;
    Status read = (*store)->Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(tokens, reader.Tokens().List());
        return OkStatus();
    });
    (*store)->Close();
    if (!read) return Failed(read.error().message);
    std::fputs(FormatTokenTable(tokens).c_str(), stdout);
    return 0;
}

int DatabaseCommands::RevokeToken() {
    auto store = OpenDatabase(flags_.db, true);
    if (!store) return Failed(store.error().message);
    const Timestamp now = SystemClock().Now();
    Status revoked = (*store)->WriteAndWait(
        [&](storage::Txn& txn) { return txn.Tokens().Revoke(flags_.name, now); });
    (*store)->Close();
    if (!revoked) return Failed(revoked.error().message);
    std::printf("revoked token '%s'\n", TerminalText(flags_.name).c_str());
    return 0;
}

int DatabaseCommands::VerifyAudit() {
    auto store = OpenDatabase(flags_.db, true);
    if (!store) return Failed(store.error().message);
    std::optional<std::string> head;
    if (!flags_.head.empty()) head = flags_.head;
    Result<storage::AuditVerdict> verdict = storage::AuditVerdict{};
    Status read = (*store)->Read([&](storage::Reader& reader) -> Status {
        verdict = storage::VerifyAuditChain(reader.Audit(), head);
        return verdict ? OkStatus() : Status(verdict.error());
    });
    (*store)->Close();
    if (!read) return Failed(read.error().message);
    if (!verdict->intact) {
        std::printf("audit chain broken: %s\n", verdict->problem.c_str());
        return kExitFailure;
    }
    std::printf("audit chain intact: %lld records checked, head %s\n",
                static_cast<long long>(verdict->checked), verdict->head.c_str());
    return 0;
}

int DatabaseCommands::CopyDatabase() {
    auto copied = storage::CopyDatabase(flags_.from, flags_.to);
    if (!copied) {
        return Failed(copied.error().message,
                      copied.error().code == Code::kInvalidArgument ? kExitUsage : kExitFailure);
    }
    std::vector<TableRow> rows;
    for (const auto& t : *copied) rows.push_back({t.table, std::to_string(t.rows)});
    std::printf("%s", FormatTable({"TABLE", "ROWS"}, rows).c_str());
    std::printf("copied %s to %s\n", flags_.from.c_str(), flags_.to.c_str());
    return 0;
}

}  // namespace noderepair::cli
