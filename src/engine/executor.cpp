#include "engine/executor.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "common/request_context.hpp"
#include "common/thread_name.hpp"

namespace noderepair::engine {
namespace {

using model::Remediation;
using model::State;
using providers::Action;
using providers::OperationStatus;
using storage::EngineJob;
using Plan = Executor::Plan;
using CallAnswer = Executor::CallAnswer;

constexpr const char* kActor = "engine";
constexpr int kMaxTransientAttempts = 8;
// How often the engine's reservation step looks for room again while none is free.
constexpr auto kCapacityRetry = std::chrono::milliseconds(500);
// A transaction that did not commit (storage trouble) is tried again after this long.
constexpr auto kStorageRetry = std::chrono::seconds(1);
// How long Stop() waits for provider calls that are still running.
constexpr auto kCallGrace = std::chrono::seconds(10);
// Claims per transaction: one statement locks and reads them all, and their writes are
// pipelined; a larger batch would hold its rows locked for longer.
constexpr int kClaimBatch = 64;

std::chrono::microseconds Backoff(int attempts) {
    auto delay = std::chrono::milliseconds(250) * (1 << std::min(attempts, 7));
    return std::min<std::chrono::microseconds>(delay, std::chrono::seconds(30));
}

remediation::Event EventFor(State to) {
    using remediation::Event;
    if (to == State::kQuarantining) return Event::kStartQuarantine;
    if (to == State::kQuarantined) return Event::kQuarantined;
    if (to == State::kRunning) return Event::kStartRun;
    if (to == State::kSucceeded) return Event::kSucceed;
    return Event::kFail;
}

std::string_view NameOf(Action action) { return providers::ActionName(action); }

}  // namespace

Executor::Executor(storage::Store& store, providers::Provider& provider, EngineControl& control,
                   const Clock& clock, remediation::Lifecycle& lifecycle, ExecutorOptions options)
    : store_(store),
      provider_(provider),
      control_(control),
      clock_(clock),
      lifecycle_(lifecycle),
      options_(std::move(options)),
      calls_(options_.max_calls > 0 ? options_.max_calls : options_.max_parallel,
             options_.max_calls_per_host) {}

Executor::~Executor() { Stop(); }

Status Executor::Start() {
    NR_RETURN_IF_ERROR(Resume());
    thread_ = std::thread([this] {
        NameThisThread("nr-engine");
        Loop();
    });
    return OkStatus();
}

Status Executor::Resume() {
    // This replica's own jobs (a restart resumes them at once, docs/http-api.md 6) under a
    // new attempt, so a process that still thinks it holds them can commit nothing more.
    // Other replicas' jobs come by the lease ticks once their leases expire.
    std::vector<storage::LeasedJob> jobs;
    const auto submitted = std::chrono::steady_clock::now();
    NR_RETURN_IF_ERROR(store_.WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(jobs, txn.EngineJobs().TakeOver(
                                      options_.replica_id,
                                      options_.resume_everyone ? storage::TakeOverScope::kEveryone
                                                               : storage::TakeOverScope::kOwn,
                                      options_.lease, std::numeric_limits<int>::max()));
        return OkStatus();
    }));
    std::lock_guard lock(mu_);
    // Everything is looked at again at once: a transaction finds where each job stands,
    // records what an older binary left unrecorded, and plans its calls.
    const Timestamp now = clock_.Now();
    for (const auto& job : jobs) Adopt(job, now);
    lease_renewed_ = submitted;
    next_lease_tick_ = submitted + options_.lease / 4;
    next_claim_scan_ = now;
    return OkStatus();
}

void Executor::Adopt(const storage::LeasedJob& job, Timestamp now) {
    Work& work = work_[job.remediation_id];
    work.attempt = job.attempt;
    work.held_since = std::chrono::steady_clock::now();
    if (work.fence < 0) {
        work.fence = job.fence;
        work.step = job.step;
    }
    work.recheck = now;
    due_.insert({now, job.remediation_id});
}

std::vector<std::string> Executor::WorkingIds() const {
    std::vector<std::string> ids;
    ids.reserve(work_.size());
    for (const auto& [id, work] : work_) ids.push_back(id);
    return ids;
}

bool Executor::LeaseFresh() const {
    return std::chrono::steady_clock::now() < lease_renewed_ + options_.lease * 3 / 4;
}

void Executor::SubmitLeaseTick(int room) {
    lease_tick_queued_ = true;
    ++writes_in_flight_;
    auto tick = std::make_shared<LeaseTick>();
    tick->submitted = std::chrono::steady_clock::now();
    // Only the work this replica does: a job it owns and does not work on expires instead of
    // being renewed forever (storage::EngineJobRepository::RenewLeases).
    tick->working = WorkingIds();
    ScopedActor actor("engine");
    store_.Write(
        [this, tick, room](storage::Txn& txn) -> Status {
            auto& jobs = txn.EngineJobs();
            NR_ASSIGN_OR_RETURN(
                tick->held, jobs.RenewLeases(options_.replica_id, tick->working, options_.lease));
            if (room > 0) {
                NR_ASSIGN_OR_RETURN(tick->taken, jobs.TakeOver(options_.replica_id,
                                                               storage::TakeOverScope::kExpired,
                                                               options_.lease, room));
                // Said in the timeline: an operator sees where the work moved, and why a step
                // runs again (its call is keyed, so the provider does it once).
                for (const auto& job : tick->taken) {
                    NR_RETURN_IF_ERROR(Note(txn, job.remediation_id, job.step,
                                            "taken over by replica " + options_.replica_id +
                                                " (attempt " + std::to_string(job.attempt) +
                                                "): the lease of its last one expired"));
                }
            }
            return OkStatus();
        },
        [this, tick](Status committed) {
            Committed c;
            c.lease_tick = tick;
            HandOver(std::move(c), std::move(committed));
        });
}

void Executor::HandOver(Committed committed, Status status) {
    std::lock_guard lock(mu_);
    --writes_in_flight_;
    committed.status = std::move(status);
    committed_.push_back(std::move(committed));
    cv_.notify_all();
}

