#include "engine/executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/control.hpp"
#include "engine/workflow.hpp"
#include "remediation/service.hpp"
#include "storage/open.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::engine {
namespace {

using model::Mode;
using model::Remediation;
using model::State;
using providers::Action;
using providers::ActionName;
using providers::CallContext;
using providers::Operation;
using providers::OperationStatus;
using std::chrono::milliseconds;
using std::chrono::seconds;
using storage::test_support::GetStored;
using storage::test_support::ReadValue;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

// The outside world for the engine: a provider whose actions can be scripted, with VMs it
// keeps itself, as an external system would (it knows nothing of the engine's database). It
// dedupes by key: a second Start of a key returns the same handle, and an operation changes
// the world once. A call can be made to block until the test releases it.
class FakeProvider final : public providers::Provider {
public:
    struct Script {
        std::optional<milliseconds> latency;  // unset: the provider's default latency
        int transient_start_errors = 0;       // Start answers Unavailable this many times
        int transient_poll_errors = 0;        // Poll answers Unavailable this many times
        bool permanent_start_error = false;   // Start answers FailedPrecondition
        bool permanent_poll_error = false;    // Poll answers FailedPrecondition
        bool never_finishes = false;          // Poll stays Running, asks again in 1 s
        bool blocks = false;                  // Start blocks until Release() (or cancellation)
        std::set<std::string> blocks_only;  // with `blocks`: only for these instances (empty: all)
        std::string failing_test;  // Poll answers FailedPrecondition naming it, if op.tests has it
    };

    void SetDefaultLatency(milliseconds latency) {
        std::lock_guard lock(mu_);
        default_latency_ = latency;
    }
    void Set(Action action, Script script) {
        std::lock_guard lock(mu_);
        scripts_[action] = script;
    }
    // The VMs the world starts with: instance -> host.
    void PlaceVm(const std::string& instance, const std::string& host) {
        std::lock_guard lock(mu_);
        vms_.insert({instance, host});
    }
    // Lets every blocked call go on.
    void Release() {
        {
            std::lock_guard lock(mu_);
            released_ = true;
        }
        cv_.notify_all();
    }
    // Calls blocked right now.
    int Blocked() {
        std::lock_guard lock(mu_);
        return blocked_;
    }

    Result<std::string> Start(const Operation& op, const CallContext& call) override {
        std::unique_lock lock(mu_);
        start_calls_.push_back(op);
        Script& script = scripts_[op.action];
        const std::string name(ActionName(op.action));
        const bool blocks = script.blocks && (script.blocks_only.empty() ||
                                              script.blocks_only.count(op.instance_id) > 0);
        if (blocks && !released_) {
            ++blocked_;
            cv_.notify_all();
            while (!released_ && !call.Cancelled()) cv_.wait_for(lock, milliseconds(5));
            --blocked_;
            if (!released_) return Unavailable(name + " was cancelled");
        }
        if (script.transient_start_errors > 0) {
            --script.transient_start_errors;
            return Unavailable("flaky " + name);
        }
        if (script.permanent_start_error) return FailedPrecondition(name + " is broken");
        const std::string handle = "fake:" + op.key;
        if (ops_.count(handle)) return handle;  // the same operation again
        ops_[handle] = {op, call.Now() + script.latency.value_or(default_latency_), false};
        return handle;
    }

    Result<OperationStatus> Poll(const std::string& handle, const CallContext& call) override {
        std::lock_guard lock(mu_);
        auto it = ops_.find(handle);
        if (it == ops_.end())
            return providers::Lost("fake operation " + handle + " was lost with a restart");
        FakeOp& op = it->second;
        Script& script = scripts_[op.op.action];
        const std::string name(ActionName(op.op.action));
        if (script.transient_poll_errors > 0) {
            --script.transient_poll_errors;
            return Unavailable("flaky poll of " + name);
        }
        if (script.permanent_poll_error) return FailedPrecondition(name + " went wrong");
        if (!script.failing_test.empty() &&
            std::count(op.op.tests.begin(), op.op.tests.end(), script.failing_test) > 0) {
            return FailedPrecondition("test " + script.failing_test + " failed on " + op.op.host);
        }
        OperationStatus status;
        const Timestamp now = call.Now();
        if (script.never_finishes) {
            status.poll_at = now + seconds(1);
            return status;
        }
        if (now < op.ready_at) {
            status.poll_at = op.ready_at;
            return status;
        }
        if (!op.done) {
            op.done = true;
            ++applied_[op.op.key];
            Apply(op.op);
        }
        status.phase = OperationStatus::Phase::kDone;
        return status;
    }

    std::vector<Operation> StartCalls() {
        std::lock_guard lock(mu_);
        return start_calls_;
    }
    // As a provider that keeps its operations in memory, restarted: those not done are gone.
    void ForgetRunning() {
        std::lock_guard lock(mu_);
        std::erase_if(ops_, [](const auto& entry) { return !entry.second.done; });
    }
    // How often each key changed the world: never more than once.
    std::map<std::string, int> Applied() {
        std::lock_guard lock(mu_);
        return applied_;
    }
    // The hosts of an instance's VMs in the world.
    std::vector<std::string> VmsOf(const std::string& instance) {
        std::lock_guard lock(mu_);
        std::vector<std::string> hosts;
        auto [from, to] = vms_.equal_range(instance);
        for (auto it = from; it != to; ++it) hosts.push_back(it->second);
        return hosts;
    }
    std::vector<Action> ActionsDoneOn(const std::string& instance) {
        std::lock_guard lock(mu_);
        return done_on_[instance];
    }

private:
    struct FakeOp {
        Operation op;
        Timestamp ready_at;
        bool done = false;
    };

