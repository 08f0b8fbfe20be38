#include "engine/executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
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
using providers::Operation;
using providers::OperationStatus;
using std::chrono::milliseconds;
using std::chrono::seconds;
using storage::test_support::GetStored;
using storage::test_support::ReadValue;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

// The outside world for the engine: a provider whose every action can be scripted. It keeps
// its operations in memory (like an external system would), counts Start calls by key and
// the VMs it made, and tolerates a second Start with a known key by returning the same
// handle. Start/Poll/Release run on the store's writer thread; tests read it between
// RunOnce() calls.
class FakeProvider final : public providers::Provider {
public:
    struct Script {
        std::optional<milliseconds> latency;  // unset: the provider's default latency
        int transient_start_errors = 0;       // Start answers Unavailable this many times
        int transient_poll_errors = 0;        // Poll answers Unavailable this many times
        bool permanent_start_error = false;   // Start answers FailedPrecondition
        bool permanent_poll_error = false;    // Poll answers FailedPrecondition
        bool never_finishes = false;          // Poll stays Running, asks again in 1 s
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
    void SetReserveResult(std::string host) {
        std::lock_guard lock(mu_);
        reserve_result_ = std::move(host);
    }

    Result<std::string> Start(storage::Txn&, const Operation& op, Timestamp now) override {
        std::lock_guard lock(mu_);
        start_calls_.push_back(op);
        Script& script = scripts_[op.action];
        const std::string name(ActionName(op.action));
        if (script.transient_start_errors > 0) {
            --script.transient_start_errors;
            return Unavailable("flaky " + name);
        }
        if (script.permanent_start_error) return FailedPrecondition(name + " is broken");
        const std::string handle = "fake:" + op.key;
        ++accepted_starts_[op.key];
        if (ops_.count(handle)) return handle;  // the same operation again
        ops_[handle] = {op, now + script.latency.value_or(default_latency_), false};
        return handle;
    }

    Result<OperationStatus> Poll(storage::Txn&, const std::string& handle, Timestamp now) override {
        std::lock_guard lock(mu_);
        ++polls_;
        auto it = ops_.find(handle);
        if (it == ops_.end()) return NotFound("no operation " + handle);
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
            if (op.op.action == Action::kProvisionVm) {
                vms_made_.push_back({op.op.instance_id, op.op.target_host});
            }
        }
        status.phase = OperationStatus::Phase::kDone;
        if (op.op.action == Action::kReserve) status.result = reserve_result_;
        return status;
    }

    Status Release(storage::Txn&, const std::string& instance_id) override {
        std::lock_guard lock(mu_);
        released_.push_back(instance_id);
        return OkStatus();
    }

    std::vector<Operation> StartCalls() {
        std::lock_guard lock(mu_);
        return start_calls_;
    }
    std::map<std::string, int> AcceptedStarts() {
        std::lock_guard lock(mu_);
        return accepted_starts_;
    }
    std::vector<std::pair<std::string, std::string>> VmsMade() {
        std::lock_guard lock(mu_);
        return vms_made_;
    }
    std::vector<std::string> Released() {
        std::lock_guard lock(mu_);
        return released_;
    }
    int Polls() {
        std::lock_guard lock(mu_);
        return polls_;
    }
    // Distinct operations (handles) made for `action`.
    int OperationsOf(Action action) {
        std::lock_guard lock(mu_);
        int n = 0;
        for (const auto& [handle, op] : ops_) n += op.op.action == action ? 1 : 0;
        return n;
    }

private:
    struct FakeOp {
        Operation op;
        Timestamp ready_at;
        bool done = false;
    };

    std::mutex mu_;
    milliseconds default_latency_{0};
    std::map<Action, Script> scripts_;
    std::string reserve_result_ = "h6";
    std::map<std::string, FakeOp> ops_;  // by handle
    std::vector<Operation> start_calls_;
    std::map<std::string, int> accepted_starts_;
    std::vector<std::pair<std::string, std::string>> vms_made_;  // instance, host
    std::vector<std::string> released_;
    int polls_ = 0;
};

FakeProvider::Script PermanentStartError() {
    FakeProvider::Script s;
    s.permanent_start_error = true;
    return s;
}
FakeProvider::Script PermanentPollError() {
    FakeProvider::Script s;
    s.permanent_poll_error = true;
    return s;
}
FakeProvider::Script TransientStartErrors(int n) {
    FakeProvider::Script s;
    s.transient_start_errors = n;
    return s;
}
FakeProvider::Script TransientPollErrors(int n) {
    FakeProvider::Script s;
    s.transient_poll_errors = n;
    return s;
}
FakeProvider::Script NeverFinishes() {
    FakeProvider::Script s;
    s.never_finishes = true;
    return s;
}
FakeProvider::Script FailingTest(std::string test) {
    FakeProvider::Script s;
    s.failing_test = std::move(test);
    return s;
}

const std::vector<std::string> kVerifyTests = {"dcgm-diag-r2", "nccl-allreduce"};

// Options under which the verify step runs (engine.verify_tests set), so that every step of
// every workflow reaches the provider.
ExecutorOptions WithVerifyTests() {
    ExecutorOptions options;
    options.verify_tests = kVerifyTests;
    return options;
}

constexpr const char* kVerifySkipped = "step verify: skipped: no engine.verify_tests";

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

