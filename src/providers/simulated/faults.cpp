#include "providers/simulated/faults.hpp"

#include <memory>
#include <utility>

namespace noderepair::providers::simulated {
namespace {

// The alert a fault makes, as a node exporter would send it; each Xid its own alert.
Result<model::IncomingAlert> AlertFor(const std::string& instance_id, const Fault& fault,
                                      Timestamp now) {
    model::IncomingAlert a;
    a.labels = {{"instance_id", instance_id}};
    a.annotations = {{"source", "simulated fault"}};
    a.starts_at = now;
    const std::string prefix = "sim-" + instance_id + "-";
    if (fault.kind == "xid") {
        if (fault.xid <= 0) return InvalidArgument("an xid fault needs a positive integer 'xid'");
        const std::string code = std::to_string(fault.xid);
        a.labels["alertname"] = "DmesgXidError";
        a.labels["xid"] = code;
        a.annotations["summary"] = "XID " + code + " on " + instance_id;
        a.fingerprint = prefix + "DmesgXidError-" + code;
    } else if (fault.kind == "thermal") {
        a.labels["alertname"] = "GpuSmClockThermalThrottle";
        a.annotations["summary"] = "GPU SM clocks thermally throttled on " + instance_id;
        a.fingerprint = prefix + "GpuSmClockThermalThrottle";
    } else if (fault.kind == "slurm_drain") {
        a.labels["alertname"] = "SlurmNodeUnavailable";
        a.labels["reason"] = fault.reason.empty() ? "Not responding" : fault.reason;
        a.annotations["summary"] = "Slurm node unavailable";
        a.fingerprint = prefix + "SlurmNodeUnavailable";
    } else {
        return InvalidArgument("fault kind must be xid, thermal, slurm_drain, degraded or clear");
    }
    return a;
}

}  // namespace

void SimulatedFaults::Raise(const std::string& instance_id, Fault fault,
                            std::function<bool(const std::string& cluster_id)> in_scope,
                            std::function<void(Result<std::vector<model::IncomingAlert>>)> done) {
    auto alerts = std::make_shared<std::vector<model::IncomingAlert>>();
    store_.Write(
        [this, instance_id, fault = std::move(fault), in_scope = std::move(in_scope),
         alerts](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(instance_id));
            if (!instance || (in_scope && !in_scope(instance->cluster_id))) {
                return NotFound("instance " + instance_id + " not found");
            }
            auto& world = txn.Simulated();
            const Timestamp now = clock_.Now();
            if (fault.kind == "degraded") {
                if (instance->host_name.empty()) {
                    return FailedPrecondition("instance " + instance_id + " has no VM");
                }
                return world.SetHostDegraded(instance->host_name, true);
            }
            if (fault.kind == "clear") {
                NR_ASSIGN_OR_RETURN(auto raised, world.ListFaults(instance_id));
                for (auto& fault_raised : raised) {
                    // Resolved as Alertmanager would: the same labels and start, an end.
                    model::IncomingAlert resolved;
                    resolved.firing = false;
                    resolved.fingerprint = std::move(fault_raised.fingerprint);
                    resolved.labels = std::move(fault_raised.labels);
                    resolved.annotations = std::move(fault_raised.annotations);
                    resolved.starts_at = fault_raised.started_at;
                    resolved.ends_at = now;
                    alerts->push_back(std::move(resolved));
                }
                NR_RETURN_IF_ERROR(world.DeleteFaults(instance_id));
                if (instance->host_name.empty()) return OkStatus();
                return world.SetHostDegraded(instance->host_name, false);
            }
            NR_ASSIGN_OR_RETURN(auto alert, AlertFor(instance_id, fault, now));
            NR_RETURN_IF_ERROR(world.PutFault({alert.fingerprint, instance_id, alert.labels,
                                               alert.annotations, alert.starts_at}));
            alerts->push_back(std::move(alert));
            return OkStatus();
        },
        [alerts, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            done(std::move(*alerts));
        });
}

}  // namespace noderepair::providers::simulated
