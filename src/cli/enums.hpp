// The remediation enums as the CLI shows and reads them: tables drop the prefix every value
// of an enum shares (REMEDIATION_MODE_VM_ONLY → VM_ONLY); flags take either form, in any
// case, with '-' or '_'. The wire names themselves come from model/.
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"

namespace noderepair::cli {

// The short form of a mode, trigger or severity wire name; any other text unchanged.
std::string ShortName(std::string_view wire);

// The wire name for a flag value; InvalidArgument naming the accepted values otherwise.
Result<std::string> ModeFromFlag(std::string_view text);
Result<std::string> StateFromFlag(std::string_view text);
Result<std::string> TriggerFromFlag(std::string_view text);

// Whether `wire` names a terminal state (docs/http-api.md 2.2).
bool IsTerminalState(std::string_view wire);

}  // namespace noderepair::cli
