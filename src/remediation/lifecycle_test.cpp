#include "remediation/lifecycle.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/store_contract_test.hpp"

namespace noderepair::remediation {
namespace {

TEST(Lifecycle, ApproveOnlyFromPendingApproval) {
    for (State s : model::kAllStates) {
        auto next = Next(s, Event::kApprove);
        EXPECT_EQ(next.has_value(), s == State::kPendingApproval) << int(s);
    }
    EXPECT_EQ(Next(State::kPendingApproval, Event::kApprove), State::kPending);
}

TEST(Lifecycle, RejectCancelsOnlyPendingApproval) {
    for (State s : model::kAllStates) {
        EXPECT_EQ(Next(s, Event::kReject).has_value(), s == State::kPendingApproval) << int(s);
    }
    EXPECT_EQ(Next(State::kPendingApproval, Event::kReject), State::kCancelled);
}

TEST(Lifecycle, CancelOnlyBeforeTheEngineTakesIt) {
    for (State s : model::kAllStates) {
        const bool allowed = s == State::kPendingApproval || s == State::kPending;
        EXPECT_EQ(Next(s, Event::kCancel).has_value(), allowed) << int(s);
        if (allowed) {
            EXPECT_EQ(Next(s, Event::kCancel), State::kCancelled);
        }
    }
}

TEST(Lifecycle, TerminalStatesHaveNoWayOut) {
    for (State s : model::kAllStates) {
        if (!model::IsTerminal(s)) continue;
        for (const auto& t : kTransitions) EXPECT_NE(t.from, s);
    }
}

TEST(Lifecycle, EveryActiveStateCanReachATerminalOne) {
    for (State s : model::kAllStates) {
        if (model::IsTerminal(s)) continue;
        bool leaves = false;
        for (const auto& t : kTransitions)
            leaves = leaves || (t.from == s && model::IsTerminal(t.to));
        if (s == State::kQuarantining) {
            EXPECT_TRUE(leaves) << "a failing cordon must be able to end the remediation";
        }
        bool any = false;
        for (const auto& t : kTransitions) any = any || t.from == s;
        EXPECT_TRUE(any) << int(s);
    }
}

TEST(Lifecycle, EngineFailureFromEveryWorkingState) {
    for (State s : {State::kQuarantining, State::kQuarantined, State::kRunning}) {
        EXPECT_EQ(Next(s, Event::kFail), State::kFailed);
    }
    EXPECT_FALSE(Next(State::kPending, Event::kFail));
}

}  // namespace
}  // namespace noderepair::remediation

// ---- The one writer -------------------------------------------------------------------------

namespace noderepair::remediation {
namespace {

using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

class LifecycleWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = storage::test_support::OpenWithTestFleet("sqlite:" + dir_.path() + "/l.db");
        ASSERT_TRUE(store_);
    }
    void TearDown() override {
        if (store_) store_->Close();
    }

    // A remediation stored in `state`, as a caller would have read it.
    model::Remediation Stored(State state, const std::string& id) {
        // An instance of its own: only one remediation of an instance may be active.
        model::Remediation r =
            storage::test_support::MakeRemediation(id, "i-" + id, state, TestEpoch());
        r.version = 1;
        EXPECT_TRUE(store_->WriteAndWait([&](storage::Txn& txn) {
            return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r);
        }));
        return r;
    }
    // Runs `change` in a transaction; its status, and nothing stored when it failed.
    Status Try(const std::function<Status(storage::Txn&)>& change) {
        return store_->WriteAndWait(change);
    }
    std::vector<model::RemediationEvent> EventsOf(const std::string& id) {
        auto events = storage::test_support::ReadValue<std::vector<model::RemediationEvent>>(
            *store_, [&](storage::Reader& r) { return r.Remediations().ListEvents(id); });
        NR_ASSERT(events.has_value(), "reading events");
        return *events;
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    Lifecycle lifecycle_{clock_};
    std::unique_ptr<storage::Store> store_;
};

constexpr Event kAllEvents[] = {Event::kApprove,     Event::kReject,          Event::kCancel,
                                Event::kAutoResolve, Event::kStartQuarantine, Event::kQuarantined,
                                Event::kStartRun,    Event::kSucceed,         Event::kFail};

// Whoever calls it (the API's approve, reject and cancel, automation's auto-approve and
// auto-resolve, the engine's transitions), a change the table does not have is refused and
// changes nothing: neither the row nor the timeline.
TEST_F(LifecycleWriterTest, EveryChangeOutsideTheTableIsRefusedAndChangesNothing) {
    int n = 0;
    for (State from : model::kAllStates) {
        for (Event event : kAllEvents) {
            const std::string id = "r" + std::to_string(n++);
            const model::Remediation stored = Stored(from, id);
            model::Remediation r = stored;
            Status applied = Try([&](storage::Txn& txn) {
                return lifecycle_.Apply(txn, r, event, "someone", "tried");
            });
            const auto next = Next(from, event);
            const std::string what =
                std::string(model::WireName(from)) + " + " + std::string(VerbOf(event));
            if (next) {
                ASSERT_TRUE(applied) << what << ": " << applied.error().message;
                const auto got = storage::test_support::GetStored(*store_, id);
                EXPECT_EQ(got->state, *next) << what;
                EXPECT_EQ(got->version, stored.version + 1) << what;
                ASSERT_EQ(EventsOf(id).size(), 1u) << what;
                EXPECT_EQ(EventsOf(id)[0].state, *next) << what;
            } else {
                ASSERT_FALSE(applied) << what;
                EXPECT_EQ(applied.error().code, Code::kFailedPrecondition) << what;
                storage::test_support::ExpectSameRemediation(
                    *storage::test_support::GetStored(*store_, id), stored);
                EXPECT_TRUE(EventsOf(id).empty()) << what;
            }
        }
    }
}

