#include "health/service.hpp"

#include <cctype>
#include <cmath>
#include <future>
#include <memory>

#include "common/ids.hpp"

namespace noderepair::health {
namespace {

using model::Alert;
using model::Remediation;
using model::State;

constexpr const char* kSystemActor = "system:health-checks";
constexpr const char* kAutoApproved = "auto-approved";

std::string ReasonFor(const Alert& alert, model::Mode mode) {
    const auto annotation = model::AnnotationOf(alert);
    std::string severity(model::WireName(alert.severity).substr(13));  // PHC_SEVERITY_
    for (char& c : severity) c = char(std::tolower(static_cast<unsigned char>(c)));
    std::string reason = alert.alert_name + " (" + severity + ")";
    if (!annotation.title.empty() && annotation.title != alert.alert_name) {
        reason += ": " + annotation.title;
    }
    for (const auto& xid : annotation.xid_events) {
        reason += "; Xid " + xid.xid_code;
        if (!xid.mnemonic.empty()) reason += " (" + xid.mnemonic + ")";
        if (xid.count > 1) reason += " x" + std::to_string(xid.count);
    }
    reason += " -> " + std::string(model::WireName(mode));
    return reason;
}

}  // namespace

HealthService::HealthService(storage::Store& store, const Clock& clock, Policy policy,
                             AutomationOptions options, CheckOptions checks,
                             remediation::Lifecycle& lifecycle, telemetry::Metrics* metrics)
    : store_(store),
      metrics_(metrics),
      clock_(clock),
      policy_(std::move(policy)),
      options_(options),
      checks_(std::move(checks)),
      lifecycle_(lifecycle) {}

HealthService::~HealthService() { Stop(); }

int HealthService::BlastRadiusLimit(int instances, double fraction, int max_active) {
    int limit = std::max(1, int(std::floor(fraction * double(instances) + 1e-9)));
    if (max_active > 0) limit = std::min(limit, max_active);
    return limit;
}

void HealthService::Ingest(std::vector<IncomingAlert> alerts,
                           std::function<void(Result<IngestResult>)> done) {
    auto result = std::make_shared<Result<IngestResult>>(IngestResult{});
    store_.Write(
        [this, alerts = std::move(alerts), result](storage::Txn& txn) -> Status {
            *result = IngestInTxn(txn, alerts);
            if (!*result) return result->error();
            return OkStatus();
        },
        [this, result, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            CountIngest(**result);
            done(*result);
        });
}

Result<IngestResult> HealthService::IngestInTxn(storage::Txn& txn,
                                                const std::vector<IncomingAlert>& incoming) {
    active_in_txn_.clear();  // other transactions may have changed the counts
    IngestResult result;
    const Timestamp now = clock_.Now();
    for (const auto& in : incoming) {
        ++result.alerts;
        ++(in.firing ? result.firing : result.resolved);
        NR_ASSIGN_OR_RETURN(auto existing, txn.Alerts().GetByFingerprint(in.fingerprint));
        // The same occurrence (same start, or still open) is refreshed; a fingerprint that
        // fires again after it resolved is a new occurrence.
        const bool same = existing && (existing->started_at == in.starts_at ||
                                       (!existing->resolved_at && in.firing));
        Alert alert = same ? *existing : Alert{};
        if (!same) {
            alert.id = NewUuidV7(now);
            alert.fingerprint = in.fingerprint;
            alert.started_at = in.starts_at;
        }
        alert.labels = in.labels;
        alert.annotations = in.annotations;
        alert.alert_name = in.labels.at("alertname");
        if (in.firing) {
            alert.resolved_at.reset();
        } else if (!alert.resolved_at) {
            alert.resolved_at = in.ends_at ? *in.ends_at : now;
            alert.waiting = false;
        }
        // Map to an instance: instance_id, else node / target_vm / hostname by name.
        std::optional<model::Instance> instance;
        if (auto id = in.labels.find("instance_id"); id != in.labels.end()) {
            NR_ASSIGN_OR_RETURN(instance, txn.Inventory().GetInstance(id->second));
        }
        for (const char* key : {"node", "target_vm", "hostname"}) {
            if (instance) break;
            if (auto name = in.labels.find(key); name != in.labels.end()) {
                NR_ASSIGN_OR_RETURN(instance, txn.Inventory().FindInstanceByName(name->second));
            }
        }
        if (instance) {
            alert.cluster_id = instance->cluster_id;
            alert.instance_id = instance->instance_id;
            alert.target_vm = instance->instance_name;
        } else {
            for (const char* key : {"target_vm", "node", "hostname"}) {
                if (auto name = in.labels.find(key); name != in.labels.end()) {
                    alert.target_vm = name->second;
                    break;
                }
            }
        }
        alert.severity = policy_.RuleFor(alert).severity;
        // Repeats refresh; only a firing alert not yet acted on is considered.
        if (instance && in.firing && alert.remediation_id.empty()) {
            NR_ASSIGN_OR_RETURN(bool created, Consider(txn, alert, *instance, now));
            ++(created                         ? result.remediations_created
               : alert.waiting                 ? result.waiting
               : !alert.remediation_id.empty() ? result.linked
                                               : result.ignored);
        } else if (!instance && in.firing) {
            ++result.unmatched;
        }
        NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
    }
    return result;
}

Result<bool> HealthService::HasRoom(storage::Txn& txn, const std::string& cluster_id) {
    // Instances only change when a fleet is imported at start: count them once.
    int instances = 0;
    {
        std::lock_guard lock(mu_);
        auto it = instance_counts_.find(cluster_id);
        if (it != instance_counts_.end()) instances = it->second;
    }
    if (instances == 0) {
        NR_ASSIGN_OR_RETURN(instances, txn.Inventory().CountInstances(cluster_id));
        std::lock_guard lock(mu_);
        instance_counts_[cluster_id] = instances;
    }
    // Counted once per transaction and kept up to date by Act: a 100-alert payload costs one
    // count, not a hundred.
    auto active = active_in_txn_.find(cluster_id);
    if (active == active_in_txn_.end()) {
        NR_ASSIGN_OR_RETURN(int count, txn.Remediations().CountActive(cluster_id));
        active = active_in_txn_.emplace(cluster_id, count).first;
    }
    return active->second <
           BlastRadiusLimit(instances, options_.max_active_fraction, options_.max_active);
}

Result<SignalOutcome> HealthService::Act(storage::Txn& txn, const Signal& signal,
                                         const model::Instance& instance, Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive(instance.instance_id));
    if (active) {
        // Evidence for whatever already runs; only a waiting automated one is escalated.
        // Only along REBOOT_VM < VM_ONLY < HOST_AWARE: a power cycle or an eviction chosen by
        // a rule is never replaced.
        if (signal.mode && active->trigger == model::Trigger::kAutomated &&
            active->state == State::kPendingApproval && EscalationRank(active->mode) > 0 &&
            EscalationRank(*signal.mode) > EscalationRank(active->mode)) {
            Remediation r = std::move(*active);
            NR_RETURN_IF_ERROR(lifecycle_.ChangeMode(txn, r, *signal.mode, kSystemActor,
                                                     "escalated by " + signal.name));
            return SignalOutcome{SignalOutcome::Kind::kJoined, r.id};
        }
        return SignalOutcome{SignalOutcome::Kind::kJoined, active->id};
    }
    if (!signal.mode || !instance.auto_repair) return SignalOutcome{};
    NR_ASSIGN_OR_RETURN(auto last_end, txn.Remediations().LastEnd(instance.instance_id));
    if (last_end && now < *last_end + options_.cooldown) return SignalOutcome{};
    NR_ASSIGN_OR_RETURN(bool room, HasRoom(txn, instance.cluster_id));
    if (!room) return SignalOutcome{SignalOutcome::Kind::kWaiting, ""};
    NR_ASSIGN_OR_RETURN(auto automation, txn.Inventory().GetClusterAutomation(instance.cluster_id));
    Remediation r;
    r.cluster_id = instance.cluster_id;
    r.instance_id = instance.instance_id;
    r.instance_name = instance.instance_name;
    r.mode = r.requested_mode = *signal.mode;
    r.trigger = model::Trigger::kAutomated;
    r.state = State::kPendingApproval;
    r.reason = signal.reason;
    r.passive_health_check_event_id = signal.alert_id;
    r.active_health_check_run_id = signal.run_id;
    r.requested_by = kSystemActor;
    const bool in_scope =
        automation.automatic &&
        (automation.automatic_alerts.empty() ||
         std::find(automation.automatic_alerts.begin(), automation.automatic_alerts.end(),
                   signal.name) != automation.automatic_alerts.end());
    // An eviction takes capacity away for good; a person always decides it (docs/http-api.md 5).
    const bool auto_approve = in_scope && r.mode != model::Mode::kEvictWithoutReplacement;
    NR_RETURN_IF_ERROR(lifecycle_.Create(txn, r, kSystemActor, "created from " + signal.name));
    if (auto counted = active_in_txn_.find(r.cluster_id); counted != active_in_txn_.end()) {
        ++counted->second;
    }
    if (auto_approve) {
        r.review_comment = "cluster automation policy is automatic for " + signal.name;
        NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, r, remediation::Event::kApprove, kAutoApproved,
                                            r.review_comment));
    }
    return SignalOutcome{SignalOutcome::Kind::kCreated, r.id};
}

