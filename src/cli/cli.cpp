#include "cli/cli.hpp"

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/database.hpp"
#include "cli/db_commands.hpp"
#include "cli/policy_commands.hpp"
#include "cli/serve.hpp"

namespace noderepair::cli {

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
    serve_cmd->add_option("--replica-id", serve.replica_id,
                          "this replica's id, stable across restarts (default HOSTNAME/LISTEN)");
    serve_cmd->add_option("--log-format", serve.log_format, "text (default) or json lines")
        ->check(CLI::IsMember({"text", "json"}));

    DatabaseCommands database(app);
    DbCommands db(*app.get_subcommand("db"));
    PolicyCommands policy(app);

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
    if (auto code = database.RunParsed()) return *code;
    if (auto code = db.RunParsed()) return *code;
    if (auto code = policy.RunParsed()) return *code;
    if (auto code = client.RunParsed()) return *code;
    return kExitUsage;
}

}  // namespace noderepair::cli
