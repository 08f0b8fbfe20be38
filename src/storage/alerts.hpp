// The alert aggregate behind the store contract: passive health signals as Alertmanager sent
// them, the instance each maps to, the remediation it is evidence of, and whether it waits for
// room under the blast radius.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
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

// One firing of a health signal, kept append-only for `policy replay` (docs/http-api.md 11):
// a new firing episode of an alert's fingerprint (not every repeated webhook), or a failed
// active run. `mode` is what the live policy mapped it to (nullopt: none).
struct SignalOccurrence {
    int64_t seq = 0;  // set by the store
    Timestamp time{};
    std::string cluster_id;
    std::string instance_id;
    std::string signal;  // alert name, or "health_check:<test>"
    std::optional<model::Mode> mode;
    std::string alert_id;  // the alert row it fired as, or
    std::string run_id;    // the failed run
};

class AlertReads {
public:
    virtual ~AlertReads() = default;
    virtual Result<AlertPage> List(const AlertQuery& query) = 0;
    // The newest alert with this fingerprint.
    virtual Result<std::optional<model::Alert>> GetByFingerprint(
        const std::string& fingerprint) = 0;
    // The newest alert of each of `fingerprints` that has one (GetByFingerprint's), in no
    // particular order, in one statement.
    virtual Result<std::vector<model::Alert>> GetByFingerprints(
        const std::vector<std::string>& fingerprints) = 0;
    // A cluster's waiting alerts due by `now` (Alert::wait_until), oldest first.
    virtual Result<std::vector<model::Alert>> ListWaiting(const std::string& cluster_id,
                                                          Timestamp now, int limit) = 0;
    // The clusters with a waiting alert due by `now`.
    virtual Result<std::vector<std::string>> ListClustersWithWaiting(Timestamp now) = 0;
    // An instance's firing alerts, oldest first; a linked one when its remediation is of the
    // same instance (as every link the router makes is), since it is found through them.
    virtual Result<std::vector<model::Alert>> ListOpen(const std::string& instance_id) = 0;
    // Waiting alerts whose instance has an active remediation by now.
    virtual Result<std::vector<model::Alert>> ListWaitingWithActiveRemediation(int limit) = 0;
    // Signal occurrences at or after `since`, in (time, seq) order, after `after_seq` of the
    // same time (keyset), at most `limit`.
    virtual Result<std::vector<SignalOccurrence>> ListOccurrences(Timestamp since,
                                                                  int64_t after_seq, int limit) = 0;
};

class AlertRepository : public AlertReads {
public:
    // Inserts or replaces by id.
    virtual Status Put(const model::Alert& alert) = 0;
    // Appends one signal occurrence; occurrences are never changed or removed.
    virtual Status AppendOccurrence(const SignalOccurrence& occurrence) = 0;
};

}  // namespace noderepair::storage