Result<bool> HealthService::Consider(storage::Txn& txn, Alert& alert,
                                     const model::Instance& instance, Timestamp now) {
    const Rule rule = policy_.RuleFor(alert);
    Signal signal{alert.alert_name, rule.mode, rule.mode ? ReasonFor(alert, *rule.mode) : "",
                  alert.id, ""};
    NR_ASSIGN_OR_RETURN(auto outcome, Act(txn, signal, instance, now));
    alert.remediation_id = outcome.remediation_id;
    alert.waiting = outcome.kind == SignalOutcome::Kind::kWaiting;
    return outcome.kind == SignalOutcome::Kind::kCreated;
}

Result<bool> HealthService::ConsiderRun(storage::Txn& txn, model::HealthCheckRun& run,
                                        Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(run.instance_id));
    run.waiting = false;
    if (!instance) return false;
    const model::TestResult* failed = nullptr;
    for (const auto& t : run.tests) {
        if (t.state == model::CheckState::kFailed) {
            failed = &t;
            break;
        }
    }
    if (failed == nullptr) return false;
    auto mode_it = checks_.test_modes.find(failed->name);
    const model::Mode mode =
        mode_it == checks_.test_modes.end() ? model::Mode::kHostAware : mode_it->second;
    Signal signal{"health_check:" + failed->name, mode,
                  "active health check " + failed->name + " failed" +
                      (failed->detail.empty() ? "" : ": " + failed->detail) + " -> " +
                      std::string(model::WireName(mode)),
                  "", run.id};
    NR_ASSIGN_OR_RETURN(auto outcome, Act(txn, signal, *instance, now));
    run.remediation_id = outcome.remediation_id;
    run.waiting = outcome.kind == SignalOutcome::Kind::kWaiting;
    return outcome.kind == SignalOutcome::Kind::kCreated;
}