std::vector<Action> ActionsOf(Mode mode) {
    std::vector<Action> actions;
    for (const Step& step : WorkflowFor(mode)) actions.push_back(step.action);
    return actions;
}

std::string Key(const std::string& id, size_t step) { return id + "/" + std::to_string(step); }

// One line per event, easy to compare as a whole timeline.
std::string Describe(const model::RemediationEvent& e) {
    if (e.type == "state_change") {
        return "state " + (e.state ? std::string(model::WireName(*e.state)) : "(none)");
    }
    return e.type + " " + e.step + ": " + e.detail;
}

auth::Principal Operator() { return {"alice", auth::Role::kOperator, {}}; }

class ExecutorTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = storage::OpenStore("sqlite:" + dir_.path() + "/engine.db");
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
        ASSERT_TRUE(store_->WriteAndWait([](storage::Txn& txn) {
            return txn.Inventory().ImportFleet(storage::test_support::TestFleet());
        }));
        service_ = std::make_unique<remediation::RemediationService>(*store_, lifecycle_);
        control_ = std::make_unique<EngineControl>(*store_);
    }

    void TearDown() override {
        exec_.reset();
        if (store_) store_->Close();
    }

    // A new executor on the same store and provider, as after a restart.
    Executor& NewExecutor(ExecutorOptions options = {}) {
        exec_.reset();
        exec_ = std::make_unique<Executor>(
            *store_, provider_, *control_, clock_, lifecycle_,
            options);
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

    std::vector<std::string> TimelineOf(const std::string& id) {
        std::vector<std::string> lines;
        for (const auto& e : EventsOf(id)) lines.push_back(Describe(e));
        return lines;
    }

    // Keys of the Start calls made for `action`.
    std::vector<std::string> StartKeysOf(Action action) {
        std::vector<std::string> keys;
        for (const auto& op : provider_.StartCalls()) {
            if (op.action == action) keys.push_back(op.key);
        }
        return keys;
    }

    // Runs and advances the clock by `step` until `id` is terminal; false after `max_rounds`.
    bool RunUntilTerminal(const std::string& id, std::chrono::microseconds step,
                          int max_rounds = 100) {
        for (int round = 0; round < max_rounds; ++round) {
            if (exec_->RunOnce().ok() && model::IsTerminal(StateOf(id))) return true;
            clock_.Advance(step);
        }
        return false;
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
    const auto workflow = WorkflowFor(mode);
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i1", mode);
    ASSERT_EQ(StateOf(r.id), State::kPending);
    const Timestamp claimed_at = clock_.Now();

    Timestamp last_update = Stored(r.id).update_time;
    for (size_t k = 0; k < workflow.size(); ++k) {
        RunOnce();
        const Remediation now = Stored(r.id);
        const std::string at =
            "step " + std::to_string(k) + " " + std::string(ActionName(workflow[k].action));
        EXPECT_EQ(now.state, workflow[k].during) << at;
        EXPECT_GE(now.update_time, last_update) << at;
        last_update = now.update_time;
        auto starts = provider_.StartCalls();
        ASSERT_EQ(starts.size(), k + 1) << at;
        EXPECT_EQ(starts.back().action, workflow[k].action) << at;
        EXPECT_EQ(starts.back().key, Key(r.id, k)) << at;
        EXPECT_EQ(starts.back().instance_id, "i1") << at;
        EXPECT_EQ(starts.back().host, "h1") << at;
        EXPECT_EQ(starts.back().num_gpus, 8) << at;
        EXPECT_EQ(starts.back().other_host, mode == Mode::kHostAware) << at;
        if (workflow[k].action == Action::kProvisionVm) {
            EXPECT_EQ(starts.back().target_host, "h6") << "the reserved host is provisioned";
        }
        // The active tests go to the verify step alone.
        EXPECT_EQ(starts.back().tests,
                  workflow[k].action == Action::kVerify ? kVerifyTests : std::vector<std::string>{})
            << at;
        auto job = JobOf(r.id);
        ASSERT_TRUE(job) << at;
        EXPECT_EQ(job->step, int(k)) << at;
        EXPECT_TRUE(job->started) << at;
        EXPECT_EQ(job->next_check, clock_.Now() + seconds(1)) << at;
        // Nothing moves before the step's latency elapsed.
        clock_.Advance(milliseconds(999));
        RunOnce();
        EXPECT_EQ(provider_.StartCalls().size(), k + 1) << at;
        EXPECT_EQ(StateOf(r.id), workflow[k].during) << at;
        clock_.Advance(milliseconds(1));
    }
    RunOnce();
    const Remediation done = Stored(r.id);
    EXPECT_EQ(done.state, State::kSucceeded);
    EXPECT_TRUE(done.error_message.empty()) << done.error_message;
    EXPECT_EQ(done.start_time, claimed_at);
    ASSERT_TRUE(done.end_time);
    EXPECT_EQ(*done.end_time, done.update_time);
    EXPECT_FALSE(JobOf(r.id)) << "a finished remediation keeps no engine job";
    EXPECT_EQ(exec_->InFlight(), 0u);
    EXPECT_TRUE(provider_.Released().empty()) << "success releases nothing";
    const bool replaces = mode == Mode::kVmOnly || mode == Mode::kHostAware;
    EXPECT_EQ(provider_.VmsMade().size(), replaces ? 1u : 0u);

    // The timeline: every state change of API.md 2.2 and each step's start and end.
    std::vector<std::string> expected = {"state PENDING"};
    State shown = State::kPending;
    for (const Step& step : workflow) {
        if (shown == State::kQuarantining && step.during == State::kRunning) {
            expected.push_back("state QUARANTINED");
        }
        if (shown != step.during) {
            expected.push_back("state " + std::string(model::WireName(step.during)));
            shown = step.during;
        }
        const std::string name(ActionName(step.action));
        expected.push_back("step " + name + ": " +
                           (step.action == Action::kReserve
                                ? "waiting for a host with free GPU slots"
                                : "started"));
        expected.push_back("step " + name + ": " +
                           (step.action == Action::kReserve ? "reserved 8 GPUs on h6" : "done"));
    }
    expected.push_back("state SUCCEEDED");
    EXPECT_EQ(TimelineOf(r.id), expected);
    const auto events = EventsOf(r.id);
    for (size_t i = 1; i < events.size(); ++i) {
        EXPECT_LT(events[i - 1].time, events[i].time) << "event " << i;
        EXPECT_EQ(events[i].actor, "engine") << "event " << i;
    }
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().time, done.update_time);

    // Done is done: later rounds touch nothing.
    const size_t starts = provider_.StartCalls().size();
    const int polls = provider_.Polls();
    clock_.Advance(seconds(3600));
    RunOnce();
    EXPECT_EQ(provider_.StartCalls().size(), starts);
    EXPECT_EQ(provider_.Polls(), polls);
    EXPECT_EQ(Stored(r.id).update_time, done.update_time);
}

