// Clusters, instances and hosts (docs/http-api.md 1, 4.7), as plain data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/remediation.hpp"

namespace noderepair::model {

// An instance whose VM runs on a host.
struct HostedInstance {
    std::string instance_id;
    std::string cluster_id;
};

struct Host {
    std::string host_name;
    int gpu_slots = 0;
    int used_gpus = 0;
    bool cordoned = false;
    std::vector<HostedInstance> instances;
    std::string libvirt_uri{};  // the libvirt provider's connection to it; empty otherwise
    // What its BMC last reported (on, off, unknown); empty for a host without one. Observed,
    // never stored (docs/http-api.md 8).
    std::string power{};
    std::string rack{};  // the fleet file's rack, empty for none (docs/http-api.md 11)
    // Why the host is suspect (docs/http-api.md 11: the fault follows the host); empty for not.
    std::string suspect{};
};

// One line of a host's fault ledger (docs/http-api.md 11): a counted signal or a remediation of
// an instance whose VM was on the host at that moment. Append-only.
struct HostFault {
    std::string host_name;
    std::string rack;  // the host's rack then, empty for none
    std::string cluster_id;
    std::string instance_id;
    std::string name;            // the alert name ("health_check:<test>"), or the mode
    std::string remediation_id;  // set for a remediation, empty for a signal
    Timestamp time;
};

// How much of a host's ledger lies within a window.
struct HostFaultCounts {
    int instances = 0;  // different instances that signalled
    int signals = 0;
};

struct Instance {
    std::string instance_id;
    std::string cluster_id;
    std::string instance_name;
    int num_gpus = 0;
    std::string host_name;  // empty when the VM was evicted
    std::string status;     // "Ready", "Evicted", ...
    bool auto_repair = true;
    std::optional<Remediation> latest_remediation;
    // Why a person should look at this node (docs/http-api.md 8: a drain someone else holds was
    // kept); empty for nothing. Kept in the settings under AttentionSetting(instance_id).
    std::string attention;
};

inline std::string AttentionSetting(const std::string& instance_id) {
    return "attention/" + instance_id;
}

// How a cluster treats automated remediations (docs/http-api.md 5).
struct ClusterAutomation {
    bool automatic = false;                     // false: "approve", they wait in PENDING_APPROVAL
    std::vector<std::string> automatic_alerts;  // alert names approved at once when automatic
};

struct Cluster {
    std::string cluster_id;
    std::string cluster_name;
    std::string status;
    std::vector<Instance> gpu_worker_nodes;
    ClusterAutomation automation;
    int waiting_signals = 0;  // alerts held back by the blast radius
};

}  // namespace noderepair::model
