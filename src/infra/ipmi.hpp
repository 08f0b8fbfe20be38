// Host power through a BMC over IPMI 2.0 (RMCP+), with libfreeipmi's C API. Each call opens a
// session, sends one command and closes it; a session's every exchange has the deadline given
// (the library's own default is 20 s). Blocking: it runs on the engine's call pool or the power
// poller's thread.
#pragma once

#include <chrono>
#include <string>

#include "common/status.hpp"

namespace noderepair::infra {

struct Bmc {
    std::string address;  // "host" or "host:port" (UDP, 623 by default)
    std::string username;
    std::string password_file;  // holds the password; the fleet file never does
};

enum class PowerState { kUnknown, kOn, kOff };
std::string_view PowerName(PowerState state);  // "on", "off", "unknown"

enum class PowerCommand { kOn, kOff, kCycle };

// Errors: kPermissionDenied when the BMC refuses the credentials (trying again cannot help),
// kUnavailable when it did not answer within the timeout (worth another try), kInvalidArgument
// for an unreadable password file or a bad address.
Result<PowerState> GetPower(const Bmc& bmc, std::chrono::milliseconds timeout);
Status SetPower(const Bmc& bmc, PowerCommand command, std::chrono::milliseconds timeout);

}  // namespace noderepair::infra