void Executor::AfterLeaseTick(const LeaseTick& tick, Status status) {
    lease_tick_queued_ = false;
    if (!status) {
        // Not renewed: steps stop starting once the last renewal is too old (LeaseFresh).
        next_lease_tick_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        return;
    }
    lease_renewed_ = tick.submitted;
    next_lease_tick_ = tick.submitted + options_.lease / 4;
    // Work whose lease another replica took while this one was away is its now: stop at once
    // (its calls are cancelled; a late answer's commit would be refused anyway).
    // Only work held since before the tick was submitted is judged: with several writers a
    // claim can commit after the tick's renewal looked at the jobs and still reach this
    // thread first; that work is judged by the next tick.
    std::set<std::string> held;
    for (const auto& job : tick.held) held.insert(job.remediation_id);
    std::vector<std::string> lost;
    for (const auto& [id, work] : work_) {
        if (!held.count(id) && work.held_since < tick.submitted) lost.push_back(id);
    }
    for (const auto& id : lost) Forget(id);
    const Timestamp now = clock_.Now();
    for (const auto& job : tick.taken) {
        std::fprintf(stderr, "noderepair: engine: took over remediation %s (attempt %lld)\n",
                     job.remediation_id.c_str(), static_cast<long long>(job.attempt));
        Adopt(job, now);
    }
}

void Executor::Stop() {
    std::unique_lock lock(mu_);
    stopping_ = true;
    for (auto& [id, work] : work_) {
        for (auto& [instance, call] : work.calls) {
            if (call.cancellation) call.cancellation->Cancel();
        }
    }
    cv_.notify_all();
    lock.unlock();
    if (thread_.joinable()) thread_.join();
    calls_.Stop(kCallGrace);
    lock.lock();
    cv_.wait(lock, [this] { return writes_in_flight_ == 0; });
    const bool release = !crashed_ && !work_.empty();
    const std::vector<std::string> working = WorkingIds();
    lock.unlock();
    if (release) {
        // Stopping cleanly: the leases end now, so other replicas take the work over at their
        // next lease tick instead of after a whole lease (a restart takes its own back).
        (void)store_.WriteAndWait([this, &working](storage::Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(txn.EngineJobs().RenewLeases(options_.replica_id, working,
                                                            std::chrono::milliseconds(0)));
            return OkStatus();
        });
    }
}

size_t Executor::InFlight() {
    std::lock_guard lock(mu_);
    return work_.size() + size_t(claiming_);
}

bool Executor::Crashed() {
    std::lock_guard lock(mu_);
    return crashed_;
}

Status Executor::RunOnce() {
    std::unique_lock lock(mu_);
    next_claim_scan_ = Timestamp{};
    for (int round = 0; round < 100000; ++round) {
        Schedule(lock);
        cv_.wait(lock, [this] { return writes_in_flight_ == 0 && calls_in_flight_ == 0; });
        if (stopping_ || crashed_) return OkStatus();
        const Timestamp now = clock_.Now();
        const bool due = !due_.empty() && due_.begin()->first <= now;
        if (!due && next_claim_scan_ > now && committed_.empty()) return OkStatus();
    }
    return Internal("the engine did not settle: something is due again at every round");
}

void Executor::Loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        Timestamp wake = Schedule(lock);
        auto delay = wake - clock_.Now();
        auto cap = std::chrono::duration_cast<std::chrono::microseconds>(options_.claim_interval);
        delay = std::clamp<std::chrono::microseconds>(delay, std::chrono::microseconds(0), cap);
        if (!committed_.empty()) {
            continue;  // commits to act on
        } else if (delay.count() > 0) {
            cv_.wait_for(lock, delay);
        } else if (!due_.empty() && due_.begin()->first <= clock_.Now()) {
            continue;  // more is due right now
        } else {
            cv_.wait_for(lock, std::chrono::milliseconds(1));
        }
    }
}

Timestamp Executor::Schedule(std::unique_lock<std::mutex>& lock) {
    if (stopping_ || crashed_) {
        committed_.clear();
        return clock_.Now() + options_.claim_interval;
    }
    std::vector<Committed> committed;
    committed.swap(committed_);
    for (auto& c : committed) {
        if (c.lease_tick) {
            AfterLeaseTick(*c.lease_tick, c.status);
        } else {
            AfterCommit(c);
        }
        if (crashed_) return clock_.Now() + options_.claim_interval;
    }
    if (!lease_tick_queued_ && std::chrono::steady_clock::now() >= next_lease_tick_) {
        SubmitLeaseTick(options_.max_parallel - int(work_.size()) - claiming_);
    }
    const Timestamp now = clock_.Now();
    while (!due_.empty() && due_.begin()->first <= now) {
        std::string id = due_.begin()->second;
        due_.erase(due_.begin());
        auto it = work_.find(id);
        if (it != work_.end()) Service(id, it->second, now);
    }
    // New work, unless paused (PENDING waits; what runs finishes). A read says whether there
    // is any (an idle engine writes nothing); the claims lock and read what they take
    // themselves, a batch per transaction.
    // Not while claims are queued: the scan would find their rows still PENDING and queue
    // claims that find nothing.
    const int busy = int(work_.size()) + claiming_;
    if (now >= next_claim_scan_ && busy < options_.max_parallel && claiming_ == 0) {
        next_claim_scan_ = now + options_.claim_interval;
        lock.unlock();
        auto paused = control_.IsPaused();
        if (options_.on_claim_scan) options_.on_claim_scan();
        std::vector<std::string> pending;
        if (paused && !*paused) {
            (void)store_.Read([&](storage::Reader& reader) -> Status {
                NR_ASSIGN_OR_RETURN(pending, reader.Remediations().ListOldestInState(
                                                 State::kPending, options_.max_parallel - busy));
                return OkStatus();
            });
        }
        lock.lock();
        int room =
            std::min(options_.max_parallel - int(work_.size()) - claiming_, int(pending.size()));
        while (room > 0 && !stopping_ && !crashed_) {
            const int slots = std::min(room, kClaimBatch);
            SubmitClaims(slots);
            room -= slots;
        }
    }
    // With no room for new work, only finishing work (which notifies) or a due time wakes the
    // loop; a scan time in the past must not make it spin.
    const bool full = int(work_.size()) + claiming_ >= options_.max_parallel;
    Timestamp wake = full ? now + options_.claim_interval : std::max(next_claim_scan_, now);
    if (!due_.empty()) wake = std::min(wake, due_.begin()->first);
    return wake;
}