// A caller that read the row before someone else changed it loses: compare-and-set on the
// version, even when the state is still the same (a mode change keeps the state).
TEST_F(LifecycleWriterTest, AStaleReadIsAbortedEvenWhenTheStateDidNotChange) {
    const model::Remediation stored = Stored(State::kPendingApproval, "r1");
    model::Remediation first = stored;
    model::Remediation second = stored;
    ASSERT_TRUE(Try([&](storage::Txn& txn) {
        return lifecycle_.ChangeMode(txn, first, model::Mode::kHostAware, "automation", "");
    }));
    Status stale = Try([&](storage::Txn& txn) {
        return lifecycle_.Apply(txn, second, Event::kApprove, "bob", "approved");
    });
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().code, Code::kAborted);
    EXPECT_EQ(storage::test_support::GetStored(*store_, "r1")->state, State::kPendingApproval);
}

TEST_F(LifecycleWriterTest, AModeChangesOnlyWhileAPersonMayStillDecide) {
    int n = 0;
    for (State state : model::kAllStates) {
        const std::string id = "m" + std::to_string(n++);
        model::Remediation r = Stored(state, id);
        Status changed = Try([&](storage::Txn& txn) {
            return lifecycle_.ChangeMode(txn, r, model::Mode::kHostAware, "automation", "why");
        });
        EXPECT_EQ(changed.ok(), state == State::kPendingApproval) << model::WireName(state);
        if (!changed.ok()) continue;
        const auto events = EventsOf(id);
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(events[0].type, "mode_change");
        EXPECT_FALSE(events[0].state.has_value());
        EXPECT_EQ(events[0].detail,
                  "mode changed from REMEDIATION_MODE_VM_ONLY to REMEDIATION_MODE_HOST_AWARE: why");
    }
}

TEST_F(LifecycleWriterTest, CreateStoresAnInitialStateOnlyWithItsEvent) {
    model::Remediation r =
        storage::test_support::MakeRemediation("", "i2", State::kPending, TestEpoch());
    ASSERT_TRUE(Try([&](storage::Txn& txn) { return lifecycle_.Create(txn, r, "alice", "made"); }));
    EXPECT_FALSE(r.id.empty()) << "an id is made when the caller has none";
    EXPECT_EQ(r.version, 1);
    ASSERT_EQ(EventsOf(r.id).size(), 1u);
    EXPECT_EQ(EventsOf(r.id)[0].actor, "alice");
}

// Policy replay ends a remediation in one write and one event, whatever state it is in, and
// a remediation that already ended is refused and left as it was.
TEST_F(LifecycleWriterTest, AReplayedEndIsOneWriteAndOneEvent) {
    model::Remediation waiting = Stored(State::kPendingApproval, "e1");
    ASSERT_TRUE(Try([&](storage::Txn& txn) {
        return lifecycle_.ReplayEnd(txn, waiting, State::kSucceeded, "replay", "replayed");
    }));
    const auto got = storage::test_support::GetStored(*store_, "e1");
    EXPECT_EQ(got->state, State::kSucceeded);
    EXPECT_EQ(got->version, 2);
    ASSERT_TRUE(got->end_time.has_value());
    const auto events = EventsOf("e1");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].state, State::kSucceeded);
    EXPECT_EQ(events[0].actor, "replay");

    const model::Remediation ended = Stored(State::kFailed, "e2");
    model::Remediation again = ended;
    Status refused = Try([&](storage::Txn& txn) {
        return lifecycle_.ReplayEnd(txn, again, State::kSucceeded, "replay", "replayed");
    });
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Code::kFailedPrecondition);
    storage::test_support::ExpectSameRemediation(*storage::test_support::GetStored(*store_, "e2"),
                                                 ended);
    EXPECT_TRUE(EventsOf("e2").empty());
}

TEST(LifecycleDeathTest, CreatingInAWorkingStateIsABug) {
    // The store has a writer thread: the death test runs in a fresh process, not a fork.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ScopedTempDir dir;
    auto store = storage::test_support::OpenWithTestFleet("sqlite:" + dir.path() + "/d.db");
    ASSERT_TRUE(store);
    FakeClock clock(TestEpoch());
    Lifecycle lifecycle(clock);
    model::Remediation r =
        storage::test_support::MakeRemediation("x", "i1", State::kRunning, TestEpoch());
    EXPECT_DEATH((void)store->WriteAndWait(
                     [&](storage::Txn& txn) { return lifecycle.Create(txn, r, "a", ""); }),
                 "created in PENDING");
    store->Close();
}

}  // namespace
}  // namespace noderepair::remediation