    void Apply(const Operation& op) {
        done_on_[op.instance_id].push_back(op.action);
        if (op.action == Action::kDeleteVm || op.action == Action::kEvictVm) {
            auto [from, to] = vms_.equal_range(op.instance_id);
            for (auto it = from; it != to;) it = it->second == op.host ? vms_.erase(it) : ++it;
        } else if (op.action == Action::kProvisionVm) {
            vms_.insert({op.instance_id, op.host});
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    milliseconds default_latency_{0};
    std::map<Action, Script> scripts_;
    std::map<std::string, FakeOp> ops_;  // by handle
    std::vector<Operation> start_calls_;
    std::map<std::string, int> applied_;
    std::multimap<std::string, std::string> vms_;         // instance -> host
    std::map<std::string, std::vector<Action>> done_on_;  // instance -> actions done
    bool released_ = false;
    int blocked_ = 0;
};

FakeProvider::Script Scripted(void (*set)(FakeProvider::Script&)) {
    FakeProvider::Script s;
    set(s);
    return s;
}

const std::vector<std::string> kVerifyTests = {"dcgm-diag-r2", "nccl-allreduce"};

ExecutorOptions WithVerifyTests() {
    ExecutorOptions options;
    options.verify_tests = kVerifyTests;
    return options;
}

std::string ModeLabel(Mode mode) {
    switch (mode) {
        case Mode::kVmOnly:
            return "VmOnly";
        case Mode::kHostAware:
            return "HostAware";
        case Mode::kEvictWithoutReplacement:
            return "Evict";
        case Mode::kRebootVm:
            return "RebootVm";
        case Mode::kHostPowerCycle:
            return "HostPowerCycle";
    }
    return "Unknown";
}

auth::Principal Operator() { return {"alice", auth::Role::kOperator, {}}; }

// The test fleet (storage/store_contract_test.hpp) plus i5, a co-tenant of j1 (cluster c2) on
// h5: a host with VMs of two clusters.
storage::FleetImport FleetWithCoTenants() {
    auto fleet = storage::test_support::TestFleet();
    fleet.clusters[0].gpu_worker_nodes.push_back(
        storage::test_support::TestInstance("i5", "c1", "h5", 4));
    return fleet;
}

class ExecutorTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = storage::OpenStore("sqlite:" + dir_.path() + "/engine.db");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
        const auto fleet = FleetWithCoTenants();
        ASSERT_TRUE(store_->WriteAndWait(
            [&](storage::Txn& txn) { return txn.Inventory().ImportFleet(fleet); }));
        for (const auto& cluster : fleet.clusters) {
            for (const auto& node : cluster.gpu_worker_nodes) {
                if (!node.host_name.empty()) provider_.PlaceVm(node.instance_id, node.host_name);
            }
        }
        service_ = std::make_unique<remediation::RemediationService>(*store_, lifecycle_);
        control_ = std::make_unique<EngineControl>(*store_);
    }

    void TearDown() override {
        provider_.Release();
        exec_.reset();
        if (store_) store_->Close();
    }

    // A new executor on the same store and provider, as after a restart.
    Executor& NewExecutor(ExecutorOptions options = {}) {
        exec_.reset();
        exec_ =
            std::make_unique<Executor>(*store_, provider_, *control_, clock_, lifecycle_, options);
        Status resumed = exec_->Resume();
        EXPECT_TRUE(resumed) << resumed.error().message;
        return *exec_;
    }

    void RunOnce() {
        Status ran = exec_->RunOnce();
        ASSERT_TRUE(ran) << ran.error().message;
    }

    Result<Remediation> TryCreate(const std::string& instance_id, Mode mode) {
        remediation::CreateRequest request;
        request.cluster_id = instance_id.starts_with("j") ? "c2" : "c1";
        request.instance_id = instance_id;
        request.mode = mode;
        std::promise<Result<Remediation>> promise;
        auto future = promise.get_future();
        service_->Create(Operator(), request,
                         [&promise](Result<Remediation> r) { promise.set_value(std::move(r)); });
        return future.get();
    }

    Remediation Create(const std::string& instance_id, Mode mode) {
        auto created = TryCreate(instance_id, mode);
        EXPECT_TRUE(created) << created.error().message;
        return created ? *created : Remediation{};
    }

    Result<Remediation> Cancel(const Remediation& r) {
        std::promise<Result<Remediation>> promise;
        auto future = promise.get_future();
        service_->Cancel(
            Operator(), {r.cluster_id, r.instance_id, r.id},
            [&promise](Result<Remediation> got) { promise.set_value(std::move(got)); });
        return future.get();
    }

    void SetPaused(bool paused) {
        std::promise<Result<bool>> promise;
        auto future = promise.get_future();
        control_->SetPaused(paused,
                            [&promise](Result<bool> r) { promise.set_value(std::move(r)); });
        auto set = future.get();
        ASSERT_TRUE(set) << set.error().message;
    }

    Remediation Stored(const std::string& id) {
        auto r = GetStored(*store_, id);
        NR_ASSERT(r.has_value(), "the test's remediation is stored");
        return *r;
    }
    State StateOf(const std::string& id) { return Stored(id).state; }

    std::optional<storage::EngineJob> JobOf(const std::string& id) {
        auto job = ReadValue<std::optional<storage::EngineJob>>(
            *store_, [&](storage::Reader& r) { return r.EngineJobs().Get(id); });
        NR_ASSERT(job.has_value(), "reading an engine job");
        return *job;
    }

    std::vector<model::RemediationEvent> EventsOf(const std::string& id) {
        auto events = ReadValue<std::vector<model::RemediationEvent>>(
            *store_, [&](storage::Reader& r) { return r.Remediations().ListEvents(id); });
        NR_ASSERT(events.has_value(), "reading events");
        return *events;
    }

    std::string TimelineOf(const std::string& id) {
        std::string out;
        for (const auto& e : EventsOf(id)) {
            out += e.type + " " + (e.state ? std::string(model::WireName(*e.state)) : e.step) +
                   ": " + e.detail + "\n";
        }
        return out;
    }

    model::Instance InstanceOf(const std::string& id) {
        auto instance = ReadValue<std::optional<model::Instance>>(
            *store_, [&](storage::Reader& r) { return r.Inventory().GetInstance(id); });
        NR_ASSERT(instance.has_value() && instance->has_value(), "a test instance");
        return **instance;
    }

