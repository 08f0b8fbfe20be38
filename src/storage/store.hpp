// The store contract every backend implements (SQLite now, PostgreSQL later): one repository
// per aggregate (remediations, inventory, engine jobs, alerts, health checks, tokens and
// settings, the simulated fleet, the audit trail), reached from a snapshot read or a write
// transaction, and group commit. Services keep the rules; a backend gives them transactional
// primitives.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "model/remediation.hpp"
#include "storage/alerts.hpp"
#include "storage/audit.hpp"
#include "storage/engine_jobs.hpp"
#include "storage/health_checks.hpp"
#include "storage/inventory.hpp"
#include "storage/remediations.hpp"
#include "storage/replicas.hpp"
#include "storage/simulated.hpp"
#include "storage/stats.hpp"
#include "storage/tokens.hpp"

namespace noderepair::storage {

// Reads of every aggregate. Inside Store::Read (or a transaction) every method sees one
// consistent snapshot.
class Reader {
public:
    virtual ~Reader() = default;
    virtual RemediationReads& Remediations() = 0;
    virtual InventoryReads& Inventory() = 0;
    virtual EngineJobReads& EngineJobs() = 0;
    virtual AlertReads& Alerts() = 0;
    virtual HealthCheckReads& HealthChecks() = 0;
    virtual TokenReads& Tokens() = 0;
    virtual SettingReads& Settings() = 0;
    virtual SimulatedReads& Simulated() = 0;
    virtual StatsReads& Stats() = 0;
    virtual AuditReads& Audit() = 0;
    virtual ReplicaReads& Replicas() = 0;
};

// Reads and writes of every aggregate inside one transaction of the writer.
class Txn : public Reader {
public:
    RemediationRepository& Remediations() override = 0;
    InventoryRepository& Inventory() override = 0;
    EngineJobRepository& EngineJobs() override = 0;
    AlertRepository& Alerts() override = 0;
    HealthCheckRepository& HealthChecks() override = 0;
    TokenRepository& Tokens() override = 0;
    SettingRepository& Settings() override = 0;
    SimulatedRepository& Simulated() override = 0;
    StatsRepository& Stats() override = 0;
    // Read-only here too: the backend appends each change's audit records at commit.
    AuditReads& Audit() override = 0;
    ReplicaRepository& Replicas() override = 0;
    // Serializes the transactions that apply automation limits (blast radius, cooldown,
    // incidents) across replicas until this transaction ends; a no-op where one writer
    // already serializes every transaction (docs/design.md 12).
    virtual Status SerializeAutomation() = 0;
};

using TxnWork = std::function<Status(Txn&)>;
using CommitCallback = std::function<void(Status)>;

// What a change reads first, declared as it is queued (Store::WriteWithReadAhead): a backend
// whose every read waits for a round trip (PostgreSQL) reads it for the whole batch in one
// statement. A change queued with it also promises two things: it writes instances and
// remediations only through RemediationRepository::Insert and Update, and it may run twice in
// one batch (such a backend runs a row of these changes without a savepoint and a wait each,
// and when one of them fails after writing, rolls the row back and runs each again alone).
struct ReadAhead {
    std::string instance_id;  // the instance and its active remediation
};

// A remediation as a committed transaction left it: the feed behind live updates, metrics
// and transition logs. Changes that were rolled back never appear.
struct RemediationChange {
    model::Remediation remediation;
    std::optional<model::State> previous_state;  // nullopt: it was created
    std::string request_id;                      // the HTTP request that caused it, if any
};

// What one group commit did.
struct CommitReport {
    size_t batch_size = 0;                   // changes in the batch, committed or not
    std::chrono::nanoseconds latency{0};     // BEGIN to COMMIT, fsync included
    std::vector<RemediationChange> changes;  // in commit order
    uint64_t round_trips = 0;                // waits for the database server (0: in-process)
    uint64_t statements_sent = 0;            // sent without waiting for them (0: in-process)
};

// Told about every commit, in commit order, on the store's completion thread after the
// commit's callbacks ran: keep it short and never call back into the store's Write from it.
class CommitObserver {
public:
    virtual ~CommitObserver() = default;
    virtual void OnCommit(const CommitReport& report) = 0;
};

class Store {
public:
    virtual ~Store() = default;
    // Queues `work` for the next group-commit batch. It runs on the writer thread inside the
    // batch's transaction; when it fails, only its own changes are rolled back. `done` is
    // called after the batch committed (with work's own error, or the commit's error), so a
    // reply sent from it is durable, on the store's one completion thread (a throw-away
    // store's: its writer thread), never the writer's: the next batch is written meanwhile.
    // Keep `done` short, and never wait in it for another write. When the write is
    // refused (closing, or an HTTP request's write past the queue's bound) `done` gets
    // UNAVAILABLE at once, on the calling thread.
    virtual void Write(TxnWork work, CommitCallback done) = 0;
    // Write, for a change that says what it reads first and keeps ReadAhead's promises.
    virtual void WriteWithReadAhead(ReadAhead ahead, TxnWork work, CommitCallback done) {
        (void)ahead;  // nothing to gain where reads wait for nobody
        Write(std::move(work), std::move(done));
    }
    // Adds an observer of every later commit. It must outlive the store's Close().
    virtual void AddObserver(CommitObserver* observer) = 0;
    // Runs `read` on a pooled read connection in the calling thread, in one read transaction.
    virtual Status Read(const std::function<Status(Reader&)>& read) = 0;
    // A read of exactly one statement, which sees one snapshot by itself: a backend may run it
    // without a transaction around it (PostgreSQL: no BEGIN and COMMIT, docs/design.md 7). A
    // read that runs more than one statement fails INTERNAL on such a backend.
    virtual Status ReadOneStatement(const std::function<Status(Reader&)>& read) {
        return Read(read);
    }
    // True where a read is a round trip to a database server (PostgreSQL), so that reads
    // asked at the same time are worth answering with one statement; false in-process (SQLite).
    virtual bool ReadsAreRoundTrips() const { return false; }
    // Stops the writer after the queued batches commit.
    virtual void Close() = 0;

    // Blocks the caller until `work` committed. Not for I/O threads.
    Status WriteAndWait(TxnWork work);
};

}  // namespace noderepair::storage
