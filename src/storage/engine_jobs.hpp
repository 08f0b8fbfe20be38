// The engine's durable progress on each remediation it works on, behind the store contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"

namespace noderepair::storage {

// One provider call of the current step, on one instance: the remediation's own, or a
// co-tenant of its host for a host-level step.
struct StepCall {
    std::string instance_id;
    std::string handle;  // the provider's, once it started the operation
    bool done = false;
};

// The engine's durable progress on one remediation: the step it is at (by name, within the
// workflow version it started under), the intent recorded for that step, and the engine's
// own records about the VM it moves.
struct EngineJob {
    std::string remediation_id;
    int workflow_version = 0;
    std::string step;  // the current step's stable name
    // Bumped by every intent: an outcome is recorded only under the fence its call was made
    // with, so the answer of a call the engine gave up on (or of another process) changes
    // nothing.
    int64_t fence = 0;
    int attempts = 0;         // failed tries of the current step
    Timestamp step_started;   // when the current step began (timeouts, capacity wait)
    Timestamp next_check;     // when the engine should look at it again
    std::string source_host;  // where the VM ran when the remediation was claimed
    std::string target_host;  // where its replacement goes (VM_ONLY: often the same host)
    int num_gpus = 0;
    bool host_was_cordoned = false;  // before this remediation cordoned it
    // Host-level modes: every instance on the host at claim time, its own first.
    std::vector<std::string> instances;
    // The current step's calls once its intent is recorded; empty before, and for the
    // engine's own steps.
    std::vector<StepCall> calls;
};

class EngineJobReads {
public:
    virtual ~EngineJobReads() = default;
    virtual Result<std::vector<EngineJob>> List() = 0;
    virtual Result<std::optional<EngineJob>> Get(const std::string& remediation_id) = 0;
    // The modes of the remediations the engine is working on whose VM was on `host_name`, or
    // whose replacement goes there.
    virtual Result<std::vector<model::Mode>> ModesWorkingOnHost(const std::string& host_name) = 0;
};

class EngineJobRepository : public EngineJobReads {
public:
    virtual Status Put(const EngineJob& job) = 0;
    virtual Status Delete(const std::string& remediation_id) = 0;
};

}  // namespace noderepair::storage
