// The simulated fleet (the default, and --demo): hosts with GPU slots, VMs placed on them,
// cordons, and per-operation latencies from the fleet file's `timing`. All of its state is in
// the database, changed inside the engine's step transactions, so a crash never leaves a
// half-applied operation.
#pragma once

#include "providers/provider.hpp"
#include "providers/simulated/fleet.hpp"

namespace noderepair::providers::simulated {

// The setting that marks a host degraded (the silent `degraded` fault of API.md 6): active
// tests of its VMs fail.
std::string DegradedHostKey(const std::string& host_name);

class SimulatedProvider final : public Provider {
public:
    explicit SimulatedProvider(Timing timing) : timing_(timing) {}
    Result<std::string> Start(storage::Txn& txn, const Operation& op, Timestamp now) override;
    Result<OperationStatus> Poll(storage::Txn& txn, const std::string& handle,
                                 Timestamp now) override;
    Status Release(storage::Txn& txn, const std::string& instance_id) override;

private:
    std::chrono::milliseconds LatencyOf(Action action) const;
    Status Apply(storage::Txn& txn, const storage::SimOperation& op);

    Timing timing_;
};

}  // namespace noderepair::providers::simulated
