// `noderepair serve`: opens the store, imports the fleet, starts the API and waits for
// SIGTERM/SIGINT.
#pragma once

#include <optional>
#include <string>

#include "cli/config.hpp"
#include "health/signal_router.hpp"

namespace noderepair::cli {

struct ServeFlags {
    std::string config_file;
    std::optional<std::string> listen;
    std::optional<std::string> db;
    std::string fleet_file;
    bool demo = false;
    bool engine_paused = false;
    std::optional<std::string> log_format;
    std::string replica_id;  // empty: derived from the host name and listen address
};

int Serve(const ServeFlags& flags);

// The automation settings of a configuration, as the policy engine takes them (also what
// `policy replay` runs under).
health::AutomationOptions AutomationOptionsOf(const Config& config);

}  // namespace noderepair::cli
