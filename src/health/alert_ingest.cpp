#include "health/alert_ingest.hpp"

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ids.hpp"

namespace noderepair::health {
namespace {

using InstancesById = std::unordered_map<std::string, model::Instance>;

// The instance an alert's labels name: instance_id (among the webhook's, read together), else
// node / target_vm / hostname by name.
Result<std::optional<model::Instance>> InstanceOf(storage::Txn& txn,
                                                  const model::IncomingAlert& alert,
                                                  const InstancesById& by_id) {
    std::optional<model::Instance> instance;
    if (auto id = alert.labels.find("instance_id"); id != alert.labels.end()) {
        if (auto found = by_id.find(id->second); found != by_id.end()) instance = found->second;
    }
    for (const char* key : {"node", "target_vm", "hostname"}) {
        if (instance) break;
        if (auto name = alert.labels.find(key); name != alert.labels.end()) {
            NR_ASSIGN_OR_RETURN(instance, txn.Inventory().FindInstanceByName(name->second));
        }
    }
    return instance;
}

}  // namespace

void AlertIngest::Ingest(std::vector<model::IncomingAlert> alerts, ClusterFilter in_scope,
                         std::function<void(Result<IngestResult>)> done) {
    auto result = std::make_shared<Result<IngestResult>>(IngestResult{});
    store_.Write(
        [this, alerts = std::move(alerts), in_scope = std::move(in_scope),
         result](storage::Txn& txn) -> Status {
            *result = IngestInTxn(txn, alerts, in_scope);
            if (!*result) return result->error();
            return OkStatus();
        },
        [this, result, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            Count(**result);
            done(*result);
        });
}

Result<IngestResult> AlertIngest::IngestInTxn(storage::Txn& txn,
                                              const std::vector<model::IncomingAlert>& incoming,
                                              const ClusterFilter& in_scope) {
    // Exact limits across replicas (docs/design.md 12): one automation transaction at a time.
    NR_RETURN_IF_ERROR(txn.SerializeAutomation());
    router_.BeginTransaction();
    IngestResult result;
    const Timestamp now = clock_.Now();
    // The webhook's instances, their hosts, their scopes' latest incidents and the newest
    // alert of each of its fingerprints, one statement each in this transaction instead of one
    // per alert (docs/http-api.md 5, "Ingest rate").
    // Nothing below writes an instance; the loop keeps the fingerprints' alerts as it stores
    // them, since a webhook may name a fingerprint twice.
    std::vector<std::string> instance_ids;
    std::vector<std::string> fingerprints;
    for (const auto& in : incoming) {
        if (auto id = in.labels.find("instance_id"); id != in.labels.end()) {
            instance_ids.push_back(id->second);
        }
        fingerprints.push_back(in.fingerprint);
    }
    InstancesById instances;
    NR_ASSIGN_OR_RETURN(auto found, txn.Inventory().GetInstances(instance_ids));
    for (auto& instance : found) instances.emplace(instance.instance_id, std::move(instance));
    std::vector<const model::Instance*> routed;
    for (const auto& [id, instance] : instances) routed.push_back(&instance);
    NR_RETURN_IF_ERROR(router_.ReadAhead(txn, routed));
    std::unordered_map<std::string, model::Alert> newest;
    NR_ASSIGN_OR_RETURN(auto stored, txn.Alerts().GetByFingerprints(fingerprints));
    for (auto& alert : stored) newest.emplace(alert.fingerprint, std::move(alert));
    for (const auto& in : incoming) {
        NR_ASSIGN_OR_RETURN(auto instance, InstanceOf(txn, in, instances));
        std::optional<model::Alert> existing;
        if (auto known = newest.find(in.fingerprint); known != newest.end()) {
            existing = known->second;
        }
        // docs/http-api.md 10: a scoped sender neither stores nor acts on an alert outside its
        // clusters, nor rewrites one of another cluster's alerts through its fingerprint.
        if (in_scope && (!instance || !in_scope(instance->cluster_id) ||
                         (existing && !in_scope(existing->cluster_id)))) {
            ++result.out_of_scope;
            continue;
        }
        ++result.alerts;
        ++(in.firing ? result.firing : result.resolved);
        // The same occurrence (same start, or still open) is refreshed; a fingerprint that
        // fires again after it resolved is a new occurrence.
        const bool same = existing && (existing->started_at == in.starts_at ||
                                       (!existing->resolved_at && in.firing));
        model::Alert alert = same ? *existing : model::Alert{};
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
        const Rule rule = router_.policy().RuleFor(alert);
        alert.severity = rule.severity;
        // A new firing episode is one occurrence, kept for policy replay; a repeat of an open
        // one is not (docs/http-api.md 11).
        if (instance && in.firing && (!same || existing->resolved_at)) {
            NR_RETURN_IF_ERROR(
                txn.Alerts().AppendOccurrence({0, now, instance->cluster_id, instance->instance_id,
                                               alert.alert_name, rule.mode, alert.id, ""}));
        }
        // Repeats refresh; only a firing alert not yet acted on is considered.
        if (instance && in.firing && alert.remediation_id.empty()) {
            // A repeat of an occurrence that waits was counted when it first came.
            NR_ASSIGN_OR_RETURN(bool created,
                                router_.RouteAlert(txn, alert, *instance, now, !same));
            ++(created                         ? result.remediations_created
               : alert.waiting                 ? result.waiting
               : !alert.remediation_id.empty() ? result.linked
                                               : result.ignored);
        } else if (!instance && in.firing) {
            ++result.unmatched;
        }
        // A repeat that changes nothing is not stored again (Alertmanager sends every alert of
        // a group again with each notification of it): its row and index entries stay.
        if (!existing || alert != *existing) NR_RETURN_IF_ERROR(txn.Alerts().Put(alert));
        // GetByFingerprint's answer from now on: the newest start, and of equal starts the one
        // stored last.
        if (!existing || alert.started_at >= existing->started_at) {
            newest.insert_or_assign(in.fingerprint, std::move(alert));
        }
    }
    result.policy = router_.tally();
    return result;
}

Result<storage::AlertPage> AlertIngest::List(const storage::AlertQuery& query) {
    storage::AlertPage page;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(bool known, reader.Inventory().HasCluster(query.cluster_id));
        if (!known) return NotFound("cluster " + query.cluster_id + " not found");
        NR_ASSIGN_OR_RETURN(page, reader.Alerts().List(query));
        return OkStatus();
    }));
    return page;
}

void AlertIngest::Count(const IngestResult& result) {
    if (metrics_ == nullptr) return;
    using telemetry::AlertOutcome;
    metrics_->AlertReceived(true, result.firing);
    metrics_->AlertReceived(false, result.resolved);
    metrics_->AlertHandled(AlertOutcome::kCreated, result.remediations_created);
    metrics_->AlertHandled(AlertOutcome::kLinked, result.linked);
    metrics_->AlertHandled(AlertOutcome::kWaiting, result.waiting);
    metrics_->AlertHandled(AlertOutcome::kIgnored, result.ignored);
    metrics_->AlertHandled(AlertOutcome::kUnmatched, result.unmatched);
    metrics_->AlertHandled(AlertOutcome::kOutOfScope, result.out_of_scope);
    metrics_->PolicyDecided(result.policy.escalations, result.policy.attention,
                            result.policy.suspect_hosts, result.policy.incidents);
}

}  // namespace noderepair::health
