// Faults injected into the simulated fleet (docs/http-api.md 6), so the demo shows the whole
// loop: xid, thermal and slurm_drain make the alert a node exporter would send; degraded is a
// silent fault of the instance's host that only an active health check finds; clear resolves
// the instance's simulated alerts and heals its host. The faults are the simulated world's
// (its own tables); the alerts they make go through the same ingest as Alertmanager's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/alert.hpp"
#include "storage/store.hpp"

namespace noderepair::providers::simulated {

struct Fault {
    std::string kind;    // xid, thermal, slurm_drain, degraded, clear
    int64_t xid = 0;     // kind xid
    std::string reason;  // kind slurm_drain
};

class SimulatedFaults {
public:
    SimulatedFaults(storage::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    // Records the fault in the simulated world and answers, after the commit, with the alerts
    // it raises or resolves (none for degraded). An unknown instance is NOT_FOUND; a fault
    // `in_scope` refuses is NOT_FOUND too.
    void Raise(const std::string& instance_id, Fault fault,
               std::function<bool(const std::string& cluster_id)> in_scope,
               std::function<void(Result<std::vector<model::IncomingAlert>>)> done);

private:
    storage::Store& store_;
    const Clock& clock_;
};

}  // namespace noderepair::providers::simulated
