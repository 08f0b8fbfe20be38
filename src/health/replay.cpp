#include "health/replay.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <queue>
#include <thread>
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
// Events worked in one scratch transaction at most: bounds its size, not its meaning. With a
// savepoint around each change, 20,000 made every statement cost as much as the pages the
// transaction had dirtied (SQLite's statement journal); the throw-away store has none, and a
// commit writes each page it dirtied once, however often: 5,000 cost least of 50, 1,000 and
// 5,000 (bench/RESULTS.md, policy replay).
constexpr int kEventsPerTransaction = 5000;

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

// The recorded history, shared by the partitions' threads: one connection (one snapshot),
// one reader at a time.
class SharedHistory {
public:
    explicit SharedHistory(storage::History& history) : history_(history) {}
    template <class Read>
    auto With(Read read) {
        std::lock_guard lock(mu_);
        return read(history_);
    }

private:
    storage::History& history_;
    std::mutex mu_;
};

// What every partition starts from, read once: the window, the fleet, the live run's
// remediations in it.
struct Recorded {
    Timestamp from{};
    Timestamp until{};  // the last of the live run's remediations' creations and ends
    storage::FleetImport fleet;
    std::vector<Remediation> live;  // oldest first
};

Result<Recorded> LoadRecorded(SharedHistory& history, const ReplayOptions& options) {
    Recorded recorded;
    recorded.from = options.since.value_or(Timestamp{});
    if (!options.since) {
        NR_ASSIGN_OR_RETURN(auto first, history.With([](storage::History& h) {
            return h.Occurrences(FromMicros(0), 0, 1);
        }));
        if (!first.empty()) recorded.from = first.front().time;
    }
    NR_ASSIGN_OR_RETURN(recorded.fleet,
                        history.With([](storage::History& h) { return h.Fleet(); }));
    NR_ASSIGN_OR_RETURN(recorded.live, history.With([&](storage::History& h) {
        return h.Remediations(recorded.from);
    }));
    recorded.until = recorded.from;
    for (const auto& r : recorded.live) {
        recorded.until =
            std::max({recorded.until, r.create_time, r.end_time.value_or(r.create_time)});
    }
    return recorded;
}

// Which partition replays each instance. Every limit of the policy engine is per cluster
// (blast radius, automation, cooldown, ladder and attention per instance), per host (the fault
// ledger, suspicion, its cordon) or per rack (the rack's limit counts the rack's hosts whatever
// their clusters; incidents), so clusters that share a host or a rack are replayed together and
// the others are independent: each partition replays its clusters on a scratch store of its
// own, and their decisions are the ones a single replay makes (docs/http-api.md 11).
// Components go, largest first, to the partition with the fewest instances.
std::unordered_map<std::string, int> Partition(const storage::FleetImport& fleet, int partitions) {
    const size_t n = fleet.clusters.size();
    std::vector<size_t> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    auto find = [&](size_t c) {
        while (parent[c] != c) c = parent[c] = parent[parent[c]];
        return c;
    };
    std::unordered_map<std::string, std::string> rack_of;
    for (const auto& host : fleet.hosts) rack_of[host.host_name] = host.rack;
    std::unordered_map<std::string, size_t> first_user;  // "h:" host or "r:" rack -> cluster
    for (size_t c = 0; c < n; ++c) {
        for (const auto& node : fleet.clusters[c].gpu_worker_nodes) {
            if (node.host_name.empty()) continue;
            std::vector<std::string> keys{"h:" + node.host_name};
            if (auto rack = rack_of.find(node.host_name);
                rack != rack_of.end() && !rack->second.empty()) {
                keys.push_back("r:" + rack->second);
            }
            for (const auto& key : keys) {
                auto [user, added] = first_user.emplace(key, c);
                if (!added) parent[find(c)] = find(user->second);
            }
        }
    }
    std::map<size_t, std::pair<size_t, std::vector<size_t>>> components;  // root -> size, clusters
    for (size_t c = 0; c < n; ++c) {
        auto& component = components[find(c)];
        component.first += fleet.clusters[c].gpu_worker_nodes.size();
        component.second.push_back(c);
    }
    std::vector<std::pair<size_t, std::vector<size_t>>> ordered;
    for (auto& [root, component] : components) ordered.push_back(std::move(component));
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<size_t> load(size_t(std::max(partitions, 1)), 0);
    std::unordered_map<std::string, int> partition_of;
    for (const auto& [size, clusters] : ordered) {
        const size_t p = size_t(std::min_element(load.begin(), load.end()) - load.begin());
        load[p] += size;
        for (size_t c : clusters) {
            for (const auto& node : fleet.clusters[c].gpu_worker_nodes) {
                partition_of[node.instance_id] = int(p);
            }
        }
    }
    return partition_of;
}

