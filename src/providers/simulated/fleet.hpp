// The simulated provider's inventory: the fleet file of docs/http-api.md 6 (schema in README.md) or
// the built-in demo fleet.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "storage/store.hpp"

namespace noderepair::providers::simulated {

// Simulated step latencies (docs/http-api.md 7); 0 runs the engine at full speed.
struct Timing {
    std::chrono::milliseconds cordon{0};
    std::chrono::milliseconds drain{0};
    std::chrono::milliseconds delete_vm{0};
    std::chrono::milliseconds provision_vm{0};
    std::chrono::milliseconds boot{0};
    std::chrono::milliseconds reboot{0};
    std::chrono::milliseconds power_cycle{0};
    // The calls block their caller for their latency, as a synchronous external API would,
    // instead of answering "still running" until it passed (docs/http-api.md 8).
    bool blocking = false;
};

struct Fleet {
    storage::FleetImport inventory;
    Timing timing;
    // The file as read (LoadFleetFile): other parts of it (hosts' BMCs, clusters' workload
    // managers) are parsed by their own domains from the same text.
    std::string text;
};

// Parses and checks a fleet file's text: unique ids, known hosts, no host over its slots.
Result<Fleet> ParseFleet(std::string_view json);
Result<Fleet> LoadFleetFile(const std::string& path);
// Two clusters of 16 eight-GPU nodes on 40 hosts of 8 GPUs, with demo-friendly timings.
Fleet DemoFleet();

}  // namespace noderepair::providers::simulated