    std::map<std::string, model::Host> Hosts() {
        auto hosts = ReadValue<std::vector<model::Host>>(
            *store_, [](storage::Reader& r) { return r.Inventory().ListHosts(); });
        NR_ASSERT(hosts.has_value(), "reading hosts");
        std::map<std::string, model::Host> by_name;
        for (auto& h : *hosts) by_name[h.host_name] = h;
        return by_name;
    }

    // At rest: every host's used GPUs equal its VMs' (no reservation leaked), and the world
    // runs exactly the VMs the engine's records say, where they say.
    void ExpectConsistentAtRest() {
        for (const auto& [name, host] : Hosts()) {
            int sum = 0;
            for (const auto& hosted : host.instances)
                sum += InstanceOf(hosted.instance_id).num_gpus;
            EXPECT_EQ(host.used_gpus, sum) << "host " << name << ": a leaked reservation?";
        }
        for (const char* id : {"i1", "i2", "i3", "i4", "i5", "j1", "j2"}) {
            const auto instance = InstanceOf(id);
            const auto vms = provider_.VmsOf(id);
            if (instance.host_name.empty()) {
                EXPECT_TRUE(vms.empty()) << id << " has no VM in the records but runs one";
            } else {
                EXPECT_EQ(vms, std::vector<std::string>{instance.host_name})
                    << id << ": the world and the records disagree (a doubled or lost VM?)";
            }
        }
        for (const auto& [key, n] : provider_.Applied()) EXPECT_EQ(n, 1) << key;
    }

    // Runs and advances the clock by `step` until `id` is terminal; false after `max_rounds`.
    bool RunUntilTerminal(const std::string& id, std::chrono::microseconds step,
                          int max_rounds = 200) {
        for (int round = 0; round < max_rounds; ++round) {
            if (exec_->RunOnce().ok() && model::IsTerminal(StateOf(id))) return true;
            clock_.Advance(step);
        }
        return false;
    }

    // For tests of a started executor: polls until `pred` holds, moving the clock on as real
    // time passes; false after 10 s.
    template <class Pred>
    bool Eventually(Pred pred) {
        const auto deadline = std::chrono::steady_clock::now() + seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (pred()) return true;
            std::this_thread::sleep_for(milliseconds(5));
            clock_.Advance(milliseconds(5));
        }
        return pred();
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<storage::Store> store_;
    FakeProvider provider_;
    std::unique_ptr<remediation::RemediationService> service_;
    std::unique_ptr<EngineControl> control_;
    std::unique_ptr<Executor> exec_;
};

// ---- Every mode, step by step ---------------------------------------------------------------

class ExecutorModeTest : public ExecutorTest, public ::testing::WithParamInterface<Mode> {};

INSTANTIATE_TEST_SUITE_P(Executor, ExecutorModeTest, ::testing::ValuesIn(model::kAllModes),
                         [](const auto& mode_info) { return ModeLabel(mode_info.param); });

TEST_P(ExecutorModeTest, RunsToSucceededThroughTheStatesOfItsSteps) {
    const Mode mode = GetParam();
    const auto workflow = WorkflowFor(mode, kCurrentWorkflowVersion);
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i1", mode);
    std::vector<Action> called;
    std::set<State> seen;
    for (int round = 0; round < 100 && !model::IsTerminal(StateOf(r.id)); ++round) {
        RunOnce();
        seen.insert(StateOf(r.id));
        clock_.Advance(seconds(1));
    }
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    for (const auto& op : provider_.StartCalls()) {
        if (called.empty() || called.back() != op.action) called.push_back(op.action);
        // Keys name the step, never its position.
        EXPECT_EQ(op.key, r.id + "/" + std::string(ActionName(op.action)));
        EXPECT_EQ(op.instance_id, "i1");
        EXPECT_EQ(op.tests,
                  op.action == Action::kVerify ? kVerifyTests : std::vector<std::string>{});
    }
    std::vector<Action> expected;
    for (const Step& step : workflow) {
        if (!IsEngineStep(step.action)) expected.push_back(step.action);
    }
    EXPECT_EQ(called, expected);
    for (const Step& step : workflow) EXPECT_TRUE(seen.count(step.during)) << int(step.during);
    EXPECT_FALSE(JobOf(r.id).has_value()) << "a finished job is removed";
    ExpectConsistentAtRest();
}

TEST_P(ExecutorModeTest, InstantStepsFinishInOneRound) {
    NewExecutor();
    const Remediation r = Create("i2", GetParam());
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    ExpectConsistentAtRest();
}

// ---- Provider work never holds up the rest --------------------------------------------------

// A call that blocks (a hung BMC, a synchronous hypervisor) delays only its own remediation:
// while it blocks, creates and approvals commit and other remediations run to the end.
TEST_F(ExecutorTest, ABlockedCallHoldsUpOnlyItsOwnRemediation) {
    provider_.Set(Action::kPowerCycleHost, Scripted([](auto& s) { s.blocks = true; }));
    NewExecutor();
    ASSERT_TRUE(exec_->Start());
    const Remediation blocked = Create("i1", Mode::kHostPowerCycle);
    ASSERT_TRUE(Eventually([&] { return provider_.Blocked() >= 1; }));
    // Others go on: a remediation of another instance runs to the end ...
    const Remediation other = Create("i2", Mode::kRebootVm);
    ASSERT_TRUE(Eventually([&] { return StateOf(other.id) == State::kSucceeded; }))
        << TimelineOf(other.id);
    // ... creates, cancels and approvals commit, and what they let through runs.
    const Remediation third = Create("i3", Mode::kVmOnly);
    EXPECT_TRUE(Eventually([&] { return StateOf(third.id) == State::kSucceeded; }));
    Remediation waiting = storage::test_support::MakeRemediation(
        "auto-i4", "i4", State::kPendingApproval, clock_.Now());
    waiting.mode = waiting.requested_mode = Mode::kRebootVm;
    ASSERT_TRUE(store_->WriteAndWait([&](storage::Txn& txn) {
        return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), waiting);
    }));
    std::promise<Result<Remediation>> approved;
    service_->Approve({"bob", auth::Role::kApprover, {}}, {"c1", "i4", "auto-i4"}, {},
                      [&](Result<Remediation> r) { approved.set_value(std::move(r)); });
    auto approval = approved.get_future();
    ASSERT_EQ(approval.wait_for(seconds(5)), std::future_status::ready);
    ASSERT_TRUE(approval.get());
    EXPECT_TRUE(Eventually([&] { return StateOf("auto-i4") == State::kSucceeded; }));
    EXPECT_EQ(StateOf(blocked.id), State::kQuarantined) << "still in its power cycle";
    provider_.Release();
    ASSERT_TRUE(Eventually([&] { return StateOf(blocked.id) == State::kSucceeded; }))
        << TimelineOf(blocked.id);
    exec_->Stop();
    ExpectConsistentAtRest();
}

