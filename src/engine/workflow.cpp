#include "engine/workflow.hpp"

namespace noderepair::engine {
namespace {

using model::State;
using providers::Action;

// Version 1: the engine before co-tenants. Kept unchanged for jobs started under it.
constexpr Step kVmOnlyV1[] = {
    {Action::kReserve, State::kRunning},   {Action::kDrain, State::kRunning},
    {Action::kDeleteVm, State::kRunning},  {Action::kProvisionVm, State::kRunning},
    {Action::kWaitReady, State::kRunning}, {Action::kVerify, State::kRunning},
    {Action::kRejoin, State::kRunning},
};
constexpr Step kHostAwareV1[] = {
    {Action::kCordonHost, State::kQuarantining}, {Action::kReserve, State::kQuarantining},
    {Action::kDrain, State::kQuarantining},      {Action::kDeleteVm, State::kQuarantined},
    {Action::kProvisionVm, State::kRunning},     {Action::kWaitReady, State::kRunning},
    {Action::kVerify, State::kRunning},          {Action::kRejoin, State::kRunning},
};
constexpr Step kEvictV1[] = {
    {Action::kDrain, State::kRunning},
    {Action::kEvictVm, State::kRunning},
};
constexpr Step kRebootVmV1[] = {
    {Action::kDrain, State::kRunning},     {Action::kRebootVm, State::kRunning},
    {Action::kWaitReady, State::kRunning}, {Action::kVerify, State::kRunning},
    {Action::kRejoin, State::kRunning},
};
constexpr Step kHostPowerCycleV1[] = {
    {Action::kCordonHost, State::kQuarantining},
    {Action::kDrain, State::kQuarantining},
    {Action::kPowerCycleHost, State::kQuarantined},
    {Action::kWaitReady, State::kRunning},
    {Action::kVerify, State::kRunning},
    {Action::kRejoin, State::kRunning},
    {Action::kUncordonHost, State::kRunning},
};

// Version 2: a power cycle drains every VM of its host first and brings each back afterwards.
// The other modes keep their steps; VM_ONLY's reservation keeps the VM's own slots on its host
// unless that host is cordoned (the engine's reservation step decides, not the list).
constexpr Step kHostPowerCycleV2[] = {
    {Action::kCordonHost, State::kQuarantining},    {Action::kDrain, State::kQuarantining, true},
    {Action::kPowerCycleHost, State::kQuarantined}, {Action::kWaitReady, State::kRunning, true},
    {Action::kVerify, State::kRunning, true},       {Action::kRejoin, State::kRunning, true},
    {Action::kUncordonHost, State::kRunning},
    // The old host stays cordoned after HOST_AWARE: it is suspect until an operator
    // uncordons it. A power cycle lifts its own cordon (unless the host was cordoned before).
};

}  // namespace

std::span<const Step> WorkflowFor(model::Mode mode, int version) {
    if (version != 1 && version != 2) return {};
    switch (mode) {
        case model::Mode::kVmOnly:
            return kVmOnlyV1;
        case model::Mode::kHostAware:
            return kHostAwareV1;
        case model::Mode::kEvictWithoutReplacement:
            return kEvictV1;
        case model::Mode::kRebootVm:
            return kRebootVmV1;
        case model::Mode::kHostPowerCycle:
            return version == 1 ? std::span<const Step>(kHostPowerCycleV1)
                                : std::span<const Step>(kHostPowerCycleV2);
    }
    return {};
}

std::optional<size_t> StepIndex(std::span<const Step> workflow, std::string_view name) {
    for (size_t i = 0; i < workflow.size(); ++i) {
        if (providers::ActionName(workflow[i].action) == name) return i;
    }
    return std::nullopt;
}

bool IsEngineStep(providers::Action action) { return action == Action::kReserve; }

std::string StepKey(int version, const std::string& remediation_id, size_t index,
                    std::string_view step, const std::string& instance_id, bool own_instance) {
    if (version == 1) return remediation_id + "/" + std::to_string(index);
    std::string key = remediation_id + "/" + std::string(step);
    if (!own_instance) key += "/" + instance_id;
    return key;
}

bool WaitsForOnSameHost(model::Mode claiming, model::Mode running) {
    return claiming == model::Mode::kHostPowerCycle || running == model::Mode::kHostPowerCycle;
}

}  // namespace noderepair::engine
