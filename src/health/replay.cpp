#include "health/replay.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <queue>
#include <unordered_map>
#include <utility>

#include "common/ids.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/open.hpp"

namespace noderepair::health {
namespace {

using model::Mode;
using model::Remediation;
using model::State;

constexpr const char* kReplayActor = "replay";
constexpr int kOccurrencePage = 10000;
// Events worked in one scratch transaction at most: bounds its size, not its meaning. Measured
// (bench/policy_replay.sh): 20,000 made every statement cost as much as the pages the
// transaction had dirtied (SQLite's savepoint bookkeeping), 500 does not.
constexpr int kEventsPerTransaction = 50;

// Something due at a time of the replayed timeline: a remediation reaching its end, or an
// alert resolving.
struct Due {
    Timestamp time;
    int64_t order = 0;  // ties in the order they were scheduled
    enum class Kind { kEnd, kResolve } kind = Kind::kEnd;
    std::string id;           // remediation id, or alert id
    std::string fingerprint;  // kResolve
    State final_state = State::kSucceeded;
    bool operator>(const Due& other) const {
        return time != other.time ? time > other.time : order > other.order;
    }
};

// The scratch database: a file in memory where there is such a file system.
std::string ScratchPath(const std::string& dir) {
    std::error_code error;
    std::filesystem::path base = dir;
    if (base.empty()) {
        base = std::filesystem::is_directory("/dev/shm", error) && access("/dev/shm", W_OK) == 0
                   ? std::filesystem::path("/dev/shm")
                   : std::filesystem::temp_directory_path(error);
    }
    return (base / ("noderepair-replay-" + NewUuidV7(SystemClock().Now()) + ".db")).string();
}

// The median of each mode's recorded lifetimes (create to end).
std::map<Mode, std::chrono::microseconds> TypicalDurations(const std::vector<Remediation>& live) {
    std::map<Mode, std::vector<int64_t>> lifetimes;
    for (const auto& r : live) {
        if (r.end_time) {
            lifetimes[r.requested_mode].push_back(ToMicros(*r.end_time) - ToMicros(r.create_time));
        }
    }
    std::map<Mode, std::chrono::microseconds> typical;
    for (auto& [mode, values] : lifetimes) {
        std::nth_element(values.begin(), values.begin() + long(values.size() / 2), values.end());
        typical[mode] = std::chrono::microseconds(values[values.size() / 2]);
    }
    return typical;
}

// Drives the router through the recorded history on the scratch store. Used by one thread at
// a time: the caller's, and the scratch store's writer thread while the caller waits for it.
class Replayer {
public:
    Replayer(storage::History& history, const ReplayOptions& options)
        : history_(history),
          options_(options),
          clock_(options.since.value_or(Timestamp{})),
          lifecycle_(clock_),
          router_(options.policy, options.automation, lifecycle_) {
        // Whatever creates a remediation (a signal, a waiting one taken up), its end is
        // scheduled at once, inside the transaction.
        lifecycle_.OnCreate([this](const Remediation& r) {
            created_since_join_ = true;
            Schedule(r);
        });
    }

    ~Replayer() {
        if (scratch_) scratch_->Close();
        scratch_.reset();
        std::error_code ignored;
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(scratch_path_ + suffix, ignored);
        }
    }

    Result<ReplayReport> Run() {
        NR_RETURN_IF_ERROR(Load());
        NR_RETURN_IF_ERROR(OpenScratch());
        NR_RETURN_IF_ERROR(Drive());
        return Report();
    }

private:
    // The recorded history: the window, the fleet, the live run's remediations.
    Status Load() {
        Timestamp from = options_.since.value_or(Timestamp{});
        if (!options_.since) {
            NR_ASSIGN_OR_RETURN(auto first, history_.Occurrences(FromMicros(0), 0, 1));
            if (!first.empty()) from = first.front().time;
        }
        from_ = after_time_ = from;
        NR_ASSIGN_OR_RETURN(fleet_, history_.Fleet());
        for (const auto& cluster : fleet_.clusters) {
            for (const auto& node : cluster.gpu_worker_nodes) {
                model::Instance instance = node;
                instance.cluster_id = cluster.cluster_id;
                instances_[node.instance_id] = std::move(instance);
            }
        }
        NR_ASSIGN_OR_RETURN(live_, history_.Remediations(from));
        matched_.assign(live_.size(), false);
        until_ = from;
        for (const auto& r : live_) {
            until_ = std::max({until_, r.create_time, r.end_time.value_or(r.create_time)});
        }
        for (size_t i = 0; i < live_.size(); ++i) {
            const Remediation& r = live_[i];
            if (r.trigger == model::Trigger::kManual) {
                manual_.push_back(i);
                continue;
            }
            live_modes_[r.instance_id].push_back(r.requested_mode);
            ++counts_[r.requested_mode].created;
            const std::string& signal = !r.passive_health_check_event_id.empty()
                                            ? r.passive_health_check_event_id
                                            : r.active_health_check_run_id;
            if (!signal.empty()) live_by_signal_[signal].push_back(i);
        }
        typical_ = TypicalDurations(live_);
        return OkStatus();
    }

