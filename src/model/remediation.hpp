// The remediation resource (docs/http-api.md 2) and its enums, as plain data. Wire names of the
// enums live only in this folder's codecs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"
#include "model/alert.hpp"

namespace noderepair::model {

// Numeric values are stored in the database: never renumber, only append.
enum class Mode : uint8_t {
    kVmOnly = 1,
    kHostAware = 2,
    kEvictWithoutReplacement = 3,
    kRebootVm = 4,
    kHostPowerCycle = 5,
};

enum class Trigger : uint8_t {
    kManual = 1,
    kAutomated = 2,
};

enum class State : uint8_t {
    kPendingApproval = 1,
    kPending = 2,
    kQuarantining = 3,
    kQuarantined = 4,
    kRunning = 5,
    kSucceeded = 6,
    kFailed = 7,
    kCancelled = 8,
    kAutoResolved = 9,
};

inline constexpr Mode kAllModes[] = {Mode::kVmOnly, Mode::kHostAware,
                                     Mode::kEvictWithoutReplacement, Mode::kRebootVm,
                                     Mode::kHostPowerCycle};
inline constexpr Trigger kAllTriggers[] = {Trigger::kManual, Trigger::kAutomated};
inline constexpr State kAllStates[] = {
    State::kPendingApproval, State::kPending,   State::kQuarantining,
    State::kQuarantined,     State::kRunning,   State::kSucceeded,
    State::kFailed,          State::kCancelled, State::kAutoResolved};

std::string_view WireName(Mode mode);
std::string_view WireName(Trigger trigger);
std::string_view WireName(State state);
std::optional<Mode> ParseMode(std::string_view wire);
std::optional<Trigger> ParseTrigger(std::string_view wire);
std::optional<State> ParseState(std::string_view wire);

bool IsTerminal(State state);

struct Remediation {
    std::string id;
    std::string cluster_id;
    std::string instance_id;
    std::string instance_name;
    Mode mode = Mode::kVmOnly;
    Trigger trigger = Trigger::kManual;
    State state = State::kPending;
    std::string reason;
    std::string active_health_check_run_id;
    std::string passive_health_check_event_id;
    std::string requested_by;
    std::string reviewed_by;
    std::optional<Timestamp> review_time;
    std::string review_comment;
    Timestamp create_time;
    Timestamp update_time;
    std::optional<Timestamp> start_time;
    std::optional<Timestamp> end_time;
    std::string error_message;
    // What the creator asked for, kept to recognise an idempotent replay after the mode was
    // overridden on approval (docs/http-api.md 4.1).
    Mode requested_mode = Mode::kVmOnly;
    // Bumped by every stored change: the compare-and-set of the one writer (not on the wire).
    int64_t version = 0;
    // Filled by reads: the passive alerts linked as evidence, resolved ones included.
    std::vector<Alert> linked_alerts;
};

// One line of a remediation's timeline (docs/http-api.md 4.8).
struct RemediationEvent {
    Timestamp time;
    std::string type;  // "state_change", "mode_change" or "step"
    std::optional<State> state;
    std::string step;
    std::string actor;
    std::string detail;
};

}  // namespace noderepair::model
