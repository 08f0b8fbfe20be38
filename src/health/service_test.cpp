#include "health/service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "remediation/service.hpp"
#include "storage/sqlite/connection.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::health {
namespace {

using model::Alert;
using model::Mode;
using model::Remediation;
using model::Severity;
using model::State;
using model::Trigger;
using storage::test_support::IsOk;
using storage::test_support::MakeRemediation;
using storage::test_support::ReadValue;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;
using namespace std::chrono_literals;

constexpr const char* kSystemActor = "system:health-checks";

auth::Principal Operator() { return {"alice", auth::Role::kOperator, {}}; }
auth::Principal Approver() { return {"bob", auth::Role::kApprover, {}}; }

// Room for every instance of the test fleet's c1 (4 instances), so only the tests about the
// blast radius meet it.
AutomationOptions Roomy() {
    AutomationOptions o;
    o.max_active_fraction = 1.0;
    return o;
}

// A firing alert named `name` on the instance the labels name.
IncomingAlert Firing(const std::string& name, std::map<std::string, std::string> labels,
                     const std::string& fingerprint, Timestamp starts_at) {
    IncomingAlert a;
    a.firing = true;
    a.labels = std::move(labels);
    a.labels["alertname"] = name;
    a.starts_at = starts_at;
    a.fingerprint = fingerprint;
    return a;
}

IncomingAlert Resolved(IncomingAlert a, std::optional<Timestamp> ends_at) {
    a.firing = false;
    a.ends_at = ends_at;
    return a;
}

template <class T>
Result<T> AwaitResult(const std::function<void(std::function<void(Result<T>)>)>& call) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    call([promise](Result<T> r) { promise->set_value(std::move(r)); });
    return future.get();
}

Status AwaitStatus(const std::function<void(std::function<void(Status)>)>& call) {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    call([promise](Status s) { promise->set_value(std::move(s)); });
    return future.get();
}

class HealthServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = storage::test_support::OpenWithTestFleet("sqlite:" + dir_.path() + "/health.db");
        ASSERT_NE(store_, nullptr);
        remediations_ = std::make_unique<remediation::RemediationService>(*store_, lifecycle_);
        clock_.Advance(1h);
        StartHealth(Roomy());
    }

    void TearDown() override {
        health_.reset();
        if (store_) store_->Close();
    }

    void StartHealth(AutomationOptions options, Policy policy = Policy()) {
        health_.reset();
        health_ = std::make_unique<HealthService>(*store_, clock_, std::move(policy), options,
                                                  CheckOptions{}, lifecycle_);
    }

    // `in_scope` null: a sender of every cluster.
    Result<IngestResult> Ingest(std::vector<IncomingAlert> alerts,
                                ClusterFilter in_scope = nullptr) {
        return AwaitResult<IngestResult>([&](std::function<void(Result<IngestResult>)> done) {
            health_->Ingest(std::move(alerts), std::move(in_scope), std::move(done));
        });
    }

    // Ingests and expects success with `created` new remediations.
    void IngestOk(std::vector<IncomingAlert> alerts, int created) {
        const int count = int(alerts.size());
        auto result = Ingest(std::move(alerts));
        ASSERT_TRUE(result) << result.error().message;
        EXPECT_EQ(result->alerts, count);
        EXPECT_EQ(result->remediations_created, created);
    }

    template <class T, class F>
    T ReadOk(F read) {
        auto got = ReadValue<T>(*store_, read);
        EXPECT_TRUE(got) << got.error().message;
        if (!got) return T{};
        return std::move(got).value();
    }

    // The alert with this fingerprint; a test failure when there is none.
    Alert AlertOf(const std::string& fingerprint) {
        auto a = FindAlert(fingerprint);
        if (!a) ADD_FAILURE() << "no alert with fingerprint " << fingerprint;
        return a ? *a : Alert{};
    }

    Remediation GetOk(const std::string& id) {
        auto r = Get(id);
        if (!r) ADD_FAILURE() << "no remediation " << id;
        return r ? *r : Remediation{};
    }

    Remediation ActiveOk(const std::string& instance_id) {
        auto r = Active(instance_id);
        if (!r) ADD_FAILURE() << "no active remediation of " << instance_id;
        return r ? *r : Remediation{};
    }

    std::optional<Remediation> Get(const std::string& id) {
        return ReadOk<std::optional<Remediation>>(
            [&](storage::Reader& r) { return r.Remediations().Get(id); });
    }

    std::optional<Remediation> Active(const std::string& instance_id) {
        auto active = ReadOk<std::optional<Remediation>>(
            [&](storage::Reader& r) { return r.Remediations().GetActive(instance_id); });
        if (!active) return active;
        return Get(active->id);  // with its linked alerts
    }

    std::optional<Alert> FindAlert(const std::string& fingerprint) {
        return ReadOk<std::optional<Alert>>(
            [&](storage::Reader& r) { return r.Alerts().GetByFingerprint(fingerprint); });
    }

    // Every remediation of a cluster, newest first.
    std::vector<Remediation> All(const std::string& cluster_id = "c1") {
        storage::ListQuery q;
        q.cluster_id = cluster_id;
        q.limit = 1000;
        return ReadOk<storage::RemediationPage>(
                   [&](storage::Reader& r) { return r.Remediations().List(q); })
            .remediations;
    }

    std::vector<Alert> Alerts(const std::string& cluster_id = "c1") {
        storage::AlertQuery q;
        q.cluster_id = cluster_id;
        q.limit = 1000;
        return ReadOk<storage::AlertPage>([&](storage::Reader& r) { return r.Alerts().List(q); })
            .alerts;
    }

    int ActiveCount(const std::string& cluster_id) {
        return ReadOk<int>(
            [&](storage::Reader& r) { return r.Remediations().CountActive(cluster_id); });
    }

    int WaitingSignals(const std::string& cluster_id) {
        auto cluster = ReadOk<std::optional<model::Cluster>>(
            [&](storage::Reader& r) { return r.Inventory().GetCluster(cluster_id); });
        EXPECT_TRUE(cluster);
        return cluster ? cluster->waiting_signals : -1;
    }

    std::vector<model::RemediationEvent> Events(const std::string& id) {
        return ReadOk<std::vector<model::RemediationEvent>>(
            [&](storage::Reader& r) { return r.Remediations().ListEvents(id); });
    }

    Result<Remediation> CreateManual(const std::string& instance_id, Mode mode = Mode::kVmOnly) {
        remediation::CreateRequest request;
        request.cluster_id = instance_id.starts_with("j") ? "c2" : "c1";
        request.instance_id = instance_id;
        request.mode = mode;
        request.reason = "manual";
        return AwaitResult<Remediation>([&](remediation::Reply<Remediation> reply) {
            remediations_->Create(Operator(), request, std::move(reply));
        });
    }

    Result<Remediation> Cancel(const Remediation& r) {
        return AwaitResult<Remediation>([&](remediation::Reply<Remediation> reply) {
            remediations_->Cancel(Operator(), {r.cluster_id, r.instance_id, r.id},
                                  std::move(reply));
        });
    }

    Result<Remediation> Approve(const Remediation& r) {
        return AwaitResult<Remediation>([&](remediation::Reply<Remediation> reply) {
            remediations_->Approve(Approver(), {r.cluster_id, r.instance_id, r.id}, {},
                                   std::move(reply));
        });
    }

    Status InsertDirect(const Remediation& r) {
        return store_->WriteAndWait([r](storage::Txn& txn) {
            return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r);
        });
    }

    Status SetAutomation(const std::string& cluster_id, model::ClusterAutomation automation) {
        return AwaitStatus([&](std::function<void(Status)> done) {
            health_->SetClusterAutomation(cluster_id, automation, std::move(done));
        });
    }

    Status SetAutoRepair(const std::string& cluster_id, const std::string& instance_id,
                         bool auto_repair) {
        return AwaitStatus([&](std::function<void(Status)> done) {
            health_->PatchInstance(cluster_id, instance_id, auto_repair, false, std::move(done));
        });
    }

    Timestamp Now() const { return clock_.Now(); }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<storage::Store> store_;
    std::unique_ptr<remediation::RemediationService> remediations_;
    std::unique_ptr<HealthService> health_;
};

// ---- Creating ------------------------------------------------------------------------------

TEST_F(HealthServiceTest, FiringAlertCreatesAnAutomatedRemediationAsTheContractSays) {
    const Timestamp started = Now() - 30s;
    IncomingAlert in = Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp-1", started);
    in.annotations = {{"summary", "GPU 3 fell off the bus"}, {"description", "dmesg says so"}};
    IngestOk({in}, 1);

    auto r = Active("i1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->id.size(), 36u) << r->id;
    EXPECT_EQ(r->cluster_id, "c1");
    EXPECT_EQ(r->instance_id, "i1");
    EXPECT_EQ(r->instance_name, "i1-name");
    EXPECT_EQ(r->mode, Mode::kHostAware);
    EXPECT_EQ(r->requested_mode, Mode::kHostAware);
    EXPECT_EQ(r->trigger, Trigger::kAutomated);
    EXPECT_EQ(r->state, State::kPendingApproval);
    EXPECT_EQ(r->requested_by, kSystemActor);
    EXPECT_NE(r->reason.find("DmesgGpuFallenOffBus"), std::string::npos) << r->reason;
    EXPECT_EQ(r->active_health_check_run_id, "");
    EXPECT_EQ(r->reviewed_by, "");
    EXPECT_FALSE(r->review_time);
    EXPECT_EQ(r->review_comment, "");
    EXPECT_FALSE(r->start_time);
    EXPECT_FALSE(r->end_time);
    EXPECT_EQ(r->error_message, "");
    EXPECT_EQ(r->create_time, r->update_time);
    EXPECT_GE(r->create_time, Now());

    ASSERT_EQ(r->linked_alerts.size(), 1u);
    const Alert& a = r->linked_alerts[0];
    EXPECT_EQ(r->passive_health_check_event_id, a.id);
    EXPECT_FALSE(a.id.empty());
    EXPECT_EQ(a.fingerprint, "fp-1");
    EXPECT_EQ(a.alert_name, "DmesgGpuFallenOffBus");
    EXPECT_EQ(a.cluster_id, "c1");
    EXPECT_EQ(a.instance_id, "i1");
    EXPECT_EQ(a.target_vm, "i1-name");
    EXPECT_EQ(a.severity, Severity::kCritical);
    EXPECT_EQ(a.labels, in.labels);
    EXPECT_EQ(a.annotations, in.annotations);
    EXPECT_EQ(a.started_at, started);
    EXPECT_FALSE(a.resolved_at);
    EXPECT_EQ(a.remediation_id, r->id);
    EXPECT_FALSE(a.waiting);

    auto events = Events(r->id);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "state_change");
    EXPECT_EQ(events[0].state, State::kPendingApproval);
    EXPECT_EQ(events[0].actor, kSystemActor);
    EXPECT_EQ(events[0].time, r->create_time);
}