    Status OpenScratch() {
        scratch_path_ = ScratchPath(options_.scratch_dir);
        NR_ASSIGN_OR_RETURN(
            scratch_, storage::OpenStore("sqlite:" + scratch_path_,
                                         {.max_batch = 1, .clock = &clock_, .throwaway = true}));
        return scratch_->WriteAndWait([this](storage::Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(txn.Inventory().ImportFleet(fleet_));
            for (const auto& cluster : fleet_.clusters) {
                NR_RETURN_IF_ERROR(
                    txn.Inventory().SetClusterAutomation(cluster.cluster_id, cluster.automation));
                for (const auto& node : cluster.gpu_worker_nodes) {
                    if (!node.auto_repair) {
                        NR_RETURN_IF_ERROR(
                            txn.Inventory().SetInstanceAutoRepair(node.instance_id, false));
                    }
                }
            }
            return OkStatus();
        });
    }

    // A new remediation in the scratch store: note it and schedule its end.
    void Schedule(const Remediation& r) {
        if (r.trigger != model::Trigger::kAutomated) return;
        replay_modes_[r.instance_id].push_back(r.requested_mode);
        ++counts_[r.requested_mode].would_create;
        // The same remediation as the live run's (made from the same signal) lives as long.
        const std::string& signal = !r.passive_health_check_event_id.empty()
                                        ? r.passive_health_check_event_id
                                        : r.active_health_check_run_id;
        if (auto live = live_by_signal_.find(signal); live != live_by_signal_.end()) {
            for (size_t i : live->second) {
                if (matched_[i] || live_[i].instance_id != r.instance_id) continue;
                matched_[i] = true;
                if (!live_[i].end_time) return;  // still running when the history ends
                const auto lifetime = *live_[i].end_time - live_[i].create_time;
                Push({r.create_time + lifetime, 0, Due::Kind::kEnd, r.id, "", live_[i].state});
                return;
            }
        }
        auto typical = typical_.find(r.requested_mode);
        const std::chrono::microseconds lifetime =
            typical != typical_.end() ? typical->second
                                      : std::chrono::microseconds(options_.default_duration);
        Push({r.create_time + lifetime, 0, Due::Kind::kEnd, r.id, "", State::kSucceeded});
    }

    void Push(Due due) {
        due.order = ++due_order_;
        due_.push(std::move(due));
    }

    static constexpr Timestamp kNever = Timestamp::max();

    // The first of what is due (within the recorded history), or kNever.
    Timestamp DueAt() const {
        return due_.empty() || due_.top().time > until_ ? kNever : due_.top().time;
    }

    Status Drive() {
        next_sweep_ = from_;
        bool done = false;
        while (!done) {
            int worked = 0;
            NR_RETURN_IF_ERROR(scratch_->WriteAndWait([&](storage::Txn& txn) -> Status {
                router_.BeginTransaction();
                while (worked++ < kEventsPerTransaction) {
                    NR_ASSIGN_OR_RETURN(bool more, Step(txn));
                    if (!more) {
                        done = true;
                        break;
                    }
                }
                return OkStatus();
            }));
        }
        return OkStatus();
    }

