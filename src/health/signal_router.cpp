#include "health/signal_router.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "common/ids.hpp"

namespace noderepair::health {
namespace {

using model::Alert;
using model::Remediation;
using model::State;

constexpr const char* kSystemActor = "system:health-checks";
constexpr const char* kAutoApproved = "auto-approved";
constexpr const char* kIncidentActor = "system:incidents";

std::string EvidenceOf(const Alert& alert) {
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
    return reason;
}

// Position on the ladder, -1 when the mode is not on it.
int RungOf(const std::vector<model::Mode>& ladder, model::Mode mode) {
    auto it = std::find(ladder.begin(), ladder.end(), mode);
    return it == ladder.end() ? -1 : int(it - ladder.begin());
}

std::string Seconds(std::chrono::microseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

int SignalRouter::BlastRadiusLimit(int instances, double fraction, int max_active) {
    int limit = std::max(1, int(std::floor(fraction * double(instances) + 1e-9)));
    if (max_active > 0) limit = std::min(limit, max_active);
    return limit;
}

Status SignalRouter::ReadAhead(storage::Txn& txn,
                               const std::vector<const model::Instance*>& instances) {
    std::vector<std::string> instance_ids, host_names;
    for (const auto* instance : instances) {
        instance_ids.push_back(instance->instance_id);
        if (!instance->host_name.empty() &&
            host_in_txn_.emplace(instance->host_name, std::nullopt).second) {
            host_names.push_back(instance->host_name);
        }
    }
    if (!instance_ids.empty()) {
        NR_ASSIGN_OR_RETURN(auto never, txn.Remediations().ListNeverRemediated(instance_ids));
        never_remediated_in_txn_.insert(std::make_move_iterator(never.begin()),
                                        std::make_move_iterator(never.end()));
    }
    if (host_names.empty()) return OkStatus();
    NR_ASSIGN_OR_RETURN(auto hosts, txn.Inventory().GetHosts(host_names));
    for (auto& host : hosts) host_in_txn_[host.host_name] = std::move(host);
    if (options_.incident_threshold <= 0) return OkStatus();
    std::vector<std::pair<std::string, std::string>> scopes;
    for (const auto* instance : instances) {
        auto host = host_in_txn_.find(instance->host_name);
        if (host == host_in_txn_.end() || !host->second) continue;
        auto scope = std::make_pair(instance->cluster_id, host->second->rack);
        if (incident_in_txn_.emplace(scope, std::nullopt).second) scopes.push_back(scope);
    }
    if (scopes.empty()) return OkStatus();
    NR_ASSIGN_OR_RETURN(auto incidents, txn.Inventory().GetLatestIncidents(scopes));
    for (auto& incident : incidents) {
        incident_in_txn_[{incident.cluster_id, incident.rack}] = std::move(incident);
    }
    return OkStatus();
}

Result<model::Host*> SignalRouter::HostInTxn(storage::Txn& txn, const std::string& host_name) {
    auto known = host_in_txn_.find(host_name);
    if (known == host_in_txn_.end()) {
        NR_ASSIGN_OR_RETURN(auto host, txn.Inventory().GetHost(host_name));
        known = host_in_txn_.emplace(host_name, std::move(host)).first;
    }
    return known->second ? &*known->second : nullptr;
}

Result<bool> SignalRouter::HasRoom(storage::Txn& txn, const std::string& cluster_id) {
    // The count the fleet import keeps (any replica's), read by primary key once per
    // transaction: never a process's copy, which another replica's import would leave stale.
    auto counted = instances_in_txn_.find(cluster_id);
    if (counted == instances_in_txn_.end()) {
        NR_ASSIGN_OR_RETURN(int count, txn.Inventory().CountInstances(cluster_id));
        counted = instances_in_txn_.emplace(cluster_id, count).first;
    }
    const int instances = counted->second;
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

Result<bool> SignalRouter::HasRackRoom(storage::Txn& txn, const std::string& rack) {
    if (options_.max_active_per_rack <= 0 || rack.empty()) return true;
    // As the cluster's count: from the database once per transaction, then kept by Route.
    auto active = active_in_rack_.find(rack);
    if (active == active_in_rack_.end()) {
        NR_ASSIGN_OR_RETURN(int count, txn.Remediations().CountActiveInRack(rack));
        active = active_in_rack_.emplace(rack, count).first;
    }
    return active->second < options_.max_active_per_rack;
}

Status SignalRouter::RecordFault(storage::Txn& txn, const Signal& signal,
                                 const model::Instance& instance, model::Host& host,
                                 Timestamp now) {
    const model::HostFault fault{
        host.host_name, host.rack, instance.cluster_id, instance.instance_id, signal.name, "", now};
    if (!host.suspect.empty() ||
        (options_.suspect_host_instances <= 0 && options_.suspect_host_faults <= 0)) {
        return txn.Inventory().AddHostFault(fault);
    }
    // Each instance counted signalled at least once: with fewer signals than the lower
    // threshold, neither is crossed, and the ledger's window need not be read.
    int at_least = std::numeric_limits<int>::max();
    for (int threshold : {options_.suspect_host_instances, options_.suspect_host_faults}) {
        if (threshold > 0) at_least = std::min(at_least, threshold);
    }
    NR_ASSIGN_OR_RETURN(auto counts, txn.Inventory().AddHostFaultReaching(
                                         fault, now - options_.suspect_host_window, at_least));
    if (!counts) return OkStatus();
    const std::string window = Seconds(options_.suspect_host_window);
    std::string why;
    if (options_.suspect_host_instances > 0 &&
        counts->instances >= options_.suspect_host_instances) {
        why = std::to_string(counts->instances) +
              " different instances signalled faults on it within " + window +
              ": the fault follows the host";
    } else if (options_.suspect_host_faults > 0 &&
               counts->signals >= options_.suspect_host_faults) {
        why = std::to_string(counts->signals) + " fault signals on it within " + window;
    }
    if (why.empty()) return OkStatus();
    return MakeSuspect(txn, host, why);
}

Status SignalRouter::MakeSuspect(storage::Txn& txn, model::Host& host, const std::string& why) {
    NR_RETURN_IF_ERROR(txn.Inventory().SetHostSuspect(host.host_name, why));
    host.suspect = why;
    ++tally_.suspect_hosts;
    if (options_.cordon_suspect_hosts && !host.cordoned) {
        NR_RETURN_IF_ERROR(txn.Inventory().SetHostCordoned(host.host_name, true));
        host.cordoned = true;
    }
    NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().ListActiveOnHost(host.host_name));
    for (const auto& id : active) {
        NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().Get(id));
        if (!found || found->trigger != model::Trigger::kAutomated ||
            found->state != State::kPendingApproval || EscalationRank(found->mode) == 0 ||
            EscalationRank(found->mode) >= EscalationRank(model::Mode::kHostAware)) {
            continue;
        }
        Remediation r = std::move(*found);
        NR_RETURN_IF_ERROR(lifecycle_.ChangeMode(txn, r, model::Mode::kHostAware, kSystemActor,
                                                 "host " + host.host_name + " is suspect: " + why));
        ++tally_.escalations;
    }
    return OkStatus();
}

Result<bool> SignalRouter::TakenByIncident(storage::Txn& txn, const Signal& signal,
                                           const model::Instance& instance, const model::Host& host,
                                           Timestamp now) {
    // The scope's latest incident, read once per transaction and kept here as it changes.
    const auto scope = std::make_pair(instance.cluster_id, host.rack);
    auto cached = incident_in_txn_.find(scope);
    if (cached == incident_in_txn_.end()) {
        NR_ASSIGN_OR_RETURN(auto stored,
                            txn.Inventory().GetLatestIncident(instance.cluster_id, host.rack));
        cached = incident_in_txn_.emplace(scope, std::move(stored)).first;
    }
    std::optional<model::Incident>& latest = cached->second;
    // Signals a person already judged (a closed incident's) open no second incident.
    Timestamp since = now - options_.incident_window;
    if (latest && latest->closed_at && *latest->closed_at > since) since = *latest->closed_at;
    bool entered = false;  // the instance is new to the window: the count may have grown
    if (signal.first) {
        NR_ASSIGN_OR_RETURN(entered,
                            txn.Inventory().TouchScopeInstance(instance.cluster_id, host.rack,
                                                               instance.instance_id, since, now));
    }
    if (latest && latest->state == model::IncidentState::kOpen) {
        model::Incident& incident = *latest;
        if (std::find(incident.instances.begin(), incident.instances.end(), instance.instance_id) ==
            incident.instances.end()) {
            incident.instances.push_back(instance.instance_id);
        }
        if (signal.first) {
            ++incident.signals;
            incident.last_seen = now;
        }
        NR_RETURN_IF_ERROR(txn.Inventory().PutIncident(incident));
        return true;
    }
    // The count only grows when an instance enters the window, so only then can it cross the
    // threshold: a repeat of an instance already counted needs no count.
    if (!entered) return false;
    // Counted by instance (a handful of rows per rack), then read in full only when it opens.
    NR_ASSIGN_OR_RETURN(int instances,
                        txn.Inventory().CountScopeInstances(instance.cluster_id, host.rack, since));
    if (instances < options_.incident_threshold) return false;
    NR_ASSIGN_OR_RETURN(auto signals,
                        txn.Inventory().ListScopeSignals(instance.cluster_id, host.rack, since));
    model::Incident incident;
    incident.id = NewUuidV7(now);
    incident.cluster_id = instance.cluster_id;
    incident.rack = host.rack;
    incident.first_seen = now;
    incident.last_seen = now;
    for (const auto& s : signals) {
        incident.instances.push_back(s.instance_id);
        incident.signals += s.signals;
        incident.first_seen = std::min(incident.first_seen, s.first);
    }
    NR_RETURN_IF_ERROR(OpenIncident(txn, incident));
    latest = std::move(incident);
    return true;
}

Status SignalRouter::OpenIncident(storage::Txn& txn, model::Incident& incident) {
    NR_RETURN_IF_ERROR(txn.Inventory().PutIncident(incident));
    ++tally_.incidents;
    const std::string why =
        "incident " + incident.id + " opened: " + std::to_string(incident.instances.size()) +
        " instances of " + incident.Scope() + " signalled within " +
        Seconds(options_.incident_window) + ", one fault of the " +
        (incident.rack.empty() ? "cluster" : "rack") + " rather than broken nodes";
    for (const auto& instance_id : incident.instances) {
        NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive(instance_id));
        if (!active || active->trigger != model::Trigger::kAutomated ||
            active->state != State::kPendingApproval) {
            continue;
        }
        Remediation r = std::move(*active);
        r.review_comment = why;
        NR_RETURN_IF_ERROR(
            lifecycle_.Apply(txn, r, remediation::Event::kReject, kIncidentActor, why));
        if (auto counted = active_in_txn_.find(r.cluster_id); counted != active_in_txn_.end()) {
            --counted->second;
        }
        // The rack's count is read again: which rack the instance is on is not known here.
        active_in_rack_.clear();
    }
    return OkStatus();
}

Result<model::Incident> SignalRouter::CloseIncident(storage::Txn& txn,
                                                    const std::string& cluster_id,
                                                    const std::string& incident_id, bool release,
                                                    const std::string& actor, Timestamp now) {
    BeginTransaction();  // a transaction of its own: nothing read before holds
    NR_ASSIGN_OR_RETURN(auto found, txn.Inventory().GetIncident(incident_id));
    if (!found || found->cluster_id != cluster_id) {
        return NotFound("incident " + incident_id + " not found in cluster " + cluster_id);
    }
    model::Incident incident = std::move(*found);
    if (incident.state != model::IncidentState::kOpen) {
        return FailedPrecondition("incident " + incident_id + " is already " +
                                  std::string(model::WireName(incident.state)));
    }
    incident.state = release ? model::IncidentState::kReleased : model::IncidentState::kDismissed;
    incident.closed_at = now;
    incident.closed_by = actor;
    NR_RETURN_IF_ERROR(txn.Inventory().PutIncident(incident));
    if (!release) return incident;
    // Handed back: each instance's firing signals wait again, and the sweeper considers them
    // under the usual limits, oldest first, as it does any waiting signal.
    for (const auto& instance_id : incident.instances) {
        NR_ASSIGN_OR_RETURN(auto open, txn.Alerts().ListOpen(instance_id));
        for (auto& alert : open) {
            if (!alert.remediation_id.empty()) {
                NR_ASSIGN_OR_RETURN(auto linked, txn.Remediations().Get(alert.remediation_id));
                if (linked && !model::IsTerminal(linked->state)) continue;
            }
            alert.remediation_id.clear();
            alert.waiting = true;
            alert.wait_until = {};  // due at once
            NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
        }
    }
    return incident;
}

Result<std::optional<SignalRouter::Decision>> SignalRouter::Decide(storage::Txn& txn,
                                                                   const Signal& signal,
                                                                   const model::Instance& instance,
                                                                   const model::Host* host,
                                                                   Timestamp now) {
    Decision decision{*signal.mode, ""};
    const auto& ladder = options_.ladder;
    const int rung = RungOf(ladder, decision.mode);
    // Only a mode on the ladder climbs it: a power cycle or an eviction a rule chose stays.
    if (rung >= 0 && !never_remediated_in_txn_.count(instance.instance_id)) {
        NR_ASSIGN_OR_RETURN(auto last, txn.Remediations().LastFinished(instance.instance_id));
        const int last_rung = last ? RungOf(ladder, last->mode) : -1;
        if (last && last->trigger == model::Trigger::kAutomated && last_rung >= 0 &&
            last->end_time && now - *last->end_time <= options_.ladder_window) {
            const std::string came_back = "the fault came back within " +
                                          Seconds(now - *last->end_time) + " of remediation " +
                                          last->id + " (" +
                                          std::string(model::WireName(last->state)) + ")";
            if (last_rung + 1 >= int(ladder.size())) {
                // The heaviest repair did not hold: a person looks instead of a loop.
                const std::string why = signal.name + ": " + came_back + ", after " +
                                        std::string(model::WireName(last->mode)) +
                                        ", the top of the escalation ladder";
                const std::string key = model::AttentionSetting(instance.instance_id);
                NR_ASSIGN_OR_RETURN(auto already, txn.Settings().Get(key));
                if (!already) ++tally_.attention;
                NR_RETURN_IF_ERROR(txn.Settings().Put(key, why));
                return std::optional<Decision>();
            }
            if (last_rung + 1 > rung) {
                decision.mode = ladder[size_t(last_rung + 1)];
                decision.why =
                    "escalated from " + std::string(model::WireName(last->mode)) + ": " + came_back;
            }
        }
    }
    if (host != nullptr && !host->suspect.empty() && EscalationRank(decision.mode) > 0 &&
        EscalationRank(decision.mode) < EscalationRank(model::Mode::kHostAware)) {
        decision.mode = model::Mode::kHostAware;
        decision.why += std::string(decision.why.empty() ? "" : "; ") + "host " + host->host_name +
                        " is suspect: " + host->suspect;
    }
    return std::optional<Decision>(std::move(decision));
}

Result<SignalOutcome> SignalRouter::Route(storage::Txn& txn, const Signal& signal,
                                          const model::Instance& instance, Timestamp now) {
    // 1. Recorded against the host the VM is on now, counted when the policy has a mode for it
    // whatever the later steps decide.
    model::Host* host = nullptr;
    if (signal.mode && !instance.host_name.empty()) {
        NR_ASSIGN_OR_RETURN(host, HostInTxn(txn, instance.host_name));
        if (host && signal.first)
            NR_RETURN_IF_ERROR(RecordFault(txn, signal, instance, *host, now));
    }
    // 2. An open incident of its rack (or cluster) takes it.
    if (host && options_.incident_threshold > 0) {
        NR_ASSIGN_OR_RETURN(bool taken, TakenByIncident(txn, signal, instance, *host, now));
        if (taken) return SignalOutcome{};
    }
    // 3. Linked to the active remediation.
    const bool never_remediated = never_remediated_in_txn_.count(instance.instance_id) > 0;
    std::optional<Remediation> active;
    if (!never_remediated) {
        NR_ASSIGN_OR_RETURN(active, txn.Remediations().GetActive(instance.instance_id));
    }
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
    // 4. Opted out, or no rule: recorded only.
    if (!signal.mode || !instance.auto_repair) return SignalOutcome{};
    // 5. In cooldown it waits, and the sweeper takes it up when the cooldown ends.
    std::optional<Timestamp> last_end;
    if (!never_remediated) {
        NR_ASSIGN_OR_RETURN(last_end, txn.Remediations().LastEnd(instance.instance_id));
    }
    if (last_end && now < *last_end + options_.cooldown) {
        // Nothing but the cooldown's end can make it due: until then no sweep looks at it.
        return SignalOutcome{SignalOutcome::Kind::kWaiting, "", *last_end + options_.cooldown};
    }
    // 6. The mode, or a person past the top of the ladder.
    NR_ASSIGN_OR_RETURN(auto decision, Decide(txn, signal, instance, host, now));
    if (!decision) return SignalOutcome{};
    // 7. The cluster's and the rack's blast radius.
    NR_ASSIGN_OR_RETURN(bool room, HasRoom(txn, instance.cluster_id));
    const std::string rack = host ? host->rack : "";
    if (room) {
        NR_ASSIGN_OR_RETURN(room, HasRackRoom(txn, rack));
    }
    if (!room) return SignalOutcome{SignalOutcome::Kind::kWaiting, ""};
    // 8. Created, and approved at once where the cluster's policy allows.
    NR_ASSIGN_OR_RETURN(auto automation, txn.Inventory().GetClusterAutomation(instance.cluster_id));
    Remediation r;
    r.cluster_id = instance.cluster_id;
    r.instance_id = instance.instance_id;
    r.instance_name = instance.instance_name;
    r.mode = r.requested_mode = decision->mode;
    r.trigger = model::Trigger::kAutomated;
    r.state = State::kPendingApproval;
    r.reason = signal.evidence + " -> " + std::string(model::WireName(r.mode));
    if (!decision->why.empty()) r.reason += " (" + decision->why + ")";
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
    NR_RETURN_IF_ERROR(lifecycle_.Create(
        txn, r, kSystemActor,
        "created from " + signal.name + (decision->why.empty() ? "" : ": " + decision->why)));
    never_remediated_in_txn_.erase(r.instance_id);
    if (auto counted = active_in_txn_.find(r.cluster_id); counted != active_in_txn_.end()) {
        ++counted->second;
    }
    if (!decision->why.empty()) ++tally_.escalations;
    if (auto counted = active_in_rack_.find(rack); counted != active_in_rack_.end()) {
        ++counted->second;
    }
    if (host) {
        NR_RETURN_IF_ERROR(
            txn.Inventory().AddHostFault({host->host_name, host->rack, r.cluster_id, r.instance_id,
                                          std::string(model::WireName(r.mode)), r.id, now}));
    }
    if (auto_approve) {
        r.review_comment = "cluster automation policy is automatic for " + signal.name;
        NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, r, remediation::Event::kApprove, kAutoApproved,
                                            r.review_comment));
    }
    return SignalOutcome{SignalOutcome::Kind::kCreated, r.id};
}

