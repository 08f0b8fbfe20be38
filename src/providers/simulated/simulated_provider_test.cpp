#include "providers/simulated/simulated_provider.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/control.hpp"
#include "engine/executor.hpp"
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

// hA (8 slots) holds iA (8 GPUs): full. hB (8) holds iB (2): 6 free. hC (8): empty. hD (4):
// empty. iC (4 GPUs) has no VM.
storage::FleetImport SmallFleet() {
    storage::FleetImport fleet;
    for (const auto& [name, slots] :
         {std::pair<const char*, int>{"hA", 8}, {"hB", 8}, {"hC", 8}, {"hD", 4}}) {
        model::Host host;
        host.host_name = name;
        host.gpu_slots = slots;
        fleet.hosts.push_back(host);
    }
    model::Cluster c1{"c1", "cluster one", "Ready", {}};
    c1.gpu_worker_nodes = {TestInstance("iA", "c1", "hA", 8), TestInstance("iB", "c1", "hB", 2),
                           TestInstance("iC", "c1", "", 4)};
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
             const std::string& host, int gpus = 0) {
    Operation op;
    op.action = action;
    op.key = key;
    op.instance_id = instance;
    op.host = host;
    op.num_gpus = gpus;
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
    }
    void TearDown() override {
        if (store_) store_->Close();
    }

    // Runs `work` in one transaction of the writer and returns its result.
    template <class T>
    Result<T> InTxn(std::function<Result<T>(storage::Txn&)> work) {
        std::optional<Result<T>> out;
        Status status = store_->WriteAndWait([&](storage::Txn& txn) -> Status {
            out.emplace(work(txn));
            if (!*out) return out->error();
            return OkStatus();
        });
        if (!out) return status.error();
        if (!status && *out) return status.error();
        return std::move(*out);
    }

    Result<std::string> Start(const Operation& op, Timestamp now) {
        return InTxn<std::string>([&](storage::Txn& txn) { return provider_.Start(txn, op, now); });
    }
    Result<OperationStatus> Poll(const std::string& handle, Timestamp now) {
        return InTxn<OperationStatus>(
            [&](storage::Txn& txn) { return provider_.Poll(txn, handle, now); });
    }
    // Starts `op` and polls it once at `now`: done at once for zero-latency actions.
    OperationStatus StartAndPoll(const Operation& op, Timestamp now) {
        auto handle = Start(op, now);
        EXPECT_TRUE(handle) << handle.error().message;
        if (!handle) return {};
        auto status = Poll(*handle, now);
        EXPECT_TRUE(status) << status.error().message;
        return status ? *status : OperationStatus{};
    }
    std::string Reserve(const std::string& key, const std::string& instance,
                        const std::string& host, int gpus, bool other_host = false) {
        Operation op = Op(Action::kReserve, key, instance, host, gpus);
        op.other_host = other_host;
        OperationStatus status = StartAndPoll(op, t0_);
        if (status.phase != OperationStatus::Phase::kDone) return "";
        return status.result;
    }
    void SetCordoned(const std::string& host, bool cordoned) {
        ASSERT_TRUE(store_->WriteAndWait(
            [&](storage::Txn& txn) { return txn.Inventory().SetHostCordoned(host, cordoned); }));
    }
    void SetDegraded(const std::string& host) {
        ASSERT_TRUE(store_->WriteAndWait(
            [&](storage::Txn& txn) { return txn.Settings().Put(DegradedHostKey(host), "1"); }));
    }
    Operation VerifyOp(const std::string& key, const std::string& instance,
                       const std::string& host) {
        Operation op = Op(Action::kVerify, key, instance, host);
        op.tests = {"dcgm-diag-r2", "nccl-allreduce"};
        return op;
    }
    void Release(const std::string& instance) {
        ASSERT_TRUE(store_->WriteAndWait(
            [&](storage::Txn& txn) { return provider_.Release(txn, instance); }));
    }

    model::Host HostNamed(const std::string& name) {
        auto hosts = ReadValue<std::vector<model::Host>>(
            *store_, [](storage::Reader& r) { return r.Inventory().ListHosts(); });
        NR_ASSERT(hosts.has_value(), "listing hosts");
        for (const auto& h : *hosts) {
            if (h.host_name == name) return h;
        }
        ADD_FAILURE() << "no host " << name;
        return {};
    }
    int UsedGpus(const std::string& host) { return HostNamed(host).used_gpus; }
    model::Instance InstanceNamed(const std::string& id) {
        auto got = ReadValue<std::optional<model::Instance>>(
            *store_, [&](storage::Reader& r) { return r.Inventory().GetInstance(id); });
        NR_ASSERT(got.has_value() && got->has_value(), "reading a test instance");
        return **got;
    }
    std::optional<storage::SimOperation> SimOp(const std::string& key) {
        auto got = InTxn<std::optional<storage::SimOperation>>(
            [&](storage::Txn& txn) { return txn.Simulated().GetOperation(key); });
        NR_ASSERT(got.has_value(), "reading a simulated operation");
        return *got;
    }

    ScopedTempDir dir_;
    Timestamp t0_ = TestEpoch();
    std::unique_ptr<storage::Store> store_;
    SimulatedProvider provider_{Timing{}};
};

