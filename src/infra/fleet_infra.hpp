// The parts of the fleet file (README.md "Fleet file") that name real infrastructure: each
// host's BMC and each cluster's workload manager. Read beside the inventory, kept in memory:
// they configure how noderepair reaches things, they are not records it owns.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "infra/ipmi.hpp"

namespace noderepair::infra {

struct ClusterWorkload {
    std::string manager;     // "slurm" or "none"
    std::string slurm_conf;  // slurm: empty for $SLURM_CONF or the system's
};

struct FleetInfra {
    std::map<std::string, Bmc> bmcs;                   // by host name
    std::map<std::string, ClusterWorkload> workloads;  // by cluster id, where the file names one
};

Result<FleetInfra> ParseFleetInfra(std::string_view json);
Result<FleetInfra> LoadFleetInfra(const std::string& path);

}  // namespace noderepair::infra
