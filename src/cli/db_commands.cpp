#include "cli/db_commands.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.hpp"
#include "storage/sqlite/backup.hpp"

namespace noderepair::cli {

DbCommands::DbCommands(CLI::App& db) {
    backup_ = db.add_subcommand(
        "backup", "copy a SQLite database, consistent even while a server writes to it");
    backup_->add_option("--db", db_, "sqlite:PATH (default sqlite:./noderepair.db)");
    backup_->add_option("--to", to_, "the copy: a new file (an existing one is not overwritten)")
        ->required();
}

std::optional<int> DbCommands::RunParsed() {
    if (backup_->parsed()) return Backup();
    return std::nullopt;
}

int DbCommands::Backup() {
    constexpr std::string_view kSqlite = "sqlite:";
    if (!db_.starts_with(kSqlite) || db_.size() == kSqlite.size()) {
        std::fprintf(stderr,
                     "noderepair: db backup copies a SQLite database (--db sqlite:PATH); back up "
                     "PostgreSQL with its own tools (pg_dump)\n");
        return kExitUsage;
    }
    if (to_.empty()) {
        std::fprintf(stderr, "noderepair: --to needs a file path\n");
        return kExitUsage;
    }
    auto report = storage::sqlite::Backup(db_.substr(kSqlite.size()), to_);
    if (!report) {
        std::fprintf(stderr, "noderepair: %s\n", report.error().message.c_str());
        return kExitFailure;
    }
    std::printf("backed up %s to %s: %d pages\n", db_.c_str(), to_.c_str(), report->pages);
    return 0;
}

}  // namespace noderepair::cli
