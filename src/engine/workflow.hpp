// What the engine does for each mode (API.md 2.1), as data: the steps in order and the state
// the remediation shows while each runs. QUARANTINING steps cordon and drain; the move to the
// first RUNNING step passes through QUARANTINED (API.md 2.2).
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

}  // namespace noderepair::engine
