// An incident (docs/http-api.md 11): many instances of one rack (of one cluster, for hosts
// without a rack) faulting within a short window, taken as one fault of the rack (a switch,
// power, cooling) rather than N broken nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace noderepair::model {

enum class IncidentState : uint8_t { kOpen = 1, kReleased = 2, kDismissed = 3 };

struct Incident {
    std::string id;
    std::string cluster_id;
    std::string rack;  // empty: the cluster's hosts without a rack
    IncidentState state = IncidentState::kOpen;
    std::vector<std::string> instances;  // every instance whose signal it took, in order
    int signals = 0;
    Timestamp first_seen;
    Timestamp last_seen;
    std::optional<Timestamp> closed_at;  // released or dismissed
    std::string closed_by;

    // "rack:<rack>" or "cluster:<cluster_id>".
    std::string Scope() const { return rack.empty() ? "cluster:" + cluster_id : "rack:" + rack; }
};

// OPEN, RELEASED, DISMISSED.
inline std::string_view WireName(IncidentState state) {
    switch (state) {
        case IncidentState::kOpen:
            return "OPEN";
        case IncidentState::kReleased:
            return "RELEASED";
        case IncidentState::kDismissed:
            return "DISMISSED";
    }
    return "OPEN";
}

// Signals of one instance within an incident window.
struct InstanceSignals {
    std::string instance_id;
    int signals = 0;
    Timestamp first;  // its earliest signal in the window
};

}  // namespace noderepair::model