Result<bool> SignalRouter::RouteAlert(storage::Txn& txn, Alert& alert,
                                      const model::Instance& instance, Timestamp now, bool first) {
    const Rule rule = policy_.RuleFor(alert);
    Signal signal{alert.alert_name, rule.mode, EvidenceOf(alert), alert.id, "", first};
    NR_ASSIGN_OR_RETURN(auto outcome, Route(txn, signal, instance, now));
    alert.remediation_id = outcome.remediation_id;
    alert.waiting = outcome.kind == SignalOutcome::Kind::kWaiting;
    alert.wait_until = alert.waiting ? outcome.wait_until : Timestamp{};
    return outcome.kind == SignalOutcome::Kind::kCreated;
}

Result<bool> SignalRouter::RouteFailedRun(storage::Txn& txn, model::HealthCheckRun& run,
                                          Timestamp now, bool first) {
    NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(run.instance_id));
    run.waiting = false;
    if (!instance) return false;
    auto failed = std::find_if(run.tests.begin(), run.tests.end(),
                               [](const auto& t) { return t.state == model::CheckState::kFailed; });
    if (failed == run.tests.end()) return false;
    auto mode_of_test = options_.test_modes.find(failed->name);
    const model::Mode mode =
        mode_of_test == options_.test_modes.end() ? model::Mode::kHostAware : mode_of_test->second;
    Signal signal{"health_check:" + failed->name,
                  mode,
                  "active health check " + failed->name + " failed" +
                      (failed->detail.empty() ? "" : ": " + failed->detail),
                  "",
                  run.id,
                  first};
    NR_ASSIGN_OR_RETURN(auto outcome, Route(txn, signal, *instance, now));
    run.remediation_id = outcome.remediation_id;
    run.waiting = outcome.kind == SignalOutcome::Kind::kWaiting;
    return outcome.kind == SignalOutcome::Kind::kCreated;
}

