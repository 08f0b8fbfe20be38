#include "engine/workflow.hpp"

namespace noderepair::engine {
namespace {

using model::State;
using providers::Action;

constexpr Step kVmOnly[] = {
    // Slots first: when no host has room the old VM is left as it was (API.md 2.1).
    {Action::kReserve, State::kRunning},   {Action::kDrain, State::kRunning},
    {Action::kDeleteVm, State::kRunning},  {Action::kProvisionVm, State::kRunning},
    {Action::kWaitReady, State::kRunning}, {Action::kVerify, State::kRunning},
    {Action::kRejoin, State::kRunning},
};
constexpr Step kHostAware[] = {
    {Action::kCordonHost, State::kQuarantining}, {Action::kReserve, State::kQuarantining},
    {Action::kDrain, State::kQuarantining},      {Action::kDeleteVm, State::kQuarantined},
    {Action::kProvisionVm, State::kRunning},     {Action::kWaitReady, State::kRunning},
    {Action::kVerify, State::kRunning},          {Action::kRejoin, State::kRunning},
    // No uncordon: the old host is suspect until an operator uncordons it.
};
constexpr Step kEvict[] = {
    {Action::kDrain, State::kRunning},
    {Action::kEvictVm, State::kRunning},
};
constexpr Step kRebootVm[] = {
    {Action::kDrain, State::kRunning},     {Action::kRebootVm, State::kRunning},
    {Action::kWaitReady, State::kRunning}, {Action::kVerify, State::kRunning},
    {Action::kRejoin, State::kRunning},
};
constexpr Step kHostPowerCycle[] = {
    {Action::kCordonHost, State::kQuarantining},
    {Action::kDrain, State::kQuarantining},
    {Action::kPowerCycleHost, State::kQuarantined},
    {Action::kWaitReady, State::kRunning},
    {Action::kVerify, State::kRunning},
    {Action::kRejoin, State::kRunning},
    {Action::kUncordonHost, State::kRunning},
};

}  // namespace

std::span<const Step> WorkflowFor(model::Mode mode) {
    switch (mode) {
        case model::Mode::kVmOnly:
            return kVmOnly;
        case model::Mode::kHostAware:
            return kHostAware;
        case model::Mode::kEvictWithoutReplacement:
            return kEvict;
        case model::Mode::kRebootVm:
            return kRebootVm;
        case model::Mode::kHostPowerCycle:
            return kHostPowerCycle;
    }
    return kRebootVm;
}

bool WaitsForOnSameHost(model::Mode claiming, model::Mode running) {
    auto cordons = [](model::Mode m) {
        return m == model::Mode::kHostAware || m == model::Mode::kHostPowerCycle;
    };
    return cordons(claiming) && cordons(running) &&
           (claiming == model::Mode::kHostPowerCycle || running == model::Mode::kHostPowerCycle);
}

}  // namespace noderepair::engine