TEST_P(ExecutorModeTest, InstantStepsFinishInOneRound) {
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i2", GetParam());
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
    EXPECT_EQ(provider_.StartCalls().size(), WorkflowFor(GetParam()).size());
    EXPECT_FALSE(JobOf(r.id));
}

// Without engine.verify_tests there is nothing to verify: the step is skipped, with an event
// that says why, and the provider never hears of it. Every other step keeps its index (and
// so its idempotency key).
TEST_P(ExecutorModeTest, WithoutVerifyTestsTheVerifyStepIsSkipped) {
    const Mode mode = GetParam();
    const auto workflow = WorkflowFor(mode);
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor();
    const Remediation r = Create("i1", mode);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << Stored(r.id).error_message;
    EXPECT_TRUE(StartKeysOf(Action::kVerify).empty());

    std::vector<std::string> expected_keys;
    std::vector<std::string> expected_steps;
    for (size_t k = 0; k < workflow.size(); ++k) {
        const std::string name(ActionName(workflow[k].action));
        if (workflow[k].action == Action::kVerify) {
            expected_steps.push_back(kVerifySkipped);
            continue;
        }
        expected_keys.push_back(Key(r.id, k));
        if (workflow[k].action == Action::kReserve) {
            expected_steps.push_back("step " + name + ": waiting for a host with free GPU slots");
            expected_steps.push_back("step " + name + ": reserved 8 GPUs on h6");
        } else {
            expected_steps.push_back("step " + name + ": started");
            expected_steps.push_back("step " + name + ": done");
        }
    }
    std::vector<std::string> keys;
    for (const auto& op : provider_.StartCalls()) {
        keys.push_back(op.key);
        EXPECT_TRUE(op.tests.empty()) << op.key;
    }
    EXPECT_EQ(keys, expected_keys);
    std::vector<std::string> steps;
    for (const auto& line : TimelineOf(r.id)) {
        if (line.starts_with("step ")) steps.push_back(line);
    }
    EXPECT_EQ(steps, expected_steps);

    // The skip is an engine event of the step, without a state.
    int skips = 0;
    for (const auto& e : EventsOf(r.id)) {
        if (e.type != "step" || e.step != "verify") continue;
        ++skips;
        EXPECT_EQ(e.detail, "skipped: no engine.verify_tests");
        EXPECT_FALSE(e.state);
        EXPECT_EQ(e.actor, "engine");
    }
    EXPECT_EQ(skips, mode == Mode::kEvictWithoutReplacement ? 0 : 1);
}

// ---- A permanent error at each step ---------------------------------------------------------

using ModeAndStep = std::tuple<Mode, size_t>;

std::vector<ModeAndStep> EveryStepOfEveryMode() {
    std::vector<ModeAndStep> all;
    for (Mode mode : model::kAllModes) {
        for (size_t k = 0; k < WorkflowFor(mode).size(); ++k) all.emplace_back(mode, k);
    }
    return all;
}

std::string ModeAndStepLabel(const ::testing::TestParamInfo<ModeAndStep>& info) {
    const auto [mode, k] = info.param;
    return ModeLabel(mode) + "_" + std::to_string(k) + "_" +
           std::string(ActionName(WorkflowFor(mode)[k].action));
}

class ExecutorStepTest : public ExecutorTest, public ::testing::WithParamInterface<ModeAndStep> {};

INSTANTIATE_TEST_SUITE_P(Executor, ExecutorStepTest, ::testing::ValuesIn(EveryStepOfEveryMode()),
                         ModeAndStepLabel);