Status HealthService::SweepInTxn(storage::Txn& txn) {
    active_in_txn_.clear();  // other transactions may have changed the counts
    const Timestamp now = clock_.Now();
    // Auto-resolve (API.md 5): every linked alert resolved for the TTL.
    NR_ASSIGN_OR_RETURN(auto resolvable, txn.Remediations().ListAutoResolvable(
                                             now - options_.auto_resolve_ttl, 500));
    for (const auto& id : resolvable) {
        NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().Get(id));
        if (!found || found->state != State::kPendingApproval) continue;
        Remediation r = std::move(*found);
        NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, r, remediation::Event::kAutoResolve, kSystemActor,
                                            "every linked alert resolved for " +
                                                std::to_string(options_.auto_resolve_ttl.count()) +
                                                " s"));
    }
    // Signals held back by the blast radius, oldest first.
    // Per cluster with room, the oldest waiting signals until it is full again: one
    // cluster's storm never starves another's signals.
    NR_ASSIGN_OR_RETURN(auto clusters, txn.Alerts().ListClustersWithWaiting());
    for (const auto& cluster_id : clusters) {
        NR_ASSIGN_OR_RETURN(bool room, HasRoom(txn, cluster_id));
        if (!room) continue;
        NR_ASSIGN_OR_RETURN(auto waiting, txn.Alerts().ListWaiting(cluster_id, 1000));
        for (auto& alert : waiting) {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(alert.instance_id));
            alert.waiting = false;
            bool created = false;
            if (instance && !alert.resolved_at) {
                NR_ASSIGN_OR_RETURN(created, Consider(txn, alert, *instance, now));
            }
            NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
            if (created) {
                NR_ASSIGN_OR_RETURN(room, HasRoom(txn, cluster_id));
                if (!room) break;
            }
        }
    }
    // Then waiting signals whose instance has a remediation by now (made above, or by a
    // person) join it as evidence: that needs no room.
    NR_ASSIGN_OR_RETURN(auto joinable, txn.Alerts().ListWaitingWithActiveRemediation(1000));
    for (auto& alert : joinable) {
        NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(alert.instance_id));
        alert.waiting = false;
        if (instance) NR_RETURN_IF_ERROR(Consider(txn, alert, *instance, now));
        NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
    }
    NR_ASSIGN_OR_RETURN(auto waiting_runs, txn.HealthChecks().ListWaiting(1000));
    for (auto& run : waiting_runs) {
        NR_RETURN_IF_ERROR(ConsiderRun(txn, run, now));
        NR_RETURN_IF_ERROR(txn.HealthChecks().Put(run));
    }
    NR_ASSIGN_OR_RETURN(auto running, txn.HealthChecks().ListRunning(1000));
    for (auto& run : running) NR_RETURN_IF_ERROR(AdvanceRun(txn, run, now));
    return OkStatus();
}

