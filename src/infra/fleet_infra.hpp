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

// Where the last imported fleet file's infrastructure is kept, so that a start without
// --fleet still reaches its BMCs and controllers: one JSON value in the settings.
inline constexpr std::string_view kFleetInfraSetting = "fleet.infra";

// Reads a fleet file's text (or EncodeFleetInfra's, which has the same shape).
Result<FleetInfra> ParseFleetInfra(std::string_view json);
// Only the parts ParseFleetInfra reads, as a fleet file would hold them.
std::string EncodeFleetInfra(const FleetInfra& infra);

}  // namespace noderepair::infra