TEST_P(ExecutorStepTest, PermanentErrorFailsNamingTheStepAndReleases) {
    const auto [mode, k] = GetParam();
    const Step& failing = WorkflowFor(mode)[k];
    const std::string name(ActionName(failing.action));
    provider_.Set(failing.action, PermanentStartError());
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i1", mode);
    RunOnce();

    const Remediation failed = Stored(r.id);
    EXPECT_EQ(failed.state, State::kFailed);
    EXPECT_NE(failed.error_message.find(name), std::string::npos) << failed.error_message;
    EXPECT_NE(failed.error_message.find(name + " is broken"), std::string::npos)
        << "the provider's reason is kept: " << failed.error_message;
    ASSERT_TRUE(failed.end_time);
    EXPECT_EQ(*failed.end_time, failed.update_time);
    EXPECT_EQ(provider_.Released(), std::vector<std::string>{"i1"});
    EXPECT_FALSE(JobOf(r.id));
    EXPECT_EQ(exec_->InFlight(), 0u);
    // Steps after the failing one never started.
    auto starts = provider_.StartCalls();
    ASSERT_EQ(starts.size(), k + 1);
    EXPECT_EQ(starts.back().action, failing.action);
    const auto timeline = TimelineOf(r.id);
    ASSERT_FALSE(timeline.empty());
    EXPECT_EQ(timeline.back(), "state FAILED");

    // Nothing happens to it afterwards.
    const int polls = provider_.Polls();
    clock_.Advance(seconds(3600));
    RunOnce();
    RunOnce();
    EXPECT_EQ(provider_.StartCalls().size(), k + 1);
    EXPECT_EQ(provider_.Polls(), polls);
    EXPECT_EQ(Stored(r.id).update_time, failed.update_time);
    EXPECT_EQ(provider_.Released().size(), 1u);
}

// ---- Resume at each step --------------------------------------------------------------------

TEST_P(ExecutorStepTest, ResumesFromEachStepWithoutStartingAnythingTwice) {
    const auto [mode, k] = GetParam();
    const auto workflow = WorkflowFor(mode);
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i1", mode);
    for (size_t i = 0; i < k; ++i) {
        RunOnce();
        clock_.Advance(seconds(1));
    }
    RunOnce();  // step k is started and not done yet
    ASSERT_EQ(StateOf(r.id), workflow[k].during);
    ASSERT_EQ(provider_.StartCalls().size(), k + 1);

    // A restart: the old executor goes, a new one finds the job in the store.
    exec_.reset();
    clock_.Advance(milliseconds(300));
    Executor& resumed = NewExecutor(WithVerifyTests());
    EXPECT_EQ(resumed.InFlight(), 1u);
    EXPECT_EQ(StateOf(r.id), workflow[k].during);
    ASSERT_TRUE(RunUntilTerminal(r.id, milliseconds(500)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);

    // Each step's key was started exactly once, in order.
    std::vector<std::string> keys;
    for (const auto& op : provider_.StartCalls()) keys.push_back(op.key);
    std::vector<std::string> expected_keys;
    for (size_t i = 0; i < workflow.size(); ++i) expected_keys.push_back(Key(r.id, i));
    EXPECT_EQ(keys, expected_keys);
    for (const auto& [key, count] : provider_.AcceptedStarts()) {
        EXPECT_EQ(count, 1) << key;
    }
    const bool replaces = mode == Mode::kVmOnly || mode == Mode::kHostAware;
    EXPECT_EQ(provider_.VmsMade().size(), replaces ? 1u : 0u);
    // The timeline has each step's end once.
    const auto timeline = TimelineOf(r.id);
    for (const Step& step : workflow) {
        const std::string name(ActionName(step.action));
        const std::string prefix = "step " + name + ": ";
        const auto ends = std::count_if(timeline.begin(), timeline.end(), [&](const auto& line) {
            return line.starts_with(prefix) && line != prefix + "started" &&
                   line != prefix + "waiting for a host with free GPU slots";
        });
        EXPECT_EQ(ends, 1) << name;
    }
}

// A crash after the provider accepted a Start but before the step's record committed: the
// retried Start reuses the key, and the provider makes no second VM.
TEST_F(ExecutorTest, RestartedStartReusesTheStepKey) {
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    const auto actions = ActionsOf(Mode::kVmOnly);
    const size_t provision =
        size_t(std::find(actions.begin(), actions.end(), Action::kProvisionVm) - actions.begin());
    for (size_t i = 0; i < provision; ++i) {
        RunOnce();
        clock_.Advance(seconds(1));
    }
    RunOnce();
    auto job = JobOf(r.id);
    ASSERT_TRUE(job);
    ASSERT_EQ(job->step, int(provision));
    ASSERT_TRUE(job->started);
    exec_.reset();
    // Lose the record of the start, as if that transaction never committed.
    job->started = false;
    job->handle.clear();
    ASSERT_TRUE(
        store_->WriteAndWait([&](storage::Txn& txn) { return txn.EngineJobs().Put(*job); }));

    NewExecutor();
    ASSERT_TRUE(RunUntilTerminal(r.id, milliseconds(500)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
    EXPECT_EQ(StartKeysOf(Action::kProvisionVm),
              (std::vector<std::string>{Key(r.id, provision), Key(r.id, provision)}));
    EXPECT_EQ(provider_.VmsMade().size(), 1u);
}

// ---- Transient errors -----------------------------------------------------------------------

TEST_F(ExecutorTest, TransientStartErrorsAreRetriedAfterTheBackoffWithTheSameKey) {
    provider_.Set(Action::kDrain, TransientStartErrors(3));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kRunning);
    ASSERT_EQ(StartKeysOf(Action::kDrain).size(), 1u);

    // Each retry waits longer than the one before, and never comes early.
    size_t calls = 1;
    std::chrono::microseconds previous{0};
    for (int retry = 1; retry <= 3; ++retry) {
        auto job = JobOf(r.id);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->attempts, retry);
        EXPECT_FALSE(job->started);
        const auto backoff = job->next_check - clock_.Now();
        EXPECT_GT(backoff, previous) << "retry " << retry;
        EXPECT_LE(backoff, seconds(30));
        previous = backoff;
        clock_.Advance(backoff - std::chrono::microseconds(1));
        RunOnce();
        EXPECT_EQ(StartKeysOf(Action::kDrain).size(), calls) << "retried before the backoff";
        clock_.Advance(std::chrono::microseconds(1));
        RunOnce();
        EXPECT_EQ(StartKeysOf(Action::kDrain).size(), ++calls) << "retry " << retry;
    }
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
    EXPECT_EQ(StartKeysOf(Action::kDrain), std::vector<std::string>(4, Key(r.id, 0)));
    const auto timeline = TimelineOf(r.id);
    EXPECT_EQ(
        std::count(timeline.begin(), timeline.end(), "step drain: retrying after: flaky drain"), 3);
}

// A transient Poll error is retried by starting the step again under the same key: the
// provider dedupes it, so the step still makes one operation.
TEST_F(ExecutorTest, TransientPollErrorsRetryTheStepUnderTheSameKey) {
    provider_.Set(Action::kProvisionVm, TransientPollErrors(2));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << Stored(r.id).error_message;
    const auto keys = StartKeysOf(Action::kProvisionVm);
    ASSERT_FALSE(keys.empty());
    EXPECT_EQ(keys, std::vector<std::string>(keys.size(), Key(r.id, 3)));
    EXPECT_EQ(provider_.OperationsOf(Action::kProvisionVm), 1);
    EXPECT_EQ(provider_.VmsMade().size(), 1u);
    const auto timeline = TimelineOf(r.id);
    EXPECT_EQ(std::count(timeline.begin(), timeline.end(),
                         "step provision_vm: retrying after: flaky poll of provision_vm"),
              2);
}

TEST_F(ExecutorTest, EndlessTransientErrorsFailTheStep) {
    provider_.Set(Action::kDeleteVm, TransientStartErrors(1000));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(30)));
    const Remediation failed = Stored(r.id);
    EXPECT_EQ(failed.state, State::kFailed);
    EXPECT_NE(failed.error_message.find("delete_vm"), std::string::npos) << failed.error_message;
    EXPECT_NE(failed.error_message.find("flaky delete_vm"), std::string::npos)
        << failed.error_message;
    const size_t tries = StartKeysOf(Action::kDeleteVm).size();
    EXPECT_GT(tries, 1u) << "transient errors are retried at first";
    EXPECT_LT(tries, 50u);
    EXPECT_EQ(provider_.Released(), std::vector<std::string>{"i1"});
    EXPECT_FALSE(JobOf(r.id));
    EXPECT_TRUE(StartKeysOf(Action::kProvisionVm).empty());
}