// docs/design.md 12: once another replica took the job over, the outcome of a call this
// replica made is refused, counted, and changes nothing; this replica forgets the job.
TEST_F(ExecutorTest, AnOutcomeAfterAnotherReplicaTookTheJobIsRefusedAndChangesNothing) {
    provider_.Set(Action::kPowerCycleHost, Scripted([](auto& s) { s.blocks = true; }));
    std::atomic<int> refused{0};
    ExecutorOptions options;
    options.replica_id = "A";
    options.on_fence_refused = [&refused] { ++refused; };
    NewExecutor(options);
    ASSERT_TRUE(exec_->Start());
    const Remediation r = Create("i1", Mode::kHostPowerCycle);
    ASSERT_TRUE(Eventually([&] { return provider_.Blocked() >= 1; }));
    auto before = JobOf(r.id);
    ASSERT_TRUE(before.has_value());
    EXPECT_EQ(before->owner, "A");
    EXPECT_EQ(before->attempt, 1);
    ASSERT_TRUE(store_->WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(auto taken,
                            txn.EngineJobs().TakeOver("B", storage::TakeOverScope::kEveryone,
                                                      std::chrono::seconds(60), 10));
        return taken.size() == 1 ? OkStatus() : Internal("not taken");
    }));
    const size_t events = EventsOf(r.id).size();
    provider_.Release();
    ASSERT_TRUE(Eventually([&] { return refused.load() >= 1; }));
    EXPECT_TRUE(Eventually([&] { return exec_->InFlight() == 0; })) << "A forgot the job";
    auto after = JobOf(r.id);
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->owner, "B");
    EXPECT_EQ(after->attempt, 2);
    EXPECT_EQ(after->step, before->step);
    EXPECT_EQ(after->fence, before->fence);
    EXPECT_EQ(StateOf(r.id), State::kQuarantined);
    EXPECT_EQ(EventsOf(r.id).size(), events) << TimelineOf(r.id);
    exec_->Stop();
}

// A job the replica owns but does not work on (a claim that the connection of its killed
// predecessor still committed after the restart took the replica's jobs) is not renewed by
// the replica's lease ticks: its lease ends and the replica takes it over and finishes it.
TEST_F(ExecutorTest, AJobItsReplicaOwnsButDoesNotWorkOnIsTakenOverWhenItsLeaseEnds) {
    provider_.Set(Action::kPowerCycleHost, Scripted([](auto& s) { s.blocks = true; }));
    ExecutorOptions options;
    options.replica_id = "A";
    options.lease = milliseconds(400);
    NewExecutor(options);
    ASSERT_TRUE(exec_->Start());
    const Remediation r = Create("i1", Mode::kHostPowerCycle);
    ASSERT_TRUE(Eventually([&] { return provider_.Blocked() >= 1; }));
    auto take = [&](const std::string& owner, std::chrono::milliseconds lease) {
        ASSERT_TRUE(store_->WriteAndWait([&](storage::Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(
                auto taken,
                txn.EngineJobs().TakeOver(owner, storage::TakeOverScope::kEveryone, lease, 10));
            return taken.size() == 1 ? OkStatus() : Internal("not taken");
        }));
    };
    // Elsewhere while A restarts, so A's restart does not take it back ...
    take("Z", seconds(60));
    NewExecutor(options);
    ASSERT_TRUE(exec_->Start());
    // ... and A's again after that, as a late commit of A's predecessor would make it.
    take("A", options.lease);
    provider_.Release();
    EXPECT_TRUE(Eventually([&] { return StateOf(r.id) == State::kSucceeded; })) << TimelineOf(r.id);
    exec_->Stop();
}

// A store that hands the callback of one armed write over only after the next write's: as
// with several PostgreSQL writers, where a transaction that looked at the jobs first can reach
// the engine after one that committed later.
class CallbackSwappingStore final : public storage::Store {
public:
    explicit CallbackSwappingStore(storage::Store& inner) : inner_(inner) {}

    // The next write's callback waits for the one after it.
    void Arm() {
        std::lock_guard lock(mu_);
        armed_ = 2;
    }

    void Write(storage::TxnWork work, storage::CommitCallback done) override {
        int role = 0;
        {
            std::lock_guard lock(mu_);
            if (armed_ > 0) role = armed_--;
        }
        if (role == 2) {
            inner_.Write(std::move(work), [this, done = std::move(done)](Status s) mutable {
                std::lock_guard lock(mu_);
                held_ = [done = std::move(done), s = std::move(s)]() mutable {
                    done(std::move(s));
                };
            });
        } else if (role == 1) {
            inner_.Write(std::move(work), [this, done = std::move(done)](Status s) mutable {
                done(std::move(s));
                std::function<void()> first;
                {
                    std::lock_guard lock(mu_);
                    first.swap(held_);
                }
                if (first) first();
            });
        } else {
            inner_.Write(std::move(work), std::move(done));
        }
    }
    void AddObserver(storage::CommitObserver* observer) override { inner_.AddObserver(observer); }
    Status Read(const std::function<Status(storage::Reader&)>& read) override {
        return inner_.Read(read);
    }
    void Close() override {}

private:
    storage::Store& inner_;
    std::mutex mu_;
    int armed_ = 0;
    std::function<void()> held_;
};

