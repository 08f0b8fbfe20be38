#include "engine/hooks.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/control.hpp"
#include "engine/executor.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::engine {
namespace {

using providers::Action;
using providers::Operation;
using providers::OperationStatus;
using std::chrono::milliseconds;
using std::chrono::seconds;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

// The provider under the hooks: records what reaches it; every operation is done at once.
class InnerProvider final : public providers::Provider {
public:
    Result<std::string> Start(const Operation& op, const providers::CallContext&) override {
        std::lock_guard lock(mu_);
        started_.push_back(op.action);
        return "inner:" + op.key;
    }
    Result<OperationStatus> Poll(const std::string& handle,
                                 const providers::CallContext&) override {
        std::lock_guard lock(mu_);
        polled_.push_back(handle);
        OperationStatus status;
        status.phase = OperationStatus::Phase::kDone;
        return status;
    }

    std::vector<Action> Started() {
        std::lock_guard lock(mu_);
        return started_;
    }
    std::vector<std::string> Polled() {
        std::lock_guard lock(mu_);
        return polled_;
    }

private:
    std::mutex mu_;
    std::vector<Action> started_;
    std::vector<std::string> polled_;
};

const std::vector<std::string> kTests = {"dcgm-diag-r2", "nccl-allreduce", "never-reached"};

Operation Op(Action action, const std::string& key = "r1/1") {
    Operation op;
    op.action = action;
    op.key = key;
    op.remediation_id = key.substr(0, key.find('/'));
    op.cluster_id = "c1";
    op.instance_id = "i1";
    op.instance_name = "i1-name";
    op.host = "h1";
    op.num_gpus = 8;
    if (action == Action::kVerify) op.tests = kTests;
    return op;
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> LinesOf(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Whether `path` appears within two seconds: a hook is a real process.
bool AppearsSoon(const std::string& path) {
    const auto until = std::chrono::steady_clock::now() + seconds(2);
    while (std::chrono::steady_clock::now() < until) {
        if (std::filesystem::exists(path) && !ReadFile(path).empty()) return true;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
}

// Whether the process `pid` (a child of this test, reaped by the hook's owner) is gone.
bool IsGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

class HooksTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = storage::test_support::OpenWithTestFleet("sqlite:" + dir_.path() + "/hooks.db");
        ASSERT_TRUE(store_);
    }
    void TearDown() override {
        if (store_) store_->Close();
    }

    std::unique_ptr<HookedProvider> Hooked(HookCommands commands) {
        return std::make_unique<HookedProvider>(inner_, std::move(commands));
    }

    std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

    // One call at `now`, with no deadline to speak of.
    static providers::CallContext CallAt(const FakeClock& clock) {
        return {clock, clock.Now() + std::chrono::hours(1),
                std::make_shared<providers::Cancellation>()};
    }
    Result<std::string> Start(providers::Provider& provider, const Operation& op, Timestamp now) {
        FakeClock clock(now);
        return provider.Start(op, CallAt(clock));
    }
    Result<OperationStatus> Poll(providers::Provider& provider, const std::string& handle,
                                 Timestamp now) {
        FakeClock clock(now);
        return provider.Poll(handle, CallAt(clock));
    }
    // Polls (at `now`, so no hook times out) until the operation is no longer running, for
    // at most two seconds of real time.
    Result<OperationStatus> Finish(providers::Provider& provider, const std::string& handle,
                                   Timestamp now) {
        const auto until = std::chrono::steady_clock::now() + seconds(2);
        while (true) {
            auto status = Poll(provider, handle, now);
            if (!status || status->phase != OperationStatus::Phase::kRunning) return status;
            EXPECT_GT(status->poll_at, now) << "a running hook asks to be polled later";
            if (std::chrono::steady_clock::now() >= until) return status;
            std::this_thread::sleep_for(milliseconds(5));
        }
    }
    // Start, then Finish.
    Result<OperationStatus> Run(providers::Provider& provider, const Operation& op) {
        auto handle = Start(provider, op, t0_);
        if (!handle) return handle.error();
        return Finish(provider, *handle, t0_);
    }

    ScopedTempDir dir_;
    Timestamp t0_ = TestEpoch();
    std::unique_ptr<storage::Store> store_;
    InnerProvider inner_;
};

bool IsDone(const Result<OperationStatus>& status) {
    return status && status->phase == OperationStatus::Phase::kDone;
}

// ---- Drain and rejoin -----------------------------------------------------------------------

TEST_F(HooksTest, DrainHookRunsInsteadOfTheProvider) {
    auto hooked = Hooked({.drain = "echo drained >> " + Path("drain.log")});
    auto handle = Start(*hooked, Op(Action::kDrain), t0_);
    ASSERT_TRUE(handle) << handle.error().message;
    EXPECT_TRUE(handle->starts_with("hook:")) << *handle;
    auto status = Finish(*hooked, *handle, t0_);
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(status->phase, OperationStatus::Phase::kDone);
    EXPECT_EQ(LinesOf(Path("drain.log")), std::vector<std::string>{"drained"});
    EXPECT_TRUE(inner_.Started().empty()) << "the provider's own drain does not run";
    EXPECT_TRUE(inner_.Polled().empty());
}

// A second Start of a running hook (a retry under the same key) is the same run.
TEST_F(HooksTest, StartingARunningHookAgainDoesNotRunItTwice) {
    auto hooked =
        Hooked({.rejoin = "echo run >> " + Path("runs") + "; sleep 0.2", .timeout = seconds(5)});
    auto first = Start(*hooked, Op(Action::kRejoin), t0_);
    ASSERT_TRUE(first) << first.error().message;
    auto again = Start(*hooked, Op(Action::kRejoin), t0_);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *first);
    EXPECT_TRUE(IsDone(Finish(*hooked, *first, t0_)));
    EXPECT_EQ(LinesOf(Path("runs")), std::vector<std::string>{"run"});
}

TEST_F(HooksTest, NonZeroExitIsAFailedPreconditionWithTheOutputTail) {
    auto hooked = Hooked({.drain = "echo 'from stdout'; echo 'node busy: 3 jobs' >&2; exit 3"});
    auto status = Run(*hooked, Op(Action::kDrain));
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Code::kFailedPrecondition);
    EXPECT_FALSE(IsTransient(status.error().code)) << "a failed hook is not retried";
    const std::string& message = status.error().message;
    EXPECT_NE(message.find("drain hook exited with status 3"), std::string::npos) << message;
    EXPECT_NE(message.find("node busy: 3 jobs"), std::string::npos) << message;
    EXPECT_NE(message.find("from stdout"), std::string::npos) << "stdout is captured: " << message;
    EXPECT_TRUE(inner_.Started().empty());
}