TEST_F(ExecutorTest, PermanentPollErrorFailsTheStep) {
    provider_.Set(Action::kPowerCycleHost, PermanentPollError());
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostPowerCycle);
    RunOnce();
    const Remediation failed = Stored(r.id);
    EXPECT_EQ(failed.state, State::kFailed);
    EXPECT_NE(failed.error_message.find("power_cycle_host"), std::string::npos)
        << failed.error_message;
    EXPECT_EQ(provider_.Released(), std::vector<std::string>{"i1"});
    EXPECT_TRUE(StartKeysOf(Action::kUncordonHost).empty());
}

// ---- Verify ---------------------------------------------------------------------------------

// A failed active test keeps the node out: the remediation fails naming the test, whatever
// it holds is released, and the node never rejoins (nor, after a power cycle, is its host
// uncordoned).
TEST_F(ExecutorTest, FailingVerifyFailsNamingTheTestAndNeverRejoins) {
    provider_.Set(Action::kVerify, FailingTest("nccl-allreduce"));
    NewExecutor(WithVerifyTests());
    const std::vector<std::pair<const char*, Mode>> cases = {{"i1", Mode::kVmOnly},
                                                             {"i2", Mode::kHostAware},
                                                             {"i3", Mode::kRebootVm},
                                                             {"i4", Mode::kHostPowerCycle}};
    std::vector<std::string> released;
    for (const auto& [instance, mode] : cases) {
        const std::string label(model::WireName(mode));
        const Remediation r = Create(instance, mode);
        RunOnce();
        const Remediation failed = Stored(r.id);
        EXPECT_EQ(failed.state, State::kFailed) << label;
        EXPECT_NE(failed.error_message.find("verify"), std::string::npos)
            << label << ": " << failed.error_message;
        EXPECT_NE(failed.error_message.find("test nccl-allreduce failed"), std::string::npos)
            << label << ": " << failed.error_message;
        released.push_back(instance);
        EXPECT_EQ(provider_.Released(), released) << label;
        EXPECT_FALSE(JobOf(r.id)) << label;
        const auto timeline = TimelineOf(r.id);
        ASSERT_FALSE(timeline.empty());
        EXPECT_EQ(timeline.back(), "state FAILED") << label;
        EXPECT_EQ(std::count(timeline.begin(), timeline.end(), kVerifySkipped), 0) << label;
    }
    EXPECT_EQ(StartKeysOf(Action::kVerify).size(), cases.size());
    for (const auto& op : provider_.StartCalls()) {
        if (op.action == Action::kVerify) {
            EXPECT_EQ(op.tests, kVerifyTests) << op.key;
        }
    }
    EXPECT_TRUE(StartKeysOf(Action::kRejoin).empty());
    EXPECT_TRUE(StartKeysOf(Action::kUncordonHost).empty());
    EXPECT_EQ(exec_->InFlight(), 0u);
}

