#include "providers/simulated/simulated_provider.hpp"

#include <utility>

namespace noderepair::providers::simulated {

bool ChangesTheWorld(Action action) {
    switch (action) {
        case Action::kDeleteVm:
        case Action::kEvictVm:
        case Action::kProvisionVm:
            return true;
        case Action::kRebootVm:
        case Action::kPowerCycleHost:
        case Action::kCordonHost:
        case Action::kUncordonHost:
        case Action::kDrain:
        case Action::kReserve:
        case Action::kWaitReady:
        case Action::kVerify:
        case Action::kRejoin:
            return false;
    }
    return true;
}

std::chrono::milliseconds SimulatedProvider::LatencyOf(Action action) const {
    switch (action) {
        case Action::kCordonHost:
        case Action::kUncordonHost:
            return timing_.cordon;
        case Action::kDrain:
            return timing_.drain;
        case Action::kDeleteVm:
        case Action::kEvictVm:
            return timing_.delete_vm;
        case Action::kProvisionVm:
            return timing_.provision_vm;
        case Action::kRebootVm:
            return timing_.reboot;
        case Action::kPowerCycleHost:
            return timing_.power_cycle;
        case Action::kWaitReady:
            return timing_.boot;
        case Action::kReserve:
        case Action::kRejoin:
        case Action::kVerify:
            return std::chrono::milliseconds(0);
    }
    return std::chrono::milliseconds(0);
}

Status SimulatedProvider::Adopt(const storage::FleetImport& fleet) {
    std::vector<storage::SimInstance> instances;
    for (const auto& cluster : fleet.clusters) {
        for (const auto& node : cluster.gpu_worker_nodes) {
            instances.push_back({node.instance_id, node.host_name});
        }
    }
    return store_.WriteAndWait([&](storage::Txn& txn) { return txn.Simulated().Adopt(instances); });
}

Result<std::optional<SimulatedProvider::Running>> SimulatedProvider::Find(const std::string& key) {
    {
        std::lock_guard lock(mu_);
        auto it = operations_.find(key);
        if (it != operations_.end()) return std::optional<Running>(it->second);
    }
    std::optional<storage::SimOperation> stored;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(stored, reader.Simulated().GetOperation(key));
        return OkStatus();
    }));
    if (!stored) return std::optional<Running>();
    return std::optional<Running>(Running{std::move(*stored), ""});
}

Result<std::string> SimulatedProvider::Start(const Operation& op, const CallContext& call) {
    NR_ASSIGN_OR_RETURN(auto existing, Find(op.key));
    Running running;
    if (existing) {
        running = std::move(*existing);  // started before (a retry or a resume): the same one
    } else {
        const Timestamp now = call.Now();
        running.record = {op.key,  std::string(ActionName(op.action)), op.instance_id,
                          op.host, now + LatencyOf(op.action),         false};
        if (op.action == Action::kVerify && !op.tests.empty()) running.test = op.tests.front();
        if (ChangesTheWorld(op.action) && running.record.ready_at > now) {
            NR_RETURN_IF_ERROR(store_.WriteAndWait(
                [&](storage::Txn& txn) { return txn.Simulated().PutOperation(running.record); }));
        }
    }
    if (timing_.blocking && !running.record.applied) {
        // A synchronous API: the caller waits for the whole operation.
        if (!call.SleepUntil(running.record.ready_at)) {
            return Unavailable("simulated " + running.record.action + " on " + running.record.host +
                               " was interrupted");
        }
        NR_RETURN_IF_ERROR(Finish(running));
    }
    std::lock_guard lock(mu_);
    operations_[op.key] = std::move(running);
    return op.key;
}

Result<OperationStatus> SimulatedProvider::Poll(const std::string& handle,
                                                const CallContext& call) {
    NR_ASSIGN_OR_RETURN(auto found, Find(handle));
    if (!found) {
        // Kept in memory and lost with a restart: the engine starts it again.
        return Lost("simulated operation " + handle + " was lost with a restart");
    }
    Running op = std::move(*found);
    OperationStatus status;
    const Timestamp now = call.Now();
    if (!op.record.applied && now < op.record.ready_at) {
        status.poll_at = op.record.ready_at;
        return status;
    }
    if (!op.record.applied) NR_RETURN_IF_ERROR(Finish(op));
    // Reported done: a later call with this key finds the stored record (world changes) or
    // runs again (the rest, which change nothing).
    {
        std::lock_guard lock(mu_);
        operations_.erase(handle);
    }
    status.phase = OperationStatus::Phase::kDone;
    return status;
}

Status SimulatedProvider::Finish(Running& running) {
    storage::SimOperation& op = running.record;
    const auto action = ParseAction(op.action);
    NR_ASSERT(action.has_value(), "simulated operations hold actions this provider wrote");
    auto change = [&](storage::SimulatedRepository& world) -> Status {
        switch (*action) {
            case Action::kDeleteVm:
            case Action::kEvictVm: {
                NR_ASSIGN_OR_RETURN(auto vms, world.ListVmsOfInstance(op.instance_id));
                for (const auto& vm : vms) {
                    if (vm.host_name == op.host) NR_RETURN_IF_ERROR(world.DeleteVm(vm.vm_id));
                }
                break;
            }
            case Action::kProvisionVm:
                // Named after the operation: provisioning it again finds the same VM.
                NR_RETURN_IF_ERROR(world.PutVm({"vm:" + op.key, op.instance_id, op.host}));
                break;
            default:
                break;
        }
        storage::SimOperation applied = op;
        applied.applied = true;
        return world.PutOperation(applied);
    };
    auto check = [&](storage::SimulatedReads& world) -> Status {
        if (*action == Action::kWaitReady || *action == Action::kRebootVm) {
            NR_ASSIGN_OR_RETURN(auto vms, world.ListVmsOfInstance(op.instance_id));
            for (const auto& vm : vms) {
                if (vm.host_name == op.host) return OkStatus();
            }
            return FailedPrecondition("simulated fleet: instance " + op.instance_id +
                                      " has no VM on host " + op.host);
        }
        if (*action == Action::kVerify) {
            NR_ASSIGN_OR_RETURN(bool degraded, world.IsHostDegraded(op.host));
            if (degraded) {
                return FailedPrecondition("verify test " + running.test + " failed: host " +
                                          op.host + " is degraded");
            }
        }
        return OkStatus();
    };
    if (ChangesTheWorld(*action)) {
        NR_RETURN_IF_ERROR(
            store_.WriteAndWait([&](storage::Txn& txn) { return change(txn.Simulated()); }));
    } else if (*action == Action::kWaitReady || *action == Action::kRebootVm ||
               *action == Action::kVerify) {
        NR_RETURN_IF_ERROR(
            store_.Read([&](storage::Reader& reader) { return check(reader.Simulated()); }));
    }
    op.applied = true;
    return OkStatus();
}

}  // namespace noderepair::providers::simulated