// The partitions' reports as one: their instances are disjoint.
ReplayReport MergeReports(std::vector<ReplayReport> parts) {
    ReplayReport merged;
    std::map<Mode, ModeCount> modes;
    for (auto& part : parts) {
        merged.signals += part.signals;
        for (const auto& count : part.modes) {
            ModeCount& sum = modes[count.mode];
            sum.mode = count.mode;
            sum.created += count.created;
            sum.would_create += count.would_create;
        }
        merged.differing_instances.insert(merged.differing_instances.end(),
                                          part.differing_instances.begin(),
                                          part.differing_instances.end());
    }
    for (const auto& [mode, count] : modes) merged.modes.push_back(count);
    std::sort(merged.differing_instances.begin(), merged.differing_instances.end());
    return merged;
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

// Drives the router through the recorded history of one partition's instances on a scratch
// store of its own. Used by one thread at a time: its partition's, and the scratch store's
// writer thread while that one waits for it.
class Replayer {
public:
    // `partition_of`: each instance's partition (Partition); an instance not in it belongs to
    // partition 0.
    Replayer(SharedHistory& history, const ReplayOptions& options, const Recorded& recorded,
             const std::unordered_map<std::string, int>& partition_of, int partition)
        : history_(history),
          options_(options),
          recorded_(recorded),
          partition_of_(partition_of),
          partition_(partition),
          clock_(options.since.value_or(Timestamp{})),
          lifecycle_(clock_),
          router_(options.policy, options.automation, lifecycle_) {
        // Nobody reads the scratch store's overview aggregates.
        lifecycle_.KeepNoAggregates();
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
    int PartitionOf(const std::string& instance_id) const {
        auto found = partition_of_.find(instance_id);
        return found == partition_of_.end() ? 0 : found->second;
    }

    // This partition's share of the recorded history: its clusters, the hosts of their
    // instances (partition 0 also takes the hosts without any), the live run's remediations of
    // its instances. The window and its end are the whole history's, so every partition
    // sweeps on the same clock.
    Status Load() {
        from_ = after_time_ = next_sweep_ = recorded_.from;
        until_ = recorded_.until;
        std::unordered_map<std::string, int> host_partition;
        for (const auto& cluster : recorded_.fleet.clusters) {
            for (const auto& node : cluster.gpu_worker_nodes) {
                host_partition[node.host_name] = PartitionOf(node.instance_id);
            }
        }
        for (const auto& host : recorded_.fleet.hosts) {
            auto used = host_partition.find(host.host_name);
            if ((used == host_partition.end() ? 0 : used->second) == partition_) {
                fleet_.hosts.push_back(host);
            }
        }
        for (const auto& cluster : recorded_.fleet.clusters) {
            if (cluster.gpu_worker_nodes.empty() && partition_ != 0) continue;
            if (!cluster.gpu_worker_nodes.empty() &&
                PartitionOf(cluster.gpu_worker_nodes.front().instance_id) != partition_) {
                continue;
            }
            fleet_.clusters.push_back(cluster);
            for (const auto& node : cluster.gpu_worker_nodes) {
                model::Instance instance = node;
                instance.cluster_id = cluster.cluster_id;
                instances_[node.instance_id] = std::move(instance);
            }
        }
        for (const auto& r : recorded_.live) {
            if (PartitionOf(r.instance_id) == partition_) live_.push_back(r);
        }
        matched_.assign(live_.size(), false);
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
        while (next_ == page_.size() && !exhausted_) {
            NR_ASSIGN_OR_RETURN(page_, history_.With([&](storage::History& h) {
                return h.Occurrences(after_time_, after_seq_, kOccurrencePage);
            }));
            next_ = 0;
            if (page_.size() < size_t(kOccurrencePage)) exhausted_ = true;
            if (!page_.empty()) {
                after_time_ = page_.back().time;
                after_seq_ = page_.back().seq;
                until_ = std::max(until_, after_time_);
            }
            std::erase_if(page_, [&](const storage::SignalOccurrence& occurrence) {
                return PartitionOf(occurrence.instance_id) != partition_;
            });
            NR_RETURN_IF_ERROR(ReadAhead());
        }
        const Timestamp signal_at = next_ < page_.size() ? page_[next_].time : kNever;
        const Timestamp manual_at =
            next_manual_ < manual_.size() ? live_[manual_[next_manual_]].create_time : kNever;
        const Timestamp due_at = DueAt();
        const Timestamp first = std::min({signal_at, manual_at, due_at});
        if (first == kNever) return false;
        if (next_sweep_ <= first) {
            // Sweeps fall on a fixed grid (from the first signal, every sweep_interval), the
            // same in every partition; a sweep that finds nothing to do changes nothing, and
            // the ones up to the next event are skipped when none can.
            NR_ASSIGN_OR_RETURN(bool idle, IdleUntil(txn, first));
            if (idle) {
                next_sweep_ +=
                    ((first - next_sweep_) / options_.sweep_interval + 1) * options_.sweep_interval;
                return true;
            }
            NR_RETURN_IF_ERROR(Sweep(txn, next_sweep_));
            next_sweep_ += options_.sweep_interval;
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

    // The page's recorded alerts and runs, read in one turn on the shared history: a read per
    // signal had the partitions take turns on it ten thousand times as often
    // (bench/RESULTS.md, policy replay, partitions).
    Status ReadAhead() {
        alerts_.clear();
        runs_.clear();
        return history_.With([&](storage::History& h) -> Status {
            for (const auto& occurrence : page_) {
                if (!occurrence.run_id.empty()) {
                    NR_ASSIGN_OR_RETURN(runs_[occurrence.run_id], h.Run(occurrence.run_id));
                } else {
                    NR_ASSIGN_OR_RETURN(alerts_[occurrence.alert_id], h.Alert(occurrence.alert_id));
                }
            }
            return OkStatus();
        });
    }

    // Whether no sweep up to `until` can do anything: nothing created since the last join,
    // nothing becomes auto-resolvable, no waiting signal or run is due.
    Result<bool> IdleUntil(storage::Txn& txn, Timestamp until) {
        if (created_since_join_) return false;
        if (!resolvable_at_.empty() && resolvable_at_.top() <= until) return false;
        NR_ASSIGN_OR_RETURN(auto clusters, txn.Alerts().ListClustersWithWaiting(until));
        if (!clusters.empty()) return false;
        NR_ASSIGN_OR_RETURN(auto runs, txn.HealthChecks().ListWaiting(1));
        return runs.empty();
    }

    // What the live sweeper does: signals that waited are taken up, auto-resolve. The parts
    // that can have nothing to do are skipped: that is what keeps a sweep's cost from growing
    // with the history (bench/RESULTS.md, policy replay).
    Status Sweep(storage::Txn& txn, Timestamp at) {
        at = std::max(at, clock_.Now());
        clock_.Set(at);
        router_.BeginTransaction();
        NR_RETURN_IF_ERROR(router_.TakeUpDue(txn, at));
        // A waiting signal's instance gains a remediation only by a creation, and there is
        // nothing to join when nothing waits (one probe of the waiting signals' index, where
        // the join lists every active remediation's instance).
        if (created_since_join_) {
            created_since_join_ = false;
            NR_ASSIGN_OR_RETURN(auto waiting, txn.Alerts().ListClustersWithWaiting(kNever));
            if (!waiting.empty()) NR_RETURN_IF_ERROR(router_.JoinWaiting(txn, at));
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
            std::optional<model::HealthCheckRun> run = runs_[occurrence.run_id];
            if (!run) return OkStatus();
            run->remediation_id.clear();
            run->waiting = false;
            NR_RETURN_IF_ERROR(router_.RouteFailedRun(txn, *run, now));
            return txn.HealthChecks().Put(*run);
        }
        // A copy: an alert that fired again later in the page is read again as it is stored.
        const auto& recorded = alerts_[occurrence.alert_id];
        if (!recorded) return OkStatus();
        model::Alert alert = *recorded;
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
        NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().GetRow(due.id));
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

    SharedHistory& history_;
    const ReplayOptions& options_;
    const Recorded& recorded_;
    const std::unordered_map<std::string, int>& partition_of_;
    const int partition_;
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
    std::unordered_map<std::string, std::optional<model::Alert>> alerts_;  // of page_, by id
    std::unordered_map<std::string, std::optional<model::HealthCheckRun>> runs_;
    size_t next_ = 0;
    bool exhausted_ = false;
    Timestamp after_time_{};
    int64_t after_seq_ = 0;
    size_t next_manual_ = 0;
};

}  // namespace

Result<ReplayReport> Replay(storage::History& history, const ReplayOptions& options) {
    SharedHistory shared(history);
    NR_ASSIGN_OR_RETURN(const Recorded recorded, LoadRecorded(shared, options));
    const int threads = options.threads > 0 ? options.threads
                                            : std::max(1, int(std::thread::hardware_concurrency()));
    const auto partition_of = Partition(recorded.fleet, threads);
    int partitions = 1;
    for (const auto& [instance, p] : partition_of) partitions = std::max(partitions, p + 1);
    std::vector<Result<ReplayReport>> reports(size_t(partitions), Internal("not replayed"));
    auto run = [&](int p) {
        Replayer replayer(shared, options, recorded, partition_of, p);
        reports[size_t(p)] = replayer.Run();
    };
    std::vector<std::thread> others;
    for (int p = 1; p < partitions; ++p) others.emplace_back(run, p);
    run(0);
    for (auto& thread : others) thread.join();
    std::vector<ReplayReport> parts;
    for (auto& report : reports) {
        if (!report) return report.error();
        parts.push_back(std::move(report).value());
    }
    return MergeReports(std::move(parts));
}

}  // namespace noderepair::health
