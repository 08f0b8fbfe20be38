// The replicas serving one database, and which of them leads (docs/design.md 12), behind the
// store contract. Every time here is the database's clock, never a replica's: replicas on
// different machines judge one another's leases by one clock.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"

namespace noderepair::storage {

struct ReplicaRecord {
    std::string id;
    Timestamp started_at;
    Timestamp last_seen;
    bool leader = false;  // holds the leader lease now
};

// A host's power as the leader's poll of its BMC last read it (docs/http-api.md 8), kept in the
// database so every replica shows it.
struct HostPowerReading {
    std::string host_name;
    std::string power;  // "on", "off", "unknown"
    // When it was recorded, by the database's clock: the leader writes only a changed
    // reading (replicas/power_recorder.hpp), so this is not the last poll.
    Timestamp read_at;
};

class ReplicaReads {
public:
    virtual ~ReplicaReads() = default;
    // Every replica seen within the last day, by id.
    virtual Result<std::vector<ReplicaRecord>> List() = 0;
    // Every host's last power reading.
    virtual Result<std::vector<HostPowerReading>> ListHostPower() = 0;
};

class ReplicaRepository : public ReplicaReads {
public:
    // A replica (re)starting: its row with started_at = last_seen = now.
    virtual Status Register(const std::string& id) = 0;
    // last_seen = now; with `lead`, takes the leader lease when it is free or expired (or
    // renews it when it is this replica's) for `lease`. Whether `id` leads now.
    virtual Result<bool> Heartbeat(const std::string& id, bool lead,
                                   std::chrono::milliseconds lease) = 0;
    // Gives the leader lease up when `id` holds it (a replica stopping cleanly).
    virtual Status Resign(const std::string& id) = 0;
    // Records a host's power as just read (read_at: the database's now).
    virtual Status PutHostPower(const std::string& host_name, std::string_view power) = 0;
};

}  // namespace noderepair::storage
