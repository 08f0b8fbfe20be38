#include "engine/executor.hpp"

#include <algorithm>
#include <memory>

#include "engine/workflow.hpp"
#include "remediation/lifecycle.hpp"

namespace noderepair::engine {
namespace {

using model::Remediation;
using model::State;
using providers::Action;
using providers::OperationStatus;

constexpr const char* kActor = "engine";
constexpr int kMaxTransientAttempts = 8;

std::chrono::microseconds Backoff(int attempts) {
    auto delay = std::chrono::milliseconds(250) * (1 << std::min(attempts, 7));
    return std::min<std::chrono::microseconds>(delay, std::chrono::seconds(30));
}

remediation::Event EventFor(State from, State to) {
    using remediation::Event;
    if (to == State::kQuarantining) return Event::kStartQuarantine;
    if (to == State::kQuarantined) return Event::kQuarantined;
    if (to == State::kRunning) return Event::kStartRun;
    if (to == State::kSucceeded) return Event::kSucceed;
    (void)from;
    return Event::kFail;
}

}  // namespace

Executor::Executor(storage::Store& store, providers::Provider& provider, EngineControl& control,
                   const Clock& clock, remediation::Lifecycle& lifecycle, ExecutorOptions options)
    : store_(store),
      provider_(provider),
      control_(control),
      clock_(clock),
      lifecycle_(lifecycle),
      options_(options) {}

Executor::~Executor() { Stop(); }

Status Executor::Start() {
    NR_RETURN_IF_ERROR(Resume());
    thread_ = std::thread([this] { Loop(); });
    return OkStatus();
}

Status Executor::Resume() {
    std::vector<storage::EngineJob> jobs;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(jobs, reader.EngineJobs().List());
        return OkStatus();
    }));
    {
        std::lock_guard lock(mu_);
        // Resume everything at once: a step whose time has come is looked at right away.
        for (const auto& job : jobs) {
            waiting_[job.remediation_id] = job.next_check;
            due_.insert({job.next_check, job.remediation_id});
        }
        next_claim_scan_ = clock_.Now();
    }
    return OkStatus();
}

void Executor::Stop() {
    std::unique_lock lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    lock.unlock();
    if (thread_.joinable()) thread_.join();
    lock.lock();
    WaitForWrites(lock);
}

void Executor::WaitForWrites(std::unique_lock<std::mutex>& lock) {
    cv_.wait(lock, [this] { return writes_in_flight_ == 0; });
}

size_t Executor::InFlight() {
    std::lock_guard lock(mu_);
    return waiting_.size() + submitted_.size();
}

Status Executor::RunOnce() {
    std::unique_lock lock(mu_);
    next_claim_scan_ = Timestamp{};
    Schedule(lock);
    WaitForWrites(lock);
    return OkStatus();
}

void Executor::Loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        Timestamp wake = Schedule(lock);
        auto delay = wake - clock_.Now();
        auto cap = std::chrono::duration_cast<std::chrono::microseconds>(options_.claim_interval);
        delay = std::clamp<std::chrono::microseconds>(delay, std::chrono::microseconds(0), cap);
        if (delay.count() > 0) {
            cv_.wait_for(lock, delay);
        } else if (!due_.empty() && due_.begin()->first <= clock_.Now()) {
            continue;  // more steps are due right now
        } else {
            cv_.wait_for(lock, std::chrono::milliseconds(1));
        }
    }
}