// ---- Reservations ---------------------------------------------------------------------------

TEST_F(SimulatedProviderTest, ReserveTakesTheHostWithMostFreeSlots) {
    EXPECT_EQ(Reserve("r/0", "iB", "hB", 2), "hC");
    // The reservation holds the slots: ListHosts counts it as used.
    EXPECT_EQ(UsedGpus("hC"), 2);
    EXPECT_EQ(UsedGpus("hB"), 2);
}

TEST_F(SimulatedProviderTest, ReserveSkipsCordonedHostsAndMayReuseTheSameHost) {
    SetCordoned("hC", true);
    EXPECT_EQ(Reserve("r/0", "iB", "hB", 2), "hB") << "hB (6 free) beats hD (4 free)";
    EXPECT_EQ(UsedGpus("hB"), 4);
    EXPECT_EQ(UsedGpus("hC"), 0);
}

TEST_F(SimulatedProviderTest, ReserveAvoidsTheOldHostWhenAnotherIsRequired) {
    SetCordoned("hC", true);
    EXPECT_EQ(Reserve("r/0", "iB", "hB", 2, /*other_host=*/true), "hD");
    EXPECT_EQ(UsedGpus("hB"), 2);
    EXPECT_EQ(UsedGpus("hD"), 2);
}

TEST_F(SimulatedProviderTest, ReservationsCountAgainstLaterReservations) {
    EXPECT_EQ(Reserve("a/0", "iA", "hA", 8), "hC");
    // hC is now full: 4 GPUs go to the roomiest of hB (6 free) and hD (4 free).
    EXPECT_EQ(Reserve("c/0", "iC", "", 4), "hB");
    EXPECT_EQ(Reserve("b/0", "iB", "hB", 2, true), "hD");
    EXPECT_EQ(UsedGpus("hC"), 8);
    EXPECT_EQ(UsedGpus("hB"), 6);
    EXPECT_EQ(UsedGpus("hD"), 2);
}

TEST_F(SimulatedProviderTest, ReserveWithoutRoomKeepsRunningUntilRoomAppears) {
    SetCordoned("hC", true);
    auto handle = Start(Op(Action::kReserve, "r/0", "iA", "hA", 8), t0_);
    ASSERT_TRUE(handle) << handle.error().message;
    auto waiting = Poll(*handle, t0_);
    ASSERT_TRUE(waiting) << waiting.error().message;
    EXPECT_EQ(waiting->phase, OperationStatus::Phase::kRunning);
    EXPECT_GT(waiting->poll_at, t0_);
    EXPECT_LE(waiting->poll_at, t0_ + seconds(5));
    EXPECT_EQ(UsedGpus("hA"), 8) << "nothing is held while waiting";
    EXPECT_EQ(UsedGpus("hB"), 2);
    EXPECT_EQ(UsedGpus("hC"), 0);
    EXPECT_EQ(UsedGpus("hD"), 0);

    SetCordoned("hC", false);
    auto placed = Poll(*handle, t0_ + seconds(1));
    ASSERT_TRUE(placed) << placed.error().message;
    EXPECT_EQ(placed->phase, OperationStatus::Phase::kDone);
    EXPECT_EQ(placed->result, "hC");
    EXPECT_EQ(UsedGpus("hC"), 8);
}

