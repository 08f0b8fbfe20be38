// The client verbs of docs/http-api.md 6 (`remediations`, `clusters`, `hosts`, `alerts`,
// `health-checks`, `engine`) as CLI11 subcommands of the one binary. Owns the flags the
// parser fills; lives on cli::Run()'s stack, used by the main thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/client.hpp"

namespace CLI {
class App;
}

namespace noderepair::cli {

// Exit codes: 0 done, 1 the server refused or could not be reached, 2 a usage error.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class ClientCommands {
public:
    // Adds the verbs and the client flags (--server, --token, --json) to `app`. Call it after
    // app.fallthrough(), so the client flags may follow the verb.
    explicit ClientCommands(CLI::App& app);
    ClientCommands(const ClientCommands&) = delete;
    ClientCommands& operator=(const ClientCommands&) = delete;

    // Runs the verb the parser chose; nullopt when it chose none of these.
    std::optional<int> RunParsed();

private:
    struct Flags {
        std::string cluster;
        std::string instance = "-";
        std::string id;                // remediation, health check run or cluster
        std::vector<std::string> ids;  // remediations approve
        std::string mode;
        std::string reason;
        std::string remediation_id;
        std::string comment;
        std::string status;
        std::string order_by;
        std::string page_size;
        std::string page_token;
        std::vector<std::string> states;
        std::vector<std::string> modes;
        std::vector<std::string> triggers;
        std::vector<std::string> tests;
        bool all = false;
        bool watch = false;
    };

    void AddRemediations(CLI::App& app);
    void AddInventory(CLI::App& app);
    void AddHealth(CLI::App& app);
    void AddEngine(CLI::App& app);
    void AddIncidents(CLI::App& app);
    // Makes `verb` the one to run when `sub` is parsed.
    void On(CLI::App* sub, int (ClientCommands::*verb)());

    // Prints the reply's body as it came (--json) or `render` of it; 1 after printing an error.
    int Show(const Result<JsonReply>& reply, std::string (*render)(const boost::json::value&));

    std::string RemediationsPath() const;
    std::string RemediationPath(std::string_view verb = {}) const;

    int ListRemediations();
    int GetRemediation();
    int CreateRemediation();
    int ApproveRemediation();
    // Several ids, or no instance: one POST …/remediations:batchApprove.
    int BatchApproveRemediations(const std::string& mode);
    int RejectRemediation();
    int CancelRemediation();
    int RemediationEvents();
    int ListClusters();
    int GetCluster();
    int ListHosts();
    int CordonHost();
    int UncordonHost();
    int GetHost();
    int ClearHost();
    int ListIncidents();
    int ReleaseIncident();
    int DismissIncident();
    int ListAlerts();
    int RunHealthCheck();
    int GetHealthCheck();
    int ListHealthChecks();
    int PauseEngine();
    int ResumeEngine();
    int EngineStatus();

    ClientFlags client_;
    Flags f_;
    int (ClientCommands::*chosen_)() = nullptr;
    std::optional<ApiClient> api_;
};

}  // namespace noderepair::cli
