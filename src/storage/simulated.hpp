// The simulated fleet's own world, behind the store contract: the VMs it runs and where, its
// hosts' faults, the alerts its faults raised, and the operations it was asked to carry out (so
// a retry or a restart finds each again). Written only by the simulated provider, in its own
// transactions: the engine's records (placement, cordons) are not its business, and it is not
// theirs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage {

// One operation of the simulated provider, by the engine step's idempotency key.
struct SimOperation {
    std::string key;
    std::string action;
    std::string instance_id;
    std::string host;
    Timestamp ready_at;
    bool applied = false;  // its effect on the world happened
};

// A VM of the simulated world.
struct SimVm {
    std::string vm_id;
    std::string instance_id;
    std::string host_name;
};

// An alert a simulated fault raised, kept so that clearing the fault resolves it.
struct SimFault {
    std::string fingerprint;
    std::string instance_id;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    Timestamp started_at;
};

// One instance of the fleet file, for the world to adopt.
struct SimInstance {
    std::string instance_id;
    std::string host_name;  // empty: it has no VM
};

class SimulatedReads {
public:
    virtual ~SimulatedReads() = default;
    virtual Result<std::optional<SimOperation>> GetOperation(const std::string& key) = 0;
    virtual Result<std::vector<SimVm>> ListVms() = 0;
    virtual Result<std::vector<SimVm>> ListVmsOfInstance(const std::string& instance_id) = 0;
    virtual Result<bool> IsHostDegraded(const std::string& host_name) = 0;
    // The alerts the simulated faults of an instance raised and not cleared.
    virtual Result<std::vector<SimFault>> ListFaults(const std::string& instance_id) = 0;
};

class SimulatedRepository : public SimulatedReads {
public:
    virtual Status PutOperation(const SimOperation& op) = 0;
    // Instances the world has never seen get their VM where the fleet file puts it; known
    // ones keep what the world did to them.
    virtual Status Adopt(const std::vector<SimInstance>& instances) = 0;
    virtual Status PutVm(const SimVm& vm) = 0;
    virtual Status DeleteVm(const std::string& vm_id) = 0;
    virtual Status SetHostDegraded(const std::string& host_name, bool degraded) = 0;
    virtual Status PutFault(const SimFault& fault) = 0;
    virtual Status DeleteFaults(const std::string& instance_id) = 0;
};

}  // namespace noderepair::storage
