#include "health/service.hpp"

#include <cstdio>
#include <memory>

#include "common/request_context.hpp"
#include "common/thread_name.hpp"
#include "model/inventory.hpp"

namespace noderepair::health {

HealthService::HealthService(storage::Store& store, const Clock& clock, Policy policy,
                             AutomationOptions options, CheckOptions checks,
                             remediation::Lifecycle& lifecycle, telemetry::Metrics* metrics)
    : store_(store),
      clock_(clock),
      metrics_(metrics),
      router_(std::move(policy), std::move(options), lifecycle),
      ingest_(store, clock, router_, metrics),
      checks_(store, clock, router_, lifecycle, std::move(checks), metrics) {}

HealthService::~HealthService() { Stop(); }

Status HealthService::SweepOnce(bool duties) {
    if (duties) {
        PolicyTally tally;
        NR_RETURN_IF_ERROR(store_.WriteAndWait([this, &tally](storage::Txn& txn) -> Status {
            // Exact limits across replicas (docs/design.md 12): one automation transaction at
            // a time on the database.
            NR_RETURN_IF_ERROR(txn.SerializeAutomation());
            router_.BeginTransaction();  // other transactions may have changed the counts
            const Timestamp now = clock_.Now();
            NR_RETURN_IF_ERROR(router_.AutoResolve(txn, now));
            NR_RETURN_IF_ERROR(router_.TakeUpWaiting(txn, now));
            tally = router_.tally();
            return OkStatus();
        }));
        if (metrics_ != nullptr) {
            metrics_->PolicyDecided(tally.escalations, tally.attention, tally.suspect_hosts,
                                    tally.incidents);
            metrics_->HealthSwept();
        }
    }
    return checks_.Advance();
}

void HealthService::Start(std::chrono::milliseconds interval, std::function<bool()> leads) {
    sweeper_ = std::thread([this, interval, leads = std::move(leads)] {
        NameThisThread("nr-health");
        ScopedActor actor("automation");
        std::unique_lock lock(mu_);
        while (!stopping_) {
            cv_.wait_for(lock, interval);
            if (stopping_) break;
            lock.unlock();
            Status swept = SweepOnce(!leads || leads());
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

void HealthService::SetClusterAutomation(const std::string& cluster_id,
                                         model::ClusterAutomation automation,
                                         std::function<void(Status)> done) {
    store_.Write(
        [cluster_id, automation = std::move(automation)](storage::Txn& txn) {
            return txn.Inventory().SetClusterAutomation(cluster_id, automation);
        },
        std::move(done));
}

Result<std::vector<model::Incident>> HealthService::ListIncidents(const std::string& cluster_id) {
    std::vector<model::Incident> incidents;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(bool known, reader.Inventory().HasCluster(cluster_id));
        if (!known) return NotFound("cluster " + cluster_id + " not found");
        NR_ASSIGN_OR_RETURN(incidents, reader.Inventory().ListIncidents(cluster_id, 1000));
        return OkStatus();
    }));
    return incidents;
}

void HealthService::CloseIncident(const std::string& cluster_id, const std::string& incident_id,
                                  bool release, const std::string& actor,
                                  std::function<void(Result<model::Incident>)> done) {
    auto closed = std::make_shared<model::Incident>();
    store_.Write(
        [this, cluster_id, incident_id, release, actor, closed](storage::Txn& txn) -> Status {
            // An incident decides what automation may create: one such change at a time across
            // replicas (docs/design.md 12).
            NR_RETURN_IF_ERROR(txn.SerializeAutomation());
            NR_ASSIGN_OR_RETURN(*closed, router_.CloseIncident(txn, cluster_id, incident_id,
                                                               release, actor, clock_.Now()));
            return OkStatus();
        },
        [closed, done = std::move(done)](Status s) {
            if (!s) return done(s.error());
            done(std::move(*closed));
        });
}

void HealthService::PatchInstance(const std::string& cluster_id, const std::string& instance_id,
                                  std::optional<bool> auto_repair, bool clear_attention,
                                  std::function<void(Status)> done) {
    store_.Write(
        [cluster_id, instance_id, auto_repair, clear_attention](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(instance_id));
            if (!instance || instance->cluster_id != cluster_id) {
                return NotFound("instance " + instance_id + " not found in cluster " + cluster_id);
            }
            if (auto_repair) {
                NR_RETURN_IF_ERROR(
                    txn.Inventory().SetInstanceAutoRepair(instance_id, *auto_repair));
            }
            if (clear_attention) {
                NR_RETURN_IF_ERROR(txn.Settings().Delete(model::AttentionSetting(instance_id)));
            }
            return OkStatus();
        },
        std::move(done));
}

}  // namespace noderepair::health