// Tests that pass let the node rejoin; the verify step is one operation like any other.
TEST_F(ExecutorTest, PassingVerifyLetsTheNodeRejoin) {
    provider_.Set(Action::kVerify, FailingTest("some-other-test"));
    NewExecutor(WithVerifyTests());
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << Stored(r.id).error_message;
    EXPECT_EQ(StartKeysOf(Action::kVerify), std::vector<std::string>{Key(r.id, 3)});
    EXPECT_EQ(StartKeysOf(Action::kRejoin), std::vector<std::string>{Key(r.id, 4)});
    EXPECT_TRUE(provider_.Released().empty());
}

// A restart while the node boots, without verify tests: the resumed engine skips verify once
// and rejoins under the rejoin step's own key.
TEST_F(ExecutorTest, ResumeBeforeASkippedVerifySkipsItOnce) {
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kRebootVm);
    for (int i = 0; i < 2; ++i) {
        RunOnce();
        clock_.Advance(seconds(1));
    }
    RunOnce();  // wait_ready (step 2) started
    auto job = JobOf(r.id);
    ASSERT_TRUE(job);
    ASSERT_EQ(job->step, 2);
    exec_.reset();
    NewExecutor();
    ASSERT_TRUE(RunUntilTerminal(r.id, milliseconds(500)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
    const auto timeline = TimelineOf(r.id);
    EXPECT_EQ(std::count(timeline.begin(), timeline.end(), kVerifySkipped), 1);
    EXPECT_TRUE(StartKeysOf(Action::kVerify).empty());
    EXPECT_EQ(StartKeysOf(Action::kRejoin), std::vector<std::string>{Key(r.id, 4)});
}

// ---- Timeouts -------------------------------------------------------------------------------

TEST_F(ExecutorTest, StepThatNeverFinishesTimesOut) {
    provider_.Set(Action::kWaitReady, NeverFinishes());
    ExecutorOptions options;
    options.step_timeout = seconds(10);
    NewExecutor(options);
    const Remediation r = Create("i1", Mode::kRebootVm);
    RunOnce();
    for (int s = 1; s < 10; ++s) {
        clock_.Advance(seconds(1));
        RunOnce();
        ASSERT_EQ(StateOf(r.id), State::kRunning) << "after " << s << " s";
    }
    const int polls = provider_.Polls();
    EXPECT_GE(polls, 10) << "the provider's poll_at is honoured while it runs";
    clock_.Advance(seconds(1));
    RunOnce();
    const Remediation failed = Stored(r.id);
    EXPECT_EQ(failed.state, State::kFailed);
    EXPECT_NE(failed.error_message.find("wait_ready"), std::string::npos) << failed.error_message;
    EXPECT_NE(failed.error_message.find("timed out"), std::string::npos) << failed.error_message;
    EXPECT_EQ(provider_.Released(), std::vector<std::string>{"i1"});
    EXPECT_FALSE(JobOf(r.id));
    EXPECT_TRUE(StartKeysOf(Action::kRejoin).empty());
}

TEST_F(ExecutorTest, StepTimeoutCountsFromTheStepNotTheRemediation) {
    provider_.SetDefaultLatency(seconds(8));
    ExecutorOptions options;
    options.step_timeout = seconds(10);
    NewExecutor(options);
    const Remediation r = Create("i1", Mode::kRebootVm);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << Stored(r.id).error_message;
}

TEST_F(ExecutorTest, NoRoomWithinTheCapacityWaitFailsAndLeavesTheVm) {
    provider_.Set(Action::kReserve, NeverFinishes());
    ExecutorOptions options;
    options.step_timeout = seconds(5);  // the reservation waits for capacity_wait instead
    options.capacity_wait = seconds(60);
    NewExecutor(options);
    const Remediation r = Create("i1", Mode::kVmOnly);
    RunOnce();
    for (int s = 5; s < 60; s += 5) {
        clock_.Advance(seconds(5));
        RunOnce();
        ASSERT_EQ(StateOf(r.id), State::kRunning) << "after " << s << " s";
    }
    clock_.Advance(seconds(5));
    RunOnce();
    const Remediation failed = Stored(r.id);
    EXPECT_EQ(failed.state, State::kFailed);
    EXPECT_NE(failed.error_message.find("free GPU slots"), std::string::npos)
        << failed.error_message;
    EXPECT_NE(failed.error_message.find("8"), std::string::npos) << failed.error_message;
    EXPECT_NE(failed.error_message.find("60"), std::string::npos) << failed.error_message;
    EXPECT_EQ(provider_.Released(), std::vector<std::string>{"i1"});
    // The old VM was never touched.
    auto starts = provider_.StartCalls();
    ASSERT_EQ(starts.size(), 1u);
    EXPECT_EQ(starts[0].action, Action::kReserve);
    const auto timeline = TimelineOf(r.id);
    EXPECT_NE(std::find(timeline.begin(), timeline.end(),
                        "step reserve_capacity: waiting for a host with free GPU slots"),
              timeline.end());
}

// ---- Pause, cancel, parallelism -------------------------------------------------------------

TEST_F(ExecutorTest, PausedEngineLeavesPendingWorkAlone) {
    NewExecutor();
    SetPaused(true);
    const Remediation r = Create("i1", Mode::kRebootVm);
    for (int i = 0; i < 3; ++i) {
        RunOnce();
        clock_.Advance(seconds(10));
    }
    EXPECT_EQ(StateOf(r.id), State::kPending);
    EXPECT_TRUE(provider_.StartCalls().empty());
    EXPECT_EQ(exec_->InFlight(), 0u);

    SetPaused(false);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
}

TEST_F(ExecutorTest, PauseLetsRunningWorkFinish) {
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor();
    const Remediation running = Create("i1", Mode::kRebootVm);
    RunOnce();
    ASSERT_EQ(StateOf(running.id), State::kRunning);
    SetPaused(true);
    const Remediation held = Create("i2", Mode::kRebootVm);
    ASSERT_TRUE(RunUntilTerminal(running.id, seconds(1)));
    EXPECT_EQ(StateOf(running.id), State::kSucceeded);
    EXPECT_EQ(StateOf(held.id), State::kPending);
}

TEST_F(ExecutorTest, CancelledBeforeClaimIsNeverClaimed) {
    NewExecutor();
    const Remediation r = Create("i1", Mode::kVmOnly);
    auto cancelled = Cancel(r);
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    RunOnce();
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kCancelled);
    EXPECT_TRUE(provider_.StartCalls().empty());
    EXPECT_FALSE(JobOf(r.id));
    EXPECT_EQ(exec_->InFlight(), 0u);
}