TEST_F(HooksTest, LongOutputKeepsOnlyItsTail) {
    auto hooked = Hooked({.rejoin = "echo FIRST; i=0; while [ $i -lt 400 ]; do "
                                    "echo 0123456789; i=$((i+1)); done; echo LAST >&2; exit 1"});
    auto status = Run(*hooked, Op(Action::kRejoin));
    ASSERT_FALSE(status);
    const std::string& message = status.error().message;
    EXPECT_NE(message.find("rejoin hook exited with status 1"), std::string::npos) << message;
    EXPECT_NE(message.find("LAST"), std::string::npos) << message;
    EXPECT_EQ(message.find("FIRST"), std::string::npos) << "the head of 4 KB of output is cut";
    EXPECT_LT(message.size(), 2200u);
}

TEST_F(HooksTest, TheHookSeesItsEnvironmentAndNotTheServers) {
    ASSERT_EQ(setenv("NODEREPAIR_LEAKED", "from the server", 1), 0);
    auto hooked = Hooked({.drain = "env | grep '^NODEREPAIR_' | sort > " + Path("env.txt") +
                                   "; echo \"$PATH\" > " + Path("path.txt")});
    auto status = Run(*hooked, Op(Action::kDrain, "rem-7/2"));
    unsetenv("NODEREPAIR_LEAKED");
    ASSERT_TRUE(IsDone(status)) << (status ? "still running" : status.error().message);
    EXPECT_EQ(LinesOf(Path("env.txt")), (std::vector<std::string>{
                                            "NODEREPAIR_CLUSTER_ID=c1",
                                            "NODEREPAIR_HOOK=drain",
                                            "NODEREPAIR_HOST=h1",
                                            "NODEREPAIR_INSTANCE_ID=i1",
                                            "NODEREPAIR_INSTANCE_NAME=i1-name",
                                            "NODEREPAIR_NODE=i1-name",
                                            "NODEREPAIR_REMEDIATION_ID=rem-7",
                                        }));
    // The rest of the server's environment is passed on.
    const char* path = getenv("PATH");
    if (path != nullptr) {
        EXPECT_EQ(LinesOf(Path("path.txt")), std::vector<std::string>{path});
    }
}