TEST_F(SimulatedProviderTest, ExcludedHostIsNotUsedEvenWhenItIsTheOnlyOneWithRoom) {
    auto handle = Start(
        [] {
            Operation op = Op(Action::kReserve, "r/0", "iC", "hC", 8);
            op.other_host = true;
            return op;
        }(),
        t0_);
    ASSERT_TRUE(handle);
    auto status = Poll(*handle, t0_);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->phase, OperationStatus::Phase::kRunning);
    EXPECT_EQ(UsedGpus("hC"), 0);
}

TEST_F(SimulatedProviderTest, ProvisionTurnsTheReservationIntoTheVm) {
    ASSERT_EQ(Reserve("a/0", "iA", "hA", 8), "hC");
    EXPECT_EQ(UsedGpus("hC"), 8);
    auto deleted = StartAndPoll(Op(Action::kDeleteVm, "a/1", "iA", "hA", 8), t0_);
    EXPECT_EQ(deleted.phase, OperationStatus::Phase::kDone);
    EXPECT_EQ(InstanceNamed("iA").host_name, "");
    EXPECT_EQ(InstanceNamed("iA").status, "Replacing");
    EXPECT_EQ(UsedGpus("hA"), 0);

    Operation provision = Op(Action::kProvisionVm, "a/2", "iA", "hA", 8);
    provision.target_host = "hC";
    auto provisioned = StartAndPoll(provision, t0_);
    EXPECT_EQ(provisioned.phase, OperationStatus::Phase::kDone);
    const auto instance = InstanceNamed("iA");
    EXPECT_EQ(instance.host_name, "hC");
    EXPECT_EQ(instance.status, "Booting");
    // Used = the VMs alone: the reservation is gone, not counted twice.
    const auto host = HostNamed("hC");
    EXPECT_EQ(host.used_gpus, 8);
    ASSERT_EQ(host.instances.size(), 1u);
    EXPECT_EQ(host.instances[0].instance_id, "iA");
    // And releasing afterwards frees nothing that belongs to the VM.
    Release("iA");
    EXPECT_EQ(UsedGpus("hC"), 8);
}

TEST_F(SimulatedProviderTest, ReleaseFreesTheReservation) {
    ASSERT_EQ(Reserve("a/0", "iA", "hA", 8), "hC");
    EXPECT_EQ(UsedGpus("hC"), 8);
    Release("iA");
    EXPECT_EQ(UsedGpus("hC"), 0);
    EXPECT_EQ(Reserve("c/0", "iC", "", 8), "hC") << "the slots are free for others again";
    Release("nobody");  // nothing held: not an error
}

// ---- Idempotency and latency ----------------------------------------------------------------

TEST_F(SimulatedProviderTest, StartIsIdempotentByKey) {
    provider_ = SimulatedProvider(DistinctTiming());
    auto first = Start(Op(Action::kDrain, "r/1", "iB", "hB"), t0_);
    ASSERT_TRUE(first) << first.error().message;
    auto again = Start(Op(Action::kDrain, "r/1", "iB", "hB"), t0_ + seconds(1));
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *first);
    auto op = SimOp("r/1");
    ASSERT_TRUE(op);
    EXPECT_EQ(op->ready_at, t0_ + seconds(2)) << "the second Start made no new operation";

    auto early = Poll(*first, t0_ + seconds(2) - std::chrono::microseconds(1));
    ASSERT_TRUE(early);
    EXPECT_EQ(early->phase, OperationStatus::Phase::kRunning);
    auto done = Poll(*first, t0_ + seconds(2));
    ASSERT_TRUE(done);
    EXPECT_EQ(done->phase, OperationStatus::Phase::kDone);
}