    // Works the next thing of the timeline: a sweep when one is due, else the first of a
    // signal, a manual remediation of the live run and what is due (an end, a resolution).
    // False once nothing is left within the recorded history.
    Result<bool> Step(storage::Txn& txn) {
        if (next_ == page_.size() && !exhausted_) {
            NR_ASSIGN_OR_RETURN(page_,
                                history_.Occurrences(after_time_, after_seq_, kOccurrencePage));
            next_ = 0;
            if (page_.size() < size_t(kOccurrencePage)) exhausted_ = true;
            if (!page_.empty()) {
                after_time_ = page_.back().time;
                after_seq_ = page_.back().seq;
                until_ = std::max(until_, after_time_);
            }
        }
        const Timestamp signal_at = next_ < page_.size() ? page_[next_].time : kNever;
        const Timestamp manual_at =
            next_manual_ < manual_.size() ? live_[manual_[next_manual_]].create_time : kNever;
        const Timestamp due_at = DueAt();
        const Timestamp first = std::min({signal_at, manual_at, due_at});
        if (first == kNever) return false;
        if (next_sweep_ <= first) {
            NR_RETURN_IF_ERROR(Sweep(txn, next_sweep_));
            next_sweep_ = std::max(next_sweep_ + options_.sweep_interval, first);
        } else if (due_at == first) {
            Due due = due_.top();
            due_.pop();
            clock_.Set(std::max(due.time, clock_.Now()));
            if (due.kind == Due::Kind::kResolve) {
                NR_RETURN_IF_ERROR(Resolve(txn, due));
            } else {
                NR_RETURN_IF_ERROR(End(txn, due));
                // Room may have freed: what waits and is due is taken up now (joining and
                // auto-resolve wait for the next periodic sweep, as they wait for the live
                // sweeper's).
                router_.BeginTransaction();
                NR_RETURN_IF_ERROR(router_.TakeUpDue(txn, clock_.Now()));
            }
        } else if (manual_at == first) {
            NR_RETURN_IF_ERROR(StartManual(txn, live_[manual_[next_manual_++]]));
        } else {
            clock_.Set(std::max(signal_at, clock_.Now()));
            NR_RETURN_IF_ERROR(Route(txn, page_[next_++]));
            ++signals_;
        }
        return true;
    }

    // What the live sweeper does: signals that waited are taken up, auto-resolve. The parts
    // that can have nothing to do are skipped: that is what keeps a sweep's cost from growing
    // with the history (bench/RESULTS.md, policy replay).
    Status Sweep(storage::Txn& txn, Timestamp at) {
        at = std::max(at, clock_.Now());
        clock_.Set(at);
        router_.BeginTransaction();
        NR_RETURN_IF_ERROR(router_.TakeUpDue(txn, at));
        // A waiting signal's instance gains a remediation only by a creation.
        if (created_since_join_) {
            created_since_join_ = false;
            NR_RETURN_IF_ERROR(router_.JoinWaiting(txn, at));
        }
        // A remediation becomes auto-resolvable only the TTL after one of its alerts resolved.
        if (resolvable_at_.empty() || resolvable_at_.top() > at) return OkStatus();
        while (!resolvable_at_.empty() && resolvable_at_.top() <= at) resolvable_at_.pop();
        NR_ASSIGN_OR_RETURN(int resolved, router_.AutoResolve(txn, at));
        // A full batch may have left more: the next sweep looks again.
        if (resolved == SignalRouter::kAutoResolveBatch) resolvable_at_.push(at);
        return OkStatus();
    }

    Status Route(storage::Txn& txn, const storage::SignalOccurrence& occurrence) {
        auto instance = instances_.find(occurrence.instance_id);
        if (instance == instances_.end()) return OkStatus();
        const Timestamp now = occurrence.time;
        if (!occurrence.run_id.empty()) {
            NR_ASSIGN_OR_RETURN(auto run, history_.Run(occurrence.run_id));
            if (!run) return OkStatus();
            run->remediation_id.clear();
            run->waiting = false;
            NR_RETURN_IF_ERROR(router_.RouteFailedRun(txn, *run, now));
            return txn.HealthChecks().Put(*run);
        }
        NR_ASSIGN_OR_RETURN(auto recorded, history_.Alert(occurrence.alert_id));
        if (!recorded) return OkStatus();
        model::Alert alert = *std::move(recorded);
        const std::optional<Timestamp> resolved_at = alert.resolved_at;
        alert.resolved_at.reset();
        alert.remediation_id.clear();
        alert.waiting = false;
        alert.severity = router_.policy().RuleFor(alert).severity;
        NR_RETURN_IF_ERROR(router_.RouteAlert(txn, alert, instance->second, now));
        // Only what the engine reads again is stored: an alert linked to a remediation (its
        // resolution gates auto-resolve) or waiting (the sweeps take it up). The engine reads
        // an ignored one (no rule, opted out, taken by an incident, a person called) again
        // only when a person releases an incident, which a replay has not; storing it and
        // its resolution was half of the replay's alert writes (bench/RESULTS.md).
        if (alert.remediation_id.empty() && !alert.waiting) return OkStatus();
        NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
        if (resolved_at && *resolved_at >= now) {
            Push({*resolved_at, 0, Due::Kind::kResolve, alert.id, alert.fingerprint,
                  State::kSucceeded});
        }
        return OkStatus();
    }