TEST_F(HealthServiceTest, XidAlertCarriesItsCodeIntoTheReasonAndMode) {
    IngestOk({Firing("DmesgXidError", {{"instance_id", "i1"}, {"xid", "79"}}, "fp", Now())}, 1);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->mode, Mode::kHostAware);
    EXPECT_NE(r->reason.find("79"), std::string::npos) << r->reason;
    ASSERT_EQ(r->linked_alerts.size(), 1u);
    EXPECT_EQ(r->linked_alerts[0].severity, Severity::kCritical);
}

TEST_F(HealthServiceTest, MapsAnInstanceByNodeTargetVmOrHostnameLabel) {
    IngestOk({Firing("NpdXfsShutdown", {{"node", "i1-name"}}, "fp-node", Now()),
              Firing("NpdXfsShutdown", {{"target_vm", "i2-name"}}, "fp-vm", Now()),
              Firing("NpdXfsShutdown", {{"hostname", "i3-name"}}, "fp-host", Now())},
             3);
    for (const auto& [fp, instance] : std::map<std::string, std::string>{
             {"fp-node", "i1"}, {"fp-vm", "i2"}, {"fp-host", "i3"}}) {
        SCOPED_TRACE(fp);
        auto a = FindAlert(fp);
        ASSERT_TRUE(a);
        EXPECT_EQ(a->cluster_id, "c1");
        EXPECT_EQ(a->instance_id, instance);
        EXPECT_EQ(a->target_vm, instance + "-name");
        auto r = Active(instance);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->mode, Mode::kVmOnly);
        EXPECT_EQ(a->remediation_id, r->id);
    }
}

TEST_F(HealthServiceTest, InstanceIdLabelWinsOverANodeLabel) {
    IngestOk({Firing("NpdXfsShutdown", {{"instance_id", "i2"}, {"node", "i1-name"}}, "fp", Now())},
             1);
    EXPECT_TRUE(Active("i2"));
    EXPECT_FALSE(Active("i1"));
}

// docs/http-api.md 10: a sender scoped to c1.
ClusterFilter OnlyC1() {
    return [](const std::string& cluster_id) { return cluster_id == "c1"; };
}

TEST_F(HealthServiceTest, ScopedSenderDropsAlertsOfOtherClustersAndUnknownInstances) {
    auto result =
        Ingest({Firing("DmesgXidError", {{"instance_id", "i1"}, {"xid", "79"}}, "fp-in", Now()),
                Firing("DmesgXidError", {{"instance_id", "j1"}, {"xid", "79"}}, "fp-out", Now()),
                Firing("NpdXfsShutdown", {{"node", "j1-name"}}, "fp-out-node", Now()),
                Firing("DmesgXidError", {{"node", "gpu-node-99"}}, "fp-unknown", Now())},
               OnlyC1());
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->alerts, 1);
    EXPECT_EQ(result->out_of_scope, 3);
    EXPECT_EQ(result->remediations_created, 1);
    EXPECT_EQ(result->unmatched, 0);
    EXPECT_TRUE(FindAlert("fp-in"));
    for (const char* fp : {"fp-out", "fp-out-node", "fp-unknown"}) {
        EXPECT_FALSE(FindAlert(fp)) << fp << " was stored";
    }
    EXPECT_TRUE(Active("i1"));
    EXPECT_FALSE(Active("j1"));
    EXPECT_TRUE(All("c2").empty());
}

TEST_F(HealthServiceTest, ScopedSenderCannotRewriteAnotherClustersAlertByItsFingerprint) {
    IngestOk({Firing("NpdXfsShutdown", {{"instance_id", "j1"}}, "fp-j1", Now())}, 1);
    const Alert before = AlertOf("fp-j1");
    // The same fingerprint, relabelled onto an instance the sender may touch, and resolved.
    auto result =
        Ingest({Resolved(Firing("NpdXfsShutdown", {{"instance_id", "i1"}}, "fp-j1", Now()), Now())},
               OnlyC1());
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->alerts, 0);
    EXPECT_EQ(result->out_of_scope, 1);
    const Alert after = AlertOf("fp-j1");
    EXPECT_EQ(after.cluster_id, "c2");
    EXPECT_EQ(after.instance_id, "j1");
    EXPECT_EQ(after.resolved_at, before.resolved_at);
    EXPECT_FALSE(Active("i1"));
}

TEST_F(HealthServiceTest, AlertForAnUnknownInstanceIsRecordedOnly) {
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"node", "gpu-node-99"}}, "fp-unknown", Now()),
              Firing("DmesgGpuFallenOffBus", {{"instance_id", "nope"}}, "fp-unknown-id", Now()),
              Firing("DmesgGpuFallenOffBus", {}, "fp-unlabelled", Now())},
             0);
    auto a = FindAlert("fp-unknown");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->cluster_id, "");
    EXPECT_EQ(a->instance_id, "");
    EXPECT_EQ(a->target_vm, "gpu-node-99");
    EXPECT_EQ(a->remediation_id, "");
    EXPECT_FALSE(a->waiting);
    EXPECT_EQ(a->severity, Severity::kCritical);
    EXPECT_TRUE(FindAlert("fp-unknown-id"));
    EXPECT_TRUE(FindAlert("fp-unlabelled"));
    EXPECT_TRUE(All("c1").empty());
    EXPECT_TRUE(All("c2").empty());
}

TEST_F(HealthServiceTest, AlertMatchingNoRuleIsRecordedWithoutARemediation) {
    IngestOk({Firing("NodeDown", {{"instance_id", "i1"}}, "fp-a", Now()),
              Firing("SlurmNodeUnavailable", {{"instance_id", "i2"}, {"reason", "drain"}}, "fp-b",
                     Now()),
              Firing("KubeNodeDiskPressure", {{"instance_id", "i3"}}, "fp-c", Now())},
             0);
    EXPECT_TRUE(All().empty());
    auto a = FindAlert("fp-a");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->instance_id, "i1");
    EXPECT_EQ(a->remediation_id, "");
    EXPECT_FALSE(a->waiting);
    EXPECT_EQ(Alerts().size(), 3u);
}

TEST_F(HealthServiceTest, ResolvedAlertNeverCreatesARemediation) {
    IngestOk({Resolved(Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp", Now() - 60s),
                       Now() - 10s)},
             0);
    EXPECT_TRUE(All().empty());
    auto a = FindAlert("fp");
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->resolved_at);
    EXPECT_EQ(*a->resolved_at, Now() - 10s);
    EXPECT_FALSE(a->waiting);
}

TEST_F(HealthServiceTest, ResolvedAlertInAFiringGroupIsActedOnByItsOwnStatus) {
    const Timestamp started = Now() - 60s;
    IngestOk({Firing("NpdKernelDeadlock", {{"node", "i1-name"}}, "fp-1", started),
              Resolved(Firing("NpdKernelDeadlock", {{"node", "i2-name"}}, "fp-2", started),
                       started + 3s)},
             1);
    EXPECT_TRUE(Active("i1"));
    EXPECT_FALSE(Active("i2"));
    auto resolved = FindAlert("fp-2");
    ASSERT_TRUE(resolved);
    ASSERT_TRUE(resolved->resolved_at);
    EXPECT_EQ(*resolved->resolved_at, started + 3s);
    EXPECT_EQ(resolved->instance_id, "i2");
    EXPECT_EQ(resolved->remediation_id, "");
    auto firing = FindAlert("fp-1");
    ASSERT_TRUE(firing);
    EXPECT_FALSE(firing->resolved_at);
}

// ---- Deduplication -------------------------------------------------------------------------

TEST_F(HealthServiceTest, RepeatsOfAFingerprintNeverDuplicate) {
    const Timestamp started = Now() - 60s;
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", started);
    IngestOk({in}, 1);
    auto first = FindAlert("fp");
    ASSERT_TRUE(first);
    for (int i = 0; i < 4; ++i) {
        clock_.Advance(30s);
        in.annotations["summary"] = "repeat " + std::to_string(i);
        IngestOk({in}, 0);
    }
    IngestOk({in, in, in}, 0);
    auto alerts = Alerts();
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].id, first->id);
    EXPECT_EQ(alerts[0].started_at, started);
    EXPECT_EQ(alerts[0].annotations.at("summary"), "repeat 3") << "a repeat refreshes it";
    EXPECT_EQ(All().size(), 1u);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->linked_alerts.size(), 1u);
}

// Alertmanager sends every alert of a group again with each notification of it: a repeat that
// changes nothing writes nothing, one that changes something is stored (docs/http-api.md 5,
// "Ingest rate"). PRAGMA data_version moves when another connection commits a change.
TEST_F(HealthServiceTest, ARepeatThatChangesNothingWritesNothing) {
    IncomingAlert linked = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp1", Now());
    IncomingAlert waits = Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp2", Now());
    IngestOk({linked}, 1);
    AutomationOptions one = Roomy();
    one.max_active = 1;
    StartHealth(one, Policy());
    IngestOk({waits}, 0);
    ASSERT_TRUE(AlertOf("fp2").waiting);
    auto watcher = storage::sqlite::Connection::OpenReadOnly(dir_.path() + "/health.db");
    ASSERT_TRUE(watcher) << watcher.error().message;
    auto version = [&]() -> int64_t {
        auto stmt = (*watcher)->Prepare("PRAGMA data_version");
        EXPECT_TRUE(stmt);
        if (!stmt) return -1;
        auto row = stmt->Step();
        EXPECT_TRUE(row && *row);
        return row && *row ? stmt->Int(0) : -1;
    };
    const int64_t before = version();
    IngestOk({linked, waits}, 0);
    EXPECT_EQ(version(), before) << "a repeat that changed nothing was written";
    waits.annotations["summary"] = "changed";
    IngestOk({linked, waits}, 0);
    EXPECT_NE(version(), before);
    EXPECT_EQ(AlertOf("fp2").annotations.at("summary"), "changed");
    EXPECT_TRUE(AlertOf("fp2").waiting);
}

TEST_F(HealthServiceTest, RepeatsInOneBatchOfANewFingerprintMakeOneAlert) {
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", Now());
    IngestOk({in, in, in}, 1);
    EXPECT_EQ(Alerts().size(), 1u);
    EXPECT_EQ(All().size(), 1u);
}