void Executor::Service(const std::string& id, Work& work, Timestamp now) {
    if (work.recheck && *work.recheck <= now) {
        work.recheck.reset();
        const int64_t fence = work.fence;
        Submit(id, [this, id, fence](storage::Txn& txn, EngineJob& job, Timestamp at) {
            return RecheckInTxn(txn, id, job, fence, at);
        });
    }
    std::optional<Timestamp> next = work.recheck;
    auto sooner = [&next](Timestamp t) { next = next ? std::min(*next, t) : t; };
    const bool fresh = LeaseFresh();
    for (auto& [instance, call] : work.calls) {
        if (call.calling || call.recording) continue;
        if (call.planned.due <= now && !fresh) {
            // A replica that cannot renew its leases starts no step: another may be about to
            // take this work over. Looked at again once a renewal commits.
            sooner(now + std::chrono::milliseconds(100));
        } else if (call.planned.due <= now) {
            Dispatch(id, work, call);
        } else {
            sooner(call.planned.due);
        }
    }
    // A step past its deadline fails even while its call hangs: the call is abandoned, and
    // its late answer no longer matches the fence.
    if (!work.calls.empty() && !work.deadline_queued) {
        if (now >= work.deadline) {
            work.deadline_queued = true;
            const int64_t fence = work.fence;
            Submit(id, [this, id, fence](storage::Txn& txn, EngineJob& job, Timestamp at) {
                return RecheckInTxn(txn, id, job, fence, at);
            });
        } else {
            sooner(work.deadline);
        }
    }
    if (next) due_.insert({*next, id});
}

void Executor::Dispatch(const std::string& id, Work& work, Call& call) {
    call.calling = true;
    call.cancellation = std::make_shared<providers::Cancellation>();
    ++calls_in_flight_;
    const providers::Operation op = call.planned.op;
    calls_.Submit(op.host, [this, id, op, handle = call.planned.handle, fence = work.fence,
                            deadline = work.deadline, cancellation = call.cancellation] {
        const providers::CallContext context(clock_, deadline, cancellation);
        CallAnswer answer;
        answer.fence = fence;
        answer.instance_id = op.instance_id;
        answer.handle = handle;
        bool started = false;
        if (answer.handle.empty()) {
            auto made = provider_.Start(op, context);
            if (!made) {
                answer.kind = CallAnswer::Kind::kError;
                answer.error = made.error();
                return OnAnswer(id, answer);
            }
            answer.handle = *made;
            started = true;
        }
        auto status = provider_.Poll(answer.handle, context);
        if (!status) {
            answer.kind = CallAnswer::Kind::kError;
            answer.error = status.error();
        } else if (status->phase == OperationStatus::Phase::kDone) {
            answer.kind = CallAnswer::Kind::kDone;
            answer.note = status->note;
            answer.attention = status->attention;
        } else if (status->phase == OperationStatus::Phase::kLost) {
            // Only a handle from an earlier process can be lost; one this call just made is
            // the provider failing, and is retried (and counted) as such.
            answer.kind = started ? CallAnswer::Kind::kError : CallAnswer::Kind::kLost;
            answer.error =
                Unavailable("the provider lost the operation it had just started: " + status->note);
            answer.note = status->note;
        } else {
            answer.kind = started ? CallAnswer::Kind::kStarted : CallAnswer::Kind::kRunning;
            answer.poll_at = status->poll_at;
        }
        OnAnswer(id, answer);
    });
}

void Executor::OnAnswer(const std::string& id, const CallAnswer& answer) {
    std::lock_guard lock(mu_);
    --calls_in_flight_;
    cv_.notify_all();
    if (stopping_ || crashed_) return;
    auto it = work_.find(id);
    if (it == work_.end()) return;
    Work& work = it->second;
    auto call = work.calls.find(answer.instance_id);
    if (call != work.calls.end()) call->second.calling = false;
    if (answer.fence != work.fence || call == work.calls.end()) {
        // Given up on (a retry or a timeout moved the fence): the answer changes nothing, and
        // the call the current intent wants can go now that this one returned.
        Service(id, work, clock_.Now());
        return;
    }
    if (CrashAt(Boundary::kAfterCall, id, work.step)) return;
    if (answer.kind == CallAnswer::Kind::kRunning) {
        call->second.planned.due = answer.poll_at;
        due_.insert({answer.poll_at, id});
        cv_.notify_all();
        return;
    }
    call->second.recording = true;
    Submit(
        id,
        [this, subject = work.subject, answer](storage::Txn& txn, EngineJob& job, Timestamp at) {
            return AnswerInTxn(txn, subject, job, answer, at);
        },
        answer.instance_id);
}

bool Executor::CrashAt(Boundary boundary, const std::string& id, const std::string& step) {
    if (!options_.crash_at || !options_.crash_at(boundary, id, step)) return false;
    crashed_ = true;
    for (auto& [other, work] : work_) {
        for (auto& [instance, call] : work.calls) {
            if (call.cancellation) call.cancellation->Cancel();
        }
    }
    cv_.notify_all();
    return true;
}

