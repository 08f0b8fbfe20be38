#include "model/remediation.hpp"

#include <utility>

namespace noderepair::model {
namespace {

constexpr std::pair<Mode, std::string_view> kModeNames[] = {
    {Mode::kVmOnly, "REMEDIATION_MODE_VM_ONLY"},
    {Mode::kHostAware, "REMEDIATION_MODE_HOST_AWARE"},
    {Mode::kEvictWithoutReplacement, "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT"},
    {Mode::kRebootVm, "REMEDIATION_MODE_REBOOT_VM"},
    {Mode::kHostPowerCycle, "REMEDIATION_MODE_HOST_POWER_CYCLE"},
};
constexpr std::pair<Trigger, std::string_view> kTriggerNames[] = {
    {Trigger::kManual, "REMEDIATION_TRIGGER_MANUAL"},
    {Trigger::kAutomated, "REMEDIATION_TRIGGER_AUTOMATED"},
};
constexpr std::pair<State, std::string_view> kStateNames[] = {
    {State::kPendingApproval, "PENDING_APPROVAL"},
    {State::kPending, "PENDING"},
    {State::kQuarantining, "QUARANTINING"},
    {State::kQuarantined, "QUARANTINED"},
    {State::kRunning, "RUNNING"},
    {State::kSucceeded, "SUCCEEDED"},
    {State::kFailed, "FAILED"},
    {State::kCancelled, "CANCELLED"},
    {State::kAutoResolved, "AUTO_RESOLVED"},
};

template <class E, size_t N>
std::string_view NameOf(const std::pair<E, std::string_view> (&table)[N], E value) {
    for (const auto& [e, name] : table) {
        if (e == value) return name;
    }
    return "UNSPECIFIED";
}

template <class E, size_t N>
std::optional<E> ValueOf(const std::pair<E, std::string_view> (&table)[N], std::string_view s) {
    for (const auto& [e, name] : table) {
        if (name == s) return e;
    }
    return std::nullopt;
}

}  // namespace

std::string_view WireName(Mode mode) { return NameOf(kModeNames, mode); }
std::string_view WireName(Trigger trigger) { return NameOf(kTriggerNames, trigger); }
std::string_view WireName(State state) { return NameOf(kStateNames, state); }
std::optional<Mode> ParseMode(std::string_view wire) { return ValueOf(kModeNames, wire); }
std::optional<Trigger> ParseTrigger(std::string_view wire) { return ValueOf(kTriggerNames, wire); }
std::optional<State> ParseState(std::string_view wire) { return ValueOf(kStateNames, wire); }

bool IsTerminal(State state) {
    return state == State::kSucceeded || state == State::kFailed || state == State::kCancelled ||
           state == State::kAutoResolved;
}

}  // namespace noderepair::model