// docs/design.md 12: a lease tick whose renewal ran before a claim committed, but whose
// answer reached the engine after the claim's, must not take the claimed work for lost (the
// replica would forget it while renewing its lease forever: RUNNING for good).
TEST_F(ExecutorTest, AClaimCommittedAfterTheLeaseTickLookedIsNotForgotten) {
    CallbackSwappingStore swapping(*store_);
    ExecutorOptions options;
    options.lease = std::chrono::milliseconds(400);
    exec_ = std::make_unique<Executor>(swapping, provider_, *control_, clock_, lifecycle_, options);
    const auto resumed_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(exec_->Resume());
    const Remediation r = Create("i2", Mode::kVmOnly);
    // The first round submits the lease tick (due a quarter lease after Resume) before the
    // claim; the tick's callback is handed over after the claim's.
    std::this_thread::sleep_until(resumed_at + options.lease / 4);
    swapping.Arm();
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    exec_.reset();
}

// Calls blocked at once never starve the others: each runs on a thread of its own.
TEST_F(ExecutorTest, BlockedCallsDoNotStarveOtherWork) {
    provider_.Set(Action::kDrain, Scripted([](auto& s) {
                      s.blocks = true;
                      s.blocks_only = {"i1", "i2", "i3"};
                  }));
    NewExecutor();
    ASSERT_TRUE(exec_->Start());
    std::vector<Remediation> blocked;
    for (const char* id : {"i1", "i2", "i3"}) blocked.push_back(Create(id, Mode::kRebootVm));
    ASSERT_TRUE(Eventually([&] { return provider_.Blocked() >= 3; }));
    const Remediation free_work = Create("i4", Mode::kRebootVm);
    ASSERT_TRUE(Eventually([&] { return StateOf(free_work.id) == State::kSucceeded; }))
        << TimelineOf(free_work.id);
    for (const auto& r : blocked) EXPECT_EQ(StateOf(r.id), State::kRunning);
    provider_.Release();
    for (const auto& r : blocked) {
        ASSERT_TRUE(Eventually([&] { return StateOf(r.id) == State::kSucceeded; }))
            << TimelineOf(r.id);
    }
    exec_->Stop();
    ExpectConsistentAtRest();
}

// A call that hangs past the step's deadline fails the step; its late answer records nothing.
TEST_F(ExecutorTest, AHungCallPastItsDeadlineFailsTheStepAndItsLateAnswerIsIgnored) {
    provider_.Set(Action::kRebootVm, Scripted([](auto& s) { s.blocks = true; }));
    ExecutorOptions options;
    options.step_timeout = seconds(60);
    NewExecutor(options);
    ASSERT_TRUE(exec_->Start());
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(Eventually([&] { return provider_.Blocked() >= 1; }));
    clock_.Advance(seconds(61));
    ASSERT_TRUE(Eventually([&] { return StateOf(r.id) == State::kFailed; })) << TimelineOf(r.id);
    EXPECT_EQ(Stored(r.id).error_message, "reboot_vm timed out after 60 s");
    provider_.Release();
    exec_->Stop();
    EXPECT_EQ(StateOf(r.id), State::kFailed) << "the late answer changed nothing";
    EXPECT_FALSE(JobOf(r.id).has_value());
}

// ---- Crash at every boundary of every step ----------------------------------------------------

struct CrashCase {
    Mode mode;
    std::string instance;
    size_t step;  // index into the workflow
    Boundary boundary;
};

std::string CrashLabel(const CrashCase& c) {
    const char* where = c.boundary == Boundary::kAfterIntent ? "AfterIntent"
                        : c.boundary == Boundary::kAfterCall ? "AfterCall"
                                                             : "AfterOutcome";
    std::string step(ActionName(WorkflowFor(c.mode, kCurrentWorkflowVersion)[c.step].action));
    step.erase(std::remove(step.begin(), step.end(), '_'), step.end());
    return ModeLabel(c.mode) + "_" + c.instance + "_" + step + "_" + where;
}

std::vector<CrashCase> AllCrashCases() {
    std::vector<CrashCase> cases;
    for (Mode mode : model::kAllModes) {
        const auto workflow = WorkflowFor(mode, kCurrentWorkflowVersion);
        // A power cycle of i5 acts on its co-tenant j1 too.
        const std::string instance = mode == Mode::kHostPowerCycle ? "i5" : "i1";
        for (size_t k = 0; k < workflow.size(); ++k) {
            if (IsEngineStep(workflow[k].action)) continue;
            for (Boundary b :
                 {Boundary::kAfterIntent, Boundary::kAfterCall, Boundary::kAfterOutcome}) {
                cases.push_back({mode, instance, k, b});
            }
        }
    }
    return cases;
}

class ExecutorCrashTest : public ExecutorTest, public ::testing::WithParamInterface<CrashCase> {};

INSTANTIATE_TEST_SUITE_P(Executor, ExecutorCrashTest, ::testing::ValuesIn(AllCrashCases()),
                         [](const auto& crash_info) { return CrashLabel(crash_info.param); });