TEST_F(ExecutorTest, CancelAfterClaimIsRefusedAndTheWorkGoesOn) {
    provider_.SetDefaultLatency(seconds(1));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostAware);
    RunOnce();
    ASSERT_EQ(StateOf(r.id), State::kQuarantining);
    auto refused = Cancel(r);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Code::kFailedPrecondition) << refused.error().message;
    EXPECT_EQ(StateOf(r.id), State::kQuarantining);
    ASSERT_TRUE(RunUntilTerminal(r.id, seconds(1)));
    EXPECT_EQ(StateOf(r.id), State::kSucceeded);
}

TEST_F(ExecutorTest, AtMostMaxParallelRemediationsRunAtOnce) {
    provider_.SetDefaultLatency(seconds(1));
    ExecutorOptions options;
    options.max_parallel = 2;
    NewExecutor(options);
    std::vector<Remediation> all;
    for (const char* instance : {"i1", "i2", "i3", "i4", "j1"}) {
        all.push_back(Create(instance, Mode::kRebootVm));
        clock_.Advance(milliseconds(1));
    }
    RunOnce();
    // The oldest two are claimed first.
    EXPECT_EQ(StateOf(all[0].id), State::kRunning);
    EXPECT_EQ(StateOf(all[1].id), State::kRunning);
    for (size_t i = 2; i < all.size(); ++i) EXPECT_EQ(StateOf(all[i].id), State::kPending);
    EXPECT_EQ(exec_->InFlight(), 2u);

    bool all_done = false;
    for (int round = 0; round < 100 && !all_done; ++round) {
        clock_.Advance(seconds(1));
        RunOnce();
        int active = 0;
        all_done = true;
        for (const auto& r : all) {
            const State s = StateOf(r.id);
            if (!model::IsTerminal(s)) all_done = false;
            if (s != State::kPending && !model::IsTerminal(s)) ++active;
        }
        ASSERT_LE(active, 2) << "round " << round;
        ASSERT_LE(exec_->InFlight(), 2u) << "round " << round;
    }
    ASSERT_TRUE(all_done);
    for (const auto& r : all) EXPECT_EQ(StateOf(r.id), State::kSucceeded) << r.instance_id;
}

// ---- Work that cannot start -----------------------------------------------------------------

TEST_F(ExecutorTest, ModesThatNeedAVmFailOnAnInstanceWithout) {
    NewExecutor();
    for (Mode mode : {Mode::kEvictWithoutReplacement, Mode::kRebootVm, Mode::kHostPowerCycle}) {
        const Remediation r = Create("j2", mode);  // j2 has no VM
        RunOnce();
        const Remediation failed = Stored(r.id);
        EXPECT_EQ(failed.state, State::kFailed) << model::WireName(mode);
        EXPECT_NE(failed.error_message.find("no VM"), std::string::npos)
            << model::WireName(mode) << ": " << failed.error_message;
        EXPECT_FALSE(JobOf(r.id)) << model::WireName(mode);
    }
    EXPECT_TRUE(provider_.StartCalls().empty());
}

