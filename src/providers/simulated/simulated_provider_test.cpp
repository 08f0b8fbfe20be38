#include "providers/simulated/simulated_provider.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/control.hpp"
#include "engine/executor.hpp"
#include "providers/simulated/faults.hpp"
#include "remediation/service.hpp"
#include "storage/open.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::providers::simulated {
namespace {

using model::Mode;
using model::State;
using std::chrono::milliseconds;
using std::chrono::seconds;
using storage::test_support::ReadValue;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;
using storage::test_support::TestInstance;

// hA holds iA, hB holds iB and iD (co-tenants), hC is empty; iC has no VM.
storage::FleetImport SmallFleet() {
    storage::FleetImport fleet;
    for (const char* name : {"hA", "hB", "hC"}) {
        model::Host host;
        host.host_name = name;
        host.gpu_slots = 8;
        fleet.hosts.push_back(host);
    }
    model::Cluster c1{"c1", "cluster one", "Ready", {}};
    c1.gpu_worker_nodes = {TestInstance("iA", "c1", "hA", 8), TestInstance("iB", "c1", "hB", 4),
                           TestInstance("iC", "c1", "", 4), TestInstance("iD", "c1", "hB", 4)};
    fleet.clusters = {c1};
    return fleet;
}

Timing DistinctTiming() {
    Timing t;
    t.cordon = milliseconds(1000);
    t.drain = milliseconds(2000);
    t.delete_vm = milliseconds(3000);
    t.provision_vm = milliseconds(4000);
    t.boot = milliseconds(5000);
    t.reboot = milliseconds(6000);
    t.power_cycle = milliseconds(7000);
    return t;
}

Operation Op(Action action, const std::string& key, const std::string& instance,
             const std::string& host) {
    Operation op;
    op.action = action;
    op.key = key;
    op.instance_id = instance;
    op.host = host;
    return op;
}

class SimulatedProviderTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = storage::OpenStore("sqlite:" + dir_.path() + "/sim.db");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
        ASSERT_TRUE(store_->WriteAndWait(
            [](storage::Txn& txn) { return txn.Inventory().ImportFleet(SmallFleet()); }));
        provider_ = std::make_unique<SimulatedProvider>(*store_, DistinctTiming());
        ASSERT_TRUE(provider_->Adopt(SmallFleet()));
    }
    void TearDown() override {
        provider_.reset();
        if (store_) store_->Close();
    }

    CallContext Call() { return {clock_, clock_.Now() + std::chrono::hours(1), cancellation_}; }
    Result<std::string> Start(const Operation& op) { return provider_->Start(op, Call()); }
    Result<OperationStatus> Poll(const std::string& handle) {
        return provider_->Poll(handle, Call());
    }
    // Starts `op` and polls it once its latency has passed; the status of that poll.
    Result<OperationStatus> Run(const Operation& op) {
        auto handle = Start(op);
        if (!handle) return handle.error();
        clock_.Advance(seconds(10));
        return Poll(*handle);
    }

    // The world's VMs, as "instance@host".
    std::vector<std::string> World() {
        auto vms = ReadValue<std::vector<storage::SimVm>>(
            *store_, [](storage::Reader& r) { return r.Simulated().ListVms(); });
        NR_ASSERT(vms.has_value(), "reading the simulated world");
        std::vector<std::string> out;
        for (const auto& vm : *vms) out.push_back(vm.instance_id + "@" + vm.host_name);
        return out;
    }
    void Degrade(const std::string& host) {
        ASSERT_TRUE(store_->WriteAndWait(
            [&](storage::Txn& txn) { return txn.Simulated().SetHostDegraded(host, true); }));
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    std::shared_ptr<Cancellation> cancellation_ = std::make_shared<Cancellation>();
    std::unique_ptr<storage::Store> store_;
    std::unique_ptr<SimulatedProvider> provider_;
};