TEST_F(SimulatedProviderTest, RepeatedReserveAndProvisionHoldOneSlotSetAndMakeOneVm) {
    ASSERT_EQ(Reserve("a/0", "iA", "hA", 8), "hC");
    // A retry or a resume starts and polls the same key again: same host, nothing new held.
    EXPECT_EQ(Reserve("a/0", "iA", "hA", 8), "hC");
    EXPECT_EQ(UsedGpus("hC"), 8);
    EXPECT_EQ(UsedGpus("hB"), 2);

    StartAndPoll(Op(Action::kDeleteVm, "a/1", "iA", "hA", 8), t0_);
    Operation provision = Op(Action::kProvisionVm, "a/2", "iA", "hA", 8);
    provision.target_host = "hC";
    StartAndPoll(provision, t0_);
    auto again = StartAndPoll(provision, t0_ + seconds(1));
    EXPECT_EQ(again.phase, OperationStatus::Phase::kDone);
    EXPECT_EQ(UsedGpus("hC"), 8);
    EXPECT_EQ(HostNamed("hC").instances.size(), 1u);
}

TEST_F(SimulatedProviderTest, PollBeforeReadyIsRunningUntilReadyAt) {
    provider_ = SimulatedProvider(DistinctTiming());
    auto handle = Start(Op(Action::kPowerCycleHost, "p/2", "iB", "hB"), t0_);
    ASSERT_TRUE(handle);
    for (auto at : {t0_, t0_ + seconds(3), t0_ + seconds(7) - std::chrono::microseconds(1)}) {
        auto status = Poll(*handle, at);
        ASSERT_TRUE(status) << status.error().message;
        EXPECT_EQ(status->phase, OperationStatus::Phase::kRunning);
        EXPECT_EQ(status->poll_at, t0_ + seconds(7));
        EXPECT_EQ(InstanceNamed("iB").status, "PowerCycling");
    }
    auto done = Poll(*handle, t0_ + seconds(7));
    ASSERT_TRUE(done);
    EXPECT_EQ(done->phase, OperationStatus::Phase::kDone);
    EXPECT_EQ(InstanceNamed("iB").status, "Booting");
    // Polling a finished operation again is harmless and still done.
    auto later = Poll(*handle, t0_ + seconds(100));
    ASSERT_TRUE(later);
    EXPECT_EQ(later->phase, OperationStatus::Phase::kDone);
}

TEST_F(SimulatedProviderTest, EachActionTakesItsTimingLatency) {
    provider_ = SimulatedProvider(DistinctTiming());
    const std::vector<std::pair<Action, seconds>> expected = {
        {Action::kCordonHost, seconds(1)},     {Action::kUncordonHost, seconds(1)},
        {Action::kDrain, seconds(2)},          {Action::kDeleteVm, seconds(3)},
        {Action::kEvictVm, seconds(3)},        {Action::kProvisionVm, seconds(4)},
        {Action::kWaitReady, seconds(5)},      {Action::kRebootVm, seconds(6)},
        {Action::kPowerCycleHost, seconds(7)}, {Action::kRejoin, seconds(0)},
        {Action::kVerify, seconds(0)},
    };
    int n = 0;
    for (const auto& [action, latency] : expected) {
        const std::string key = "lat/" + std::to_string(n++);
        ASSERT_TRUE(Start(Op(action, key, "iB", "hB", 2), t0_));
        auto op = SimOp(key);
        ASSERT_TRUE(op) << ActionName(action);
        EXPECT_EQ(op->ready_at, t0_ + latency) << ActionName(action);
        EXPECT_EQ(op->action, ActionName(action));
        EXPECT_FALSE(op->applied) << ActionName(action);
    }
}

TEST_F(SimulatedProviderTest, PollOfAnUnknownHandleIsNotFound) {
    auto status = Poll("never/started", t0_);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Code::kNotFound);
}

// ---- Effects --------------------------------------------------------------------------------

