// The remediation aggregate behind the store contract: remediations, their timelines and their
// counts. A backend implements RemediationRepository; services read through RemediationReads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"

namespace noderepair::remediation {
class Lifecycle;
}  // namespace noderepair::remediation

namespace noderepair::storage {

// Remediation rows change only through remediation::Lifecycle, which checks every change
// against the lifecycle table: the writes of RemediationRepository take this key, and only
// Lifecycle can make one.
class RemediationWriteKey {
private:
    RemediationWriteKey() = default;
    friend class remediation::Lifecycle;
    friend RemediationWriteKey UncheckedRemediationWriteKey();
};

// A key for code that stores remediations as they are, unchecked: tools that seed or copy
// history, and the store's own tests. Services never use it (a test checks that).
RemediationWriteKey UncheckedRemediationWriteKey();

enum class OrderField { kCreateTime, kUpdateTime };

// Where a page ends: the order key of its last row.
struct Cursor {
    int64_t time_us = 0;
    std::string id;
    bool operator==(const Cursor&) const = default;
};

// One page of remediations of a cluster (or one instance of it), keyset-paged.
struct ListQuery {
    std::string cluster_id;
    std::string instance_id;           // empty: every instance of the cluster
    std::vector<model::State> states;  // any-of; empty: all
    std::vector<model::Mode> modes;
    std::vector<model::Trigger> triggers;
    OrderField order = OrderField::kCreateTime;
    bool descending = true;
    std::optional<Cursor> after;
    int limit = 50;
    bool operator==(const ListQuery&) const = default;
};

struct RemediationPage {
    std::vector<model::Remediation> remediations;
    bool has_next = false;
};

// How many remediations are in one state, mode and trigger.
struct RemediationCount {
    model::State state;
    model::Mode mode;
    model::Trigger trigger;
    int64_t count = 0;
};

// A remediation as one committed change left it (linked_alerts not filled), numbered in
// commit order across every process on the database: the change stream behind live updates
// (docs/design.md 12). The writer numbers a batch's changes just before COMMIT under the lock
// that also orders the audit chain, so numbers have no gaps and never become visible out of
// order.
struct RecordedChange {
    int64_t seq = 0;
    model::Remediation remediation;
};

class RemediationReads {
public:
    virtual ~RemediationReads() = default;
    // With linked_alerts filled.
    virtual Result<std::optional<model::Remediation>> Get(const std::string& id) = 0;
    // Several at once, with linked_alerts filled, in no particular order; ids not found are
    // left out. One statement on PostgreSQL (coalesced GETs, docs/design.md 7).
    virtual Result<std::vector<model::Remediation>> GetMany(
        const std::vector<std::string>& ids) = 0;
    // The row alone (linked_alerts not filled), for a change of state that needs no alerts:
    // on SQLite, Get reads them with a second statement and parses each one's labels.
    virtual Result<std::optional<model::Remediation>> GetRow(const std::string& id) = 0;
    virtual Result<RemediationPage> List(const ListQuery& query) = 0;
    // List, or nothing when its scope does not exist: the cluster, or with an instance that
    // instance in that cluster (an unknown scope is NOT_FOUND, not an empty list). One
    // statement on PostgreSQL, one round trip.
    virtual Result<std::optional<RemediationPage>> ListInScope(const ListQuery& query) = 0;
    // The non-terminal remediation of an instance, if any (linked_alerts not filled).
    virtual Result<std::optional<model::Remediation>> GetActive(const std::string& instance_id) = 0;
    virtual Result<std::vector<model::RemediationEvent>> ListEvents(
        const std::string& remediation_id) = 0;
    // Ids of remediations in `state`, oldest first.
    virtual Result<std::vector<std::string>> ListOldestInState(model::State state, int limit) = 0;
    // Every combination ever seen, including those now at zero; cheap (kept by the backend).
    virtual Result<std::vector<RemediationCount>> Count() = 0;
    virtual Result<int> CountActive(const std::string& cluster_id) = 0;
    // When the instance's last SUCCEEDED, FAILED or CANCELLED remediation ended; one cancelled
    // by an incident does not count (docs/http-api.md 11).
    virtual Result<std::optional<Timestamp>> LastEnd(const std::string& instance_id) = 0;
    // The instance's remediation that last ended SUCCEEDED or FAILED (the escalation ladder).
    virtual Result<std::optional<model::Remediation>> LastFinished(
        const std::string& instance_id) = 0;
    // Those of `instance_ids` that never had a remediation, in one statement: for them
    // GetActive, LastEnd and LastFinished all answer none.
    virtual Result<std::vector<std::string>> ListNeverRemediated(
        const std::vector<std::string>& instance_ids) = 0;
    // Active remediations (any trigger) whose instance's VM is on a host of `rack`.
    virtual Result<int> CountActiveInRack(const std::string& rack) = 0;
    // Ids of the active remediations of instances whose VM is on `host_name`.
    virtual Result<std::vector<std::string>> ListActiveOnHost(const std::string& host_name) = 0;
    // PENDING_APPROVAL remediations whose linked alerts all resolved at or before `cutoff`.
    virtual Result<std::vector<std::string>> ListAutoResolvable(Timestamp cutoff, int limit) = 0;
    // Recorded changes numbered after `after_seq`, oldest first, at most `limit`.
    virtual Result<std::vector<RecordedChange>> ListChangesAfter(int64_t after_seq, int limit) = 0;
    // The number of the newest committed change (0 before the first); older ones may be pruned.
    virtual Result<int64_t> LastChangeSeq() = 0;
};

class RemediationRepository : public RemediationReads {
public:
    // It becomes its instance's latest remediation (the one inserted last, whatever its times).
    // Stores remediation.version.
    virtual Status Insert(const RemediationWriteKey& key,
                          const model::Remediation& remediation) = 0;
    // Compare-and-set: writes what a change of state or mode touches (mode, state, the review
    // fields, update/start/end time, error_message) with version + 1, only if the stored row
    // still has `remediation.version` and state `expected`; otherwise Aborted and nothing
    // changes. The rest of a remediation is fixed at creation.
    virtual Status Update(const RemediationWriteKey& key, const model::Remediation& remediation,
                          model::State expected) = 0;
    virtual Status AppendEvent(const std::string& remediation_id,
                               const model::RemediationEvent& event) = 0;
    // Between BeginBulk and EndBulk (the engine's claims, whose rows the transaction holds
    // locked in the state it read: EngineJobRepository::LockPending), writes cost no round trip
    // each: Update sends its compare-and-set without waiting for the answer (a row that did not
    // match after all fails the change when it is flushed, before it can commit, instead of at
    // once), and AppendEvent collects the events, which EndBulk sends as one statement (or the
    // next read of a timeline, first). SQLite answers every statement at once anyway.
    virtual void BeginBulk() = 0;
    virtual Status EndBulk() = 0;
    // Forgets recorded changes older than the newest `keep`; returns how many went.
    virtual Result<int64_t> PruneChanges(int64_t keep) = 0;
};

}  // namespace noderepair::storage