Timestamp Executor::Schedule(std::unique_lock<std::mutex>& lock) {
    const Timestamp now = clock_.Now();
    // Steps whose time has come.
    while (!due_.empty() && due_.begin()->first <= now) {
        std::string id = due_.begin()->second;
        due_.erase(due_.begin());
        waiting_.erase(id);
        submitted_.insert(id);
        Submit(id, false);
    }
    // New work, unless paused (PENDING waits; what runs finishes).
    const int busy = int(waiting_.size() + submitted_.size());
    if (now >= next_claim_scan_ && busy < options_.max_parallel) {
        next_claim_scan_ = now + options_.claim_interval;
        lock.unlock();
        auto paused = control_.IsPaused();
        std::vector<std::string> pending;
        if (paused && !*paused) {
            (void)store_.Read([&](storage::Reader& reader) -> Status {
                NR_ASSIGN_OR_RETURN(pending,
                                    reader.Remediations().ListOldestInState(
                                        State::kPending, options_.max_parallel - busy + 64));
                return OkStatus();
            });
        }
        lock.lock();
        int room = options_.max_parallel - int(waiting_.size() + submitted_.size());
        for (const auto& id : pending) {
            if (room <= 0) break;
            if (waiting_.count(id) || submitted_.count(id)) continue;
            submitted_.insert(id);
            Submit(id, true);
            --room;
        }
    }
    // With no room for new work, only a finishing job (which notifies) or a due step wakes
    // the loop; a scan time in the past must not make it spin.
    const bool full = int(waiting_.size() + submitted_.size()) >= options_.max_parallel;
    Timestamp wake = full ? now + options_.claim_interval : std::max(next_claim_scan_, now);
    if (!due_.empty()) wake = std::min(wake, due_.begin()->first);
    return wake;
}

void Executor::Submit(const std::string& id, bool claim) {
    ++writes_in_flight_;
    auto result = std::make_shared<Result<Advance>>(Advance{});
    auto steps = std::make_shared<std::vector<FinishedStep>>();
    store_.Write(
        [this, id, claim, result, steps](storage::Txn& txn) -> Status {
            const Timestamp now = clock_.Now();
            finished_steps_ = steps.get();
            *result = claim ? ClaimInTxn(txn, id, now) : AdvanceInTxn(txn, id, now);
            finished_steps_ = nullptr;
            if (!*result) return result->error();
            return OkStatus();
        },
        [this, id, claim, result, steps](Status committed) {
            if (committed && options_.on_step_done) {
                for (const auto& s : *steps) options_.on_step_done(s.step, s.took);
            }
            std::lock_guard lock(mu_);
            submitted_.erase(id);
            --writes_in_flight_;
            if (committed && (*result)->outcome == Outcome::kWaiting) {
                waiting_[id] = (*result)->next_check;
                due_.insert({(*result)->next_check, id});
            } else if (!committed && !claim && committed.error().code != Code::kAborted) {
                // The step did not commit (storage trouble): its job row still says where it
                // was, so look again shortly. A failed claim needs nothing: the remediation is
                // still PENDING and the next scan finds it.
                const Timestamp retry = clock_.Now() + std::chrono::seconds(1);
                waiting_[id] = retry;
                due_.insert({retry, id});
            }
            // Finished or lost work frees a slot: look for PENDING work soon, once for all
            // the slots a batch of commits frees.
            if ((*result) && (*result)->outcome != Outcome::kWaiting &&
                (*result)->outcome != Outcome::kDeferred) {
                next_claim_scan_ =
                    std::min(next_claim_scan_, clock_.Now() + std::chrono::milliseconds(2));
            }
            cv_.notify_all();
        });
}

Result<Executor::Advance> Executor::ClaimInTxn(storage::Txn& txn, const std::string& id,
                                               Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().Get(id));
    // Cancelled (or claimed) in the meantime: cancel and pick-up are both compare-and-sets
    // on the same row, so exactly one wins (API.md 4.6).
    if (!found || found->state != State::kPending) return Advance{Outcome::kLost, now};
    Remediation r = std::move(*found);
    NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(r.instance_id));
    if (instance && !instance->host_name.empty()) {
        NR_ASSIGN_OR_RETURN(bool wait, MustWaitForHost(txn, r, instance->host_name));
        if (wait) return Advance{Outcome::kDeferred, now};
    }
    const auto workflow = WorkflowFor(r.mode);
    r.start_time = now;
    // Picked up first: a remediation fails only from a working state (API.md 2.2).
    NR_RETURN_IF_ERROR(SetState(txn, r, workflow.front().during, "picked up by the engine"));
    if (!instance) return Fail(txn, r, "instance " + r.instance_id + " no longer exists");
    storage::EngineJob job;
    job.remediation_id = r.id;
    job.step_started = now;
    job.next_check = now;
    job.source_host = instance->host_name;
    job.num_gpus = instance->num_gpus;
    if (job.source_host.empty() && r.mode != model::Mode::kVmOnly) {
        return Fail(txn, r,
                    "instance " + r.instance_id +
                        " has no VM to act on; REMEDIATION_MODE_VM_ONLY provisions a new one");
    }
    return Drive(txn, r, job, now);
}