    // A person's remediation of the live run takes its place in the replay too: it holds the
    // instance, counts in the blast radius and starts a cooldown as it did.
    Status StartManual(storage::Txn& txn, const Remediation& live) {
        clock_.Set(std::max(live.create_time, clock_.Now()));
        NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive(live.instance_id));
        if (active || !instances_.contains(live.instance_id)) return OkStatus();
        Remediation r;
        r.id = live.id;
        r.cluster_id = live.cluster_id;
        r.instance_id = live.instance_id;
        r.instance_name = live.instance_name;
        r.mode = r.requested_mode = live.requested_mode;
        r.trigger = model::Trigger::kManual;
        r.state = State::kPending;
        r.reason = live.reason;
        r.requested_by = live.requested_by;
        NR_RETURN_IF_ERROR(lifecycle_.Create(txn, r, kReplayActor, "replayed"));
        router_.BeginTransaction();  // the cluster's active count changed
        if (live.end_time) {
            Push({*live.end_time, 0, Due::Kind::kEnd, r.id, "", live.state});
        }
        return OkStatus();
    }

    // Ends a remediation in the state the live run's ended in: one write, not a step per
    // transition (only the end matters to the policy: the blast radius, the cooldown and the
    // ladder read the state and end_time).
    Status End(storage::Txn& txn, const Due& due) {
        NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().Get(due.id));
        if (!found || model::IsTerminal(found->state)) return OkStatus();
        Remediation r = *std::move(found);
        State target = due.final_state;
        if (target == State::kAutoResolved && r.state != State::kPendingApproval) {
            target = State::kSucceeded;
        }
        if (!model::IsTerminal(target)) target = State::kSucceeded;
        NR_RETURN_IF_ERROR(lifecycle_.ReplayEnd(txn, r, target, kReplayActor, "replayed"));
        router_.BeginTransaction();  // the cluster's active count changed
        return OkStatus();
    }

    Status Resolve(storage::Txn& txn, const Due& due) {
        NR_ASSIGN_OR_RETURN(auto alert, txn.Alerts().GetByFingerprint(due.fingerprint));
        if (!alert || alert->id != due.id || alert->resolved_at) return OkStatus();
        alert->resolved_at = due.time;
        alert->waiting = false;
        resolvable_at_.push(due.time + options_.automation.auto_resolve_ttl);
        return txn.Alerts().Put(*alert);
    }

    ReplayReport Report() {
        ReplayReport report;
        report.signals = signals_;
        for (const auto& [mode, count] : counts_) {
            ModeCount out = count;
            out.mode = mode;
            report.modes.push_back(out);
        }
        std::map<std::string, std::pair<std::vector<Mode>, std::vector<Mode>>> by_instance;
        for (auto& [instance, modes] : live_modes_) by_instance[instance].first = modes;
        for (auto& [instance, modes] : replay_modes_) by_instance[instance].second = modes;
        for (auto& [instance, both] : by_instance) {
            std::sort(both.first.begin(), both.first.end());
            std::sort(both.second.begin(), both.second.end());
            if (both.first != both.second) report.differing_instances.push_back(instance);
        }
        return report;
    }

    storage::History& history_;
    const ReplayOptions& options_;
    FakeClock clock_;
    remediation::Lifecycle lifecycle_;
    SignalRouter router_;
    std::string scratch_path_;
    std::unique_ptr<storage::Store> scratch_;

    Timestamp from_{};
    Timestamp until_{};  // the end of the recorded history
    storage::FleetImport fleet_;
    std::unordered_map<std::string, model::Instance> instances_;
    std::vector<Remediation> live_;  // the live run's remediations in the window, oldest first
    std::vector<bool> matched_;
    std::vector<size_t> manual_;  // indices of live_'s manual ones
    std::unordered_map<std::string, std::vector<size_t>> live_by_signal_;
    std::map<Mode, std::chrono::microseconds> typical_;

    std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
    int64_t due_order_ = 0;
    Timestamp next_sweep_{};
    bool created_since_join_ = false;
    // When a remediation may become auto-resolvable: each resolution plus the TTL.
    std::priority_queue<Timestamp, std::vector<Timestamp>, std::greater<>> resolvable_at_;
    int64_t signals_ = 0;
    std::map<Mode, ModeCount> counts_;
    std::map<std::string, std::vector<Mode>> live_modes_;
    std::map<std::string, std::vector<Mode>> replay_modes_;

    // The occurrences being worked, a page at a time.
    std::vector<storage::SignalOccurrence> page_;
    size_t next_ = 0;
    bool exhausted_ = false;
    Timestamp after_time_{};
    int64_t after_seq_ = 0;
    size_t next_manual_ = 0;
};

}  // namespace

Result<ReplayReport> Replay(storage::History& history, const ReplayOptions& options) {
    Replayer replayer(history, options);
    return replayer.Run();
}

}  // namespace noderepair::health