void Executor::Submit(const std::string& id,
                      std::function<Result<Plan>(storage::Txn&, EngineJob&, Timestamp)> in_txn,
                      const std::string& answered) {
    ++writes_in_flight_;
    auto result = std::make_shared<Result<Plan>>(Plan{});
    auto it = work_.find(id);
    const int64_t attempt = it != work_.end() ? it->second.attempt : 0;
    // Whoever asked for it, the engine's own steps are audited as the engine's.
    ScopedActor actor("engine");
    store_.Write(
        [this, result, id, attempt, in_txn = std::move(in_txn)](storage::Txn& txn) -> Status {
            // The fence: the job's row is locked for the rest of the batch and still ours
            // (owner and attempt), or nothing of this change is committed. The same statement
            // reads the job.
            NR_ASSIGN_OR_RETURN(auto held, txn.EngineJobs().HoldLease(id, options_.replica_id,
                                                                      attempt, options_.lease));
            if (held.check == storage::LeaseCheck::kLost) {
                Plan refused;
                refused.kind = Plan::Kind::kRefused;
                *result = std::move(refused);
                return OkStatus();
            }
            if (held.check == storage::LeaseCheck::kGone) {
                *result = Plan{};  // finished or cancelled meanwhile: nothing to do
                return OkStatus();
            }
            *result = in_txn(txn, *held.job, clock_.Now());
            if (!*result) return result->error();
            return OkStatus();
        },
        [this, id, result, answered](Status committed) {
            Committed c;
            c.id = id;
            c.answered = answered;
            c.result = result;
            HandOver(std::move(c), std::move(committed));
        });
}

void Executor::SubmitClaims(int slots) {
    ++writes_in_flight_;
    claiming_ += slots;
    auto claims = std::make_shared<Claims>();
    claims->slots = slots;
    ScopedActor actor("engine");
    store_.Write(
        [this, claims, slots](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(claims->plans, ClaimInTxn(txn, slots, clock_.Now()));
            return OkStatus();
        },
        [this, claims](Status committed) {
            Committed c;
            c.claims = claims;
            HandOver(std::move(c), std::move(committed));
        });
}

void Executor::AfterCommit(Committed& c) {
    if (c.claims) {
        claiming_ -= c.claims->slots;
        // Nothing committed: the remediations are still PENDING, and a later scan finds them.
        if (!c.status) return;
        for (const auto& [id, plan] : c.claims->plans) {
            if (options_.on_step_done) {
                for (const auto& [step, took] : plan.finished_steps) {
                    options_.on_step_done(step, took);
                }
            }
            Apply(id, plan);
            if (crashed_) return;
        }
        return;
    }
    if (c.status && options_.on_step_done) {
        for (const auto& [step, took] : (*c.result)->finished_steps) {
            options_.on_step_done(step, took);
        }
    }
    if (!c.answered.empty()) {
        auto it = work_.find(c.id);
        if (it != work_.end()) {
            auto call = it->second.calls.find(c.answered);
            if (call != it->second.calls.end()) call->second.recording = false;
        }
    }
    if (c.status) {
        Apply(c.id, **c.result);
        return;
    }
    // Nothing committed: look at the job again shortly. It still says where it stood, and
    // providers take a repeated call.
    auto it = work_.find(c.id);
    if (it == work_.end()) return;
    const Timestamp retry = clock_.Now() + kStorageRetry;
    it->second.recheck = retry;
    it->second.deadline_queued = false;
    for (auto& [instance, call] : it->second.calls) call.recording = false;
    due_.insert({retry, c.id});
}

void Executor::Forget(const std::string& id) {
    auto it = work_.find(id);
    if (it == work_.end()) return;
    for (auto& [instance, call] : it->second.calls) {
        if (call.cancellation) call.cancellation->Cancel();
    }
    work_.erase(it);
}

void Executor::Apply(const std::string& id, const Plan& plan) {
    const Timestamp now = clock_.Now();
    if (!plan.outcome_step.empty() && CrashAt(Boundary::kAfterOutcome, id, plan.outcome_step)) {
        return;
    }
    switch (plan.kind) {
        case Plan::Kind::kFinished:
        case Plan::Kind::kLost:
            Forget(id);
            // Finished work frees a slot: look for PENDING work soon, once for all the slots
            // a batch of commits frees.
            next_claim_scan_ = std::min(next_claim_scan_, now + std::chrono::milliseconds(2));
            cv_.notify_all();
            return;
        case Plan::Kind::kDeferred:
            Forget(id);
            return;
        case Plan::Kind::kRefused:
            std::fprintf(stderr,
                         "noderepair: engine: remediation %s is another replica's now; its "
                         "commit was refused\n",
                         id.c_str());
            if (options_.on_fence_refused) options_.on_fence_refused();
            Forget(id);
            return;
        case Plan::Kind::kWait:
        case Plan::Kind::kCalls:
            break;
    }
    Work& work = work_[id];
    if (plan.attempt != 0) {
        work.attempt = plan.attempt;
        work.held_since = std::chrono::steady_clock::now();
    }
    if (plan.new_intent && CrashAt(Boundary::kAfterIntent, id, plan.step)) return;
    if (plan.fence != work.fence) {
        work.deadline_queued = false;
        // Calls made under the old fence are given up on; each returns on its own time.
        for (auto& [instance, call] : work.calls) {
            if (call.calling && call.cancellation) call.cancellation->Cancel();
        }
    }
    if (!plan.subject.id.empty()) work.subject = plan.subject;
    work.fence = plan.fence;
    work.step = plan.step;
    work.deadline = plan.deadline;
    work.recheck.reset();
    if (plan.kind == Plan::Kind::kWait) {
        work.recheck = plan.wake;
        std::erase_if(work.calls, [](const auto& entry) { return !entry.second.calling; });
    } else {
        std::map<std::string, Call> calls;
        for (const auto& planned : plan.calls) {
            Call& call = calls[planned.op.instance_id];
            auto old = work.calls.find(planned.op.instance_id);
            if (old != work.calls.end()) call = std::move(old->second);
            call.planned = planned;
        }
        // A call still out for a step that is done keeps its entry until it returns.
        for (auto& [instance, call] : work.calls) {
            if (call.calling && !calls.count(instance)) calls[instance] = std::move(call);
        }
        work.calls = std::move(calls);
    }
    Service(id, work, now);
    cv_.notify_all();
}

std::chrono::seconds Executor::LimitOf(const EngineJob& job) const {
    return job.step == NameOf(Action::kReserve) ? options_.capacity_wait : options_.step_timeout;
}

