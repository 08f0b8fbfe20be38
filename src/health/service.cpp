#include "health/service.hpp"

#include <cctype>
#include <cmath>
#include <future>

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

model::RemediationEvent StateEvent(Timestamp t, State s, std::string actor, std::string detail) {
    return {t, "state_change", s, "", std::move(actor), std::move(detail)};
}

}  // namespace

HealthService::HealthService(storage::Store& store, const Clock& clock, Policy policy,
                             AutomationOptions options, std::function<Timestamp()> next_timestamp)
    : store_(store),
      clock_(clock),
      policy_(std::move(policy)),
      options_(options),
      next_timestamp_(std::move(next_timestamp)) {}

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
        [result, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            done(*result);
        });
}

Result<IngestResult> HealthService::IngestInTxn(storage::Txn& txn,
                                                const std::vector<IncomingAlert>& incoming) {
    IngestResult result;
    const Timestamp now = clock_.Now();
    for (const auto& in : incoming) {
        ++result.alerts;
        NR_ASSIGN_OR_RETURN(auto existing, txn.GetAlertByFingerprint(in.fingerprint));
        // The same occurrence (same start, or still open) is refreshed; a fingerprint that
        // fires again after it resolved is a new occurrence.
        const bool same = existing && (existing->started_at == in.starts_at ||
                                       (!existing->resolved_at && in.firing) ||
                                       in.update_only);
        if (in.update_only && (!existing || existing->resolved_at)) continue;
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
            NR_ASSIGN_OR_RETURN(instance, txn.GetInstance(id->second));
        }
        for (const char* key : {"node", "target_vm", "hostname"}) {
            if (instance) break;
            if (auto name = in.labels.find(key); name != in.labels.end()) {
                NR_ASSIGN_OR_RETURN(instance, txn.FindInstanceByName(name->second));
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
            if (created) ++result.remediations_created;
        }
        NR_RETURN_IF_ERROR(txn.PutAlert(alert));
    }
    return result;
}

Result<bool> HealthService::Consider(storage::Txn& txn, Alert& alert,
                                     const model::Instance& instance, Timestamp now) {
    const Rule rule = policy_.RuleFor(alert);
    NR_ASSIGN_OR_RETURN(auto active, txn.GetActiveRemediation(instance.instance_id));
    if (active) {
        // Evidence for whatever already runs; only a waiting automated one is escalated.
        alert.remediation_id = active->id;
        alert.waiting = false;
        if (rule.mode && active->trigger == model::Trigger::kAutomated &&
            active->state == State::kPendingApproval &&
            EscalationRank(*rule.mode) > EscalationRank(active->mode)) {
            Remediation r = std::move(*active);
            const std::string detail = "escalated from " + std::string(model::WireName(r.mode)) +
                                       " to " + std::string(model::WireName(*rule.mode)) +
                                       " by " + alert.alert_name;
            r.mode = *rule.mode;
            r.update_time = next_timestamp_();
            NR_RETURN_IF_ERROR(txn.UpdateRemediation(r, State::kPendingApproval));
            NR_RETURN_IF_ERROR(txn.AppendEvent(
                r.id, StateEvent(r.update_time, r.state, kSystemActor, detail)));
        }
        return false;
    }
    if (!rule.mode || !instance.auto_repair) return false;
    NR_ASSIGN_OR_RETURN(auto last_end, txn.LastRemediationEnd(instance.instance_id));
    if (last_end && now < *last_end + options_.cooldown) return false;
    NR_ASSIGN_OR_RETURN(int active_count, txn.CountActiveRemediations(instance.cluster_id));
    NR_ASSIGN_OR_RETURN(int instances, txn.CountInstances(instance.cluster_id));
    if (active_count >=
        BlastRadiusLimit(instances, options_.max_active_fraction, options_.max_active)) {
        alert.waiting = true;  // taken up by the sweeper when room frees
        return false;
    }
    NR_ASSIGN_OR_RETURN(auto automation, txn.GetClusterAutomation(instance.cluster_id));
    Remediation r;
    r.create_time = r.update_time = next_timestamp_();
    r.id = NewUuidV7(r.create_time);
    r.cluster_id = instance.cluster_id;
    r.instance_id = instance.instance_id;
    r.instance_name = instance.instance_name;
    r.mode = r.requested_mode = *rule.mode;
    r.trigger = model::Trigger::kAutomated;
    r.state = State::kPendingApproval;
    r.reason = ReasonFor(alert, *rule.mode);
    r.passive_health_check_event_id = alert.id;
    r.requested_by = kSystemActor;
    const bool in_scope =
        automation.automatic &&
        (automation.automatic_alerts.empty() ||
         std::find(automation.automatic_alerts.begin(), automation.automatic_alerts.end(),
                   alert.alert_name) != automation.automatic_alerts.end());
    // API.md 5: an eviction takes capacity away for good; a person always decides it.
    const bool auto_approve = in_scope && r.mode != model::Mode::kEvictWithoutReplacement;
    NR_RETURN_IF_ERROR(txn.InsertRemediation(r));
    NR_RETURN_IF_ERROR(txn.AppendEvent(
        r.id, StateEvent(r.create_time, r.state, kSystemActor, "created from alert " +
                                                                   alert.alert_name + " " +
                                                                   alert.id)));
    if (auto_approve) {
        r.state = State::kPending;
        r.update_time = next_timestamp_();
        r.reviewed_by = kAutoApproved;
        r.review_time = r.update_time;
        r.review_comment = "cluster automation policy is automatic for " + alert.alert_name;
        NR_RETURN_IF_ERROR(txn.UpdateRemediation(r, State::kPendingApproval));
        NR_RETURN_IF_ERROR(txn.AppendEvent(
            r.id, StateEvent(r.update_time, r.state, kAutoApproved, r.review_comment)));
    }
    alert.remediation_id = r.id;
    alert.waiting = false;
    return true;
}