bool IsDone(const Result<OperationStatus>& s) {
    return s && s->phase == OperationStatus::Phase::kDone;
}

TEST_F(SimulatedProviderTest, TheWorldStartsAsTheFleetFileHasIt) {
    EXPECT_EQ(World(), (std::vector<std::string>{"iA@hA", "iB@hB", "iD@hB"}));
}

// Adopting happens at every start: instances the world knows keep what was done to them.
TEST_F(SimulatedProviderTest, AdoptAddsOnlyInstancesTheWorldHasNeverSeen) {
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/delete_vm", "iA", "hA"))));
    auto fleet = SmallFleet();
    fleet.clusters[0].gpu_worker_nodes.push_back(TestInstance("iE", "c1", "hC", 8));
    ASSERT_TRUE(provider_->Adopt(fleet));
    EXPECT_EQ(World(), (std::vector<std::string>{"iB@hB", "iD@hB", "iE@hC"}));
}

TEST_F(SimulatedProviderTest, EachActionTakesItsTimingLatency) {
    const std::vector<std::pair<Action, milliseconds>> expected = {
        {Action::kCordonHost, milliseconds(1000)},    {Action::kDrain, milliseconds(2000)},
        {Action::kDeleteVm, milliseconds(3000)},      {Action::kProvisionVm, milliseconds(4000)},
        {Action::kWaitReady, milliseconds(5000)},     {Action::kRebootVm, milliseconds(6000)},
        {Action::kPowerCycleHost, milliseconds(7000)}};
    int n = 0;
    for (const auto& [action, latency] : expected) {
        const Timestamp started = clock_.Now();
        auto handle = Start(Op(action, "r" + std::to_string(n++) + "/x", "iB", "hB"));
        ASSERT_TRUE(handle) << handle.error().message;
        auto status = Poll(*handle);
        ASSERT_TRUE(status);
        EXPECT_EQ(status->phase, OperationStatus::Phase::kRunning) << ActionName(action);
        EXPECT_EQ(status->poll_at, started + latency) << ActionName(action);
        clock_.Advance(latency);
        EXPECT_TRUE(IsDone(Poll(*handle))) << ActionName(action);
    }
}

TEST_F(SimulatedProviderTest, DeleteAndProvisionMoveTheVmInTheWorld) {
    ASSERT_TRUE(IsDone(Run(Op(Action::kDeleteVm, "r1/delete_vm", "iA", "hA"))));
    EXPECT_EQ(World(), (std::vector<std::string>{"iB@hB", "iD@hB"}));
    ASSERT_TRUE(IsDone(Run(Op(Action::kProvisionVm, "r1/provision_vm", "iA", "hC"))));
    EXPECT_EQ(World(), (std::vector<std::string>{"iA@hC", "iB@hB", "iD@hB"}));
}

// The key is the idempotency key: a repeat, and a repeat after a restart, is the same
// operation and changes the world once.
TEST_F(SimulatedProviderTest, AProvisionRepeatedUnderItsKeyMakesOneVm) {
    const Operation provision = Op(Action::kProvisionVm, "r1/provision_vm", "iC", "hC");
    auto first = Start(provision);
    auto again = Start(provision);
    ASSERT_TRUE(first && again);
    EXPECT_EQ(*first, *again);
    clock_.Advance(seconds(10));
    ASSERT_TRUE(IsDone(Poll(*first)));
    // A restarted server: a new provider over the same world.
    provider_ = std::make_unique<SimulatedProvider>(*store_, DistinctTiming());
    auto after_restart = Start(provision);
    ASSERT_TRUE(after_restart);
    ASSERT_TRUE(IsDone(Poll(*after_restart)));
    EXPECT_EQ(World(), (std::vector<std::string>{"iA@hA", "iB@hB", "iC@hC", "iD@hB"}));
}