Status Executor::Note(storage::Txn& txn, const std::string& id, std::string_view step,
                      std::string detail) {
    return txn.Remediations().AppendEvent(id, {lifecycle_.NextTimestamp(), "step", std::nullopt,
                                               std::string(step), kActor, std::move(detail)});
}

Status Executor::Transition(storage::Txn& txn, const Subject& subject,
                            std::optional<Remediation>& r, State to, std::string detail) {
    if (!r) {
        NR_ASSIGN_OR_RETURN(r, txn.Remediations().Get(subject.id));
        if (!r) return Aborted("remediation " + subject.id + " is gone");
    }
    if (r->state == to) return OkStatus();
    return lifecycle_.Apply(txn, *r, EventFor(to), kActor, std::move(detail));
}

Result<Plan> Executor::Fail(storage::Txn& txn, const Subject& subject,
                            std::optional<Remediation>& r, const std::string& why, Plan plan) {
    if (!r) {
        NR_ASSIGN_OR_RETURN(r, txn.Remediations().Get(subject.id));
        if (!r) return Aborted("remediation " + subject.id + " is gone");
    }
    r->error_message = why;
    NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, *r, remediation::Event::kFail, kActor, why));
    // Slots held for a replacement that will not come go back to the host.
    NR_RETURN_IF_ERROR(txn.Inventory().DeleteReservation(subject.instance_id));
    NR_RETURN_IF_ERROR(txn.EngineJobs().Delete(subject.id));
    plan.kind = Plan::Kind::kFinished;
    return plan;
}

Result<std::vector<std::pair<std::string, Plan>>> Executor::ClaimInTxn(storage::Txn& txn, int slots,
                                                                       Timestamp now) {
    // One statement locks the oldest PENDING rows (another replica's claims hold theirs: those
    // are skipped) and reads each with its instance and host; one more reads where the engine
    // works. Cancel and pick-up are both compare-and-sets on the same row, so exactly one wins
    // (docs/http-api.md 4.6): a row cancelled meanwhile is no longer PENDING and not read.
    auto& jobs = txn.EngineJobs();
    NR_ASSIGN_OR_RETURN(auto pending, jobs.LockPending(slots));
    std::vector<std::pair<std::string, Plan>> plans;
    if (pending.empty()) return plans;
    std::vector<std::string> hosts;
    for (const auto& claim : pending) {
        if (claim.instance && !claim.instance->host_name.empty()) {
            hosts.push_back(claim.instance->host_name);
        }
    }
    NR_ASSIGN_OR_RETURN(auto working, jobs.ListHostWork(hosts));
    // Each row was locked in the state just read, so its state change cannot fail: it is sent
    // without waiting (and checked before the batch commits all the same), and the batch's
    // timeline events go as one statement.
    txn.Remediations().BeginBulk();
    struct Bulk {
        storage::RemediationRepository& remediations;
        bool ended = false;
        // A claim that failed fails the whole change, which is rolled back with what was sent.
        ~Bulk() {
            if (!ended) (void)remediations.EndBulk();
        }
    } bulk{txn.Remediations()};
    std::set<std::string> touched;  // hosts an earlier claim of this batch may have changed
    for (auto& claim : pending) {
        const std::string id = claim.remediation.id;
        const std::string host = claim.instance ? claim.instance->host_name : std::string();
        const bool host_is_current = !touched.count(host);
        NR_ASSIGN_OR_RETURN(auto plan, ClaimOne(txn, claim, working, host_is_current, now));
        if (plan.kind == Plan::Kind::kCalls || plan.kind == Plan::Kind::kWait) {
            touched.insert(working.back().source_host);
            touched.insert(working.back().target_host);
        }
        plans.emplace_back(id, std::move(plan));
    }
    bulk.ended = true;
    NR_RETURN_IF_ERROR(txn.Remediations().EndBulk());
    return plans;
}

Result<Plan> Executor::ClaimOne(storage::Txn& txn, storage::PendingClaim& claim,
                                std::vector<storage::HostWork>& working, bool host_is_current,
                                Timestamp now) {
    std::optional<Remediation> r = claim.remediation;
    const Subject subject{r->id,   r->cluster_id, r->instance_id, r->instance_name,
                          r->mode, r->reason};
    const auto& instance = claim.instance;
    if (instance && !instance->host_name.empty()) {
        NR_ASSIGN_OR_RETURN(bool wait, MustWaitForHost(txn, *r, instance->host_name, working));
        if (wait) {
            Plan deferred;
            deferred.kind = Plan::Kind::kDeferred;
            return deferred;
        }
    }
    EngineJob job;
    job.remediation_id = r->id;
    job.owner = options_.replica_id;
    job.attempt = 1;
    job.first_lease = options_.lease;  // the claim's row lock makes the job this replica's
    job.workflow_version = kCurrentWorkflowVersion;
    const auto workflow = WorkflowFor(r->mode, job.workflow_version);
    job.step = std::string(NameOf(workflow.front().action));
    job.step_started = job.next_check = now;
    r->start_time = now;
    // Picked up first: a remediation fails only from a working state (docs/http-api.md 2.2).
    NR_RETURN_IF_ERROR(
        Transition(txn, subject, r, workflow.front().during, "picked up by the engine"));
    Plan plan;
    plan.subject = subject;
    plan.attempt = job.attempt;
    if (!instance) {
        return Fail(txn, subject, r, "instance " + r->instance_id + " no longer exists", plan);
    }
    job.source_host = instance->host_name;
    job.num_gpus = instance->num_gpus;
    if (job.source_host.empty() && r->mode != model::Mode::kVmOnly) {
        return Fail(txn, subject, r,
                    "instance " + r->instance_id +
                        " has no VM to act on; REMEDIATION_MODE_VM_ONLY provisions a new one",
                    plan);
    }
    const bool host_level = std::any_of(workflow.begin(), workflow.end(),
                                        [](const Step& step) { return step.every_instance; });
    if (host_level) {
        // Every VM of the host goes down with it: its co-tenants are drained and rejoined too,
        // whatever cluster they belong to (docs/http-api.md 8).
        NR_ASSIGN_OR_RETURN(auto on_host, txn.Inventory().ListInstancesOnHost(job.source_host));
        job.instances.push_back(r->instance_id);
        for (const auto& other : on_host) {
            if (other.instance_id != r->instance_id) job.instances.push_back(other.instance_id);
        }
    }
    NR_ASSIGN_OR_RETURN(
        plan, Advance(txn, subject, r, job, now, plan, host_is_current ? &claim.host : nullptr));
    // A job now works on its hosts: later claims of this batch wait for it as for any other.
    if (plan.kind == Plan::Kind::kCalls || plan.kind == Plan::Kind::kWait) {
        working.push_back({job.source_host, job.target_host, subject.mode});
    }
    return plan;
}

