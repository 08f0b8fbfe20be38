// Policy replay (docs/http-api.md 11): the recorded signal history run again, oldest first,
// through the one policy engine (SignalRouter) under other automation settings, on a scratch
// store with a fake clock. Alert ingest, the check runner and the sweeper are the live driver of
// the router; this is the other one. Nothing is written to the recorded database.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "health/policy.hpp"
#include "health/signal_router.hpp"
#include "model/remediation.hpp"
#include "storage/history.hpp"

namespace noderepair::health {

struct ReplayOptions {
    Policy policy;
    AutomationOptions automation;
    // Replays the signals from then on; nullopt: from the first recorded one.
    std::optional<Timestamp> since;
    // Where the scratch database lives while the replay runs; empty: /dev/shm when there is
    // one (memory), else the system's temporary directory.
    std::string scratch_dir;
    // How long a replayed remediation lasts when the live run made no such one and no
    // remediation of its mode ever ended.
    std::chrono::seconds default_duration{1800};
    // How often the waiting signals and auto-resolve are looked at between signals (the live
    // sweeper's cadence is far finer; every remediation's end also triggers one).
    std::chrono::seconds sweep_interval{60};
    // Partitions replayed side by side, each on a thread and a scratch store of its own
    // (clusters that share no host and no rack are independent); 0: one per core.
    int threads = 0;
};

struct ModeCount {
    model::Mode mode{};
    int64_t created = 0;       // automated remediations the live run created
    int64_t would_create = 0;  // the replay under the new settings
};

struct ReplayReport {
    std::vector<ModeCount> modes;  // every mode either run created, in mode order
    // Instances whose automated remediations (modes at creation) differ, sorted.
    std::vector<std::string> differing_instances;
    int64_t signals = 0;
};

Result<ReplayReport> Replay(storage::History& history, const ReplayOptions& options);

}  // namespace noderepair::health