TEST_F(HealthServiceTest, RepeatWithALaterStartWhileStillFiringIsTheSameAlert) {
    const Timestamp started = Now() - 60s;
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", started)}, 1);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", started + 5s)}, 0);
    ASSERT_EQ(Alerts().size(), 1u);
}

TEST_F(HealthServiceTest, ResolveOfAKnownAlertUpdatesItInPlace) {
    const Timestamp started = Now() - 60s;
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", started);
    IngestOk({in}, 1);
    IngestOk({Resolved(in, started + 20s)}, 0);
    auto alerts = Alerts();
    ASSERT_EQ(alerts.size(), 1u);
    ASSERT_TRUE(alerts[0].resolved_at);
    EXPECT_EQ(*alerts[0].resolved_at, started + 20s);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, State::kPendingApproval);
    ASSERT_EQ(r->linked_alerts.size(), 1u);
    EXPECT_TRUE(r->linked_alerts[0].resolved_at) << "linked alerts include resolved ones";
    // A second resolve keeps the first resolve time.
    IngestOk({Resolved(in, started + 50s)}, 0);
    auto again = FindAlert("fp");
    ASSERT_TRUE(again);
    ASSERT_TRUE(again->resolved_at);
    EXPECT_EQ(*again->resolved_at, started + 20s);
}

TEST_F(HealthServiceTest, ResolveWithoutEndsAtUsesTheClock) {
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", Now() - 60s);
    IngestOk({in}, 1);
    clock_.Advance(7s);
    IngestOk({Resolved(in, std::nullopt)}, 0);
    auto a = FindAlert("fp");
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->resolved_at);
    EXPECT_EQ(*a->resolved_at, Now());
}

// ---- Linking and escalation ----------------------------------------------------------------

TEST_F(HealthServiceTest, FiringAlertIsLinkedToAnActiveManualRemediation) {
    auto manual = CreateManual("i1", Mode::kRebootVm);
    ASSERT_TRUE(manual) << manual.error().message;
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp", Now())}, 0);
    auto r = Get(manual->id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->mode, Mode::kRebootVm) << "a manual one is never escalated";
    EXPECT_EQ(r->state, State::kPending);
    EXPECT_EQ(r->trigger, Trigger::kManual);
    EXPECT_EQ(r->update_time, manual->update_time);
    ASSERT_EQ(r->linked_alerts.size(), 1u);
    EXPECT_EQ(r->linked_alerts[0].fingerprint, "fp");
    EXPECT_EQ(AlertOf("fp").remediation_id, manual->id);
    EXPECT_EQ(All().size(), 1u);
    EXPECT_EQ(Events(manual->id).size(), 1u);
}

TEST_F(HealthServiceTest, AlertWithoutARuleIsStillLinkedAsEvidence) {
    auto manual = CreateManual("i1");
    ASSERT_TRUE(manual) << manual.error().message;
    IngestOk({Firing("SlurmNodeUnavailable", {{"instance_id", "i1"}}, "fp", Now())}, 0);
    auto r = Get(manual->id);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->linked_alerts.size(), 1u);
    EXPECT_EQ(r->linked_alerts[0].alert_name, "SlurmNodeUnavailable");
}

TEST_F(HealthServiceTest, FiringAlertIsLinkedToARunningAutomatedRemediationWithoutEscalation) {
    for (State state :
         {State::kPending, State::kQuarantining, State::kQuarantined, State::kRunning}) {
        SCOPED_TRACE(std::string(model::WireName(state)));
        Remediation r = MakeRemediation("auto-" + std::to_string(int(state)), "i1", state,
                                        lifecycle_.NextTimestamp());
        r.trigger = Trigger::kAutomated;
        r.mode = r.requested_mode = Mode::kRebootVm;
        ASSERT_TRUE(IsOk(InsertDirect(r)));
        const std::string fp = "fp-" + std::to_string(int(state));
        IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, fp, Now())}, 0);
        auto got = Get(r.id);
        ASSERT_TRUE(got);
        EXPECT_EQ(got->mode, Mode::kRebootVm);
        EXPECT_EQ(got->state, state);
        ASSERT_EQ(got->linked_alerts.size(), 1u);
        EXPECT_EQ(got->linked_alerts[0].fingerprint, fp);
        // Finish it so the next state gets its turn on the same instance.
        Remediation done = *got;
        done.state = State::kSucceeded;
        done.end_time = Now();
        ASSERT_TRUE(IsOk(store_->WriteAndWait([done, state](storage::Txn& txn) {
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), done, state);
        })));
    }
}

TEST_F(HealthServiceTest, EscalatesAWaitingAutomatedRemediationOnlyUpwards) {
    IngestOk({Firing("DmesgXidError", {{"instance_id", "i1"}, {"xid", "13"}}, "fp-13", Now())}, 1);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->mode, Mode::kRebootVm);
    const std::string id = r->id;
    const Timestamp created = r->update_time;

    clock_.Advance(1s);
    IngestOk({Firing("NpdXfsShutdown", {{"instance_id", "i1"}}, "fp-xfs", Now())}, 0);
    r = Get(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->mode, Mode::kVmOnly);
    EXPECT_EQ(r->state, State::kPendingApproval);
    EXPECT_GT(r->update_time, created);
    EXPECT_EQ(r->linked_alerts.size(), 2u);

    clock_.Advance(1s);
    IngestOk({Firing("DmesgXidError", {{"instance_id", "i1"}, {"xid", "79"}}, "fp-79", Now())}, 0);
    r = Get(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->mode, Mode::kHostAware);
    const Timestamp escalated = r->update_time;

    // Lighter signals are linked but never lower the mode.
    clock_.Advance(1s);
    IngestOk({Firing("NpdReadonlyFilesystem", {{"instance_id", "i1"}}, "fp-ro", Now()),
              Firing("KubeNodeMemoryPressure", {{"instance_id", "i1"}}, "fp-mem", Now()),
              Firing("GpuPcieReplayRateHigh", {{"instance_id", "i1"}}, "fp-pcie", Now())},
             0);
    r = Get(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->mode, Mode::kHostAware);
    EXPECT_EQ(r->update_time, escalated) << "an equal or lighter signal changes nothing";
    EXPECT_EQ(r->linked_alerts.size(), 6u);
    EXPECT_EQ(r->passive_health_check_event_id, AlertOf("fp-13").id) << "the alert that created it";
    EXPECT_EQ(All().size(), 1u);

    // One creation event plus one per escalation.
    auto events = Events(id);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_NE(events[1].detail.find("NpdXfsShutdown"), std::string::npos) << events[1].detail;
    EXPECT_NE(events[2].detail.find("DmesgXidError"), std::string::npos) << events[2].detail;
}

TEST_F(HealthServiceTest, ApprovedAutomatedRemediationIsNotEscalated) {
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now())}, 1);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    auto approved = Approve(*r);
    ASSERT_TRUE(approved) << approved.error().message;
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp-2", Now())}, 0);
    auto got = Get(r->id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->mode, Mode::kRebootVm);
    EXPECT_EQ(got->state, State::kPending);
    EXPECT_EQ(got->linked_alerts.size(), 2u);
}

TEST_F(HealthServiceTest, ManualRemediationWaitingForApprovalIsNotEscalated) {
    Remediation manual =
        MakeRemediation("manual-1", "i1", State::kPendingApproval, lifecycle_.NextTimestamp());
    manual.mode = manual.requested_mode = Mode::kRebootVm;
    ASSERT_TRUE(IsOk(InsertDirect(manual)));
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp", Now())}, 0);
    auto got = Get("manual-1");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->mode, Mode::kRebootVm);
    EXPECT_EQ(got->linked_alerts.size(), 1u);
}

TEST_F(HealthServiceTest, ModesOutsideTheEscalationChainAreNeverReplaced) {
    // HOST_POWER_CYCLE and EVICT_WITHOUT_REPLACEMENT are not on REBOOT_VM < VM_ONLY <
    // HOST_AWARE: a REBOOT_VM signal must not turn them into a reboot.
    auto policy = Policy::WithOverrides(
        {{"PowerGone", "HOST_POWER_CYCLE"}, {"NodeGone", "EVICT_WITHOUT_REPLACEMENT"}});
    ASSERT_TRUE(policy) << policy.error().message;
    StartHealth(Roomy(), *policy);
    IngestOk({Firing("PowerGone", {{"instance_id", "i1"}}, "fp-power", Now()),
              Firing("NodeGone", {{"instance_id", "i2"}}, "fp-gone", Now())},
             2);
    ASSERT_EQ(ActiveOk("i1").mode, Mode::kHostPowerCycle);
    ASSERT_EQ(ActiveOk("i2").mode, Mode::kEvictWithoutReplacement);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now())},
             0);
    EXPECT_EQ(ActiveOk("i1").mode, Mode::kHostPowerCycle);
    EXPECT_EQ(ActiveOk("i2").mode, Mode::kEvictWithoutReplacement);
}

// ---- Cooldown ------------------------------------------------------------------------------

TEST_F(HealthServiceTest, CooldownHoldsNewRemediationsUntilItsLastMicrosecond) {
    auto manual = CreateManual("i1");
    ASSERT_TRUE(manual) << manual.error().message;
    auto cancelled = Cancel(*manual);
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    ASSERT_TRUE(cancelled->end_time);
    const Timestamp ended = *cancelled->end_time;

    clock_.Set(ended + 1800s - 1us);
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp-early", Now())}, 0);
    EXPECT_FALSE(Active("i1"));
    auto early = FindAlert("fp-early");
    ASSERT_TRUE(early);
    EXPECT_EQ(early->remediation_id, "");
    EXPECT_TRUE(early->waiting) << "held by the cooldown, it waits (docs/http-api.md 11)";
    // Other instances are not cooling down.
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i2"}}, "fp-other", Now())}, 1);

    clock_.Set(ended + 1800s);
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp-late", Now())}, 1);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->passive_health_check_event_id, AlertOf("fp-late").id);
    // The one that waited joins it as evidence.
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(AlertOf("fp-early").remediation_id, r->id);
    EXPECT_FALSE(AlertOf("fp-early").waiting);
}