Result<bool> Executor::MustWaitForHost(storage::Txn& txn, const Remediation& r,
                                       const std::string& host,
                                       const std::vector<storage::HostWork>& working) {
    // A job works on a host its VM was on, or where its replacement goes.
    const bool wait = std::any_of(working.begin(), working.end(), [&](const auto& other) {
        return (other.source_host == host || other.target_host == host) &&
               WaitsForOnSameHost(r.mode, other.mode);
    });
    if (!wait) return false;
    // Said once in the timeline, not at every scan.
    const std::string why = "waiting: another host-level remediation is working on host " + host;
    NR_ASSIGN_OR_RETURN(auto events, txn.Remediations().ListEvents(r.id));
    if (events.empty() || events.back().detail != why) {
        NR_RETURN_IF_ERROR(Note(txn, r.id, "claim", why));
    }
    return true;
}

Result<Plan> Executor::RecheckInTxn(storage::Txn& txn, const std::string& id, EngineJob& held,
                                    int64_t fence, Timestamp now) {
    EngineJob* job = &held;
    NR_ASSIGN_OR_RETURN(std::optional<Remediation> r, txn.Remediations().Get(id));
    if (!r || model::IsTerminal(r->state)) {
        NR_RETURN_IF_ERROR(txn.EngineJobs().Delete(id));
        return Plan{};
    }
    Plan plan;
    plan.subject = {r->id, r->cluster_id, r->instance_id, r->instance_name, r->mode, r->reason};
    if (job->fence != fence) return PlanOf(txn, plan.subject, *job, plan);
    if (!job->calls.empty() && now - job->step_started >= LimitOf(*job)) {
        return Fail(
            txn, plan.subject, r,
            job->step + " timed out after " + std::to_string(options_.step_timeout.count()) + " s",
            plan);
    }
    return Advance(txn, plan.subject, r, *job, now, plan);
}

Result<Plan> Executor::AnswerInTxn(storage::Txn& txn, const Subject& subject, EngineJob& held,
                                   const CallAnswer& answer, Timestamp now) {
    const std::string& id = subject.id;
    EngineJob* job = &held;
    Plan plan;
    plan.subject = subject;
    auto call = std::find_if(job->calls.begin(), job->calls.end(),
                             [&](const auto& c) { return c.instance_id == answer.instance_id; });
    // Fenced: the answer of a call made under an older intent records nothing. While the job
    // stands under this fence, the remediation is the engine's and in the state of its step.
    if (job->fence != answer.fence || call == job->calls.end() || call->done) {
        return PlanOf(txn, subject, *job, plan);
    }
    std::optional<Remediation> r;
    const bool own = answer.instance_id == subject.instance_id;
    const std::string who = own ? "" : " (" + answer.instance_id + ")";
    // The step's calls start again under the same keys (providers dedupe by key, a hook that
    // died with a restarted process runs again) at `at`, under a new fence.
    auto start_again = [&](Timestamp at, const std::string& note) -> Result<Plan> {
        ++job->fence;
        for (auto& c : job->calls) c.handle.clear();
        job->next_check = at;
        NR_RETURN_IF_ERROR(Note(txn, id, job->step, note + who));
        NR_RETURN_IF_ERROR(txn.EngineJobs().Put(*job));
        plan.new_intent = true;
        return PlanOf(txn, subject, *job, plan);
    };
    switch (answer.kind) {
        case CallAnswer::Kind::kStarted:
            call->handle = answer.handle;
            job->next_check = answer.poll_at;
            if (job->calls.size() == 1) NR_RETURN_IF_ERROR(Note(txn, id, job->step, "started"));
            NR_RETURN_IF_ERROR(txn.EngineJobs().Put(*job));
            return PlanOf(txn, subject, *job, plan);
        case CallAnswer::Kind::kError: {
            const Error& error = answer.error;
            if (!IsTransient(error.code) || job->attempts + 1 >= kMaxTransientAttempts) {
                return Fail(txn, subject, r, job->step + " failed" + who + ": " + error.message,
                            plan);
            }
            ++job->attempts;
            return start_again(now + Backoff(job->attempts), "retrying after: " + error.message);
        }
        case CallAnswer::Kind::kLost:
            // Now, and without an attempt counted: however often the server restarts, the step
            // waits only for the operation itself (its step timeout still bounds it).
            return start_again(now, "starting again: " + answer.note);
        case CallAnswer::Kind::kRunning:
        case CallAnswer::Kind::kDone:
            break;
    }
    // The outcome: the engine's records of what the call did.
    const auto workflow = WorkflowFor(subject.mode, job->workflow_version);
    const auto index = StepIndex(workflow, job->step);
    NR_ASSERT(index.has_value(), "a job with calls is at a step of its workflow");
    const Action action = workflow[*index].action;
    auto& inventory = txn.Inventory();
    const std::string& target = answer.instance_id;
    switch (action) {
        case Action::kUncordonHost:
            NR_RETURN_IF_ERROR(inventory.SetHostCordoned(job->source_host, false));
            break;
        case Action::kDrain:
            NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(target, "Drained"));
            break;
        case Action::kDeleteVm:
            NR_RETURN_IF_ERROR(inventory.SetInstancePlacement(target, "", "Replacing"));
            // VM_ONLY keeps the old VM's own slots for its replacement: they stay held.
            if (job->target_host == job->source_host && !job->source_host.empty()) {
                NR_RETURN_IF_ERROR(
                    inventory.PutReservation(target, job->source_host, job->num_gpus));
            }
            break;
        case Action::kEvictVm:
            NR_RETURN_IF_ERROR(inventory.SetInstancePlacement(target, "", "Evicted"));
            break;
        case Action::kProvisionVm:
            // The reservation turns into the VM in the same transaction: no slot is counted
            // twice or lost.
            NR_RETURN_IF_ERROR(inventory.DeleteReservation(target));
            NR_RETURN_IF_ERROR(inventory.SetInstancePlacement(target, job->target_host, "Booting"));
            break;
        case Action::kRebootVm:
            NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(target, "Booting"));
            break;
        case Action::kPowerCycleHost: {
            NR_RETURN_IF_ERROR(inventory.SetHostPowerCycled(job->source_host, now));
            const auto on_host = job->instances.empty()
                                     ? std::vector<std::string>{subject.instance_id}
                                     : job->instances;
            for (const auto& instance : on_host) {
                NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(instance, "Booting"));
            }
            break;
        }
        case Action::kWaitReady:
            NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(target, "NotReady"));
            break;
        case Action::kRejoin:
            NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(target, "Ready"));
            break;
        case Action::kCordonHost:
        case Action::kReserve:
        case Action::kVerify:
            break;
    }
    call->done = true;
    call->handle.clear();
    std::string done = job->calls.size() == 1 ? "done" : "done: " + target;
    if (!answer.note.empty()) done += (job->calls.size() == 1 ? ": " : ", ") + answer.note;
    NR_RETURN_IF_ERROR(Note(txn, id, job->step, done));
    if (!answer.attention.empty()) {
        NR_RETURN_IF_ERROR(
            txn.Settings().Put(model::AttentionSetting(answer.instance_id), answer.attention));
    }
    plan.outcome_step = job->step;
    return Advance(txn, subject, r, *job, now, plan);
}

