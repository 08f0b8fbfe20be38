// The engine's durable progress on each remediation it works on, behind the store contract.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/inventory.hpp"
#include "model/remediation.hpp"

namespace noderepair::storage {

// One provider call of the current step, on one instance: the remediation's own, or a
// co-tenant of its host for a host-level step.
struct StepCall {
    std::string instance_id;
    std::string handle;  // the provider's, once it started the operation
    bool done = false;
};

// The engine's durable progress on one remediation: the step it is at (by name, within the
// workflow version it started under), the intent recorded for that step, and the engine's
// own records about the VM it moves.
struct EngineJob {
    std::string remediation_id;
    int workflow_version = 0;
    std::string step;  // the current step's stable name
    // Bumped by every intent: an outcome is recorded only under the fence its call was made
    // with, so the answer of a call the engine gave up on (or of another process) changes
    // nothing.
    int64_t fence = 0;
    int attempts = 0;         // failed tries of the current step
    Timestamp step_started;   // when the current step began (timeouts, capacity wait)
    Timestamp next_check;     // when the engine should look at it again
    std::string source_host;  // where the VM ran when the remediation was claimed
    std::string target_host;  // where its replacement goes (VM_ONLY: often the same host)
    int num_gpus = 0;
    bool host_was_cordoned = false;  // before this remediation cordoned it
    // The replica working on it and the takeover count (docs/design.md 12): written when the
    // job is created and by the lease methods only; every step's commit is fenced on both.
    std::string owner;
    int64_t attempt = 0;
    // A job that Put makes (a claim's) starts its lease for this long from the database's now;
    // zero: none yet. Never written by an update of progress.
    std::chrono::milliseconds first_lease{0};
    // Host-level modes: every instance on the host at claim time, its own first.
    std::vector<std::string> instances;
    // The current step's calls once its intent is recorded; empty before, and for the
    // engine's own steps.
    std::vector<StepCall> calls;
};

// Where a job works: the host its VM was on and the one its replacement goes to.
struct HostWork {
    std::string source_host;
    std::string target_host;
    model::Mode mode = model::Mode::kVmOnly;
};

class EngineJobReads {
public:
    virtual ~EngineJobReads() = default;
    virtual Result<std::vector<EngineJob>> List() = 0;
    virtual Result<std::optional<EngineJob>> Get(const std::string& remediation_id) = 0;
    // The hosts and mode of every job that works on one of `hosts` (its source or its target):
    // what a batch of claims checks its hosts against at once. Only those hosts' jobs are
    // read, so a batch costs the same however many jobs run elsewhere.
    virtual Result<std::vector<HostWork>> ListHostWork(const std::vector<std::string>& hosts) = 0;
};

// A job a replica holds under a lease, as a lease method left it.
struct LeasedJob {
    std::string remediation_id;
    int64_t attempt = 0;
    int64_t fence = 0;
    std::string step;
};

enum class LeaseCheck {
    kHeld,  // the caller's: renewed
    kLost,  // another replica's now (or a later attempt's): nothing may be committed
    kGone,  // no job any more
};

// What the fence of a commit found: whose the job is, and the job as it stands (locked), so
// the change that follows need not read it again.
struct HeldJob {
    LeaseCheck check = LeaseCheck::kGone;
    std::optional<EngineJob> job;  // set unless kGone
};

// A PENDING remediation locked for its claim, with what the claim reads of it: its instance
// and the host its VM is on (nullopt when there is none).
struct PendingClaim {
    model::Remediation remediation;
    std::optional<model::Instance> instance;
    std::optional<model::Host> host;
};

// Which jobs TakeOver takes.
enum class TakeOverScope {
    kExpired,   // any whose lease expired (locked rows are skipped)
    kOwn,       // the caller's own, whatever their lease (a restarted replica)
    kEveryone,  // every job (one process on the database: SQLite)
};

class EngineJobRepository : public EngineJobReads {
public:
    // Creates the job (with its owner, attempt and first_lease) or updates its progress
    // (never its owner, attempt or lease).
    virtual Status Put(const EngineJob& job) = 0;
    virtual Status Delete(const std::string& remediation_id) = 0;

    // Leases (docs/design.md 12), judged by the database's clock. The fence of a commit: locks
    // the job's row for the rest of the transaction and renews its lease for `lease` when
    // (owner, attempt) still hold it. One statement, which also reads the job.
    virtual Result<HeldJob> HoldLease(const std::string& remediation_id, const std::string& owner,
                                      int64_t attempt, std::chrono::milliseconds lease) = 0;
    // Renews the leases of the jobs of `ids` that `owner` still holds; those jobs. A job the
    // owner holds but does not name, one its replica does not work on (a claim the connection
    // of the replica's killed predecessor still committed after the restart took its jobs), is
    // not renewed: its lease ends and a takeover gives it to a replica that works on it.
    virtual Result<std::vector<LeasedJob>> RenewLeases(const std::string& owner,
                                                       const std::vector<std::string>& ids,
                                                       std::chrono::milliseconds lease) = 0;
    // Takes up to `limit` jobs for `owner` (attempt + 1, a fresh lease); the jobs taken.
    virtual Result<std::vector<LeasedJob>> TakeOver(const std::string& owner, TakeOverScope scope,
                                                    std::chrono::milliseconds lease, int limit) = 0;
    // Locks up to `limit` of the oldest PENDING remediations for their claims and reads them
    // with their instances and hosts, in one statement. Rows another replica's claim holds are
    // skipped (PostgreSQL: FOR UPDATE SKIP LOCKED, so claimers never queue behind each other).
    virtual Result<std::vector<PendingClaim>> LockPending(int limit) = 0;
};

}  // namespace noderepair::storage