Result<bool> Executor::MustWaitForHost(storage::Txn& txn, const Remediation& r,
                                       const std::string& host) {
    if (!WaitsForOnSameHost(r.mode, model::Mode::kHostPowerCycle) &&
        !WaitsForOnSameHost(r.mode, model::Mode::kHostAware)) {
        return false;
    }
    NR_ASSIGN_OR_RETURN(auto running, txn.EngineJobs().ModesWorkingOnHost(host));
    const bool wait = std::any_of(running.begin(), running.end(), [&](model::Mode other) {
        return WaitsForOnSameHost(r.mode, other);
    });
    if (!wait) return false;
    // Said once in the timeline, not at every scan.
    const std::string why = "waiting: another host-level remediation is working on host " + host;
    NR_ASSIGN_OR_RETURN(auto events, txn.Remediations().ListEvents(r.id));
    if (events.empty() || events.back().detail != why) {
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
            r.id, {lifecycle_.NextTimestamp(), "step", std::nullopt, "claim", kActor, why}));
    }
    return true;
}

Result<Executor::Advance> Executor::AdvanceInTxn(storage::Txn& txn, const std::string& id,
                                                 Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto job, txn.EngineJobs().Get(id));
    if (!job) return Advance{Outcome::kLost, now};
    NR_ASSIGN_OR_RETURN(auto r, txn.Remediations().Get(id));
    if (!r || model::IsTerminal(r->state)) {
        NR_RETURN_IF_ERROR(txn.EngineJobs().Delete(id));
        return Advance{Outcome::kLost, now};
    }
    return Drive(txn, *r, *job, now);
}

Status Executor::SetState(storage::Txn& txn, Remediation& r, State to, std::string detail) {
    if (r.state == to) return OkStatus();
    return lifecycle_.Apply(txn, r, EventFor(r.state, to), kActor, std::move(detail));
}

Result<Executor::Advance> Executor::Fail(storage::Txn& txn, Remediation& r,
                                         const std::string& why) {
    r.error_message = why;
    NR_RETURN_IF_ERROR(SetState(txn, r, State::kFailed, why));
    NR_RETURN_IF_ERROR(provider_.Release(txn, r.instance_id));
    NR_RETURN_IF_ERROR(txn.EngineJobs().Delete(r.id));
    return Advance{Outcome::kFinished, r.update_time};
}