TEST_F(HooksTest, AHookThatRunsPastItsTimeoutIsKilled) {
    auto hooked =
        Hooked({.drain = "echo $$ > " + Path("pid") + "; exec sleep 30", .timeout = seconds(1)});
    auto handle = Start(*hooked, Op(Action::kDrain), t0_);
    ASSERT_TRUE(handle) << handle.error().message;
    ASSERT_TRUE(AppearsSoon(Path("pid")));
    const pid_t pid = std::stoi(ReadFile(Path("pid")));
    ASSERT_FALSE(IsGone(pid));

    auto running = Poll(*hooked, *handle, t0_ + milliseconds(500));
    ASSERT_TRUE(running) << running.error().message;
    EXPECT_EQ(running->phase, OperationStatus::Phase::kRunning);
    EXPECT_GT(running->poll_at, t0_ + milliseconds(500));
    EXPECT_LE(running->poll_at, t0_ + seconds(1)) << "polled again by the deadline";

    auto timed_out = Poll(*hooked, *handle, t0_ + seconds(1));
    ASSERT_FALSE(timed_out);
    EXPECT_EQ(timed_out.error().code, Code::kDeadlineExceeded);
    EXPECT_NE(timed_out.error().message.find("drain hook timed out after 1 s"), std::string::npos)
        << timed_out.error().message;
    EXPECT_TRUE(IsGone(pid)) << "the command was killed and reaped";
}

// A restart loses the process (the old provider kills its hooks); the new provider knows
// nothing of the handle and says it is lost, so the engine starts the step again under the
// same key.
TEST_F(HooksTest, AHandleFromBeforeARestartIsLostAndStartsAgain) {
    const HookCommands commands{
        .drain = "echo $$ >> " + Path("runs") + "; [ -e " + Path("first") +
                 " ] && exit 0; echo $$ > " + Path("first") + "; exec sleep 30",
    };
    auto before = Hooked(commands);
    auto handle = Start(*before, Op(Action::kDrain), t0_);
    ASSERT_TRUE(handle) << handle.error().message;
    ASSERT_TRUE(AppearsSoon(Path("first")));
    const pid_t first = std::stoi(ReadFile(Path("first")));
    before.reset();
    EXPECT_TRUE(IsGone(first)) << "a hook does not outlive its provider";

    auto after = Hooked(commands);
    auto lost = Poll(*after, *handle, t0_ + seconds(1));
    ASSERT_TRUE(lost) << lost.error().message;
    EXPECT_EQ(lost->phase, providers::OperationStatus::Phase::kLost);
    EXPECT_NE(lost->note.find("interrupted by a restart"), std::string::npos) << lost->note;

    auto again = Start(*after, Op(Action::kDrain), t0_ + seconds(2));
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *handle) << "the same operation";
    EXPECT_TRUE(IsDone(Finish(*after, *again, t0_ + seconds(2))));
    EXPECT_EQ(LinesOf(Path("runs")).size(), 2u);
    EXPECT_TRUE(inner_.Started().empty());
}

// ---- Verify through the health check hook ---------------------------------------------------

TEST_F(HooksTest, VerifyRunsTheHealthCheckOncePerTestAndPasses) {
    const std::vector<std::string> tests = {"dcgm diag", "it's quoted", "nccl"};
    auto hooked = Hooked({.health_check = "echo \"$NODEREPAIR_HOOK $NODEREPAIR_NODE "
                                          "$NODEREPAIR_TEST\" >> " +
                                          Path("ran"),
                          .verify_tests = tests});
    Operation op = Op(Action::kVerify);
    op.tests = tests;
    auto handle = Start(*hooked, op, t0_);
    ASSERT_TRUE(handle) << handle.error().message;
    EXPECT_TRUE(handle->starts_with("hook:")) << *handle;
    auto status = Finish(*hooked, *handle, t0_);
    ASSERT_TRUE(IsDone(status)) << (status ? "still running" : status.error().message);
    EXPECT_EQ(LinesOf(Path("ran")),
              (std::vector<std::string>{"verify i1-name dcgm diag", "verify i1-name it's quoted",
                                        "verify i1-name nccl"}));
    EXPECT_TRUE(inner_.Started().empty());
}