TEST_F(SimulatedProviderTest, CordonTakesEffectWhenDoneAndUncordonUndoesIt) {
    provider_ = SimulatedProvider(DistinctTiming());
    auto handle = Start(Op(Action::kCordonHost, "h/0", "iB", "hB"), t0_);
    ASSERT_TRUE(handle);
    ASSERT_TRUE(Poll(*handle, t0_));
    EXPECT_FALSE(HostNamed("hB").cordoned) << "not before the operation is done";
    ASSERT_TRUE(Poll(*handle, t0_ + seconds(1)));
    EXPECT_TRUE(HostNamed("hB").cordoned);
    // A cordoned host takes no reservation.
    SetCordoned("hC", true);
    auto blocked = Start(Op(Action::kReserve, "h/1", "iC", "", 4), t0_);
    ASSERT_TRUE(blocked);
    auto placed = Poll(*blocked, t0_);
    ASSERT_TRUE(placed) << placed.error().message;
    EXPECT_EQ(placed->result, "hD") << "hB has more room but is cordoned";

    auto un = Start(Op(Action::kUncordonHost, "h/2", "iB", "hB"), t0_ + seconds(2));
    ASSERT_TRUE(un);
    ASSERT_TRUE(Poll(*un, t0_ + seconds(3)));
    EXPECT_FALSE(HostNamed("hB").cordoned);
    EXPECT_EQ(InstanceNamed("iB").host_name, "hB") << "VMs on a cordoned host keep running";
}

TEST_F(SimulatedProviderTest, CordonOfAnUnknownHostIsAnError) {
    auto handle = Start(Op(Action::kCordonHost, "h/0", "iC", ""), t0_);
    ASSERT_TRUE(handle);
    auto status = Poll(*handle, t0_);
    EXPECT_FALSE(status) << "cordoning nothing must not look like success";
}

TEST_F(SimulatedProviderTest, EvictLeavesTheInstanceWithoutAVm) {
    StartAndPoll(Op(Action::kEvictVm, "e/1", "iB", "hB", 2), t0_);
    const auto instance = InstanceNamed("iB");
    EXPECT_EQ(instance.host_name, "");
    EXPECT_EQ(instance.status, "Evicted");
    EXPECT_EQ(UsedGpus("hB"), 0);
    EXPECT_TRUE(HostNamed("hB").instances.empty());
}

TEST_F(SimulatedProviderTest, DrainRebootWaitAndRejoinChangeTheNodeStatus) {
    provider_ = SimulatedProvider(DistinctTiming());
    struct Case {
        Action action;
        const char* during;  // nullptr: unchanged while it runs
        seconds latency;
    };
    const std::vector<Case> cases = {
        {Action::kDrain, "Draining", seconds(2)},
        {Action::kRebootVm, "Rebooting", seconds(6)},
        {Action::kWaitReady, nullptr, seconds(5)},
        {Action::kRejoin, nullptr, seconds(0)},
    };
    Timestamp now = t0_;
    std::vector<std::string> after;
    int n = 0;
    for (const auto& c : cases) {
        const std::string before = InstanceNamed("iB").status;
        auto handle = Start(Op(c.action, "s/" + std::to_string(n++), "iB", "hB", 2), now);
        ASSERT_TRUE(handle) << ActionName(c.action);
        EXPECT_EQ(InstanceNamed("iB").status, c.during ? c.during : before) << ActionName(c.action);
        now += c.latency;
        auto status = Poll(*handle, now);
        ASSERT_TRUE(status) << ActionName(c.action);
        EXPECT_EQ(status->phase, OperationStatus::Phase::kDone) << ActionName(c.action);
        after.push_back(InstanceNamed("iB").status);
        EXPECT_EQ(InstanceNamed("iB").host_name, "hB") << "a reboot stays on its host";
    }
    EXPECT_EQ(after[0], "Drained");
    EXPECT_EQ(after[1], "Booting");
    EXPECT_NE(after[2], "Booting") << "wait_ready finishes the boot";
    EXPECT_EQ(after[3], "Ready");
}

// ---- Verify ---------------------------------------------------------------------------------