Status HealthService::AdvanceRun(storage::Txn& txn, model::HealthCheckRun& run, Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(run.instance_id));
    bool changed = false;
    for (auto& test : run.tests) {
        if (test.state != model::CheckState::kRunning) continue;
        if (!instance || instance->host_name.empty()) {
            test.state = model::CheckState::kSkipped;
            test.detail = "the instance has no VM";
            changed = true;
            continue;
        }
        if (!checks_.command.empty()) {
            // One command at a time per run; a restart loses the process and runs it again.
            const std::string key = run.id + "/" + test.name;
            auto it = running_tests_.find(key);
            if (it == running_tests_.end()) {
                NR_ASSIGN_OR_RETURN(
                    auto process,
                    Subprocess::Spawn(checks_.command,
                                      {{"NODEREPAIR_TEST", test.name},
                                       {"NODEREPAIR_CLUSTER_ID", run.cluster_id},
                                       {"NODEREPAIR_INSTANCE_ID", run.instance_id},
                                       {"NODEREPAIR_INSTANCE_NAME", instance->instance_name},
                                       {"NODEREPAIR_NODE", instance->instance_name},
                                       {"NODEREPAIR_HOST", instance->host_name},
                                       {"NODEREPAIR_HEALTH_CHECK_ID", run.id}}));
                running_tests_.emplace(key, RunningTest{std::move(process), now + checks_.timeout});
                break;
            }
            auto exit = it->second.process.Poll();
            if (!exit && now < it->second.deadline) break;
            test.state =
                exit && exit->success ? model::CheckState::kPassed : model::CheckState::kFailed;
            test.detail = exit
                              ? (exit->output.empty() ? exit->how : exit->output)
                              : "timed out after " + std::to_string(checks_.timeout.count()) + " s";
            running_tests_.erase(it);
            changed = true;
            continue;
        }
        if (!checks_.simulated) {
            test.state = model::CheckState::kSkipped;
            test.detail = "no hooks.health_check is configured to run it";
        } else {
            NR_ASSIGN_OR_RETURN(bool degraded, txn.Simulated().IsHostDegraded(instance->host_name));
            const bool fails = degraded && model::IsGpuTest(test.name);
            test.state = fails ? model::CheckState::kFailed : model::CheckState::kPassed;
            test.detail = fails ? "simulated: host " + instance->host_name + " is degraded"
                                : "simulated: passed";
        }
        changed = true;
    }
    bool done = true;
    bool failed = false;
    for (const auto& t : run.tests) {
        done = done && t.state != model::CheckState::kRunning;
        failed = failed || t.state == model::CheckState::kFailed;
    }
    if (done) {
        run.state = failed ? model::CheckState::kFailed : model::CheckState::kPassed;
        run.end_time = now;
        finished_runs_.push_back(run);
        if (failed) NR_RETURN_IF_ERROR(ConsiderRun(txn, run, now));
        changed = true;
    }
    if (!changed) return OkStatus();
    return txn.HealthChecks().Put(run);
}

Status HealthService::SweepOnce() {
    finished_runs_.clear();
    Status swept = store_.WriteAndWait([this](storage::Txn& txn) { return SweepInTxn(txn); });
    if (swept && metrics_ != nullptr) {
        for (const auto& run : finished_runs_) metrics_->HealthCheckFinished(run);
    }
    finished_runs_.clear();
    return swept;
}

