#include "providers/provider.hpp"

#include <algorithm>

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

OperationStatus Lost(std::string note) {
    OperationStatus status;
    status.phase = OperationStatus::Phase::kLost;
    status.note = std::move(note);
    return status;
}

void Cancellation::Cancel() {
    {
        std::lock_guard lock(mu_);
        cancelled_ = true;
    }
    cv_.notify_all();
}

bool Cancellation::IsCancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
}

bool Cancellation::WaitFor(std::chrono::microseconds duration) const {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, duration, [this] { return cancelled_; });
}

bool CallContext::SleepUntil(Timestamp until) const {
    const Timestamp end = std::min(until, deadline_);
    const auto left = end - clock_.Now();
    if (left.count() > 0 && !cancellation_->WaitFor(left)) return false;
    return !Cancelled() && end == until;
}

}  // namespace noderepair::providers
