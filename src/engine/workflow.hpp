// What the engine does for each mode (API.md 2.1), as data: the steps in order and the state
// the remediation shows while each runs (API.md 2.2). Host-cordoning modes are QUARANTINING
// while they cordon and drain, QUARANTINED while the isolated host's VM is deleted or the host
// power-cycled, and RUNNING while the node comes back; the others are RUNNING throughout.
#pragma once

#include <span>

#include "model/remediation.hpp"
#include "providers/provider.hpp"

namespace noderepair::engine {

struct Step {
    providers::Action action;
    model::State during;
};

std::span<const Step> WorkflowFor(model::Mode mode);

// Whether a remediation in mode `claiming` must wait while one in mode `running` works on
// the same host. HOST_AWARE and HOST_POWER_CYCLE both cordon the host, and a power cycle
// uncordons it when done (unless it was cordoned before): run together, one would lift the
// other's cordon mid-repair, or power-cycle the host twice. Two HOST_AWAREs may share a host:
// neither uncordons it.
bool WaitsForOnSameHost(model::Mode claiming, model::Mode running);

}  // namespace noderepair::engine