// A kill -9 at the boundary, then a restart on the same database and the same outside world:
// the remediation finishes once, nothing the world did is done again, no VM is doubled or lost
// and no slot leaks.
TEST_P(ExecutorCrashTest, ResumesAfterACrashAtTheBoundary) {
    const CrashCase c = GetParam();
    const std::string step(ActionName(WorkflowFor(c.mode, kCurrentWorkflowVersion)[c.step].action));
    ExecutorOptions crashing = WithVerifyTests();
    crashing.crash_at = [&](Boundary boundary, const std::string&, const std::string& at) {
        return boundary == c.boundary && at == step;
    };
    NewExecutor(crashing);
    const Remediation r = Create(c.instance, c.mode);
    RunOnce();
    ASSERT_TRUE(exec_->Crashed()) << "never reached " << CrashLabel(c) << "\n" << TimelineOf(r.id);
    exec_.reset();

    NewExecutor(WithVerifyTests());
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1))) << TimelineOf(r.id);
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    EXPECT_FALSE(JobOf(r.id).has_value());
    ExpectConsistentAtRest();
    // One terminal state, at the end of the timeline.
    const auto events = EventsOf(r.id);
    int terminal = 0;
    for (const auto& e : events) terminal += e.state && model::IsTerminal(*e.state) ? 1 : 0;
    EXPECT_EQ(terminal, 1) << TimelineOf(r.id);
    // Every world-changing action happened once per instance.
    for (const auto& instance : {c.instance, std::string("j1")}) {
        auto done = provider_.ActionsDoneOn(instance);
        for (Action once : {Action::kDeleteVm, Action::kEvictVm, Action::kProvisionVm,
                            Action::kRebootVm, Action::kPowerCycleHost}) {
            EXPECT_LE(std::count(done.begin(), done.end(), once), 1)
                << instance << " " << ActionName(once);
        }
    }
}

// ---- Co-tenants -----------------------------------------------------------------------------

// A power cycle takes every VM of the host down: each is drained first and rejoined after,
// whatever cluster it belongs to, and the timeline names them.
TEST_F(ExecutorTest, PowerCycleDrainsAndRejoinsEveryVmOfTheHost) {
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i5", Mode::kHostPowerCycle);
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    for (const char* id : {"i5", "j1"}) {
        const auto done = provider_.ActionsDoneOn(id);
        const std::vector<Action> expected_order = {Action::kDrain, Action::kWaitReady,
                                                    Action::kVerify, Action::kRejoin};
        std::vector<Action> got;
        for (Action a : done) {
            if (a != Action::kCordonHost && a != Action::kPowerCycleHost &&
                a != Action::kUncordonHost) {
                got.push_back(a);
            }
        }
        EXPECT_EQ(got, expected_order) << id;
        EXPECT_EQ(InstanceOf(id).status, "Ready") << id;
    }
    const std::string timeline = TimelineOf(r.id);
    EXPECT_NE(timeline.find("drain: on every instance of host h5: i5 and co-tenants j1"),
              std::string::npos)
        << timeline;
    EXPECT_NE(timeline.find("rejoin: done: j1"), std::string::npos) << timeline;
    // The co-tenant's drain key names it; the remediation's own is the step's.
    std::set<std::string> drain_keys;
    for (const auto& op : provider_.StartCalls()) {
        if (op.action == Action::kDrain) drain_keys.insert(op.key);
    }
    EXPECT_EQ(drain_keys, (std::set<std::string>{r.id + "/drain", r.id + "/drain/j1"}));
    EXPECT_FALSE(Hosts()["h5"].cordoned);
    ExpectConsistentAtRest();
}

// A power cycle runs alone on its host: it waits for other work on the host, and other work
// (of a co-tenant too) waits for it.
TEST_F(ExecutorTest, APowerCycleRunsAloneOnItsHost) {
    provider_.SetDefaultLatency(seconds(5));
    NewExecutor();
    const Remediation reboot = Create("j1", Mode::kRebootVm);
    RunOnce();
    ASSERT_EQ(StateOf(reboot.id), State::kRunning);
    const Remediation cycle = Create("i5", Mode::kHostPowerCycle);
    RunOnce();
    EXPECT_EQ(StateOf(cycle.id), State::kPending) << "waits for the reboot of its co-tenant";
    ASSERT_TRUE(RunUntilTerminal(reboot.id, seconds(5)));
    ASSERT_TRUE(RunUntilTerminal(cycle.id, seconds(1)));
    EXPECT_EQ(StateOf(cycle.id), State::kSucceeded) << TimelineOf(cycle.id);
    EXPECT_NE(TimelineOf(cycle.id).find("waiting: another host-level remediation is working on "
                                        "host h5"),
              std::string::npos);
    // And the other way round.
    const Remediation cycle2 = Create("i5", Mode::kHostPowerCycle);
    RunOnce();
    ASSERT_EQ(StateOf(cycle2.id), State::kQuarantining);
    const Remediation reboot2 = Create("j1", Mode::kRebootVm);
    RunOnce();
    EXPECT_EQ(StateOf(reboot2.id), State::kPending) << "waits for the power cycle";
    ASSERT_TRUE(RunUntilTerminal(cycle2.id, seconds(5)));
    ASSERT_TRUE(RunUntilTerminal(reboot2.id, seconds(5)));
    EXPECT_EQ(StateOf(reboot2.id), State::kSucceeded);
}

TEST_F(ExecutorTest, PowerCycleOfAnAlreadyCordonedHostDoesNotUncordonIt) {
    ASSERT_TRUE(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Inventory().SetHostCordoned("h1", true); }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostPowerCycle);
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    EXPECT_TRUE(Hosts()["h1"].cordoned);
    EXPECT_NE(TimelineOf(r.id).find("uncordon_host: skipped: the host was cordoned before"),
              std::string::npos);
}

// ---- Placement -------------------------------------------------------------------------------

TEST_F(ExecutorTest, VmOnlyKeepsItsOwnSlotsWhenItsHostIsNotCordoned) {
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    EXPECT_EQ(InstanceOf("i1").host_name, "h1");
    EXPECT_NE(TimelineOf(r.id).find("keeps its 8 GPU slots on h1"), std::string::npos);
    ExpectConsistentAtRest();
}

// Between the delete and the provision, the old VM's slots stay held for its replacement.
TEST_F(ExecutorTest, VmOnlyHoldsItsSlotsBetweenDeleteAndProvision) {
    provider_.Set(Action::kProvisionVm, Scripted([](auto& s) { s.latency = seconds(10); }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    RunOnce();
    ASSERT_EQ(InstanceOf("i1").host_name, "") << "deleted, replacement on its way";
    EXPECT_EQ(Hosts()["h1"].used_gpus, 8) << "the slots are reserved for the replacement";
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(5)));
    ExpectConsistentAtRest();
}