Result<int> SignalRouter::AutoResolve(storage::Txn& txn, Timestamp now) {
    NR_ASSIGN_OR_RETURN(auto resolvable, txn.Remediations().ListAutoResolvable(
                                             now - options_.auto_resolve_ttl, kAutoResolveBatch));
    int resolved = 0;
    for (const auto& id : resolvable) {
        NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().GetRow(id));
        if (!found || found->state != State::kPendingApproval) continue;
        Remediation r = std::move(*found);
        NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, r, remediation::Event::kAutoResolve, kSystemActor,
                                            "every linked alert resolved for " +
                                                std::to_string(options_.auto_resolve_ttl.count()) +
                                                " s"));
        ++resolved;
    }
    return resolved;
}

Status SignalRouter::TakeUpWaiting(storage::Txn& txn, Timestamp now) {
    NR_RETURN_IF_ERROR(TakeUpDue(txn, now));
    return JoinWaiting(txn, now);
}

Status SignalRouter::JoinWaiting(storage::Txn& txn, Timestamp now) {
    // Waiting signals whose instance has a remediation by now (made by TakeUpDue, or by a
    // person) join it as evidence: that needs no room.
    NR_ASSIGN_OR_RETURN(auto joinable, txn.Alerts().ListWaitingWithActiveRemediation(1000));
    for (auto& alert : joinable) {
        NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(alert.instance_id));
        alert.waiting = false;
        if (instance) NR_RETURN_IF_ERROR(RouteAlert(txn, alert, *instance, now, false));
        NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
    }
    return OkStatus();
}