TEST_F(SimulatedProviderTest, VerifyPassesOnAHealthyHostAndChangesNothing) {
    SetDegraded("hA");  // another host's fault is not this VM's
    const std::string before = InstanceNamed("iB").status;
    auto status = StartAndPoll(VerifyOp("v/5", "iB", "hB"), t0_);
    EXPECT_EQ(status.phase, OperationStatus::Phase::kDone);
    EXPECT_EQ(InstanceNamed("iB").status, before);
    EXPECT_EQ(InstanceNamed("iB").host_name, "hB");
}

TEST_F(SimulatedProviderTest, VerifyFailsNamingTheFirstTestOnADegradedHost) {
    SetDegraded("hB");
    auto handle = Start(VerifyOp("v/5", "iB", "hB"), t0_);
    ASSERT_TRUE(handle) << handle.error().message;
    auto status = Poll(*handle, t0_);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Code::kFailedPrecondition);
    EXPECT_FALSE(IsTransient(status.error().code)) << "a failed test is not retried";
    EXPECT_EQ(status.error().message, "verify test dcgm-diag-r2 failed: host hB is degraded");
    // It stays failed: polling again does not turn it into a pass.
    auto again = Poll(*handle, t0_ + seconds(1));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Code::kFailedPrecondition);
}

// The host that counts is where the VM is now, not where the remediation found it.
TEST_F(SimulatedProviderTest, VerifyLooksAtTheInstancesCurrentHost) {
    SetDegraded("hB");
    ASSERT_EQ(Reserve("m/1", "iB", "hB", 2, /*other_host=*/true), "hC");
    StartAndPoll(Op(Action::kDeleteVm, "m/3", "iB", "hB", 2), t0_);
    Operation provision = Op(Action::kProvisionVm, "m/4", "iB", "hB", 2);
    provision.target_host = "hC";
    StartAndPoll(provision, t0_);
    ASSERT_EQ(InstanceNamed("iB").host_name, "hC");
    auto status = StartAndPoll(VerifyOp("m/6", "iB", "hB"), t0_);
    EXPECT_EQ(status.phase, OperationStatus::Phase::kDone);

    SetDegraded("hC");
    auto handle = Start(VerifyOp("n/6", "iB", "hB"), t0_);
    ASSERT_TRUE(handle);
    auto failed = Poll(*handle, t0_);
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("host hC"), std::string::npos) << failed.error().message;
}

// ---- With the engine ------------------------------------------------------------------------

class SimulatedProviderEngineTest : public SimulatedProviderTest {
protected:
    void SetUp() override {
        SimulatedProviderTest::SetUp();
        service_ = std::make_unique<remediation::RemediationService>(*store_, lifecycle_);
        control_ = std::make_unique<engine::EngineControl>(*store_);
    }
    void TearDown() override {
        exec_.reset();
        SimulatedProviderTest::TearDown();
    }

    model::Remediation Run(const std::string& instance, Mode mode,
                           engine::ExecutorOptions options = {}) {
        exec_ = std::make_unique<engine::Executor>(
            *store_, provider_, *control_, clock_, lifecycle_,
            options);
        EXPECT_TRUE(exec_->Resume());
        remediation::CreateRequest request;
        request.cluster_id = "c1";
        request.instance_id = instance;
        request.mode = mode;
        std::promise<Result<model::Remediation>> promise;
        auto future = promise.get_future();
        service_->Create({"alice", auth::Role::kOperator, {}}, request,
                         [&](Result<model::Remediation> r) { promise.set_value(std::move(r)); });
        auto created = future.get();
        EXPECT_TRUE(created) << created.error().message;
        if (!created) return {};
        for (int round = 0; round < 200; ++round) {
            EXPECT_TRUE(exec_->RunOnce());
            auto r = storage::test_support::GetStored(*store_, created->id);
            if (r && model::IsTerminal(r->state)) return *r;
            clock_.Advance(milliseconds(500));
        }
        ADD_FAILURE() << "not finished";
        return *storage::test_support::GetStored(*store_, created->id);
    }

    FakeClock clock_{TestEpoch()};

    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<remediation::RemediationService> service_;
    std::unique_ptr<engine::EngineControl> control_;
    std::unique_ptr<engine::Executor> exec_;
};