TEST_F(HealthServiceTest, CooldownFollowsSucceededFailedAndCancelledButNotAutoResolved) {
    AutomationOptions options = Roomy();
    options.cooldown = 600s;
    StartHealth(options);
    const Timestamp ended = Now() - 100s;
    const std::map<std::string, State> ends = {{"i1", State::kSucceeded},
                                               {"i2", State::kFailed},
                                               {"i3", State::kCancelled},
                                               {"i4", State::kAutoResolved}};
    for (const auto& [instance, state] : ends) {
        Remediation r = MakeRemediation("old-" + instance, instance, state, ended - 50s);
        r.end_time = ended;
        ASSERT_TRUE(IsOk(InsertDirect(r)));
    }
    std::vector<IncomingAlert> alerts;
    for (const auto& [instance, state] : ends) {
        alerts.push_back(
            Firing("NpdXfsShutdown", {{"instance_id", instance}}, "a-" + instance, Now()));
    }
    IngestOk(alerts, 1);
    EXPECT_FALSE(Active("i1"));
    EXPECT_FALSE(Active("i2"));
    EXPECT_FALSE(Active("i3"));
    EXPECT_TRUE(Active("i4"));

    // The newest end counts: an older remediation ending long ago does not shorten it.
    Remediation older = MakeRemediation("older-i1", "i1", State::kFailed, ended - 9000s);
    older.end_time = ended - 8000s;
    ASSERT_TRUE(IsOk(InsertDirect(older)));
    clock_.Set(ended + 600s - 1us);
    alerts.clear();
    for (const char* instance : {"i1", "i2", "i3"}) {
        alerts.push_back(Firing("NpdXfsShutdown", {{"instance_id", instance}},
                                std::string("b-") + instance, Now()));
    }
    IngestOk(alerts, 0);
    clock_.Advance(1us);
    for (auto& a : alerts) a.fingerprint = "c-" + a.labels.at("instance_id");
    IngestOk(alerts, 3);
}

// ---- Auto-resolve --------------------------------------------------------------------------

TEST_F(HealthServiceTest, AutoResolvesExactlyAtTheTtlAfterTheLastResolve) {
    const Timestamp started = Now() - 60s;
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", started);
    IngestOk({in}, 1);
    const std::string id = ActiveOk("i1").id;
    const Timestamp resolved = Now() + 10s;
    clock_.Set(resolved + 2s);
    IngestOk({Resolved(in, resolved)}, 0);

    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).state, State::kPendingApproval);

    clock_.Set(resolved + 300s - 1us);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).state, State::kPendingApproval);

    clock_.Set(resolved + 300s);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    auto r = Get(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, State::kAutoResolved);
    ASSERT_TRUE(r->end_time);
    EXPECT_EQ(*r->end_time, r->update_time);
    EXPECT_GE(r->update_time, resolved + 300s);
    EXPECT_FALSE(r->start_time);
    EXPECT_EQ(r->reviewed_by, "");
    auto events = Events(id);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].state, State::kAutoResolved);
    EXPECT_EQ(events[1].actor, kSystemActor);
    EXPECT_EQ(events[1].time, r->update_time);

    // Sweeping again changes nothing.
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).update_time, r->update_time);
    EXPECT_EQ(Events(id).size(), 2u);
}

TEST_F(HealthServiceTest, AutoResolveWaitsForEveryLinkedAlert) {
    AutomationOptions options = Roomy();
    options.auto_resolve_ttl = 60s;
    StartHealth(options);
    IncomingAlert a = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-a", Now());
    IncomingAlert b = Firing("SlurmNodeUnavailable", {{"instance_id", "i1"}}, "fp-b", Now());
    IngestOk({a, b}, 1);
    const std::string id = ActiveOk("i1").id;
    IngestOk({Resolved(a, Now())}, 0);
    clock_.Advance(1h);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).state, State::kPendingApproval);

    const Timestamp last = Now();
    IngestOk({Resolved(b, last)}, 0);
    clock_.Set(last + 60s - 1us);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).state, State::kPendingApproval);
    clock_.Set(last + 60s);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).state, State::kAutoResolved);
}

TEST_F(HealthServiceTest, AlertFiringAgainBeforeTheTtlStopsAutoResolve) {
    const Timestamp started = Now() - 60s;
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", started);
    IngestOk({in}, 1);
    const std::string id = ActiveOk("i1").id;
    IngestOk({Resolved(in, Now())}, 0);
    clock_.Advance(100s);
    IngestOk({in}, 0);  // fires again, same occurrence
    clock_.Advance(1h);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(id).state, State::kPendingApproval);
    EXPECT_EQ(Alerts().size(), 1u);
}

TEST_F(HealthServiceTest, OnlyRemediationsWaitingForApprovalAreAutoResolved) {
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", Now());
    IngestOk({in}, 1);
    auto r = Active("i1");
    ASSERT_TRUE(r);
    ASSERT_TRUE(Approve(*r));
    IngestOk({Resolved(in, Now())}, 0);
    clock_.Advance(1h);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(r->id).state, State::kPending);
}

TEST_F(HealthServiceTest, RemediationWithoutLinkedAlertsIsNotAutoResolved) {
    Remediation r =
        MakeRemediation("bare", "i1", State::kPendingApproval, lifecycle_.NextTimestamp());
    r.trigger = Trigger::kAutomated;
    ASSERT_TRUE(IsOk(InsertDirect(r)));
    clock_.Advance(1h);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk("bare").state, State::kPendingApproval);
}

TEST_F(HealthServiceTest, AlertFiringAgainAfterAutoResolveIsANewOccurrence) {
    IncomingAlert in = Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", Now() - 60s);
    IngestOk({in}, 1);
    const auto first = AlertOf("fp");
    IngestOk({Resolved(in, Now())}, 0);
    clock_.Advance(1h);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    ASSERT_FALSE(Active("i1"));

    in.starts_at = Now();
    IngestOk({in}, 1);  // AUTO_RESOLVED starts no cooldown
    auto again = FindAlert("fp");
    ASSERT_TRUE(again);
    EXPECT_NE(again->id, first.id);
    EXPECT_EQ(again->started_at, Now());
    EXPECT_EQ(Alerts().size(), 2u);
    EXPECT_EQ(ActiveOk("i1").passive_health_check_event_id, again->id);
}

// ---- Blast radius --------------------------------------------------------------------------

TEST(HealthBlastRadius, LimitIsTheFloorOfTheFractionAtLeastOneCappedByMaxActive) {
    struct Row {
        int instances;
        double fraction;
        int max_active;
        int limit;
    };
    for (const Row& row : std::vector<Row>{
             {5, 0.1, 0, 1},     {10, 0.1, 0, 1},    {19, 0.1, 0, 1},   {20, 0.1, 0, 2},
             {29, 0.1, 0, 2},    {30, 0.1, 0, 3},    {100, 0.1, 0, 10}, {1000, 0.1, 0, 100},
             {0, 0.1, 0, 1},     {0, 0.1, 5, 1},     {100, 0.1, 3, 3},  {100, 0.1, 10, 10},
             {100, 0.1, 50, 10}, {5, 0.1, 3, 1},     {10, 0.3, 0, 3},   {10, 0.7, 0, 7},
             {100, 0.29, 0, 29}, {100, 0.57, 0, 57}, {4, 1.0, 0, 4},    {4, 0.0, 0, 1},
             {7, 0.5, 0, 3},     {100, 0.1, 1, 1},   {3, 2.0, 0, 6},    {100, 0.1, -1, 10},
         }) {
        EXPECT_EQ(HealthService::BlastRadiusLimit(row.instances, row.fraction, row.max_active),
                  row.limit)
            << row.instances << " instances, fraction " << row.fraction << ", max_active "
            << row.max_active;
    }
}

TEST_F(HealthServiceTest, SignalsBeyondTheBlastRadiusWaitAndAreTakenUpWhenRoomFrees) {
    StartHealth(AutomationOptions{});  // 0.1 of 4 instances: one at a time
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now() - 3s),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now() - 2s),
              Firing("NpdKernelDeadlock", {{"instance_id", "i3"}}, "fp-3", Now() - 1s)},
             1);
    EXPECT_EQ(ActiveCount("c1"), 1);
    auto first = Active("i1");
    ASSERT_TRUE(first);
    for (const char* fp : {"fp-2", "fp-3"}) {
        auto a = FindAlert(fp);
        ASSERT_TRUE(a);
        EXPECT_TRUE(a->waiting) << fp;
        EXPECT_EQ(a->remediation_id, "") << fp;
    }
    EXPECT_EQ(WaitingSignals("c1"), 2);
    // Another cluster has its own radius.
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "j1"}}, "fp-j1", Now())}, 1);

    // Nothing frees: a sweep changes nothing.
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("c1"), 1);
    EXPECT_EQ(WaitingSignals("c1"), 2);

    ASSERT_TRUE(Cancel(*first));
    EXPECT_EQ(ActiveCount("c1"), 0);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("c1"), 1);
    auto taken = Active("i2");
    ASSERT_TRUE(taken) << "the oldest waiting signal goes first";
    EXPECT_EQ(taken->passive_health_check_event_id, AlertOf("fp-2").id);
    EXPECT_EQ(taken->trigger, Trigger::kAutomated);
    EXPECT_EQ(taken->state, State::kPendingApproval);
    EXPECT_FALSE(AlertOf("fp-2").waiting);
    EXPECT_TRUE(AlertOf("fp-3").waiting);
    EXPECT_EQ(WaitingSignals("c1"), 1);
}

TEST_F(HealthServiceTest, ManualRemediationsCountTowardsTheBlastRadius) {
    StartHealth(AutomationOptions{});
    ASSERT_TRUE(CreateManual("i4"));
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", Now())}, 0);
    EXPECT_TRUE(AlertOf("fp").waiting);
}

TEST_F(HealthServiceTest, MaxActiveCapsTheBlastRadius) {
    AutomationOptions options = Roomy();
    options.max_active = 2;
    StartHealth(options);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i3"}}, "fp-3", Now())},
             2);
    EXPECT_EQ(ActiveCount("c1"), 2);
    EXPECT_TRUE(AlertOf("fp-3").waiting);
}

TEST_F(HealthServiceTest, WaitingSignalThatResolvesIsNotTakenUp) {
    StartHealth(AutomationOptions{});
    IncomingAlert second = Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now());
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()), second}, 1);
    ASSERT_TRUE(AlertOf("fp-2").waiting);
    IngestOk({Resolved(second, Now())}, 0);
    EXPECT_FALSE(AlertOf("fp-2").waiting);
    EXPECT_EQ(WaitingSignals("c1"), 0);
    ASSERT_TRUE(Cancel(ActiveOk("i1")));
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_FALSE(Active("i2"));
    EXPECT_EQ(ActiveCount("c1"), 0);
}