Status HealthService::SweepInTxn(storage::Txn& txn) {
    const Timestamp now = clock_.Now();
    // Auto-resolve (API.md 5): every linked alert resolved for the TTL.
    NR_ASSIGN_OR_RETURN(auto resolvable, txn.ListAutoResolvable(now - options_.auto_resolve_ttl, 500));
    for (const auto& id : resolvable) {
        NR_ASSIGN_OR_RETURN(auto found, txn.GetRemediation(id));
        if (!found || found->state != State::kPendingApproval) continue;
        Remediation r = std::move(*found);
        r.state = State::kAutoResolved;
        r.update_time = next_timestamp_();
        r.end_time = r.update_time;
        NR_RETURN_IF_ERROR(txn.UpdateRemediation(r, State::kPendingApproval));
        NR_RETURN_IF_ERROR(txn.AppendEvent(
            r.id, StateEvent(r.update_time, r.state, kSystemActor,
                             "every linked alert resolved for " +
                                 std::to_string(options_.auto_resolve_ttl.count()) + " s")));
    }
    // Signals held back by the blast radius, oldest first.
    NR_ASSIGN_OR_RETURN(auto waiting, txn.ListWaitingAlerts(1000));
    for (auto& alert : waiting) {
        NR_ASSIGN_OR_RETURN(auto instance, txn.GetInstance(alert.instance_id));
        alert.waiting = false;
        if (instance && !alert.resolved_at) {
            NR_RETURN_IF_ERROR(Consider(txn, alert, *instance, now));
        }
        NR_RETURN_IF_ERROR(txn.PutAlert(alert));
    }
    return OkStatus();
}

Status HealthService::SweepOnce() {
    return store_.WriteAndWait([this](storage::Txn& txn) { return SweepInTxn(txn); });
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

Result<storage::AlertPage> HealthService::ListAlerts(const storage::AlertQuery& query) {
    storage::AlertPage page;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(bool known, reader.HasCluster(query.cluster_id));
        if (!known) return NotFound("cluster " + query.cluster_id + " not found");
        NR_ASSIGN_OR_RETURN(page, reader.ListAlerts(query));
        return OkStatus();
    }));
    return page;
}

void HealthService::SetClusterAutomation(const std::string& cluster_id,
                                         model::ClusterAutomation automation,
                                         std::function<void(Status)> done) {
    store_.Write(
        [cluster_id, automation = std::move(automation)](storage::Txn& txn) {
            return txn.SetClusterAutomation(cluster_id, automation);
        },
        std::move(done));
}

void HealthService::SetAutoRepair(const std::string& cluster_id, const std::string& instance_id,
                                  bool auto_repair, std::function<void(Status)> done) {
    store_.Write(
        [cluster_id, instance_id, auto_repair](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto instance, txn.GetInstance(instance_id));
            if (!instance || instance->cluster_id != cluster_id) {
                return NotFound("instance " + instance_id + " not found in cluster " +
                                cluster_id);
            }
            return txn.SetInstanceAutoRepair(instance_id, auto_repair);
        },
        std::move(done));
}

}  // namespace noderepair::health