TEST_F(HooksTest, VerifyStopsAtTheFirstFailingTestAndNamesIt) {
    auto hooked = Hooked({.health_check = "echo \"$NODEREPAIR_TEST\" >> " + Path("ran") +
                                          "; [ \"$NODEREPAIR_TEST\" != nccl-allreduce ]",
                          .verify_tests = kTests});
    auto status = Run(*hooked, Op(Action::kVerify));
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Code::kFailedPrecondition);
    const std::string& message = status.error().message;
    EXPECT_NE(message.find("verify hook exited with status 1"), std::string::npos) << message;
    EXPECT_NE(message.find("verify test nccl-allreduce failed"), std::string::npos) << message;
    EXPECT_EQ(message.find("dcgm-diag-r2 failed"), std::string::npos) << message;
    EXPECT_EQ(LinesOf(Path("ran")), (std::vector<std::string>{"dcgm-diag-r2", "nccl-allreduce"}))
        << "the tests after the failure do not run";
    EXPECT_TRUE(inner_.Started().empty());
}

// ---- Steps without a hook -------------------------------------------------------------------

TEST_F(HooksTest, StepsWithoutAHookGoToTheProvider) {
    // A drain hook alone; a health check without tests and tests without a health check do
    // not make a verify hook.
    for (const HookCommands& commands :
         {HookCommands{.drain = "exit 7"}, HookCommands{.health_check = "exit 7"},
          HookCommands{.verify_tests = kTests}}) {
        auto hooked = Hooked(commands);
        const std::vector<Action> actions = {
            Action::kCordonHost, Action::kReserve, Action::kRebootVm,    Action::kWaitReady,
            Action::kVerify,     Action::kRejoin,  Action::kUncordonHost};
        const size_t before = inner_.Started().size();
        int n = 0;
        for (Action action : actions) {
            const std::string key = "r1/" + std::to_string(n++);
            auto handle = Start(*hooked, Op(action, key), t0_);
            ASSERT_TRUE(handle) << handle.error().message;
            EXPECT_EQ(*handle, "inner:" + key);
            auto status = Poll(*hooked, *handle, t0_);
            ASSERT_TRUE(IsDone(status)) << providers::ActionName(action);
            EXPECT_EQ(inner_.Polled().back(), "inner:" + key) << "polled through to the provider";
        }
        const auto started = inner_.Started();
        EXPECT_EQ(std::vector<Action>(started.begin() + long(before), started.end()), actions);
    }
}

// ---- With the engine ------------------------------------------------------------------------

// The engine over hooks, restarted while the drain hook runs: the new server runs the hook
// again and finishes the remediation.
TEST_F(HooksTest, TheEngineRunsAnInterruptedHookAgainAfterARestart) {
    const HookCommands commands{
        .drain = "echo $$ >> " + Path("runs") + "; [ -e " + Path("first") +
                 " ] && exit 0; echo $$ > " + Path("first") + "; exec sleep 30",
    };
    FakeClock clock(t0_);
    remediation::Lifecycle lifecycle(clock);
    EngineControl control(*store_);
    model::Remediation r =
        storage::test_support::MakeRemediation("rem-restart", "i1", model::State::kPending, t0_);
    r.mode = r.requested_mode = model::Mode::kRebootVm;
    ASSERT_TRUE(store_->WriteAndWait([&](storage::Txn& txn) {
        return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r);
    }));

    auto provider = Hooked(commands);
    auto executor = std::make_unique<Executor>(*store_, *provider, control, clock, lifecycle,
                                               ExecutorOptions{});
    ASSERT_TRUE(executor->Resume());
    ASSERT_TRUE(executor->RunOnce());
    ASSERT_TRUE(AppearsSoon(Path("first")));
    EXPECT_EQ(storage::test_support::GetStored(*store_, r.id)->state, model::State::kRunning);

    executor.reset();
    provider.reset();  // the server is gone, and its hook with it
    provider = Hooked(commands);
    executor = std::make_unique<Executor>(*store_, *provider, control, clock, lifecycle,
                                          ExecutorOptions{});
    ASSERT_TRUE(executor->Resume());
    model::State state = model::State::kRunning;
    for (int round = 0; round < 200 && !model::IsTerminal(state); ++round) {
        ASSERT_TRUE(executor->RunOnce());
        state = storage::test_support::GetStored(*store_, r.id)->state;
        clock.Advance(seconds(1));
        std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_EQ(state, model::State::kSucceeded)
        << storage::test_support::GetStored(*store_, r.id)->error_message;
    EXPECT_EQ(LinesOf(Path("runs")).size(), 2u) << "the drain hook ran again, once";
    // The provider did every other step, and never the drain.
    const auto started = inner_.Started();
    EXPECT_EQ(std::count(started.begin(), started.end(), Action::kDrain), 0);
    EXPECT_EQ(std::count(started.begin(), started.end(), Action::kRejoin), 1);
    executor.reset();
}

}  // namespace
}  // namespace noderepair::engine