TEST_F(HealthServiceTest, WaitingSignalIsLinkedWhenItsInstanceGotARemediationMeanwhile) {
    StartHealth(AutomationOptions{});
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now())},
             1);
    ASSERT_TRUE(Cancel(ActiveOk("i1")));
    auto manual = CreateManual("i2");
    ASSERT_TRUE(manual) << manual.error().message;
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    auto a = FindAlert("fp-2");
    EXPECT_FALSE(a->waiting);
    EXPECT_EQ(a->remediation_id, manual->id);
    EXPECT_EQ(ActiveCount("c1"), 1);
}

TEST_F(HealthServiceTest, WaitingSignalsOfAnInstanceThatGotARemediationKeepItFromAutoResolving) {
    // i2 has two waiting signals; when room frees the older one creates a remediation and the
    // other is evidence of it (docs/http-api.md 5), so the remediation cannot auto-resolve while
    // that one still fires.
    StartHealth(AutomationOptions{});
    IncomingAlert b = Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-b", Now() - 2s);
    IncomingAlert c = Firing("NpdXfsShutdown", {{"instance_id", "i2"}}, "fp-c", Now() - 1s);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-a", Now() - 3s), b, c}, 1);
    ASSERT_TRUE(Cancel(ActiveOk("i1")));
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    auto r = Active("i2");
    ASSERT_TRUE(r);
    EXPECT_EQ(AlertOf("fp-c").remediation_id, r->id);
    EXPECT_FALSE(AlertOf("fp-c").waiting);
    EXPECT_EQ(WaitingSignals("c1"), 0);

    IngestOk({Resolved(b, Now())}, 0);
    clock_.Advance(1h);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(GetOk(r->id).state, State::kPendingApproval) << "fp-c still fires on i2";
}

class HealthStormTest : public HealthServiceTest {
protected:
    static constexpr int kInstances = 100;

    void SetUp() override {
        HealthServiceTest::SetUp();
        storage::FleetImport fleet;
        model::Cluster big{"big", "big cluster", "Ready", {}};
        for (int i = 0; i < kInstances; ++i) {
            big.gpu_worker_nodes.push_back(storage::test_support::TestInstance(Name(i), "big", ""));
        }
        fleet.clusters = {big};
        ASSERT_TRUE(IsOk(store_->WriteAndWait(
            [fleet](storage::Txn& t) { return t.Inventory().ImportFleet(fleet); })));
        StartHealth(AutomationOptions{});  // 0.1 of 100: ten at a time
    }

    static std::string Name(int i) { return "b" + std::to_string(i); }

    // Alert k of the storm hits instance k % 100, each one a bit later than the one before.
    std::vector<IncomingAlert> Storm(int from, int to) {
        static const char* kNames[] = {"NpdKernelDeadlock", "DmesgGpuFallenOffBus",
                                       "NpdXfsShutdown", "GpuEccDoubleBitError"};
        std::vector<IncomingAlert> out;
        for (int k = from; k < to; ++k) {
            out.push_back(Firing(kNames[k % 4], {{"instance_id", Name(k % kInstances)}},
                                 "storm-" + std::to_string(k),
                                 TestEpoch() + std::chrono::microseconds(k)));
        }
        return out;
    }

    int WaitingAlerts() {
        int n = 0;
        for (const auto& a : Alerts("big")) n += a.waiting ? 1 : 0;
        return n;
    }
};

TEST_F(HealthStormTest, FiveHundredAlertsCreateExactlyTheLimit) {
    // Five concurrent webhooks, committed by the store's group commit.
    std::vector<std::future<Result<IngestResult>>> pending;
    for (int batch = 0; batch < 5; ++batch) {
        auto promise = std::make_shared<std::promise<Result<IngestResult>>>();
        pending.push_back(promise->get_future());
        health_->Ingest(Storm(batch * 100, batch * 100 + 100), nullptr,
                        [promise](Result<IngestResult> r) { promise->set_value(std::move(r)); });
    }
    int created = 0;
    int alerts = 0;
    for (auto& f : pending) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.error().message;
        created += r->remediations_created;
        alerts += r->alerts;
    }
    EXPECT_EQ(alerts, 500);
    EXPECT_EQ(created, 10);
    EXPECT_EQ(ActiveCount("big"), 10);
    EXPECT_EQ(All("big").size(), 10u);
    EXPECT_EQ(Alerts("big").size(), 500u);
    // Ten instances have a remediation with all five of their alerts; the other 90 wait.
    EXPECT_EQ(WaitingAlerts(), 450);
    EXPECT_EQ(WaitingSignals("big"), 450);
    for (const auto& r : All("big")) {
        EXPECT_EQ(r.linked_alerts.size(), 5u) << r.instance_id;
        EXPECT_EQ(r.state, State::kPendingApproval);
    }
    // Other clusters are untouched.
    EXPECT_TRUE(All("c1").empty());
}

TEST_F(HealthStormTest, FreedRoomIsTakenUpExactlyToTheLimitOldestFirst) {
    IngestOk(Storm(0, 500), 10);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Active(Name(i))) << Name(i);

    // Cancel three of them, one through the store directly as another process would.
    ASSERT_TRUE(Cancel(ActiveOk("b0")));
    ASSERT_TRUE(Cancel(ActiveOk("b1")));
    Remediation third = *Active("b2");
    third.state = State::kCancelled;
    third.end_time = third.update_time = lifecycle_.NextTimestamp();
    ASSERT_TRUE(IsOk(store_->WriteAndWait([third](storage::Txn& t) {
        return t.Remediations().Update(storage::UncheckedRemediationWriteKey(), third,
                                       State::kPendingApproval);
    })));
    ASSERT_EQ(ActiveCount("big"), 7);

    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), 10);
    EXPECT_EQ(All("big").size(), 13u);
    for (const char* taken : {"b10", "b11", "b12"}) {
        auto r = Active(taken);
        ASSERT_TRUE(r) << taken << " had the oldest waiting signals";
        EXPECT_EQ(r->linked_alerts.size(), 5u) << taken;
    }
    EXPECT_FALSE(Active("b13"));
    EXPECT_EQ(WaitingAlerts(), 435);

    // Sweeping again takes nothing more.
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), 10);
    EXPECT_EQ(All("big").size(), 13u);
    EXPECT_EQ(WaitingAlerts(), 435);
}

TEST_F(HealthStormTest, OneClustersStormDoesNotStarveAnotherClustersWaitingSignals) {
    // 1200 alerts over 100 instances: 10 created, 1080 waiting, all older than c1's signals.
    IngestOk(Storm(0, 1200), 10);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now() + 1s)},
             1);
    ASSERT_TRUE(AlertOf("fp-2").waiting);
    ASSERT_TRUE(Cancel(ActiveOk("i1")));
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_TRUE(Active("i2")) << "c1 has room again; its signal is taken up";
    EXPECT_EQ(ActiveCount("big"), 10);
}

// ---- Automation policy and opt-out ---------------------------------------------------------

TEST_F(HealthServiceTest, AutomaticPolicyApprovesInScopeAlertsAtOnce) {
    ASSERT_TRUE(IsOk(SetAutomation("c1", {true, {"DmesgXidError", "NpdKernelDeadlock"}})));
    auto stored = ReadOk<model::ClusterAutomation>(
        [](storage::Reader& r) { return r.Inventory().GetClusterAutomation("c1"); });
    EXPECT_TRUE(stored.automatic);

    IngestOk({Firing("DmesgXidError", {{"instance_id", "i1"}, {"xid", "13"}}, "fp-1", Now()),
              Firing("NpdXfsShutdown", {{"instance_id", "i2"}}, "fp-2", Now())},
             2);
    auto approved = Active("i1");
    ASSERT_TRUE(approved);
    EXPECT_EQ(approved->state, State::kPending);
    EXPECT_EQ(approved->trigger, Trigger::kAutomated);
    EXPECT_EQ(approved->requested_by, kSystemActor);
    EXPECT_EQ(approved->reviewed_by, "auto-approved");
    ASSERT_TRUE(approved->review_time);
    EXPECT_EQ(*approved->review_time, approved->update_time);
    EXPECT_GT(approved->update_time, approved->create_time);
    EXPECT_FALSE(approved->start_time);
    ASSERT_EQ(approved->linked_alerts.size(), 1u);
    auto events = Events(approved->id);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].state, State::kPendingApproval);
    EXPECT_EQ(events[1].state, State::kPending);
    EXPECT_EQ(events[1].actor, "auto-approved");

    auto out_of_scope = Active("i2");
    ASSERT_TRUE(out_of_scope);
    EXPECT_EQ(out_of_scope->state, State::kPendingApproval);
    EXPECT_EQ(out_of_scope->reviewed_by, "");
}

TEST_F(HealthServiceTest, ApprovePolicyLeavesThemWaiting) {
    ASSERT_TRUE(IsOk(SetAutomation("c1", {true, {"NpdKernelDeadlock"}})));
    ASSERT_TRUE(IsOk(SetAutomation("c1", {false, {"NpdKernelDeadlock"}})));
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp", Now())}, 1);
    EXPECT_EQ(ActiveOk("i1").state, State::kPendingApproval);
}

TEST_F(HealthServiceTest, AutomaticPolicyOfOneClusterDoesNotApproveAnother) {
    ASSERT_TRUE(IsOk(SetAutomation("c2", {true, {"NpdKernelDeadlock"}})));
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "j1"}}, "fp-2", Now())},
             2);
    EXPECT_EQ(ActiveOk("i1").state, State::kPendingApproval);
    EXPECT_EQ(ActiveOk("j1").state, State::kPending);
}

TEST_F(HealthServiceTest, EvictionIsNeverApprovedAutomatically) {
    auto policy =
        Policy::WithOverrides({{"NodeGone", "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT"}});
    ASSERT_TRUE(policy) << policy.error().message;
    StartHealth(Roomy(), *policy);
    ASSERT_TRUE(IsOk(SetAutomation("c1", {true, {"NodeGone", "NpdKernelDeadlock"}})));
    IngestOk({Firing("NodeGone", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now())},
             2);
    auto evict = Active("i1");
    ASSERT_TRUE(evict);
    EXPECT_EQ(evict->mode, Mode::kEvictWithoutReplacement);
    EXPECT_EQ(evict->state, State::kPendingApproval);
    EXPECT_EQ(evict->reviewed_by, "");
    EXPECT_EQ(ActiveOk("i2").state, State::kPending);
}

