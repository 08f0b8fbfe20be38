#include "providers/provider.hpp"

namespace noderepair::providers {

std::string_view ActionName(Action action) {
    switch (action) {
        case Action::kCordonHost:
            return "cordon_host";
        case Action::kUncordonHost:
            return "uncordon_host";
        case Action::kDrain:
            return "drain";
        case Action::kReserve:
            return "reserve_capacity";
        case Action::kDeleteVm:
            return "delete_vm";
        case Action::kEvictVm:
            return "evict_vm";
        case Action::kProvisionVm:
            return "provision_vm";
        case Action::kRebootVm:
            return "reboot_vm";
        case Action::kPowerCycleHost:
            return "power_cycle_host";
        case Action::kWaitReady:
            return "wait_ready";
        case Action::kVerify:
            return "verify";
        case Action::kRejoin:
            return "rejoin";
    }
    return "unknown";
}

std::optional<Action> ParseAction(std::string_view name) {
    for (Action a :
         {Action::kCordonHost, Action::kUncordonHost, Action::kDrain, Action::kReserve,
          Action::kDeleteVm, Action::kEvictVm, Action::kProvisionVm, Action::kRebootVm,
          Action::kPowerCycleHost, Action::kWaitReady, Action::kVerify, Action::kRejoin}) {
        if (ActionName(a) == name) return a;
    }
    return std::nullopt;
}

}  // namespace noderepair::providers
