// The alert aggregate behind the store contract: passive health signals as Alertmanager sent
// them, the instance each maps to, the remediation it is evidence of, and whether it waits for
// room under the blast radius.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "model/alert.hpp"
#include "storage/remediations.hpp"

namespace noderepair::storage {

// One page of a cluster's alerts, newest first.
struct AlertQuery {
    std::string cluster_id;
    std::optional<bool> firing;   // nullopt: both
    std::optional<Cursor> after;  // started_at, id
    int limit = 50;
};

struct AlertPage {
    std::vector<model::Alert> alerts;
    bool has_next = false;
};

class AlertReads {
public:
    virtual ~AlertReads() = default;
    virtual Result<AlertPage> List(const AlertQuery& query) = 0;
    // The newest alert with this fingerprint.
    virtual Result<std::optional<model::Alert>> GetByFingerprint(
        const std::string& fingerprint) = 0;
    // A cluster's alerts held back by the blast radius, oldest first.
    virtual Result<std::vector<model::Alert>> ListWaiting(const std::string& cluster_id,
                                                          int limit) = 0;
    virtual Result<std::vector<std::string>> ListClustersWithWaiting() = 0;
    // An instance's firing alerts.
    virtual Result<std::vector<model::Alert>> ListOpen(const std::string& instance_id) = 0;
    // Waiting alerts whose instance has an active remediation by now.
    virtual Result<std::vector<model::Alert>> ListWaitingWithActiveRemediation(int limit) = 0;
};

class AlertRepository : public AlertReads {
public:
    // Inserts or replaces by id.
    virtual Status Put(const model::Alert& alert) = 0;
};

}  // namespace noderepair::storage
