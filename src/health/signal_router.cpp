#include "health/signal_router.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

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

int SignalRouter::BlastRadiusLimit(int instances, double fraction, int max_active) {
    int limit = std::max(1, int(std::floor(fraction * double(instances) + 1e-9)));
    if (max_active > 0) limit = std::min(limit, max_active);
    return limit;
}

Result<bool> SignalRouter::HasRoom(storage::Txn& txn, const std::string& cluster_id) {
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
    // Counted once per transaction and kept up to date by Route: a 100-alert payload costs one
    // count, not a hundred.
    auto active = active_in_txn_.find(cluster_id);
    if (active == active_in_txn_.end()) {
        NR_ASSIGN_OR_RETURN(int count, txn.Remediations().CountActive(cluster_id));
        active = active_in_txn_.emplace(cluster_id, count).first;
    }
    return active->second <
           BlastRadiusLimit(instances, options_.max_active_fraction, options_.max_active);
}

Result<SignalOutcome> SignalRouter::Route(storage::Txn& txn, const Signal& signal,
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
    // A two-person mode always waits for a person (docs/http-api.md 11).
    const bool auto_approve = in_scope && r.mode != model::Mode::kEvictWithoutReplacement &&
                              !lifecycle_.NeedsSecondPerson(r.mode);
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

Result<bool> SignalRouter::RouteAlert(storage::Txn& txn, Alert& alert,
                                      const model::Instance& instance, Timestamp now) {
    const Rule rule = policy_.RuleFor(alert);
    Signal signal{alert.alert_name, rule.mode, rule.mode ? ReasonFor(alert, *rule.mode) : "",
                  alert.id, ""};
    NR_ASSIGN_OR_RETURN(auto outcome, Route(txn, signal, instance, now));
    alert.remediation_id = outcome.remediation_id;
    alert.waiting = outcome.kind == SignalOutcome::Kind::kWaiting;
    return outcome.kind == SignalOutcome::Kind::kCreated;
}

Result<bool> SignalRouter::RouteFailedRun(storage::Txn& txn, model::HealthCheckRun& run,
                                          Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(run.instance_id));
    run.waiting = false;
    if (!instance) return false;
    auto failed = std::find_if(run.tests.begin(), run.tests.end(),
                               [](const auto& t) { return t.state == model::CheckState::kFailed; });
    if (failed == run.tests.end()) return false;
    auto mode_of_test = options_.test_modes.find(failed->name);
    const model::Mode mode =
        mode_of_test == options_.test_modes.end() ? model::Mode::kHostAware : mode_of_test->second;
    Signal signal{"health_check:" + failed->name, mode,
                  "active health check " + failed->name + " failed" +
                      (failed->detail.empty() ? "" : ": " + failed->detail) + " -> " +
                      std::string(model::WireName(mode)),
                  "", run.id};
    NR_ASSIGN_OR_RETURN(auto outcome, Route(txn, signal, *instance, now));
    run.remediation_id = outcome.remediation_id;
    run.waiting = outcome.kind == SignalOutcome::Kind::kWaiting;
    return outcome.kind == SignalOutcome::Kind::kCreated;
}

Status SignalRouter::AutoResolve(storage::Txn& txn, Timestamp now) {
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
    return OkStatus();
}

Status SignalRouter::TakeUpWaiting(storage::Txn& txn, Timestamp now) {
    // Per cluster with room, the oldest waiting signals until it is full again: one cluster's
    // storm never starves another's signals.
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
                NR_ASSIGN_OR_RETURN(created, RouteAlert(txn, alert, *instance, now));
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
        if (instance) NR_RETURN_IF_ERROR(RouteAlert(txn, alert, *instance, now));
        NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
    }
    NR_ASSIGN_OR_RETURN(auto waiting_runs, txn.HealthChecks().ListWaiting(1000));
    for (auto& run : waiting_runs) {
        NR_RETURN_IF_ERROR(RouteFailedRun(txn, run, now));
        NR_RETURN_IF_ERROR(txn.HealthChecks().Put(run));
    }
    return OkStatus();
}

}  // namespace noderepair::health
