#include "providers/simulated/simulated_provider.hpp"

#include <utility>

namespace noderepair::providers::simulated {
namespace {

// How often a reservation looks for room again while none is free.
constexpr auto kCapacityRetry = std::chrono::milliseconds(500);

}  // namespace

std::string DegradedHostKey(const std::string& host_name) {
    return "simulated.degraded_host." + host_name;
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

Result<std::string> SimulatedProvider::Start(storage::Txn& txn, const Operation& op,
                                             Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto existing, txn.Simulated().GetOperation(op.key));
    if (existing) return op.key;  // started before (a retry or a resume): same operation
    storage::SimOperation record{
        op.key,      std::string(ActionName(op.action)), op.instance_id, op.host, op.target_host,
        op.num_gpus, now + LatencyOf(op.action),         false};
    if (op.action == Action::kVerify && !op.tests.empty()) {
        record.target_host = op.tests.front();  // the test a degraded host fails first
    }
    if (op.action == Action::kReserve) {
        // The host that must be avoided rides in target_host until a host is reserved.
        record.target_host.clear();
        if (op.other_host) record.target_host = "!" + op.host;
    }
    // Effects that show while the operation runs.
    switch (op.action) {
        case Action::kRebootVm:
            NR_RETURN_IF_ERROR(txn.Inventory().SetInstanceStatus(op.instance_id, "Rebooting"));
            break;
        case Action::kDrain:
            NR_RETURN_IF_ERROR(txn.Inventory().SetInstanceStatus(op.instance_id, "Draining"));
            break;
        case Action::kPowerCycleHost:
            NR_RETURN_IF_ERROR(txn.Inventory().SetInstanceStatus(op.instance_id, "PowerCycling"));
            break;
        default:
            break;
    }
    NR_RETURN_IF_ERROR(txn.Simulated().PutOperation(record));
    return op.key;
}

Status SimulatedProvider::Apply(storage::Txn& txn, const storage::SimOperation& op) {
    auto action = ParseAction(op.action);
    NR_ASSERT(action.has_value(), "sim_operations only holds actions this provider wrote");
    switch (*action) {
        case Action::kCordonHost:
            return txn.Inventory().SetHostCordoned(op.host, true);
        case Action::kUncordonHost:
            return txn.Inventory().SetHostCordoned(op.host, false);
        case Action::kDrain:
            return txn.Inventory().SetInstanceStatus(op.instance_id, "Drained");
        case Action::kDeleteVm:
            return txn.Inventory().SetInstancePlacement(op.instance_id, "", "Replacing");
        case Action::kEvictVm:
            return txn.Inventory().SetInstancePlacement(op.instance_id, "", "Evicted");
        case Action::kProvisionVm:
            // The reservation turns into the VM in the same transaction: no slot is counted
            // twice or lost.
            NR_RETURN_IF_ERROR(txn.Inventory().DeleteReservation(op.instance_id));
            return txn.Inventory().SetInstancePlacement(op.instance_id, op.target_host, "Booting");
        case Action::kRebootVm:
            return txn.Inventory().SetInstanceStatus(op.instance_id, "Booting");
        case Action::kPowerCycleHost:
            return txn.Inventory().SetInstanceStatus(op.instance_id, "Booting");
        case Action::kWaitReady:
            return txn.Inventory().SetInstanceStatus(op.instance_id, "NotReady");
        case Action::kRejoin:
            return txn.Inventory().SetInstanceStatus(op.instance_id, "Ready");
        case Action::kVerify:
            return OkStatus();  // checked in Poll
        case Action::kReserve:
            return OkStatus();  // placed in Poll
    }
    return OkStatus();
}

Result<OperationStatus> SimulatedProvider::Poll(storage::Txn& txn, const std::string& handle,
                                                Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto found, txn.Simulated().GetOperation(handle));
    if (!found) return NotFound("simulated operation " + handle + " not found");
    storage::SimOperation op = std::move(*found);
    OperationStatus status;
    if (op.applied) {
        status.phase = OperationStatus::Phase::kDone;
        status.result = op.target_host;
        return status;
    }
    if (op.action == ActionName(Action::kReserve)) {
        const std::string exclude =
            op.target_host.starts_with("!") ? op.target_host.substr(1) : std::string();
        NR_ASSIGN_OR_RETURN(auto host, txn.Inventory().FindHostWithRoom(op.num_gpus, exclude));
        if (!host) {
            status.poll_at = now + kCapacityRetry;
            return status;
        }
        NR_RETURN_IF_ERROR(txn.Inventory().PutReservation(op.instance_id, *host, op.num_gpus));
        op.target_host = *host;
        op.applied = true;
        NR_RETURN_IF_ERROR(txn.Simulated().PutOperation(op));
        status.phase = OperationStatus::Phase::kDone;
        status.result = *host;
        return status;
    }
    if (now < op.ready_at) {
        status.poll_at = op.ready_at;
        return status;
    }
    if (op.action == ActionName(Action::kVerify)) {
        // A degraded host (simulated fault) fails every active test of its VMs.
        NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(op.instance_id));
        const std::string host = instance ? instance->host_name : std::string();
        NR_ASSIGN_OR_RETURN(auto degraded, txn.Settings().Get(DegradedHostKey(host)));
        if (degraded) {
            return FailedPrecondition("verify test " + op.target_host + " failed: host " + host +
                                      " is degraded");
        }
    }
    NR_RETURN_IF_ERROR(Apply(txn, op));
    op.applied = true;
    NR_RETURN_IF_ERROR(txn.Simulated().PutOperation(op));
    status.phase = OperationStatus::Phase::kDone;
    return status;
}

Status SimulatedProvider::Release(storage::Txn& txn, const std::string& instance_id) {
    return txn.Inventory().DeleteReservation(instance_id);
}

}  // namespace noderepair::providers::simulated
