// `noderepair db backup` (README "Backups"): a copy of a whole SQLite database, beside a running
// server or without one. Owns the flags the parser fills; lives on cli::Run()'s stack, used by
// the main thread only.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace noderepair::cli {

class DbCommands {
public:
    // Adds `backup` to the `db` subcommand (database.hpp makes it, with `db copy`).
    explicit DbCommands(CLI::App& db);
    DbCommands(const DbCommands&) = delete;
    DbCommands& operator=(const DbCommands&) = delete;

    // Runs the verb the parser chose; nullopt when it chose none of these.
    std::optional<int> RunParsed();

private:
    int Backup();

    std::string db_ = "sqlite:./noderepair.db";
    std::string to_;
    CLI::App* backup_ = nullptr;
};

}  // namespace noderepair::cli
