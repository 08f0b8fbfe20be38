// What the engine does for each mode (docs/http-api.md 2.1), as data: the steps in order, the
// state the remediation shows while each runs (docs/http-api.md 2.2), and whether a step acts
// on every instance of the host (a host-level action drains and rejoins its co-tenants too).
//
// A job stores its workflow's version and its step's name, never a position: an upgrade that
// changes a workflow adds a version, and a remediation in flight finishes the workflow it
// started with. Version 1 is the engine before co-tenants: host-level steps acted on the
// remediation's own instance only, and step keys were "<remediation id>/<index>".
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "model/remediation.hpp"
#include "providers/provider.hpp"

namespace noderepair::engine {

struct Step {
    providers::Action action;
    model::State during;
    bool every_instance = false;  // each instance on the host, co-tenants included
};

inline constexpr int kCurrentWorkflowVersion = 2;

// The steps of `mode` under `version`; empty for a version this binary does not know.
std::span<const Step> WorkflowFor(model::Mode mode, int version);
// The position of the step named `name`, if the workflow has it.
std::optional<size_t> StepIndex(std::span<const Step> workflow, std::string_view name);
// Whether the engine carries the step out itself (records only, no provider call).
bool IsEngineStep(providers::Action action);

// The idempotency key of a step's call on one instance. Version 1 keyed by position, and a
// provider may have named what it made after that key (a libvirt domain), so a version-1 job
// keeps it.
std::string StepKey(int version, const std::string& remediation_id, size_t index,
                    std::string_view step, const std::string& instance_id, bool own_instance);

// Whether a remediation in mode `claiming` must wait while one in mode `running` works on a VM
// of the same host. A power cycle acts on every VM of its host, so it runs alone there: it
// waits for any other work on the host, and any work waits for it. HOST_AWAREs may share a host
// (neither uncordons it).
bool WaitsForOnSameHost(model::Mode claiming, model::Mode running);

}  // namespace noderepair::engine
