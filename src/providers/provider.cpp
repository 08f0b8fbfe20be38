#include "providers/provider.hpp"

namespace noderepair::providers {

std::string_view ActionName(Action action) {
    switch (action) {
        case Action::kCordonHost: return "cordon_host";
        case Action::kUncordonHost: return "uncordon_host";
        case Action::kDrain: return "drain";
        case Action::kReserve: return "reserve_capacity";
        case Action::kDeleteVm: return "delete_vm";
        case Action::kEvictVm: return "evict_vm";
        case Action::kProvisionVm: return "provision_vm";
        case Action::kRebootVm: return "reboot_vm";
        case Action::kPowerCycleHost: return "power_cycle_host";
        case Action::kWaitReady: return "wait_ready";
        case Action::kVerify: return "verify";
        case Action::kRejoin: return "rejoin";
    }
    return "unknown";
}

}  // namespace noderepair::providers