// A world change started before a restart is found again, with its time left.
TEST_F(SimulatedProviderTest, AWorldChangeInProgressSurvivesARestart) {
    auto handle = Start(Op(Action::kDeleteVm, "r1/delete_vm", "iA", "hA"));
    ASSERT_TRUE(handle);
    provider_ = std::make_unique<SimulatedProvider>(*store_, DistinctTiming());
    auto status = Poll(*handle);
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(status->poll_at, TestEpoch() + milliseconds(3000));
    clock_.Advance(seconds(3));
    EXPECT_TRUE(IsDone(Poll(*handle)));
    EXPECT_EQ(World(), (std::vector<std::string>{"iB@hB", "iD@hB"}));
}

// Operations that change nothing in the world are remembered in memory only: after a restart
// their handle is lost, so the engine starts them again.
TEST_F(SimulatedProviderTest, ADrainLostWithARestartIsStartedAgain) {
    auto handle = Start(Op(Action::kDrain, "r1/drain", "iB", "hB"));
    ASSERT_TRUE(handle);
    provider_ = std::make_unique<SimulatedProvider>(*store_, DistinctTiming());
    auto lost = Poll(*handle);
    ASSERT_TRUE(lost) << lost.error().message;
    EXPECT_EQ(lost->phase, OperationStatus::Phase::kLost);
    EXPECT_NE(lost->note.find("lost with a restart"), std::string::npos) << lost->note;
}

TEST_F(SimulatedProviderTest, RebootAndWaitNeedTheVmWhereTheEngineSaysItIs) {
    EXPECT_TRUE(IsDone(Run(Op(Action::kRebootVm, "r1/reboot_vm", "iA", "hA"))));
    EXPECT_TRUE(IsDone(Run(Op(Action::kWaitReady, "r1/wait_ready", "iA", "hA"))));
    for (Action action : {Action::kRebootVm, Action::kWaitReady}) {
        auto wrong = Run(Op(action, "r2/" + std::string(ActionName(action)), "iA", "hC"));
        ASSERT_FALSE(wrong) << ActionName(action);
        EXPECT_EQ(wrong.error().code, Code::kFailedPrecondition);
        EXPECT_NE(wrong.error().message.find("has no VM on host hC"), std::string::npos)
            << wrong.error().message;
    }
}

TEST_F(SimulatedProviderTest, VerifyFailsNamingTheTestOnADegradedHost) {
    Operation verify = Op(Action::kVerify, "r1/verify", "iB", "hB");
    verify.tests = {"dcgm_diag", "gpu_burn"};
    EXPECT_TRUE(IsDone(Run(verify)));
    Degrade("hB");
    verify.key = "r2/verify";
    auto failed = Run(verify);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().message, "verify test dcgm_diag failed: host hB is degraded");
}

// With timing.blocking the call itself takes the operation's time, as a synchronous API does.
TEST_F(SimulatedProviderTest, BlockingCallsTakeTheirLatencyAndAnswerDone) {
    Timing timing;
    timing.reboot = milliseconds(150);
    timing.blocking = true;
    SimulatedProvider blocking(*store_, timing);
    SystemClock clock;
    const auto began = std::chrono::steady_clock::now();
    CallContext call(clock, clock.Now() + seconds(60), std::make_shared<Cancellation>());
    auto handle = blocking.Start(Op(Action::kRebootVm, "r1/reboot_vm", "iA", "hA"), call);
    ASSERT_TRUE(handle) << handle.error().message;
    EXPECT_GE(std::chrono::steady_clock::now() - began, milliseconds(150));
    EXPECT_TRUE(IsDone(blocking.Poll(*handle, call)));
}