TEST_F(ExecutorTest, VmOnlyOnACordonedHostMovesToAHostWithRoom) {
    ASSERT_TRUE(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Inventory().SetHostCordoned("h1", true); }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    EXPECT_EQ(InstanceOf("i1").host_name, "h6") << "the only uncordoned host with 8 free";
    ExpectConsistentAtRest();
}

TEST_F(ExecutorTest, HostAwareMovesToAnotherHostAndLeavesTheOldOneCordoned) {
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostAware);
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    EXPECT_EQ(InstanceOf("i1").host_name, "h6");
    EXPECT_TRUE(Hosts()["h1"].cordoned);
    ExpectConsistentAtRest();
}

TEST_F(ExecutorTest, NoRoomWithinTheCapacityWaitFailsAndLeavesTheVm) {
    ExecutorOptions options;
    options.capacity_wait = seconds(10);
    NewExecutor(options);
    const Remediation first = Create("i1", Mode::kHostAware);  // takes h6, the only room
    RunOnce();
    ASSERT_EQ(StateOf(first.id), State::kSucceeded);
    const Remediation r = Create("i2", Mode::kHostAware);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kFailed);
    EXPECT_NE(Stored(r.id).error_message.find("no host had 8 free GPU slots within 10 s"),
              std::string::npos)
        << Stored(r.id).error_message;
    EXPECT_EQ(InstanceOf("i2").host_name, "h2");
    EXPECT_TRUE(provider_.ActionsDoneOn("i2").empty() ||
                provider_.ActionsDoneOn("i2") == std::vector<Action>{Action::kCordonHost});
    ExpectConsistentAtRest();
}

TEST_F(ExecutorTest, ModesThatNeedAVmFailOnAnInstanceWithoutOneAndVmOnlyProvisionsIt) {
    NewExecutor();
    const Remediation reboot = Create("j2", Mode::kRebootVm);
    RunOnce();
    EXPECT_EQ(StateOf(reboot.id), State::kFailed);
    EXPECT_NE(Stored(reboot.id).error_message.find("has no VM"), std::string::npos);
    const Remediation vm = Create("j2", Mode::kVmOnly);
    RunOnce();
    ASSERT_EQ(StateOf(vm.id), State::kSucceeded) << TimelineOf(vm.id);
    EXPECT_EQ(InstanceOf("j2").host_name, "h6");
    ExpectConsistentAtRest();
}

// ---- Errors, retries, timeouts ----------------------------------------------------------------

TEST_F(ExecutorTest, TransientErrorsAreRetriedUnderTheSameKey) {
    provider_.Set(Action::kRebootVm, Scripted([](auto& s) { s.transient_start_errors = 2; }));
    provider_.Set(Action::kWaitReady, Scripted([](auto& s) { s.transient_poll_errors = 1; }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    std::set<std::string> keys;
    int reboots = 0;
    for (const auto& op : provider_.StartCalls()) {
        if (op.action == Action::kRebootVm) {
            keys.insert(op.key);
            ++reboots;
        }
    }
    EXPECT_EQ(reboots, 3);
    EXPECT_EQ(keys.size(), 1u);
    EXPECT_NE(TimelineOf(r.id).find("retrying after: flaky reboot_vm"), std::string::npos);
}

// A restart that loses the provider's operation is not the operation failing: it starts
// again at once, however many restarts there are (more than the transient attempts allowed).
TEST_F(ExecutorTest, AnOperationLostWithARestartStartsAgainAtOnceAndCostsNoAttempt) {
    provider_.Set(Action::kPowerCycleHost, Scripted([](auto& s) { s.latency = seconds(5); }));
    auto power_cycles = [this] {
        const auto starts = provider_.StartCalls();
        return std::count_if(starts.begin(), starts.end(), [](const Operation& op) {
            return op.action == Action::kPowerCycleHost;
        });
    };
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostPowerCycle);
    RunOnce();
    ASSERT_EQ(power_cycles(), 1) << TimelineOf(r.id);
    for (int restart = 1; restart <= 12; ++restart) {
        provider_.ForgetRunning();
        NewExecutor();
        clock_.Advance(seconds(5));  // when the engine asks after the operation
        RunOnce();                   // and then, with the clock standing still: no backoff
        ASSERT_EQ(power_cycles(), 1 + restart) << TimelineOf(r.id);
    }
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    const std::string timeline = TimelineOf(r.id);
    EXPECT_NE(timeline.find("starting again: fake operation"), std::string::npos) << timeline;
    EXPECT_EQ(timeline.find("retrying after"), std::string::npos) << timeline;
}

TEST_F(ExecutorTest, EndlessTransientErrorsFailTheStep) {
    provider_.Set(Action::kDrain, Scripted([](auto& s) { s.transient_start_errors = 100; }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(30)));
    EXPECT_EQ(StateOf(r.id), State::kFailed);
    EXPECT_NE(Stored(r.id).error_message.find("drain failed: flaky drain"), std::string::npos);
}

TEST_F(ExecutorTest, PermanentErrorsFailNamingTheStepAndFreeTheReservation) {
    provider_.Set(Action::kProvisionVm, Scripted([](auto& s) { s.permanent_poll_error = true; }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostAware);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kFailed);
    EXPECT_EQ(Stored(r.id).error_message, "provision_vm failed: provision_vm went wrong");
    EXPECT_EQ(Hosts()["h6"].used_gpus, 0) << "the reservation on h6 is given back";
}

TEST_F(ExecutorTest, FailingVerifyFailsNamingTheTestAndNeverRejoins) {
    provider_.Set(Action::kVerify, Scripted([](auto& s) { s.failing_test = "nccl-allreduce"; }));
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kFailed);
    EXPECT_NE(Stored(r.id).error_message.find("test nccl-allreduce failed on h1"),
              std::string::npos);
    const auto done = provider_.ActionsDoneOn("i1");
    EXPECT_EQ(std::count(done.begin(), done.end(), Action::kRejoin), 0);
}