TEST_F(HealthServiceTest, AutomaticPolicyStillRespectsTheBlastRadius) {
    StartHealth(AutomationOptions{});
    ASSERT_TRUE(IsOk(SetAutomation("c1", {true, {"NpdKernelDeadlock"}})));
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now())},
             1);
    EXPECT_EQ(ActiveOk("i1").state, State::kPending);
    EXPECT_TRUE(AlertOf("fp-2").waiting);
    EXPECT_EQ(ActiveCount("c1"), 1);
}

TEST_F(HealthServiceTest, SetClusterAutomationOfAnUnknownClusterIsNotFound) {
    Status s = SetAutomation("nope", {true, {}});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kNotFound);
}

TEST_F(HealthServiceTest, AutoRepairOffRecordsAlertsButCreatesNothing) {
    ASSERT_TRUE(IsOk(SetAutoRepair("c1", "i1", false)));
    auto instance = ReadOk<std::optional<model::Instance>>(
        [](storage::Reader& r) { return r.Inventory().GetInstance("i1"); });
    ASSERT_TRUE(instance);
    EXPECT_FALSE(instance->auto_repair);

    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("DmesgGpuFallenOffBus", {{"instance_id", "i2"}}, "fp-2", Now())},
             1);
    EXPECT_FALSE(Active("i1"));
    auto a = FindAlert("fp-1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->instance_id, "i1");
    EXPECT_EQ(a->remediation_id, "");
    EXPECT_FALSE(a->waiting);

    // Manual remediation still works, and later alerts are linked to it as evidence.
    auto manual = CreateManual("i1");
    ASSERT_TRUE(manual) << manual.error().message;
    IngestOk({Firing("NpdXfsShutdown", {{"instance_id", "i1"}}, "fp-3", Now())}, 0);
    EXPECT_EQ(AlertOf("fp-3").remediation_id, manual->id);

    // Back on: automation resumes (after the manual one's cooldown).
    ASSERT_TRUE(Cancel(*manual));
    ASSERT_TRUE(IsOk(SetAutoRepair("c1", "i1", true)));
    clock_.Advance(1801s);
    IngestOk({Firing("NpdXfsShutdown", {{"instance_id", "i1"}}, "fp-4", Now())}, 1);
}

// docs/http-api.md 11: a node's attention lasts until a person acts: PATCH {"attention": null}
// or any manual remediation of it; automation does not clear it.
TEST_F(HealthServiceTest, AttentionIsClearedByAPatchOrAManualRemediationOnly) {
    auto attention = [&](const std::string& id) {
        return ReadOk<std::optional<std::string>>(
            [&](storage::Reader& r) { return r.Settings().Get(model::AttentionSetting(id)); });
    };
    auto flag = [&](const std::string& id) {
        return store_->WriteAndWait([id](storage::Txn& txn) {
            return txn.Settings().Put(model::AttentionSetting(id), "kept a drain");
        });
    };
    ASSERT_TRUE(IsOk(flag("i1")));
    ASSERT_TRUE(IsOk(flag("i2")));
    // Changing only auto_repair leaves it.
    ASSERT_TRUE(IsOk(AwaitStatus([&](std::function<void(Status)> done) {
        health_->PatchInstance("c1", "i1", false, false, std::move(done));
    })));
    EXPECT_EQ(attention("i1"), "kept a drain");
    // An automated remediation leaves it.
    IngestOk({Firing("DmesgGpuFallenOffBus", {{"instance_id", "i2"}}, "fp-1", Now())}, 1);
    EXPECT_EQ(attention("i2"), "kept a drain");
    ASSERT_TRUE(IsOk(AwaitStatus([&](std::function<void(Status)> done) {
        health_->PatchInstance("c1", "i1", std::nullopt, true, std::move(done));
    })));
    EXPECT_EQ(attention("i1"), std::nullopt);
    ASSERT_TRUE(IsOk(flag("i3")));
    auto manual = CreateManual("i3");
    ASSERT_TRUE(manual) << manual.error().message;
    EXPECT_EQ(attention("i3"), std::nullopt);
    // Of another cluster: refused, nothing cleared.
    ASSERT_TRUE(IsOk(flag("i1")));
    EXPECT_FALSE(AwaitStatus([&](std::function<void(Status)> done) {
        health_->PatchInstance("c2", "i1", std::nullopt, true, std::move(done));
    }));
    EXPECT_EQ(attention("i1"), "kept a drain");
}

TEST_F(HealthServiceTest, SetAutoRepairChecksTheInstanceBelongsToTheCluster) {
    Status wrong = SetAutoRepair("c2", "i1", false);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, Code::kNotFound);
    Status unknown = SetAutoRepair("c1", "nope", false);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Code::kNotFound);
    auto instance = ReadOk<std::optional<model::Instance>>(
        [](storage::Reader& r) { return r.Inventory().GetInstance("i1"); });
    ASSERT_TRUE(instance);
    EXPECT_TRUE(instance->auto_repair);
}

TEST_F(HealthServiceTest, ListAlertsOfAnUnknownClusterIsNotFound) {
    storage::AlertQuery q;
    q.cluster_id = "nope";
    auto page = health_->ListAlerts(q);
    ASSERT_FALSE(page);
    EXPECT_EQ(page.error().code, Code::kNotFound);
}

TEST_F(HealthServiceTest, ListAlertsShowsTheClustersAlerts) {
    IngestOk({Firing("NodeDown", {{"instance_id", "i1"}}, "fp-1", Now() - 2s),
              Firing("NodeDown", {{"instance_id", "j1"}}, "fp-2", Now() - 1s)},
             0);
    storage::AlertQuery q;
    q.cluster_id = "c1";
    auto page = health_->ListAlerts(q);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->alerts.size(), 1u);
    EXPECT_EQ(page->alerts[0].fingerprint, "fp-1");
    EXPECT_FALSE(page->has_next);
}

TEST_F(HealthServiceTest, SweeperThreadTakesUpWaitingSignals) {
    StartHealth(AutomationOptions{});
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now())},
             1);
    ASSERT_TRUE(Cancel(ActiveOk("i1")));
    health_->Start(5ms);
    for (int i = 0; i < 400 && !Active("i2"); ++i) std::this_thread::sleep_for(5ms);
    health_->Stop();
    EXPECT_TRUE(Active("i2"));
    health_->Stop();  // twice is harmless
}

// ---- Fleet intelligence (docs/http-api.md 11) -----------------------------------------------

class PolicyEngineTest : public HealthServiceTest {
protected:
    // Ends an active remediation as the engine would, at `when`.
    void Finish(const std::string& id, State state, Timestamp when) {
        Remediation r = GetOk(id);
        const State was = r.state;
        r.state = state;
        r.end_time = r.update_time = when;
        ASSERT_TRUE(IsOk(store_->WriteAndWait([r, was](storage::Txn& txn) {
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), r, was);
        })));
    }

    // An automated remediation of i1 that ended `state` at `when`, as if the engine ran it.
    void Ended(const std::string& instance, Mode mode, State state, Timestamp when) {
        Remediation r = MakeRemediation("old-" + instance + std::to_string(++ended_), instance,
                                        state, when - 60s);
        r.mode = r.requested_mode = mode;
        r.trigger = Trigger::kAutomated;
        r.end_time = when;
        ASSERT_TRUE(IsOk(InsertDirect(r)));
    }

    std::optional<std::string> Attention(const std::string& instance) {
        return ReadOk<std::optional<std::string>>([&](storage::Reader& r) {
            return r.Settings().Get(model::AttentionSetting(instance));
        });
    }

    model::Host Host(const std::string& name) {
        auto host = ReadOk<std::optional<model::Host>>(
            [&](storage::Reader& r) { return r.Inventory().GetHost(name); });
        EXPECT_TRUE(host) << name;
        return host ? *host : model::Host{};
    }

    std::vector<model::HostFault> Ledger(const std::string& host) {
        return ReadOk<std::vector<model::HostFault>>(
            [&](storage::Reader& r) { return r.Inventory().ListHostFaults(host, 100); });
    }

    // Puts the test fleet's hosts into racks: h1, h2 in r1; h3, h4 in r2; h5, h6 in none.
    void Racks() {
        storage::FleetImport fleet = storage::test_support::TestFleet();
        for (auto& h : fleet.hosts) {
            if (h.host_name == "h1" || h.host_name == "h2") h.rack = "r1";
            if (h.host_name == "h3" || h.host_name == "h4") h.rack = "r2";
        }
        ASSERT_TRUE(IsOk(store_->WriteAndWait(
            [fleet](storage::Txn& txn) { return txn.Inventory().ImportFleet(fleet); })));
    }

    // A fresh occurrence of a REBOOT_VM-rule alert on `instance`.
    IncomingAlert Deadlock(const std::string& instance) {
        return Firing("NpdKernelDeadlock", {{"instance_id", instance}},
                      "dl-" + instance + "-" + std::to_string(++alerts_), Now());
    }

    int ended_ = 0;
    int alerts_ = 0;
};

TEST_F(PolicyEngineTest, LadderClimbsRebootVmOnlyHostAwareThenCallsAPerson) {
    AutomationOptions options = Roomy();
    options.cooldown = 600s;
    StartHealth(options);
    Ended("i1", Mode::kRebootVm, State::kSucceeded, Now() - 700s);

    IngestOk({Deadlock("i1")}, 1);
    Remediation second = ActiveOk("i1");
    EXPECT_EQ(second.mode, Mode::kVmOnly);
    EXPECT_NE(second.reason.find("escalated from REMEDIATION_MODE_REBOOT_VM: the fault came back "
                                 "within 700 s"),
              std::string::npos)
        << second.reason;
    Finish(second.id, State::kSucceeded, Now());

    clock_.Advance(601s);
    IngestOk({Deadlock("i1")}, 1);
    Remediation third = ActiveOk("i1");
    EXPECT_EQ(third.mode, Mode::kHostAware);
    EXPECT_NE(third.reason.find("escalated from REMEDIATION_MODE_VM_ONLY"), std::string::npos)
        << third.reason;
    Finish(third.id, State::kFailed, Now());

    clock_.Advance(601s);
    const IncomingAlert last = Deadlock("i1");
    IngestOk({last}, 0);
    EXPECT_FALSE(Active("i1")) << "past the top rung a person is called, nothing is created";
    auto attention = Attention("i1");
    ASSERT_TRUE(attention);
    EXPECT_NE(attention->find("top of the escalation ladder"), std::string::npos) << *attention;
    EXPECT_FALSE(AlertOf(last.fingerprint).waiting);

    // Past the window the ladder starts again from the policy's own mode.
    clock_.Advance(options.ladder_window + 1s);
    IngestOk({Deadlock("i1")}, 1);
    EXPECT_EQ(ActiveOk("i1").mode, Mode::kRebootVm);
}