TEST_F(SimulatedProviderEngineTest, HostAwareMovesTheVmAndLeavesTheOldHostCordoned) {
    provider_ = SimulatedProvider(DistinctTiming());
    const auto r = Run("iB", Mode::kHostAware);
    EXPECT_EQ(r.state, State::kSucceeded) << r.error_message;
    const auto instance = InstanceNamed("iB");
    EXPECT_EQ(instance.host_name, "hC");
    EXPECT_EQ(instance.status, "Ready");
    EXPECT_TRUE(HostNamed("hB").cordoned);
    EXPECT_EQ(UsedGpus("hB"), 0);
    EXPECT_EQ(UsedGpus("hC"), 2) << "the VM only, no leftover reservation";
}

TEST_F(SimulatedProviderEngineTest, VmOnlyWithoutRoomFailsAndLeavesTheVmWhereItWas) {
    SetCordoned("hC", true);
    engine::ExecutorOptions options;
    options.capacity_wait = seconds(3);
    const auto r = Run("iA", Mode::kVmOnly, options);
    EXPECT_EQ(r.state, State::kFailed);
    EXPECT_NE(r.error_message.find("free GPU slots"), std::string::npos) << r.error_message;
    const auto instance = InstanceNamed("iA");
    EXPECT_EQ(instance.host_name, "hA");
    EXPECT_EQ(instance.status, "Ready");
    for (const char* h : {"hA", "hB", "hC", "hD"}) {
        int vms = 0;
        for (const auto& i : HostNamed(h).instances) vms += InstanceNamed(i.instance_id).num_gpus;
        EXPECT_EQ(UsedGpus(h), vms) << h << ": no reservation is left behind";
    }
}

TEST_F(SimulatedProviderEngineTest, PowerCycleKeepsTheHostAndUncordonsIt) {
    const auto r = Run("iB", Mode::kHostPowerCycle);
    EXPECT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(InstanceNamed("iB").host_name, "hB");
    EXPECT_EQ(InstanceNamed("iB").status, "Ready");
    EXPECT_FALSE(HostNamed("hB").cordoned);
}

TEST_F(SimulatedProviderEngineTest, VerifyOnADegradedHostFailsTheRebootAndKeepsTheNodeOut) {
    SetDegraded("hB");
    engine::ExecutorOptions options;
    options.verify_tests = {"dcgm-diag-r2", "nccl-allreduce"};
    const auto r = Run("iB", Mode::kRebootVm, options);
    EXPECT_EQ(r.state, State::kFailed);
    EXPECT_NE(r.error_message.find("verify test dcgm-diag-r2 failed"), std::string::npos)
        << r.error_message;
    EXPECT_NE(InstanceNamed("iB").status, "Ready") << "a node that failed its tests never rejoins";
}

TEST_F(SimulatedProviderEngineTest, HostAwareVerifiesTheReplacementOnItsNewHost) {
    SetDegraded("hB");  // the suspect host; the replacement goes elsewhere
    engine::ExecutorOptions options;
    options.verify_tests = {"dcgm-diag-r2"};
    const auto r = Run("iB", Mode::kHostAware, options);
    EXPECT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(InstanceNamed("iB").host_name, "hC");
    EXPECT_EQ(InstanceNamed("iB").status, "Ready");
}

TEST_F(SimulatedProviderEngineTest, WithoutVerifyTestsADegradedHostIsNotNoticed) {
    SetDegraded("hB");
    const auto r = Run("iB", Mode::kRebootVm);
    EXPECT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(InstanceNamed("iB").status, "Ready");
}

TEST_F(SimulatedProviderEngineTest, EvictLeavesNoVmAndFreesTheSlots) {
    const auto r = Run("iA", Mode::kEvictWithoutReplacement);
    EXPECT_EQ(r.state, State::kSucceeded) << r.error_message;
    EXPECT_EQ(InstanceNamed("iA").host_name, "");
    EXPECT_EQ(InstanceNamed("iA").status, "Evicted");
    EXPECT_EQ(UsedGpus("hA"), 0);
}

}  // namespace
}  // namespace noderepair::providers::simulated