// An operator's cordon (or a HOST_AWARE verdict) outlives a power cycle of the host.
TEST_F(ExecutorTest, PowerCycleOfAnAlreadyCordonedHostDoesNotUncordonIt) {
    ASSERT_TRUE(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Inventory().SetHostCordoned("h1", true); }));
    NewExecutor();
    const Remediation r = Create("i1", Mode::kHostPowerCycle);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << Stored(r.id).error_message;
    EXPECT_FALSE(StartKeysOf(Action::kCordonHost).empty());
    EXPECT_TRUE(StartKeysOf(Action::kUncordonHost).empty());
}

// Two host-level remediations on one host would undo each other's cordon (or power-cycle the
// host twice): the second waits in PENDING until the first is done; other hosts do not wait.
TEST_F(ExecutorTest, HostLevelRemediationsOfOneHostRunOneAfterTheOther) {
    ASSERT_TRUE(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Inventory().SetInstancePlacement("i2", "h1", "Ready");
    }));
    provider_.SetDefaultLatency(seconds(10));
    NewExecutor();
    const Remediation first = Create("i1", Mode::kHostPowerCycle);
    RunOnce();
    ASSERT_EQ(StateOf(first.id), State::kQuarantining);
    const Remediation second = Create("i2", Mode::kHostAware);
    const Remediation elsewhere = Create("i3", Mode::kHostPowerCycle);
    for (int round = 0; round < 3; ++round) {
        clock_.Advance(milliseconds(100));
        RunOnce();
    }
    EXPECT_EQ(StateOf(second.id), State::kPending);
    EXPECT_EQ(StateOf(elsewhere.id), State::kQuarantining) << "another host does not wait";
    auto waits = TimelineOf(second.id);
    EXPECT_EQ(std::count(waits.begin(), waits.end(),
                         "step claim: waiting: another host-level remediation is working on host "
                         "h1"),
              1)
        << "said once, not at every scan";
    ASSERT_TRUE(RunUntilTerminal(first.id, seconds(5)));
    EXPECT_EQ(StateOf(first.id), State::kSucceeded);
    ASSERT_TRUE(RunUntilTerminal(second.id, seconds(5)));
    EXPECT_EQ(StateOf(second.id), State::kSucceeded) << Stored(second.id).error_message;
    // The power cycle's uncordon came before the HOST_AWARE's cordon, which stays.
    auto cordons = StartKeysOf(Action::kCordonHost);
    EXPECT_EQ(cordons.size(), 3u);
}

TEST(Workflow, OnlyAPowerCycleAndAnotherHostLevelModeExcludeEachOther) {
    EXPECT_TRUE(WaitsForOnSameHost(Mode::kHostPowerCycle, Mode::kHostPowerCycle));
    EXPECT_TRUE(WaitsForOnSameHost(Mode::kHostPowerCycle, Mode::kHostAware));
    EXPECT_TRUE(WaitsForOnSameHost(Mode::kHostAware, Mode::kHostPowerCycle));
    EXPECT_FALSE(WaitsForOnSameHost(Mode::kHostAware, Mode::kHostAware));
    EXPECT_FALSE(WaitsForOnSameHost(Mode::kRebootVm, Mode::kHostPowerCycle));
    EXPECT_FALSE(WaitsForOnSameHost(Mode::kHostPowerCycle, Mode::kVmOnly));
}

TEST_F(ExecutorTest, VmOnlyProvisionsAnInstanceThatHasNoVm) {
    NewExecutor();
    const Remediation r = Create("j2", Mode::kVmOnly);
    RunOnce();
    EXPECT_EQ(StateOf(r.id), State::kSucceeded) << Stored(r.id).error_message;
    ASSERT_EQ(provider_.VmsMade().size(), 1u);
    EXPECT_EQ(provider_.VmsMade()[0].first, "j2");
}

// A PENDING remediation whose instance is gone must fail like any other (API.md 2.2 has no
// PENDING -> FAILED edge, so the engine has to pass through RUNNING or refuse differently);
// it must never take the process down. Run in a child so a crash fails only this test.
using ExecutorDeathTest = ExecutorTest;

TEST_F(ExecutorDeathTest, ClaimOfAVanishedInstanceFailsTheRemediationWithoutCrashing) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    Remediation ghost = storage::test_support::MakeRemediation(
        "01890000-0000-7000-8000-000000000001", "i9", State::kPending, clock_.Now());
    ASSERT_TRUE(
        store_->WriteAndWait([&](storage::Txn& txn) { return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), ghost); }));
    EXPECT_EXIT(
        {
            NewExecutor();
            (void)exec_->RunOnce();
            const Remediation after = Stored(ghost.id);
            const bool ok = after.state == State::kFailed &&
                            after.error_message.find("no longer exists") != std::string::npos;
            std::fprintf(stderr, "state=%s error=%s\n",
                         std::string(model::WireName(after.state)).c_str(),
                         after.error_message.c_str());
            exec_.reset();
            store_->Close();
            std::error_code ignored;
            std::filesystem::remove_all(dir_.path(), ignored);
            std::_Exit(ok ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "state=FAILED");
}

}  // namespace
}  // namespace noderepair::engine