TEST_F(PolicyEngineTest, LadderIgnoresManualRemediationsModesOffItAndCancelledOnes) {
    AutomationOptions options = Roomy();
    options.cooldown = 0s;
    StartHealth(options);
    Remediation manual = MakeRemediation("manual-i1", "i1", State::kSucceeded, Now() - 100s);
    manual.mode = manual.requested_mode = Mode::kRebootVm;
    ASSERT_TRUE(IsOk(InsertDirect(manual)));
    Ended("i2", Mode::kHostPowerCycle, State::kSucceeded, Now() - 10s);
    Ended("i3", Mode::kRebootVm, State::kCancelled, Now() - 10s);
    Ended("i4", Mode::kRebootVm, State::kFailed, Now() - 10s);
    IngestOk({Deadlock("i1"), Deadlock("i2"), Deadlock("i3"), Deadlock("i4")}, 4);
    EXPECT_EQ(ActiveOk("i1").mode, Mode::kRebootVm);
    EXPECT_EQ(ActiveOk("i2").mode, Mode::kRebootVm);
    EXPECT_EQ(ActiveOk("i3").mode, Mode::kRebootVm);
    EXPECT_EQ(ActiveOk("i4").mode, Mode::kVmOnly) << "FAILED climbs the ladder as SUCCEEDED does";

    // A rule's power cycle stays a power cycle.
    AutomationOptions custom = options;
    auto power = Policy::WithOverrides({{"CustomPower", "HOST_POWER_CYCLE"}});
    ASSERT_TRUE(power);
    StartHealth(custom, *power);
    Ended("j1", Mode::kRebootVm, State::kSucceeded, Now() - 10s);
    IngestOk({Firing("CustomPower", {{"instance_id", "j1"}}, "pw", Now())}, 1);
    EXPECT_EQ(ActiveOk("j1").mode, Mode::kHostPowerCycle);
}

TEST_F(PolicyEngineTest, FaultReturningInTheCooldownWaitsAndIsEscalatedWhenItEnds) {
    const Timestamp ended = Now() - 10s;
    Ended("i1", Mode::kRebootVm, State::kSucceeded, ended);
    const IncomingAlert back = Deadlock("i1");
    auto result = Ingest({back});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->remediations_created, 0);
    EXPECT_EQ(result->waiting, 1);
    EXPECT_TRUE(AlertOf(back.fingerprint).waiting) << "visible as waiting";
    EXPECT_EQ(AlertOf(back.fingerprint).wait_until, ended + 1800s)
        << "no sweep looks at it again before the cooldown ends";
    EXPECT_EQ(WaitingSignals("c1"), 1);

    clock_.Set(ended + 1800s - 1us);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_FALSE(Active("i1"));
    clock_.Set(ended + 1800s);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    Remediation r = ActiveOk("i1");
    EXPECT_EQ(r.mode, Mode::kVmOnly);
    EXPECT_EQ(r.passive_health_check_event_id, AlertOf(back.fingerprint).id);
    EXPECT_FALSE(AlertOf(back.fingerprint).waiting);
    // The ledger counted it once, when it came, not again when it was taken up.
    int signals = 0;
    for (const auto& f : Ledger("h1")) signals += f.remediation_id.empty() ? 1 : 0;
    EXPECT_EQ(signals, 1);
}

TEST_F(PolicyEngineTest, SignalWaitingForTheCooldownJoinsAPersonsRemediationAtOnce) {
    // Not due before the cooldown ends, but a remediation made meanwhile takes it as evidence
    // at the next sweep, as one waiting for room.
    Ended("i1", Mode::kRebootVm, State::kSucceeded, Now() - 10s);
    const IncomingAlert back = Deadlock("i1");
    IngestOk({back}, 0);
    auto manual = CreateManual("i1");
    ASSERT_TRUE(manual) << manual.error().message;
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_FALSE(AlertOf(back.fingerprint).waiting);
    EXPECT_EQ(AlertOf(back.fingerprint).remediation_id, manual->id);
}

TEST_F(PolicyEngineTest, SignalResolvedDuringTheCooldownIsNotTakenUp) {
    const Timestamp ended = Now() - 10s;
    Ended("i1", Mode::kRebootVm, State::kSucceeded, ended);
    const IncomingAlert back = Deadlock("i1");
    IngestOk({back}, 0);
    IngestOk({Resolved(back, Now())}, 0);
    clock_.Set(ended + 1800s);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_FALSE(Active("i1"));
}

TEST_F(PolicyEngineTest, TwoInstancesFaultingOnOneHostMakeItSuspectAndCordoned) {
    AutomationOptions options = Roomy();
    options.suspect_host_instances = 2;
    StartHealth(options);
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Inventory().SetInstancePlacement("i2", "h1", "Ready");
    })));
    const IncomingAlert first = Deadlock("i1");
    IngestOk({first}, 1);
    const std::string waiting_id = ActiveOk("i1").id;
    EXPECT_EQ(ActiveOk("i1").mode, Mode::kRebootVm);
    EXPECT_TRUE(Host("h1").suspect.empty());
    // A repeat of the same occurrence is not a second fault.
    IngestOk({first}, 0);
    EXPECT_TRUE(Host("h1").suspect.empty());

    IngestOk({Deadlock("i2")}, 1);
    const model::Host h1 = Host("h1");
    EXPECT_NE(h1.suspect.find("2 different instances"), std::string::npos) << h1.suspect;
    EXPECT_TRUE(h1.cordoned);
    Remediation second = ActiveOk("i2");
    EXPECT_EQ(second.mode, Mode::kHostAware);
    EXPECT_NE(second.reason.find("host h1 is suspect"), std::string::npos) << second.reason;
    // The one already waiting for approval is escalated in place.
    Remediation escalated = GetOk(waiting_id);
    EXPECT_EQ(escalated.mode, Mode::kHostAware);
    bool mode_change = false;
    for (const auto& e : Events(waiting_id)) mode_change = mode_change || e.type == "mode_change";
    EXPECT_TRUE(mode_change);
    // Two signals and two remediations in the ledger, newest first.
    const auto ledger = Ledger("h1");
    ASSERT_EQ(ledger.size(), 4u);
    EXPECT_EQ(ledger[0].remediation_id, second.id);
    EXPECT_EQ(ledger[1].instance_id, "i2");
    EXPECT_EQ(ledger[1].name, "NpdKernelDeadlock");
    // Other hosts are untouched.
    EXPECT_TRUE(Host("h3").suspect.empty());
    EXPECT_FALSE(Host("h3").cordoned);

    // Cleared: the suspicion goes, the cordon stays, and new remediations take the policy's mode.
    ASSERT_TRUE(IsOk(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Inventory().SetHostSuspect("h1", ""); })));
    EXPECT_TRUE(Host("h1").suspect.empty());
    EXPECT_TRUE(Host("h1").cordoned);
}

TEST_F(PolicyEngineTest, AHostThatBecomesSuspectInAWebhookIsSuspectForTheRestOfIt) {
    // The webhook's hosts are read once, before its alerts: the host the second alert makes
    // suspect must be suspect (and cordoned) for the third, not suspected a second time.
    AutomationOptions options = Roomy();
    options.suspect_host_instances = 2;
    StartHealth(options);
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().SetInstancePlacement("i2", "h1", "Ready"));
        return txn.Inventory().SetInstancePlacement("i3", "h1", "Ready");
    })));
    auto result = Ingest({Deadlock("i1"), Deadlock("i2"), Deadlock("i3")});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->remediations_created, 3);
    EXPECT_EQ(result->policy.suspect_hosts, 1) << "suspected once";
    const model::Host h1 = Host("h1");
    EXPECT_NE(h1.suspect.find("2 different instances"), std::string::npos) << h1.suspect;
    EXPECT_TRUE(h1.cordoned);
    EXPECT_EQ(ActiveOk("i1").mode, Mode::kHostAware) << "escalated in place";
    EXPECT_EQ(ActiveOk("i2").mode, Mode::kHostAware);
    Remediation third = ActiveOk("i3");
    EXPECT_EQ(third.mode, Mode::kHostAware);
    EXPECT_NE(third.reason.find("host h1 is suspect: 2 different instances"), std::string::npos)
        << third.reason;
}

TEST_F(PolicyEngineTest, ANeverRemediatedInstancesSecondSignalInAWebhookJoinsItsFirstsRemediation) {
    // The webhook reads which of its instances never had a remediation once, before its
    // alerts: the remediation its first signal creates is there for its second.
    auto result = Ingest({Deadlock("i1"), Deadlock("i1"), Deadlock("i2")});
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->remediations_created, 2);
    EXPECT_EQ(result->linked, 1);
    const std::string id = ActiveOk("i1").id;
    int linked = 0;
    for (const auto& alert :
         ReadOk<std::vector<Alert>>([](storage::Reader& r) { return r.Alerts().ListOpen("i1"); })) {
        EXPECT_EQ(alert.remediation_id, id);
        ++linked;
    }
    EXPECT_EQ(linked, 2);
}

TEST_F(PolicyEngineTest, ManyFaultsOfOneInstanceMakeTheHostSuspectWithoutACordonWhenOff) {
    AutomationOptions options = Roomy();
    options.suspect_host_faults = 3;
    options.cordon_suspect_hosts = false;
    options.suspect_host_window = 3600s;
    StartHealth(options);
    // Signals without a rule are not counted; old ones fall out of the window.
    IngestOk({Firing("KubeNodeDiskPressure", {{"instance_id", "i3"}}, "disk", Now())}, 0);
    IngestOk({Deadlock("i3")}, 1);
    clock_.Advance(3601s);
    IngestOk({Deadlock("i3"), Deadlock("i3")}, 0);
    EXPECT_TRUE(Host("h3").suspect.empty());
    IngestOk({Deadlock("i3")}, 0);
    EXPECT_NE(Host("h3").suspect.find("3 fault signals"), std::string::npos);
    EXPECT_FALSE(Host("h3").cordoned);
    EXPECT_EQ(ActiveOk("i3").mode, Mode::kHostAware) << "escalated in place";
}

