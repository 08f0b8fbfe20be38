// The verbs that work on the database directly, beside a running server or without one
// (docs/http-api.md 10): `token create|list|revoke`, `audit verify` and `db copy`. Owns the flags
// the parser fills; lives on cli::Run()'s stack, used by the main thread only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/tokens.hpp"

namespace CLI {
class App;
}

namespace noderepair::cli {

// The `token list` table: name, role, clusters, created, expires and last used; never a
// token or its hash.
std::string FormatTokenTable(const std::vector<storage::TokenRecord>& tokens);

class DatabaseCommands {
public:
    explicit DatabaseCommands(CLI::App& app);
    DatabaseCommands(const DatabaseCommands&) = delete;
    DatabaseCommands& operator=(const DatabaseCommands&) = delete;

    // Runs the verb the parser chose; nullopt when it chose none of these.
    std::optional<int> RunParsed();

private:
    struct Flags {
        std::string db = "sqlite:./noderepair.db";
        std::string name;
        std::string role;
        std::vector<std::string> clusters;
        std::string expires_in;
        std::string head;
        std::string from;
        std::string to;
    };
    int CreateToken();
    int ListTokens();
    int RevokeToken();
    int VerifyAudit();
    int CopyDatabase();

    Flags flags_;
    CLI::App* create_ = nullptr;
    CLI::App* list_ = nullptr;
    CLI::App* revoke_ = nullptr;
    CLI::App* verify_ = nullptr;
    CLI::App* copy_ = nullptr;
};

}  // namespace noderepair::cli