Result<Plan> Executor::Advance(storage::Txn& txn, const Subject& subject,
                               std::optional<Remediation>& r, EngineJob& job, Timestamp now,
                               Plan plan, const std::optional<model::Host>* source_host) {
    // The source host as this transaction read it, or read now.
    auto host_of_source = [&]() -> Result<std::optional<model::Host>> {
        if (source_host != nullptr) return *source_host;
        return txn.Inventory().GetHost(job.source_host);
    };
    const auto workflow = WorkflowFor(subject.mode, job.workflow_version);
    if (workflow.empty()) {
        return Fail(txn, subject, r,
                    "workflow version " + std::to_string(job.workflow_version) +
                        " is unknown to this noderepair",
                    plan);
    }
    const std::string& id = subject.id;
    std::optional<State> state;
    while (true) {
        std::optional<size_t> index = job.step.empty() ? std::optional<size_t>(workflow.size())
                                                       : StepIndex(workflow, job.step);
        if (!index) return Fail(txn, subject, r, "unknown engine step " + job.step, plan);
        if (*index >= workflow.size()) {
            NR_RETURN_IF_ERROR(
                Transition(txn, subject, r, State::kSucceeded, "remediation succeeded"));
            NR_RETURN_IF_ERROR(txn.EngineJobs().Delete(id));
            plan.kind = Plan::Kind::kFinished;
            return plan;
        }
        const Step& step = workflow[*index];
        const std::string name(NameOf(step.action));
        // The remediation is in the state of the step whose intent the job recorded; the row
        // is read only to move it on.
        if (!state) state = r ? r->state : step.during;
        if (*state != step.during) {
            NR_RETURN_IF_ERROR(Transition(txn, subject, r, step.during,
                                          step.during == State::kQuarantined
                                              ? "host isolated and drained"
                                              : "replacement and recovery"));
            state = step.during;
        }
        auto next_step = [&] {
            job.step = *index + 1 < workflow.size()
                           ? std::string(NameOf(workflow[*index + 1].action))
                           : std::string();
            job.attempts = 0;
            job.calls.clear();
            job.step_started = job.next_check = now;
        };
        if (!job.calls.empty()) {
            const bool all_done = std::all_of(job.calls.begin(), job.calls.end(),
                                              [](const auto& c) { return c.done; });
            if (!all_done) {
                NR_RETURN_IF_ERROR(txn.EngineJobs().Put(job));
                return PlanOf(txn, subject, job, plan);
            }
            plan.finished_steps.emplace_back(
                name,
                std::chrono::duration_cast<std::chrono::microseconds>(now - job.step_started));
            next_step();
            continue;
        }
        // A host that was cordoned before this remediation (by an operator, or a HOST_AWARE
        // that judged it suspect) stays cordoned when it ends.
        const bool keep_cordon = step.action == Action::kUncordonHost && job.host_was_cordoned;
        const bool nothing_to_verify =
            step.action == Action::kVerify && options_.verify_tests.empty();
        if (keep_cordon || nothing_to_verify) {
            NR_RETURN_IF_ERROR(Note(txn, id, name,
                                    keep_cordon
                                        ? "skipped: the host was cordoned before this remediation"
                                        : "skipped: no engine.verify_tests"));
            next_step();
            continue;
        }
        if (IsEngineStep(step.action)) {
            // Slots for the replacement, before the old VM goes (docs/http-api.md 2.1): VM_ONLY
            // keeps the VM's own slots unless its host is cordoned; otherwise a host with room.
            std::string reserved;
            std::string detail;
            if (subject.mode == model::Mode::kVmOnly && !job.source_host.empty()) {
                NR_ASSIGN_OR_RETURN(auto host, host_of_source());
                if (host && !host->cordoned) {
                    reserved = job.source_host;
                    detail =
                        "keeps its " + std::to_string(job.num_gpus) + " GPU slots on " + reserved;
                }
            }
            if (reserved.empty()) {
                const std::string exclude =
                    subject.mode == model::Mode::kHostAware ? job.source_host : std::string();
                NR_ASSIGN_OR_RETURN(auto found,
                                    txn.Inventory().FindHostWithRoom(job.num_gpus, exclude));
                if (found) {
                    reserved = *found;
                    NR_RETURN_IF_ERROR(txn.Inventory().PutReservation(subject.instance_id, reserved,
                                                                      job.num_gpus));
                    detail = "reserved " + std::to_string(job.num_gpus) + " GPUs on " + reserved;
                }
            }
            if (reserved.empty()) {
                if (now - job.step_started >= options_.capacity_wait) {
                    return Fail(txn, subject, r,
                                "no host had " + std::to_string(job.num_gpus) +
                                    " free GPU slots within " +
                                    std::to_string(options_.capacity_wait.count()) +
                                    " s; the VM was left as it was",
                                plan);
                }
                if (job.next_check <= job.step_started) {
                    NR_RETURN_IF_ERROR(
                        Note(txn, id, name, "waiting for a host with free GPU slots"));
                }
                job.next_check = std::min<Timestamp>(now + kCapacityRetry,
                                                     job.step_started + options_.capacity_wait);
                NR_RETURN_IF_ERROR(txn.EngineJobs().Put(job));
                plan.kind = Plan::Kind::kWait;
                plan.fence = job.fence;
                plan.step = job.step;
                plan.wake = job.next_check;
                return plan;
            }
            job.target_host = reserved;
            NR_RETURN_IF_ERROR(Note(txn, id, name, detail));
            plan.finished_steps.emplace_back(
                name,
                std::chrono::duration_cast<std::chrono::microseconds>(now - job.step_started));
            next_step();
            continue;
        }
        // A provider step: record its intent. Its calls run after this transaction commits.
        std::vector<std::string> targets = {subject.instance_id};
        if (step.every_instance && !job.instances.empty()) targets = job.instances;
        ++job.fence;
        job.calls.clear();
        for (const auto& target : targets) job.calls.push_back({target, "", false});
        job.next_check = now;
        auto& inventory = txn.Inventory();
        switch (step.action) {
            case Action::kCordonHost: {
                NR_ASSIGN_OR_RETURN(auto host, host_of_source());
                if (!host) {
                    return Fail(txn, subject, r, "host " + job.source_host + " is not in the fleet",
                                plan);
                }
                job.host_was_cordoned = host->cordoned;
                // Cordoned before the provider hears of it: nothing new lands on the host.
                NR_RETURN_IF_ERROR(inventory.SetHostCordoned(job.source_host, true));
                break;
            }
            case Action::kDrain:
                for (const auto& target : targets) {
                    NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(target, "Draining"));
                }
                break;
            case Action::kRebootVm:
                NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(subject.instance_id, "Rebooting"));
                break;
            case Action::kPowerCycleHost:
                for (const auto& instance : job.instances.empty()
                                                ? std::vector<std::string>{subject.instance_id}
                                                : job.instances) {
                    NR_RETURN_IF_ERROR(inventory.SetInstanceStatus(instance, "PowerCycling"));
                }
                break;
            default:
                break;
        }
        if (targets.size() > 1) {
            std::string detail = "on every instance of host " + job.source_host + ": " +
                                 subject.instance_id + " and co-tenants";
            for (size_t i = 1; i < targets.size(); ++i) {
                detail += (i == 1 ? " " : ", ") + targets[i];
            }
            NR_RETURN_IF_ERROR(Note(txn, id, name, detail));
        }
        NR_RETURN_IF_ERROR(txn.EngineJobs().Put(job));
        plan.new_intent = true;
        return PlanOf(txn, subject, job, plan);
    }
}

