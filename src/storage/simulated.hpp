// The simulated fleet's own records, behind the store contract: the operations it was asked
// to carry out, so a retry or a restart finds each one again.
#pragma once

#include <optional>
#include <string>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage {

// One operation of the simulated provider, kept so a retry or a restart finds it again.
struct SimOperation {
    std::string key;  // the engine step's idempotency key
    std::string action;
    std::string instance_id;
    std::string host;
    std::string target_host;
    int num_gpus = 0;
    Timestamp ready_at;
    bool applied = false;
};

class SimulatedReads {
public:
    virtual ~SimulatedReads() = default;
    virtual Result<std::optional<SimOperation>> GetOperation(const std::string& key) = 0;
};

class SimulatedRepository : public SimulatedReads {
public:
    virtual Status PutOperation(const SimOperation& op) = 0;
};

}  // namespace noderepair::storage
