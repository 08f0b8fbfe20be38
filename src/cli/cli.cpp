#include "cli/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "auth/tokens.hpp"
#include "cli/commands.hpp"
#include "cli/serve.hpp"
#include "storage/open.hpp"

namespace noderepair::cli {
namespace {

struct TokenFlags {
    std::string db = "sqlite:./noderepair.db";
    std::string name;
    std::string role;
    std::vector<std::string> clusters;
};

int CreateTokenCommand(const TokenFlags& flags) {
    auto role = auth::ParseRole(flags.role);
    if (!role) {
        std::fprintf(stderr, "noderepair: --role must be viewer, operator, approver or admin\n");
        return 2;
    }
    if (flags.name.empty() || flags.name.size() > 200) {
        std::fprintf(stderr, "noderepair: --name must be 1-200 characters\n");
        return 2;
    }
    auto store = storage::OpenStore(flags.db, {});
    if (!store) {
        std::fprintf(stderr, "noderepair: %s\n", store.error().message.c_str());
        return 1;
    }
    auto token = auth::CreateToken(**store, {flags.name, *role, flags.clusters});
    (*store)->Close();
    if (!token) {
        std::fprintf(stderr, "noderepair: %s\n", token.error().message.c_str());
        return 1;
    }
    std::printf("%s\n", token->c_str());
    return 0;
}

}  // namespace

int Run(int argc, char** argv) {
    CLI::App app{"noderepair: GPU node remediation service"};
    app.require_subcommand(1);

    ServeFlags serve;
    auto* serve_cmd = app.add_subcommand("serve", "run the API server and the engine");
    serve_cmd->add_option("--config", serve.config_file, "YAML config file");
    serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (default 127.0.0.1:8080)");
    serve_cmd->add_option("--db", serve.db, "sqlite:PATH (default sqlite:./noderepair.db)");
    auto* fleet = serve_cmd->add_option("--fleet", serve.fleet_file, "fleet file (JSON)");
    serve_cmd->add_flag("--demo", serve.demo, "use the built-in demo fleet")->excludes(fleet);
    serve_cmd->add_flag("--engine-paused", serve.engine_paused, "start with the engine paused");
    serve_cmd->add_option("--log-format", serve.log_format, "text (default) or json lines")
        ->check(CLI::IsMember({"text", "json"}));

    TokenFlags token;
    auto* token_cmd = app.add_subcommand("token", "manage API tokens");
    token_cmd->require_subcommand(1);
    auto* create = token_cmd->add_subcommand("create", "create a token and print it");
    create->add_option("--db", token.db, "sqlite:PATH");
    create->add_option("--name", token.name, "who the token is for")->required();
    create->add_option("--role", token.role, "viewer|operator|approver|admin")->required();
    create->add_option("--cluster", token.clusters, "limit the token to these clusters");

    // The client verbs inherit fallthrough, so --server, --token and --json may follow the verb.
    app.fallthrough();
    ClientCommands client(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // Help is success; every other parse error is a usage error (exit 2).
        return app.exit(e) == 0 ? 0 : kExitUsage;
    }
    if (serve_cmd->parsed()) return Serve(serve);
    if (create->parsed()) return CreateTokenCommand(token);
    if (auto code = client.RunParsed()) return *code;
    return kExitUsage;
}

}  // namespace noderepair::cli