TEST_F(PolicyEngineTest, RackLimitHoldsSignalsThatWaitAndTakesThemUpWhenRoomFrees) {
    AutomationOptions options = Roomy();
    options.max_active_per_rack = 1;
    StartHealth(options);
    Racks();
    auto result =
        Ingest({Deadlock("i1"), Deadlock("i2"), Deadlock("i3"), Deadlock("i4"), Deadlock("j1")});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->remediations_created, 3) << "one per rack, and j1's host has no rack";
    EXPECT_EQ(result->waiting, 2);
    Remediation r1 = ActiveOk("i1");
    EXPECT_FALSE(Active("i2"));
    EXPECT_TRUE(Active("i3"));
    EXPECT_FALSE(Active("i4"));
    EXPECT_TRUE(Active("j1"));
    // Nothing freed: a sweep changes nothing.
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_FALSE(Active("i2"));

    ASSERT_TRUE(Cancel(r1));
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_TRUE(Active("i2")) << "the freed slot is taken up";
    EXPECT_FALSE(Active("i4"));
}

TEST_F(PolicyEngineTest, AutomaticApprovalRespectsTheRackLimit) {
    AutomationOptions options = Roomy();
    options.max_active_per_rack = 1;
    StartHealth(options);
    Racks();
    ASSERT_TRUE(IsOk(SetAutomation("c1", {true, {}})));
    IngestOk({Deadlock("i1"), Deadlock("i2")}, 1);
    EXPECT_EQ(ActiveOk("i1").state, State::kPending);
    EXPECT_FALSE(Active("i2"));
}

class RackStormTest : public HealthServiceTest {
protected:
    static constexpr int kRacks = 10;
    static constexpr int kPerRack = 10;

    void SetUp() override {
        HealthServiceTest::SetUp();
        storage::FleetImport fleet;
        model::Cluster big{"big", "big cluster", "Ready", {}};
        for (int rack = 0; rack < kRacks; ++rack) {
            model::Host host{"rh" + std::to_string(rack), 8 * kPerRack, 0, false, {}};
            host.rack = "rr" + std::to_string(rack);
            fleet.hosts.push_back(host);
            for (int i = 0; i < kPerRack; ++i) {
                big.gpu_worker_nodes.push_back(storage::test_support::TestInstance(
                    Name(rack * kPerRack + i), "big", host.host_name));
            }
        }
        fleet.clusters = {big};
        ASSERT_TRUE(IsOk(store_->WriteAndWait(
            [fleet](storage::Txn& t) { return t.Inventory().ImportFleet(fleet); })));
        AutomationOptions options = Roomy();
        options.max_active_per_rack = 2;
        StartHealth(options);
    }

    static std::string Name(int i) { return "rb" + std::to_string(i); }
};

TEST_F(RackStormTest, MaxActivePerRackIsExactUnderConcurrentWebhooks) {
    std::vector<std::future<Result<IngestResult>>> pending;
    for (int batch = 0; batch < 5; ++batch) {
        std::vector<IncomingAlert> alerts;
        for (int k = batch * 100; k < batch * 100 + 100; ++k) {
            alerts.push_back(Firing("NpdKernelDeadlock",
                                    {{"instance_id", Name(k % (kRacks * kPerRack))}},
                                    "rs-" + std::to_string(k), Now()));
        }
        auto promise = std::make_shared<std::promise<Result<IngestResult>>>();
        pending.push_back(promise->get_future());
        health_->Ingest(std::move(alerts), nullptr,
                        [promise](Result<IngestResult> r) { promise->set_value(std::move(r)); });
    }
    int created = 0;
    for (auto& f : pending) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.error().message;
        created += r->remediations_created;
    }
    EXPECT_EQ(created, kRacks * 2);
    EXPECT_EQ(ActiveCount("big"), kRacks * 2);
    for (int rack = 0; rack < kRacks; ++rack) {
        EXPECT_EQ(ReadOk<int>([&](storage::Reader& r) {
                      return r.Remediations().CountActiveInRack("rr" + std::to_string(rack));
                  }),
                  2)
            << rack;
    }
    // Room freed in one rack is taken up there, exactly.
    auto all = All("big");
    ASSERT_FALSE(all.empty());
    const std::string freed = all.front().instance_id;
    ASSERT_TRUE(Cancel(all.front()));
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), kRacks * 2);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), kRacks * 2);
}

TEST_F(RackStormTest, SixSignalsOfOneRackOpenOneIncidentUntilReleasedThenProceedUnderTheLimits) {
    AutomationOptions options = Roomy();
    options.incident_threshold = 5;
    options.max_active_per_rack = 3;
    StartHealth(options);
    auto signal = [&](int instance, const std::string& fp) {
        return Firing("NpdKernelDeadlock", {{"instance_id", Name(instance)}}, fp, Now());
    };
    // Four instances of rack rr0: created under the rack's limit of three, one waits.
    for (int i = 0; i < 4; ++i) {
        IngestOk({signal(i, "in-" + std::to_string(i))}, i < 3 ? 1 : 0);
        clock_.Advance(1s);
    }
    EXPECT_EQ(ActiveCount("big"), 3);
    // The fifth different instance within the window opens the incident: the three waiting for
    // approval are cancelled, and neither it nor a sixth creates anything.
    IngestOk({signal(4, "in-4")}, 0);
    IngestOk({signal(5, "in-5"), signal(5, "in-5b")}, 0);
    EXPECT_EQ(ActiveCount("big"), 0);
    for (const auto& r : All("big")) {
        EXPECT_EQ(r.state, State::kCancelled);
        EXPECT_EQ(r.reviewed_by, "system:incidents");
        EXPECT_NE(r.review_comment.find("incident"), std::string::npos) << r.review_comment;
    }
    auto incidents = ReadOk<std::vector<model::Incident>>(
        [](storage::Reader& r) { return r.Inventory().ListIncidents("big", 10); });
    ASSERT_EQ(incidents.size(), 1u);
    const model::Incident incident = incidents[0];
    EXPECT_EQ(incident.state, model::IncidentState::kOpen);
    EXPECT_EQ(incident.Scope(), "rack:rr0");
    EXPECT_EQ(incident.instances.size(), 6u);
    EXPECT_EQ(incident.signals, 7);
    // Another rack is not covered.
    IngestOk({signal(10, "other-rack")}, 1);
    // The sweeper leaves the incident's instances alone.
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), 1);

    // Released: each instance is considered again, under the rack's limit; the cancelled
    // remediations count for no cooldown.
    auto released = AwaitResult<model::Incident>([&](auto done) {
        health_->CloseIncident("big", incident.id, true, "bob", std::move(done));
    });
    ASSERT_TRUE(released) << released.error().message;
    EXPECT_EQ(released->state, model::IncidentState::kReleased);
    EXPECT_EQ(released->closed_by, "bob");
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), 1 + 3);
    EXPECT_EQ(
        ReadOk<int>([](storage::Reader& r) { return r.Remediations().CountActiveInRack("rr0"); }),
        3);
    // Closed once: a second close is refused, and another cluster's id is not found.
    EXPECT_FALSE(AwaitResult<model::Incident>([&](auto done) {
        health_->CloseIncident("big", incident.id, false, "bob", std::move(done));
    }));
    auto elsewhere = AwaitResult<model::Incident>([&](auto done) {
        health_->CloseIncident("c1", incident.id, true, "bob", std::move(done));
    });
    ASSERT_FALSE(elsewhere);
    EXPECT_EQ(elsewhere.error().code, Code::kNotFound);
    // Signals a person already judged open no second incident.
    IngestOk({signal(6, "after-release")}, 0);
    EXPECT_EQ(ReadOk<std::vector<model::Incident>>([](storage::Reader& r) {
                  return r.Inventory().ListIncidents("big", 10);
              }).size(),
              1u);
}

TEST_F(RackStormTest, DismissedIncidentRecordsItsSignalsOnly) {
    AutomationOptions options = Roomy();
    options.incident_threshold = 2;
    StartHealth(options);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", Name(20)}}, "d-0", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", Name(21)}}, "d-1", Now())},
             1);
    auto incidents = ReadOk<std::vector<model::Incident>>(
        [](storage::Reader& r) { return r.Inventory().ListIncidents("big", 10); });
    ASSERT_EQ(incidents.size(), 1u);
    EXPECT_EQ(ActiveCount("big"), 0);
    auto dismissed = AwaitResult<model::Incident>([&](auto done) {
        health_->CloseIncident("big", incidents[0].id, false, "bob", std::move(done));
    });
    ASSERT_TRUE(dismissed);
    EXPECT_EQ(dismissed->state, model::IncidentState::kDismissed);
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("big"), 0) << "dismissed: its signals are only recorded";
    // Off (threshold 0): no incident at all.
    StartHealth(Roomy());
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", Name(30)}}, "o-0", Now()),
              Firing("NpdKernelDeadlock", {{"instance_id", Name(31)}}, "o-1", Now())},
             2);
}

// docs/design.md 12: the blast radius counts a cluster's instances as the database holds them,
// so a replica restarted with a fleet file that adds instances moves every replica's limit.
TEST_F(HealthServiceTest, BlastRadiusFollowsInstancesAnotherStoreImported) {
    StartHealth(AutomationOptions{});  // 0.1 of c1's 4 instances: one at a time
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i1"}}, "fp-1", Now())}, 1);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i2"}}, "fp-2", Now())}, 0);
    // Another replica (a second store on the same database) imports 16 more instances of c1.
    auto other = storage::OpenStore("sqlite:" + dir_.path() + "/health.db");
    ASSERT_TRUE(other) << other.error().message;
    storage::FleetImport fleet;
    model::Cluster c1{"c1", "c1", "Ready", {}};
    for (int i = 0; i < 16; ++i) {
        c1.gpu_worker_nodes.push_back(
            storage::test_support::TestInstance("more" + std::to_string(i), "c1", ""));
    }
    fleet.clusters = {c1};
    ASSERT_TRUE(IsOk((*other)->WriteAndWait(
        [fleet](storage::Txn& t) { return t.Inventory().ImportFleet(fleet); })));
    // Importing the same instances again adds nothing.
    ASSERT_TRUE(IsOk((*other)->WriteAndWait(
        [fleet](storage::Txn& t) { return t.Inventory().ImportFleet(fleet); })));
    (*other)->Close();
    // 0.1 of 20: two at a time, in this process too (the second goes to fp-2 or fp-3).
    ASSERT_TRUE(Ingest({Firing("NpdKernelDeadlock", {{"instance_id", "i3"}}, "fp-3", Now())}));
    ASSERT_TRUE(IsOk(health_->SweepOnce()));
    EXPECT_EQ(ActiveCount("c1"), 2);
    IngestOk({Firing("NpdKernelDeadlock", {{"instance_id", "i4"}}, "fp-4", Now())}, 0);
    EXPECT_EQ(ActiveCount("c1"), 2);
}

}  // namespace
}  // namespace noderepair::health