TEST_F(SimulatedProviderTest, ABlockingCallEndsWhenCancelled) {
    Timing timing;
    timing.power_cycle = std::chrono::minutes(10);
    timing.blocking = true;
    SimulatedProvider blocking(*store_, timing);
    SystemClock clock;
    auto cancellation = std::make_shared<Cancellation>();
    CallContext call(clock, clock.Now() + std::chrono::hours(1), cancellation);
    auto answer = std::async(std::launch::async, [&] {
        return blocking.Start(Op(Action::kPowerCycleHost, "r1/power_cycle_host", "iB", "hB"), call);
    });
    std::this_thread::sleep_for(milliseconds(50));
    cancellation->Cancel();
    auto interrupted = answer.get();
    ASSERT_FALSE(interrupted);
    EXPECT_TRUE(IsTransient(interrupted.error().code)) << interrupted.error().message;
}

// ---- Faults -----------------------------------------------------------------------------------

class SimulatedFaultsTest : public SimulatedProviderTest {
protected:
    Result<std::vector<model::IncomingAlert>> Raise(const std::string& instance, Fault fault,
                                                    std::vector<std::string> scope = {}) {
        SimulatedFaults faults(*store_, clock_);
        std::promise<Result<std::vector<model::IncomingAlert>>> done;
        auto future = done.get_future();
        faults.Raise(
            instance, std::move(fault),
            [scope](const std::string& cluster) {
                return scope.empty() || std::count(scope.begin(), scope.end(), cluster) > 0;
            },
            [&done](auto alerts) { done.set_value(std::move(alerts)); });
        return future.get();
    }
};

TEST_F(SimulatedFaultsTest, XidMakesTheAlertAnExporterWouldAndClearResolvesIt) {
    auto raised = Raise("iA", {"xid", 79, ""});
    ASSERT_TRUE(raised) << raised.error().message;
    ASSERT_EQ(raised->size(), 1u);
    const auto alert = raised->front();
    EXPECT_TRUE(alert.firing);
    EXPECT_EQ(alert.labels.at("alertname"), "DmesgXidError");
    EXPECT_EQ(alert.labels.at("xid"), "79");
    EXPECT_EQ(alert.labels.at("instance_id"), "iA");
    clock_.Advance(seconds(5));
    auto cleared = Raise("iA", {"clear", 0, ""});
    ASSERT_TRUE(cleared);
    ASSERT_EQ(cleared->size(), 1u);
    const auto resolved = cleared->front();
    EXPECT_FALSE(resolved.firing);
    EXPECT_EQ(resolved.fingerprint, alert.fingerprint);
    EXPECT_EQ(resolved.labels, alert.labels);
    EXPECT_EQ(resolved.annotations, alert.annotations);
    EXPECT_EQ(resolved.starts_at, alert.starts_at) << "the same occurrence";
    EXPECT_EQ(resolved.ends_at, clock_.Now());
    auto again = Raise("iA", {"clear", 0, ""});
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->empty()) << "nothing left to clear";
}

TEST_F(SimulatedFaultsTest, DegradedIsSilentAndClearHealsTheHost) {
    auto raised = Raise("iB", {"degraded", 0, ""});
    ASSERT_TRUE(raised);
    EXPECT_TRUE(raised->empty());
    Operation verify = Op(Action::kVerify, "r1/verify", "iD", "hB");
    verify.tests = {"gpu_burn"};
    EXPECT_FALSE(Run(verify)) << "the co-tenant's host is degraded too";
    ASSERT_TRUE(Raise("iB", {"clear", 0, ""}));
    verify.key = "r2/verify";
    EXPECT_TRUE(IsDone(Run(verify)));
}

TEST_F(SimulatedFaultsTest, UnknownOrOutOfScopeInstancesAreNotFoundAndBadKindsRefused) {
    for (auto [instance, scope] :
         {std::pair<std::string, std::vector<std::string>>{"nope", {}}, {"iA", {"c2"}}}) {
        auto got = Raise(instance, {"thermal", 0, ""}, scope);
        ASSERT_FALSE(got) << instance;
        EXPECT_EQ(got.error().code, Code::kNotFound);
    }
    auto bad = Raise("iA", {"meteor", 0, ""});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
    auto no_xid = Raise("iA", {"xid", 0, ""});
    ASSERT_FALSE(no_xid);
    EXPECT_EQ(no_xid.error().code, Code::kInvalidArgument);
    auto no_vm = Raise("iC", {"degraded", 0, ""});
    ASSERT_FALSE(no_vm);
    EXPECT_EQ(no_vm.error().code, Code::kFailedPrecondition);
}