TEST_F(ExecutorTest, WithoutVerifyTestsTheVerifyStepIsSkipped) {
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    EXPECT_NE(TimelineOf(r.id).find("verify: skipped: no engine.verify_tests"), std::string::npos);
    for (const auto& op : provider_.StartCalls()) EXPECT_NE(op.action, Action::kVerify);
}

TEST_F(ExecutorTest, StepThatNeverFinishesTimesOut) {
    provider_.Set(Action::kWaitReady, Scripted([](auto& s) { s.never_finishes = true; }));
    ExecutorOptions options;
    options.step_timeout = seconds(30);
    NewExecutor(options);
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(5)));
    EXPECT_EQ(StateOf(r.id), State::kFailed);
    EXPECT_EQ(Stored(r.id).error_message, "wait_ready timed out after 30 s");
}

// ---- Claims, pause, parallelism ---------------------------------------------------------------

TEST_F(ExecutorTest, CancelledBeforeClaimIsNeverClaimed) {
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(Cancel(r));
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kCancelled);
    EXPECT_TRUE(provider_.StartCalls().empty());
}

TEST_F(ExecutorTest, CancelAfterClaimIsRefusedAndTheWorkGoesOn) {
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    auto cancelled = Cancel(r);
    ASSERT_FALSE(cancelled);
    EXPECT_EQ(cancelled.error().code, Code::kFailedPrecondition);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
}

TEST_F(ExecutorTest, PausedEngineLeavesPendingWorkAlone) {
    SetPaused(true);
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kPending);
    SetPaused(false);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
}

TEST_F(ExecutorTest, AtMostMaxParallelRemediationsRunAtOnce) {
    provider_.SetDefaultLatency(seconds(10));
    ExecutorOptions options;
    options.max_parallel = 2;
    NewExecutor(options);
    std::vector<Remediation> all;
    for (const char* id : {"i1", "i2", "i3", "i4"}) all.push_back(Create(id, Mode::kRebootVm));
    RunOnce();
    int running = 0;
    for (const auto& r : all) running += StateOf(r.id) == State::kRunning ? 1 : 0;
    EXPECT_EQ(running, 2);
    EXPECT_EQ(exec_->InFlight(), 2u);
    for (const auto& r : all) ASSERT_TRUE(RunUntilTerminal(r.id, seconds(10)));
    for (const auto& r : all) EXPECT_EQ(StateOf(r.id), State::kSucceeded);
}

TEST_F(ExecutorTest, FinishedStepsAreReportedWithTheirDurations) {
    provider_.SetDefaultLatency(seconds(2));
    std::vector<std::string> steps;
    ExecutorOptions options;
    options.on_step_done = [&steps](std::string_view step, std::chrono::microseconds took) {
        steps.push_back(std::string(step) + " " + std::to_string(took.count() / 1000000));
    };
    NewExecutor(options);
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(2)));
    EXPECT_EQ(steps,
              (std::vector<std::string>{"drain 2", "reboot_vm 2", "wait_ready 2", "rejoin 2"}));
}

// ---- Upgrades -----------------------------------------------------------------------------------

// A job an older binary left at a position of its workflow resumes at the step of that name,
// in the workflow it started with (version 1: a power cycle without co-tenants, keys by
// position), however the current workflow looks.
TEST_F(ExecutorTest, AJobOfWorkflowVersionOneFinishesItsOwnWorkflow) {
    Remediation r = Create("i5", Mode::kHostPowerCycle);
    r.state = State::kQuarantined;
    r.start_time = clock_.Now();
    storage::EngineJob job;
    job.remediation_id = r.id;
    job.workflow_version = 1;
    job.step = "power_cycle_host";
    job.step_started = job.next_check = clock_.Now();
    job.source_host = "h5";
    job.num_gpus = 4;
    ASSERT_TRUE(store_->WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(
            txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), r, State::kPending));
        NR_RETURN_IF_ERROR(txn.Inventory().SetHostCordoned("h5", true));
        return txn.EngineJobs().Put(job);
    }));
    NewExecutor();
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kSucceeded) << TimelineOf(r.id);
    std::set<std::string> keys;
    for (const auto& op : provider_.StartCalls()) keys.insert(op.key);
    // Positions 2..6 of version 1's power cycle: power_cycle_host, wait_ready, verify
    // (skipped), rejoin, uncordon_host; the co-tenant j1 is not touched.
    EXPECT_EQ(keys, (std::set<std::string>{r.id + "/2", r.id + "/3", r.id + "/5", r.id + "/6"}));
    EXPECT_TRUE(provider_.ActionsDoneOn("j1").empty());
}

TEST(Workflow, StepsAreFoundByNameInEveryVersion) {
    for (Mode mode : model::kAllModes) {
        for (int version : {1, 2}) {
            const auto workflow = WorkflowFor(mode, version);
            ASSERT_FALSE(workflow.empty());
            for (size_t k = 0; k < workflow.size(); ++k) {
                EXPECT_EQ(StepIndex(workflow, ActionName(workflow[k].action)), k);
            }
        }
        EXPECT_TRUE(WorkflowFor(mode, 99).empty()) << "an unknown version has no steps";
    }
}

TEST(Workflow, APowerCycleRunsAloneOnItsHost) {
    for (Mode other : model::kAllModes) {
        EXPECT_TRUE(WaitsForOnSameHost(Mode::kHostPowerCycle, other));
        EXPECT_TRUE(WaitsForOnSameHost(other, Mode::kHostPowerCycle));
    }
    EXPECT_FALSE(WaitsForOnSameHost(Mode::kHostAware, Mode::kHostAware));
    EXPECT_FALSE(WaitsForOnSameHost(Mode::kRebootVm, Mode::kVmOnly));
}

}  // namespace
}  // namespace noderepair::engine