Result<Executor::Advance> Executor::Drive(storage::Txn& txn, Remediation& r,
                                          storage::EngineJob& job, Timestamp now) {
    const auto workflow = WorkflowFor(r.mode);
    while (true) {
        if (job.step >= int(workflow.size())) {
            NR_RETURN_IF_ERROR(SetState(txn, r, State::kSucceeded, "remediation succeeded"));
            NR_RETURN_IF_ERROR(txn.EngineJobs().Delete(r.id));
            return Advance{Outcome::kFinished, now};
        }
        const Step& step = workflow[size_t(job.step)];
        if (r.state != step.during) {
            NR_RETURN_IF_ERROR(SetState(txn, r, step.during,
                                        step.during == State::kQuarantined
                                            ? "host isolated and drained"
                                            : "replacement and recovery"));
        }
        // A host that was cordoned before this remediation (by an operator, or a HOST_AWARE
        // that judged it suspect) stays cordoned when it ends.
        if (step.action == Action::kCordonHost && !job.started) {
            NR_ASSIGN_OR_RETURN(auto host, txn.Inventory().GetHost(job.source_host));
            if (!host) return Fail(txn, r, "host " + job.source_host + " is not in the fleet");
            job.host_was_cordoned = host->cordoned;
        }
        const bool keep_cordon = step.action == Action::kUncordonHost && job.host_was_cordoned;
        const bool nothing_to_verify =
            step.action == Action::kVerify && options_.verify_tests.empty();
        if (keep_cordon || nothing_to_verify) {
            NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
                r.id, {lifecycle_.NextTimestamp(), "step", std::nullopt,
                       std::string(providers::ActionName(step.action)), kActor,
                       keep_cordon ? "skipped: the host was cordoned before this remediation"
                                   : "skipped: no engine.verify_tests"}));
            ++job.step;
            job.step_started = now;
            job.next_check = now;
            continue;
        }
        const std::string step_name(providers::ActionName(step.action));
        providers::Operation op;
        op.action = step.action;
        op.key = r.id + "/" + std::to_string(job.step);
        op.remediation_id = r.id;
        op.cluster_id = r.cluster_id;
        op.instance_id = r.instance_id;
        op.instance_name = r.instance_name;
        op.host = job.source_host;
        op.target_host = job.target_host;
        op.num_gpus = job.num_gpus;
        op.other_host = r.mode == model::Mode::kHostAware;
        if (step.action == Action::kVerify) op.tests = options_.verify_tests;

        auto transient_or_fail = [&](const Error& error) -> Result<Advance> {
            if (!IsTransient(error.code) || job.attempts + 1 >= kMaxTransientAttempts) {
                return Fail(txn, r, step_name + " failed: " + error.message);
            }
            ++job.attempts;
            // The next try starts the operation again under the same key: providers dedupe
            // by key, and a hook that died with a restarted process runs again.
            job.started = false;
            job.next_check = now + Backoff(job.attempts);
            NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
                r.id, {lifecycle_.NextTimestamp(), "step", std::nullopt, step_name, kActor,
                       "retrying after: " + error.message}));
            NR_RETURN_IF_ERROR(txn.EngineJobs().Put(job));
            return Advance{Outcome::kWaiting, job.next_check};
        };

        if (!job.started) {
            auto handle = provider_.Start(txn, op, now);
            if (!handle) return transient_or_fail(handle.error());
            job.started = true;
            job.handle = *handle;
        }
        auto status = provider_.Poll(txn, job.handle, now);
        if (!status) return transient_or_fail(status.error());
        if (status->phase == OperationStatus::Phase::kRunning) {
            const bool waiting_for_room = step.action == Action::kReserve;
            const auto limit = waiting_for_room ? options_.capacity_wait : options_.step_timeout;
            if (now - job.step_started >= limit) {
                if (waiting_for_room) {
                    return Fail(txn, r,
                                "no host had " + std::to_string(job.num_gpus) +
                                    " free GPU slots within " +
                                    std::to_string(options_.capacity_wait.count()) +
                                    " s; the VM was left as it was");
                }
                return Fail(txn, r,
                            step_name + " timed out after " +
                                std::to_string(options_.step_timeout.count()) + " s");
            }
            const bool first_wait = job.next_check <= job.step_started;
            job.next_check = std::min(status->poll_at, job.step_started + limit);
            if (first_wait) {
                NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
                    r.id,
                    {lifecycle_.NextTimestamp(), "step", std::nullopt, step_name, kActor,
                     waiting_for_room ? "waiting for a host with free GPU slots" : "started"}));
            }
            NR_RETURN_IF_ERROR(txn.EngineJobs().Put(job));
            return Advance{Outcome::kWaiting, job.next_check};
        }
        std::string detail = "done";
        if (step.action == Action::kReserve) {
            job.target_host = status->result;
            detail = "reserved " + std::to_string(job.num_gpus) + " GPUs on " + status->result;
        }
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
            r.id, {lifecycle_.NextTimestamp(), "step", std::nullopt, step_name, kActor, detail}));
        if (finished_steps_ != nullptr) {
            finished_steps_->push_back(
                {step_name,
                 std::chrono::duration_cast<std::chrono::microseconds>(now - job.step_started)});
        }
        ++job.step;
        job.started = false;
        job.handle.clear();
        job.attempts = 0;
        job.step_started = now;
        job.next_check = now;
    }
}

}  // namespace noderepair::engine
