// The simulated fleet (the default, and --demo): a world of hosts whose VMs the provider
// deletes, provisions, reboots and power-cycles, with per-operation latencies from the fleet
// file's `timing`. Its world lives in its own tables (storage/simulated.hpp), written in its own
// transactions, never the engine's: where the engine records a VM is the engine's business,
// where the world runs one is this provider's, and tests compare the two.
//
// Operations that change the world (delete, evict, provision) are stored by key before they
// answer, so a retry or a restart finds each again and never applies it twice. The others
// (cordon, drain, reboot, power cycle, wait, verify, rejoin) leave the world as it was (a
// rebooted VM is the same VM on the same host) and are kept in memory; after a restart they
// run again from the start. With `timing.blocking` a call
// blocks its caller for the operation's latency instead of answering "still running".
// Thread-safe: the engine's call pool calls it concurrently.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "providers/provider.hpp"
#include "providers/simulated/fleet.hpp"
#include "storage/store.hpp"

namespace noderepair::providers::simulated {

class SimulatedProvider final : public Provider {
public:
    SimulatedProvider(storage::Store& store, Timing timing) : store_(store), timing_(timing) {}

    Result<std::string> Start(const Operation& op, const CallContext& call) override;
    Result<OperationStatus> Poll(const std::string& handle, const CallContext& call) override;

    // The fleet's instances the world has never seen get their VM where the fleet puts them.
    Status Adopt(const storage::FleetImport& fleet);

private:
    struct Running {
        storage::SimOperation record;
        std::string test;  // kVerify: the test a degraded host fails
    };
    std::chrono::milliseconds LatencyOf(Action action) const;
    // The remembered or stored operation with this key.
    Result<std::optional<Running>> Find(const std::string& key);
    // Does what the operation does to the world, once: a change in one transaction of the
    // provider's own (and the operation marked applied there), or a check of the world.
    Status Finish(Running& op);

    storage::Store& store_;
    const Timing timing_;
    std::mutex mu_;
    // Operations started and not yet reported done, by key.
    std::unordered_map<std::string, Running> operations_;
};

// Whether an operation changes the simulated world (and is therefore stored).
bool ChangesTheWorld(Action action);

}  // namespace noderepair::providers::simulated