Status SignalRouter::TakeUpDue(storage::Txn& txn, Timestamp now) {
    // Per cluster with room, the oldest due waiting signals until it is full again: one
    // cluster's storm never starves another's signals.
    NR_ASSIGN_OR_RETURN(auto clusters, txn.Alerts().ListClustersWithWaiting(now));
    for (const auto& cluster_id : clusters) {
        NR_ASSIGN_OR_RETURN(bool room, HasRoom(txn, cluster_id));
        if (!room) continue;
        NR_ASSIGN_OR_RETURN(auto waiting, txn.Alerts().ListWaiting(cluster_id, now, 1000));
        for (auto& alert : waiting) {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(alert.instance_id));
            const Timestamp waited_until = alert.wait_until;
            alert.waiting = false;
            bool created = false;
            if (instance && !alert.resolved_at) {
                NR_ASSIGN_OR_RETURN(created, RouteAlert(txn, alert, *instance, now, false));
            }
            // Still waiting as before (its rack still full, most often, in a storm): the row
            // is unchanged, and rewriting it was a fifth of each sweep (bench/RESULTS.md).
            if (alert.waiting && alert.wait_until == waited_until && alert.remediation_id.empty()) {
                continue;
            }
            NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
            if (created) {
                NR_ASSIGN_OR_RETURN(room, HasRoom(txn, cluster_id));
                if (!room) break;
            }
        }
    }
    NR_ASSIGN_OR_RETURN(auto waiting_runs, txn.HealthChecks().ListWaiting(1000));
    for (auto& run : waiting_runs) {
        NR_RETURN_IF_ERROR(RouteFailedRun(txn, run, now, false));
        NR_RETURN_IF_ERROR(txn.HealthChecks().Put(run));
    }
    return OkStatus();
}

}  // namespace noderepair::health
