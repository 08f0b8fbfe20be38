// Passive health check alerts (docs/http-api.md 5) as plain data: what Alertmanager reported, the
// instance it maps to and the remediation it is linked to as evidence.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace noderepair::model {

// Numeric values are stored: append only.
enum class Severity : uint8_t { kInfo = 1, kWarning = 2, kCritical = 3 };

std::string_view WireName(Severity severity);  // PHC_SEVERITY_…

struct XidEvent {
    std::string xid_code;
    std::string mnemonic;
    int count = 1;
};

struct Alert {
    std::string id;  // passive_health_check_alert_id
    std::string fingerprint;
    std::string alert_name;
    std::string cluster_id;   // empty while it maps to no instance
    std::string instance_id;  // likewise
    std::string target_vm;    // the instance name from the labels
    Severity severity = Severity::kWarning;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    Timestamp started_at;
    std::optional<Timestamp> resolved_at;
    std::string remediation_id;  // the remediation it is evidence of
    bool waiting = false;        // matched a rule, held back by the blast radius
    // While waiting, not considered again before then (the cooldown's end); the epoch: as soon
    // as there is room.
    Timestamp wait_until{};

    friend bool operator==(const Alert&, const Alert&) = default;
};

// One alert as a source reported it (an Alertmanager webhook, a simulated fault), before it is
// matched to an instance and stored.
struct IncomingAlert {
    bool firing = true;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    Timestamp starts_at;
    std::optional<Timestamp> ends_at;  // set when resolved
    std::string fingerprint;
};

// The typed annotation of a linked alert (docs/http-api.md 5).
struct AlertAnnotation {
    std::string title;
    std::string description;
    std::string summary_line;
    std::vector<XidEvent> xid_events;         // DmesgXidError
    std::optional<std::string> slurm_reason;  // SlurmNodeUnavailable
};

AlertAnnotation AnnotationOf(const Alert& alert);
// NVIDIA's name for an Xid code, empty when unknown.
std::string_view XidMnemonic(std::string_view code);

}  // namespace noderepair::model