void HealthService::CountIngest(const IngestResult& result) {
    if (metrics_ == nullptr) return;
    using telemetry::AlertOutcome;
    metrics_->AlertReceived(true, result.firing);
    metrics_->AlertReceived(false, result.resolved);
    metrics_->AlertHandled(AlertOutcome::kCreated, result.remediations_created);
    metrics_->AlertHandled(AlertOutcome::kLinked, result.linked);
    metrics_->AlertHandled(AlertOutcome::kWaiting, result.waiting);
    metrics_->AlertHandled(AlertOutcome::kIgnored, result.ignored);
    metrics_->AlertHandled(AlertOutcome::kUnmatched, result.unmatched);
}

void HealthService::Start(std::chrono::milliseconds interval) {
    sweeper_ = std::thread([this, interval] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
            cv_.wait_for(lock, interval);
            if (stopping_) break;
            lock.unlock();
            Status swept = SweepOnce();
            if (!swept) {
                std::fprintf(stderr, "noderepair: health sweep: %s\n",
                             swept.error().message.c_str());
            }
            lock.lock();
        }
    });
}

void HealthService::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
}

void HealthService::StartHealthCheck(const std::string& cluster_id, const std::string& instance_id,
                                     std::vector<std::string> tests,
                                     std::function<void(Result<model::HealthCheckRun>)> done) {
    if (tests.empty()) return done(InvalidArgument("tests must name at least one test"));
    for (const auto& t : tests) {
        if (!model::IsKnownTest(t)) return done(InvalidArgument("unknown test '" + t + "'"));
    }
    auto run = std::make_shared<model::HealthCheckRun>();
    run->cluster_id = cluster_id;
    run->instance_id = instance_id;
    for (auto& t : tests) run->tests.push_back({std::move(t), model::CheckState::kRunning, ""});
    store_.Write(
        [this, run](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(run->instance_id));
            if (!instance || instance->cluster_id != run->cluster_id) {
                return NotFound("instance " + run->instance_id + " not found in cluster " +
                                run->cluster_id);
            }
            run->create_time = lifecycle_.NextTimestamp();
            run->id = NewUuidV7(run->create_time);
            return txn.HealthChecks().Put(*run);
        },
        [run, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            done(*run);
        });
}

Result<model::HealthCheckRun> HealthService::GetHealthCheck(const std::string& cluster_id,
                                                            const std::string& instance_id,
                                                            const std::string& run_id) {
    std::optional<model::HealthCheckRun> run;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(run, reader.HealthChecks().Get(run_id));
        return OkStatus();
    }));
    if (!run || run->cluster_id != cluster_id || run->instance_id != instance_id) {
        return NotFound("health check " + run_id + " not found for instance " + instance_id +
                        " in cluster " + cluster_id);
    }
    return *std::move(run);
}

Result<std::vector<model::HealthCheckRun>> HealthService::ListHealthChecks(
    const std::string& cluster_id, const std::string& instance_id) {
    std::vector<model::HealthCheckRun> runs;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(auto instance, reader.Inventory().GetInstance(instance_id));
        if (!instance || instance->cluster_id != cluster_id) {
            return NotFound("instance " + instance_id + " not found in cluster " + cluster_id);
        }
        NR_ASSIGN_OR_RETURN(runs, reader.HealthChecks().ListForInstance(instance_id, 100));
        return OkStatus();
    }));
    return runs;
}

Result<storage::AlertPage> HealthService::ListAlerts(const storage::AlertQuery& query) {
    storage::AlertPage page;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(bool known, reader.Inventory().HasCluster(query.cluster_id));
        if (!known) return NotFound("cluster " + query.cluster_id + " not found");
        NR_ASSIGN_OR_RETURN(page, reader.Alerts().List(query));
        return OkStatus();
    }));
    return page;
}

void HealthService::SetClusterAutomation(const std::string& cluster_id,
                                         model::ClusterAutomation automation,
                                         std::function<void(Status)> done) {
    store_.Write(
        [cluster_id, automation = std::move(automation)](storage::Txn& txn) {
            return txn.Inventory().SetClusterAutomation(cluster_id, automation);
        },
        std::move(done));
}

void HealthService::SetAutoRepair(const std::string& cluster_id, const std::string& instance_id,
                                  bool auto_repair, std::function<void(Status)> done) {
    store_.Write(
        [cluster_id, instance_id, auto_repair](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(instance_id));
            if (!instance || instance->cluster_id != cluster_id) {
                return NotFound("instance " + instance_id + " not found in cluster " + cluster_id);
            }
            return txn.Inventory().SetInstanceAutoRepair(instance_id, auto_repair);
        },
        std::move(done));
}

}  // namespace noderepair::health
