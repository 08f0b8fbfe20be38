// Real infrastructure behind the engine's provider seam (docs/http-api.md 8): a Provider
// decorator, like the hooks. Under power.driver ipmi, a host power cycle goes to the host's BMC;
// in a cluster whose workload manager is Slurm, drain, wait_ready and rejoin go to its
// controller. Every other step, and every step elsewhere, goes to the inner provider.
//
// Calls block (IPMI exchanges, scontrol), each within its own timeout; the engine runs them on
// its call pool, so a dead BMC or slurmctld holds up only the step that called it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "infra/fleet_infra.hpp"
#include "infra/ipmi.hpp"
#include "infra/power_board.hpp"
#include "infra/slurm.hpp"
#include "providers/provider.hpp"

namespace noderepair::infra {

struct InfraOptions {
    bool ipmi = false;                               // power.driver: ipmi
    std::chrono::milliseconds power_timeout{10000};  // one BMC exchange
    std::chrono::seconds boot_timeout{900};          // power on -> node responding
    std::string default_manager = "none";            // workload.manager
    std::string default_slurm_conf;                  // workload.slurm_conf
    std::chrono::seconds drain_timeout{3600};
    std::chrono::milliseconds slurm_timeout{10000};  // one scontrol command
};

class InfraProvider final : public providers::Provider {
public:
    InfraProvider(providers::Provider& inner, FleetInfra fleet, InfraOptions options,
                  PowerBoard& power, const Clock& clock);

    Result<std::string> Start(const providers::Operation& op,
                              const providers::CallContext& call) override;
    Result<providers::OperationStatus> Poll(const std::string& handle,
                                            const providers::CallContext& call) override;

    // The Slurm controller of a cluster, or null when its nodes are not Slurm's.
    const SlurmClient* SlurmOf(const std::string& cluster_id) const;
    // One client per distinct controller (the watchers').
    std::vector<const SlurmClient*> Controllers() const;
    // When this process last resumed `node` of the controller `slurm_conf` (the watcher's grace
    // after noderepair's own power cycle), if it did.
    std::optional<Timestamp> ResumedAt(const std::string& slurm_conf,
                                       const std::string& node) const;

private:
    Result<std::string> StartPowerCycle(const providers::Operation& op,
                                        const providers::CallContext& call);
    Result<providers::OperationStatus> PollPowerCycle(const std::string& handle,
                                                      const providers::CallContext& call);
    Result<std::string> StartSlurm(const SlurmClient& slurm, const providers::Operation& op,
                                   const providers::CallContext& call);
    Result<providers::OperationStatus> PollSlurm(const std::string& handle,
                                                 const providers::CallContext& call);

    struct Cycle {
        int64_t sent_ms = 0;  // when this process sent it; 0: not sent (already restarted)
        bool seen_off = false;
        bool powered_on = false;  // the chassis was off: the command was "on"
        std::string note;
    };

    providers::Provider& inner_;
    const FleetInfra fleet_;
    const InfraOptions options_;
    PowerBoard& power_;
    const Clock& clock_;
    const Timestamp started_at_;  // an intent older than this was recorded by an earlier run
    std::map<std::string, SlurmClient> controllers_;  // by slurm.conf path ("" = default)
    void NoteResumed(const SlurmClient& slurm, const std::string& node);

    mutable std::mutex mu_;
    std::map<std::string, Cycle> cycles_;            // by step key
    std::map<std::string, int64_t> host_cycled_ms_;  // host -> when its power went back on
    // (slurm.conf, node) -> when noderepair last resumed it
    std::map<std::pair<std::string, std::string>, Timestamp> resumed_at_;
};

}  // namespace noderepair::infra
