// A program run to completion with a deadline: argv (no shell), extra environment variables,
// stdout captured in full and stderr apart. Blocks its caller, so it runs on the engine's call
// pool or a watcher's own thread, never on an I/O thread. Past the deadline the program is
// killed and the call answers kDeadlineExceeded: a hung slurmctld holds up only that caller.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace noderepair::infra {

struct CommandOutput {
    int exit_status = 0;  // 0: success
    std::string out;
    std::string err;
};

// kUnavailable when the program cannot be started; kDeadlineExceeded when it ran too long.
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 std::chrono::milliseconds timeout);

}  // namespace noderepair::infra