// ---- With the engine --------------------------------------------------------------------------

class SimulatedProviderEngineTest : public SimulatedProviderTest {
protected:
    void SetUp() override {
        SimulatedProviderTest::SetUp();
        if (HasFatalFailure()) return;
        provider_ = std::make_unique<SimulatedProvider>(*store_, Timing{});
        control_ = std::make_unique<engine::EngineControl>(*store_);
        service_ = std::make_unique<remediation::RemediationService>(*store_, lifecycle_);
        engine::ExecutorOptions options;
        options.verify_tests = {"dcgm_diag"};
        executor_ = std::make_unique<engine::Executor>(*store_, *provider_, *control_, clock_,
                                                       lifecycle_, options);
        ASSERT_TRUE(executor_->Resume());
    }
    void TearDown() override {
        executor_.reset();
        SimulatedProviderTest::TearDown();
    }

    model::Remediation RunToEnd(const std::string& instance, Mode mode) {
        remediation::CreateRequest request{"c1", instance, mode, "", ""};
        std::promise<Result<model::Remediation>> created;
        auto future = created.get_future();
        service_->Create({"alice", auth::Role::kOperator, {}}, request,
                         [&](Result<model::Remediation> r) { created.set_value(std::move(r)); });
        auto r = future.get();
        NR_ASSERT(r.has_value(), "a test remediation is created");
        EXPECT_TRUE(executor_->RunOnce());
        auto stored = storage::test_support::GetStored(*store_, r->id);
        NR_ASSERT(stored.has_value(), "the remediation is stored");
        return *stored;
    }
    std::string HostOf(const std::string& instance) {
        auto got = ReadValue<std::optional<model::Instance>>(
            *store_, [&](storage::Reader& r) { return r.Inventory().GetInstance(instance); });
        NR_ASSERT(got.has_value() && got->has_value(), "a test instance");
        return (*got)->host_name;
    }

    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<engine::EngineControl> control_;
    std::unique_ptr<remediation::RemediationService> service_;
    std::unique_ptr<engine::Executor> executor_;
};

TEST_F(SimulatedProviderEngineTest, HostAwareMovesTheVmInTheWorldAndTheRecords) {
    const auto r = RunToEnd("iA", Mode::kHostAware);
    ASSERT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(HostOf("iA"), "hC");
    EXPECT_EQ(World(), (std::vector<std::string>{"iA@hC", "iB@hB", "iD@hB"}));
}

TEST_F(SimulatedProviderEngineTest, VmOnlyReplacesTheVmOnItsOwnHost) {
    const auto r = RunToEnd("iB", Mode::kVmOnly);
    ASSERT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(World(), (std::vector<std::string>{"iA@hA", "iB@hB", "iD@hB"}));
}

TEST_F(SimulatedProviderEngineTest, EvictLeavesNoVmInTheWorld) {
    const auto r = RunToEnd("iA", Mode::kEvictWithoutReplacement);
    ASSERT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(HostOf("iA"), "");
    EXPECT_EQ(World(), (std::vector<std::string>{"iB@hB", "iD@hB"}));
}

TEST_F(SimulatedProviderEngineTest, VerifyOnADegradedHostFailsThePowerCycle) {
    Degrade("hB");
    const auto r = RunToEnd("iB", Mode::kHostPowerCycle);
    EXPECT_EQ(r.state, State::kFailed);
    EXPECT_NE(r.error_message.find("host hB is degraded"), std::string::npos) << r.error_message;
}

}  // namespace
}  // namespace noderepair::providers::simulated
