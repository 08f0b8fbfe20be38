// The engine's durable progress on each remediation it works on, behind the store contract.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"

namespace noderepair::storage {

// The engine's durable progress on one remediation: which step of the mode's workflow it is
// at and the provider operation that step started.
struct EngineJob {
    std::string remediation_id;
    int step = 0;          // index into the mode's workflow
    bool started = false;  // the step's operation was started; `handle` names it
    std::string handle;
    int attempts = 0;         // failed tries of the current step
    Timestamp step_started;   // when the current step began (timeouts, capacity wait)
    Timestamp next_check;     // when the engine should look at it again
    std::string source_host;  // where the VM ran when the remediation was claimed
    std::string target_host;  // where its replacement is reserved
    int num_gpus = 0;
    bool host_was_cordoned = false;  // before this remediation cordoned it
};

class EngineJobReads {
public:
    virtual ~EngineJobReads() = default;
    virtual Result<std::vector<EngineJob>> List() = 0;
    virtual Result<std::optional<EngineJob>> Get(const std::string& remediation_id) = 0;
    // The modes of the remediations the engine is working on whose VM was on `host_name`.
    virtual Result<std::vector<model::Mode>> ModesWorkingOnHost(const std::string& host_name) = 0;
};

class EngineJobRepository : public EngineJobReads {
public:
    virtual Status Put(const EngineJob& job) = 0;
    virtual Status Delete(const std::string& remediation_id) = 0;
};

}  // namespace noderepair::storage
