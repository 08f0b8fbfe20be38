// The command line: `serve`, the database verbs (database.hpp) and the client verbs
// (commands.hpp). main() calls Run().
#pragma once

namespace noderepair::cli {

// Returns the process exit code.
int Run(int argc, char** argv);

}  // namespace noderepair::cli