Result<Plan> Executor::PlanOf(storage::Reader& reader, const Subject& subject, const EngineJob& job,
                              Plan plan) {
    plan.subject = subject;
    plan.fence = job.fence;
    plan.step = job.step;
    const auto workflow = WorkflowFor(subject.mode, job.workflow_version);
    const auto index = StepIndex(workflow, job.step);
    if (!index || job.calls.empty()) {
        // An engine step that waits (for room), or a step whose intent is not recorded yet:
        // a recheck takes it further.
        plan.kind = Plan::Kind::kWait;
        plan.wake = job.next_check;
        return plan;
    }
    const Step& step = workflow[*index];
    plan.kind = Plan::Kind::kCalls;
    plan.deadline = job.step_started + LimitOf(job);
    // Where the remediation's own VM is: its source host until a replacement is provisioned.
    const auto provision = StepIndex(workflow, NameOf(Action::kProvisionVm));
    const std::string& own_host =
        provision && *index > *provision ? job.target_host : job.source_host;
    for (const auto& call : job.calls) {
        if (call.done) continue;
        const bool own = call.instance_id == subject.instance_id;
        PlannedCall planned;
        providers::Operation& op = planned.op;
        op.action = step.action;
        op.key = StepKey(job.workflow_version, subject.id, *index, job.step, call.instance_id, own);
        op.remediation_id = subject.id;
        op.remediation_reason = subject.reason;
        op.instance_id = call.instance_id;
        op.cluster_id = subject.cluster_id;
        op.instance_name = subject.instance_name;
        op.num_gpus = job.num_gpus;
        op.intent_at = job.step_started;
        std::string vm_host = own_host;
        if (!own) {
            // A co-tenant: its own record says who it is and where its VM runs.
            NR_ASSIGN_OR_RETURN(auto other, reader.Inventory().GetInstance(call.instance_id));
            if (other) {
                op.cluster_id = other->cluster_id;
                op.instance_name = other->instance_name;
                op.num_gpus = other->num_gpus;
                if (!other->host_name.empty()) vm_host = other->host_name;
            }
        }
        switch (step.action) {
            case Action::kCordonHost:
            case Action::kUncordonHost:
            case Action::kPowerCycleHost:
                op.host = job.source_host;
                break;
            case Action::kProvisionVm:
                op.host = job.target_host;
                break;
            default:
                op.host = vm_host;
                break;
        }
        if (step.action == Action::kVerify) op.tests = options_.verify_tests;
        planned.handle = call.handle;
        planned.due = job.next_check;
        plan.calls.push_back(std::move(planned));
    }
    return plan;
}

}  // namespace noderepair::engine
