// One log line per remediation created or changing state, written after it committed, with
// the id of the request that caused it (none for the engine's and automation's own steps).
#pragma once

#include "storage/store.hpp"

namespace noderepair::telemetry {

class TransitionLog final : public storage::CommitObserver {
public:
    void OnCommit(const storage::CommitReport& report) override;
};

}  // namespace noderepair::telemetry
