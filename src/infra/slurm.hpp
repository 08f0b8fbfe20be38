// Slurm through its commands (scontrol), one controller per slurm.conf. Commands rather than
// libslurm (README.md "Slurm"): libslurm reads one slurm.conf per process and its calls have
// no deadline, while each cluster here may name its own controller, and a command that hangs
// on a dead slurmctld is killed at its deadline.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace noderepair::infra {

// What noderepair's own drains say first: "noderepair <remediation id>: ...".
inline constexpr std::string_view kOurReasonPrefix = "noderepair ";

struct SlurmNode {
    std::string name;
    std::string state;            // the base state: IDLE, ALLOCATED, MIXED, DOWN, ...
    std::set<std::string> flags;  // DRAIN, NOT_RESPONDING, INVALID_REG, FAIL, ...
    std::string state_text;       // as Slurm showed it: "IDLE+DRAIN"
    std::string reason;           // without Slurm's " [user@time]"
    int64_t slurmd_start = 0;     // seconds since the epoch; 0 when unknown

    bool Has(std::string_view flag) const { return flags.count(std::string(flag)) != 0; }
    bool Responding() const { return !Has("NOT_RESPONDING") && state != "DOWN"; }
    bool DrainFlag() const { return Has("DRAIN"); }
    // Drained: DRAIN with no job left (a node that is DOWN has none either).
    bool Drained() const {
        return DrainFlag() && (state == "IDLE" || state == "DOWN" || state == "FUTURE");
    }
    bool OurReason() const { return reason.starts_with(kOurReasonPrefix); }
    // Taken out by Slurm itself rather than by a person: not responding, or an invalid
    // registration (fewer GPUs than configured, ...).
    bool SlurmsOwnReason() const {
        return reason.empty() || reason == "Not responding" || Has("INVALID_REG") ||
               reason.starts_with("Node unexpectedly rebooted") ||
               reason.starts_with("Kill task failed");
    }
    // Out of service for a reason someone else gave (an operator's maintenance drain).
    bool HeldBySomeoneElse() const {
        return (DrainFlag() || state == "DOWN" || Has("FAIL")) && !OurReason() &&
               !SlurmsOwnReason();
    }
    bool Healthy() const {
        return state != "DOWN" && !DrainFlag() && !Has("NOT_RESPONDING") && !Has("FAIL") &&
               !Has("INVALID_REG");
    }
};

// Parses `scontrol show node -o` (one node a line).
std::vector<SlurmNode> ParseShowNodes(std::string_view text);
// "2024-05-01T10:11:12" in local time, as Slurm prints it; 0 when not a time.
int64_t ParseSlurmTime(std::string_view text);

class SlurmClient {
public:
    // `slurm_conf` empty: $SLURM_CONF, else the system's.
    SlurmClient(std::string slurm_conf, std::chrono::milliseconds timeout)
        : slurm_conf_(std::move(slurm_conf)), timeout_(timeout) {}

    const std::string& slurm_conf() const { return slurm_conf_; }
    // Errors: kUnavailable when the controller does not answer (transient); kNotFound for an
    // unknown node.
    Result<SlurmNode> Node(const std::string& name) const;
    Result<std::vector<SlurmNode>> Nodes() const;
    // Every node, scontrol reading `listing_conf` rather than the cluster's slurm.conf (the
    // watcher's cheaper copy, slurm_listing_conf.hpp); the controller is the same.
    Result<std::vector<SlurmNode>> NodesReading(const std::string& listing_conf) const;
    Status Drain(const std::string& name, const std::string& reason) const;
    Status Resume(const std::string& name) const;

private:
    Result<std::string> Scontrol(std::vector<std::string> args) const {
        return Scontrol(std::move(args), slurm_conf_);
    }
    Result<std::string> Scontrol(std::vector<std::string> args, const std::string& conf) const;
    std::string slurm_conf_;
    std::chrono::milliseconds timeout_;
};

}  // namespace noderepair::infra
