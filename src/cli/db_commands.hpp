// `noderepair db ...`: verbs that work on a whole database file, beside a running server or
// without one. Today `db backup` (README "CLI"). Owns the flags the parser fills; lives on
// cli::Run()'s stack, used by the main thread only.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace noderepair::cli {

class DbCommands {
public:
    explicit DbCommands(CLI::App& app);
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
