#include "engine/workflow.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "remediation/lifecycle.hpp"

namespace noderepair::engine {
namespace {

using model::Mode;
using model::State;
using providers::Action;

std::vector<Action> ActionsOf(Mode mode) {
    std::vector<Action> actions;
    for (const Step& step : WorkflowFor(mode, kCurrentWorkflowVersion))
        actions.push_back(step.action);
    return actions;
}

std::vector<State> StatesOf(Mode mode) {
    std::vector<State> states;
    for (const Step& step : WorkflowFor(mode, kCurrentWorkflowVersion))
        states.push_back(step.during);
    return states;
}

long IndexOf(const std::vector<Action>& actions, Action action) {
    auto it = std::find(actions.begin(), actions.end(), action);
    return it == actions.end() ? -1 : long(it - actions.begin());
}

bool Contains(const std::vector<Action>& actions, Action action) {
    return IndexOf(actions, action) >= 0;
}

// docs/http-api.md 2.1: every mode that takes a node away drains it first; all but EVICT finish
// with wait-ready, verify (engine.verify_tests) and rejoin.
TEST(Workflow, VmOnlyReservesBeforeDeletingAndReplacesTheVm) {
    EXPECT_EQ(ActionsOf(Mode::kVmOnly),
              (std::vector<Action>{Action::kReserve, Action::kDrain, Action::kDeleteVm,
                                   Action::kProvisionVm, Action::kWaitReady, Action::kVerify,
                                   Action::kRejoin}));
    EXPECT_EQ(StatesOf(Mode::kVmOnly), std::vector<State>(7, State::kRunning));
}

TEST(Workflow, HostAwareCordonsFirstReservesBeforeDeletingAndNeverUncordons) {
    const auto actions = ActionsOf(Mode::kHostAware);
    EXPECT_EQ(actions, (std::vector<Action>{Action::kCordonHost, Action::kReserve, Action::kDrain,
                                            Action::kDeleteVm, Action::kProvisionVm,
                                            Action::kWaitReady, Action::kVerify, Action::kRejoin}));
    EXPECT_EQ(actions.front(), Action::kCordonHost);
    EXPECT_LT(IndexOf(actions, Action::kReserve), IndexOf(actions, Action::kDeleteVm));
    // The old host is suspect until an operator uncordons it (docs/http-api.md 2.1).
    EXPECT_FALSE(Contains(actions, Action::kUncordonHost));
    const auto states = StatesOf(Mode::kHostAware);
    // Cordoning and draining is QUARANTINING (docs/http-api.md 2.2); the VM goes only once the host
    // is isolated; the replacement comes up RUNNING.
    for (Action a : {Action::kCordonHost, Action::kReserve, Action::kDrain}) {
        EXPECT_EQ(states[size_t(IndexOf(actions, a))], State::kQuarantining)
            << providers::ActionName(a);
    }
    EXPECT_NE(states[size_t(IndexOf(actions, Action::kDeleteVm))], State::kQuarantining);
    for (Action a : {Action::kProvisionVm, Action::kWaitReady, Action::kVerify, Action::kRejoin}) {
        EXPECT_EQ(states[size_t(IndexOf(actions, a))], State::kRunning) << providers::ActionName(a);
    }
}

TEST(Workflow, EvictDrainsAndDeletesWithoutProvisioning) {
    const auto actions = ActionsOf(Mode::kEvictWithoutReplacement);
    EXPECT_EQ(actions, (std::vector<Action>{Action::kDrain, Action::kEvictVm}));
    EXPECT_FALSE(Contains(actions, Action::kProvisionVm));
    EXPECT_FALSE(Contains(actions, Action::kReserve));
    EXPECT_FALSE(Contains(actions, Action::kWaitReady));
    EXPECT_FALSE(Contains(actions, Action::kRejoin));
    EXPECT_FALSE(Contains(actions, Action::kVerify)) << "no node comes back to verify";
    EXPECT_EQ(StatesOf(Mode::kEvictWithoutReplacement), std::vector<State>(2, State::kRunning));
}

TEST(Workflow, RebootStaysOnItsHost) {
    const auto actions = ActionsOf(Mode::kRebootVm);
    EXPECT_EQ(actions, (std::vector<Action>{Action::kDrain, Action::kRebootVm, Action::kWaitReady,
                                            Action::kVerify, Action::kRejoin}));
    for (Action moves : {Action::kReserve, Action::kDeleteVm, Action::kEvictVm,
                         Action::kProvisionVm, Action::kCordonHost, Action::kPowerCycleHost}) {
        EXPECT_FALSE(Contains(actions, moves)) << providers::ActionName(moves);
    }
    EXPECT_EQ(StatesOf(Mode::kRebootVm), std::vector<State>(5, State::kRunning));
}

TEST(Workflow, HostPowerCycleCordonsFirstAndUncordonsLast) {
    const auto actions = ActionsOf(Mode::kHostPowerCycle);
    EXPECT_EQ(actions,
              (std::vector<Action>{Action::kCordonHost, Action::kDrain, Action::kPowerCycleHost,
                                   Action::kWaitReady, Action::kVerify, Action::kRejoin,
                                   Action::kUncordonHost}));
    // Keeps host and instance identity: nothing is deleted or placed.
    for (Action moves :
         {Action::kReserve, Action::kDeleteVm, Action::kEvictVm, Action::kProvisionVm}) {
        EXPECT_FALSE(Contains(actions, moves)) << providers::ActionName(moves);
    }
    const auto states = StatesOf(Mode::kHostPowerCycle);
    EXPECT_EQ(states[size_t(IndexOf(actions, Action::kCordonHost))], State::kQuarantining);
    EXPECT_EQ(states[size_t(IndexOf(actions, Action::kDrain))], State::kQuarantining);
    EXPECT_NE(states[size_t(IndexOf(actions, Action::kPowerCycleHost))], State::kQuarantining);
    for (Action a : {Action::kWaitReady, Action::kVerify, Action::kRejoin, Action::kUncordonHost}) {
        EXPECT_EQ(states[size_t(IndexOf(actions, a))], State::kRunning) << providers::ActionName(a);
    }
}

TEST(Workflow, EveryModeHasStepsAndDrainsBeforeTheNodeGoes) {
    for (Mode mode : model::kAllModes) {
        const auto actions = ActionsOf(mode);
        ASSERT_FALSE(actions.empty()) << model::WireName(mode);
        const long drain = IndexOf(actions, Action::kDrain);
        ASSERT_GE(drain, 0) << model::WireName(mode);
        for (Action takes_away :
             {Action::kDeleteVm, Action::kEvictVm, Action::kRebootVm, Action::kPowerCycleHost}) {
            const long at = IndexOf(actions, takes_away);
            if (at >= 0) {
                EXPECT_LT(drain, at) << model::WireName(mode);
            }
        }
        if (mode != Mode::kEvictWithoutReplacement) {
            // The node is back, then tested, then takes work again: nothing in between.
            const long ready = IndexOf(actions, Action::kWaitReady);
            const long verify = IndexOf(actions, Action::kVerify);
            const long rejoin = IndexOf(actions, Action::kRejoin);
            ASSERT_GE(ready, 0) << model::WireName(mode);
            EXPECT_EQ(verify, ready + 1) << model::WireName(mode);
            EXPECT_EQ(rejoin, verify + 1) << model::WireName(mode);
            EXPECT_EQ(StatesOf(mode)[size_t(verify)], State::kRunning) << model::WireName(mode);
        }
        // Each action at most once: a step id is an idempotency key, not a loop.
        for (Action a : actions) {
            EXPECT_EQ(std::count(actions.begin(), actions.end(), a), 1)
                << model::WireName(mode) << " " << providers::ActionName(a);
        }
    }
}

// The `during` states only move forward, QUARANTINING (-> QUARANTINED) -> RUNNING, and each
// change is a transition of the lifecycle table (docs/http-api.md 2.2) the engine can make.
TEST(Workflow, DuringStatesOnlyMoveForwardThroughTheLifecycle) {
    using remediation::Event;
    using remediation::Next;
    auto rank = [](State s) {
        switch (s) {
            case State::kQuarantining:
                return 0;
            case State::kQuarantined:
                return 1;
            case State::kRunning:
                return 2;
            default:
                return -1;
        }
    };
    auto event_into = [](State s) {
        switch (s) {
            case State::kQuarantining:
                return Event::kStartQuarantine;
            case State::kQuarantined:
                return Event::kQuarantined;
            default:
                return Event::kStartRun;
        }
    };
    for (Mode mode : model::kAllModes) {
        const auto states = StatesOf(mode);
        ASSERT_FALSE(states.empty());
        State shown = State::kPending;
        for (size_t i = 0; i < states.size(); ++i) {
            const State s = states[i];
            ASSERT_GE(rank(s), 0) << model::WireName(mode) << " step " << i << " "
                                  << model::WireName(s);
            if (shown != State::kPending) {
                EXPECT_LE(rank(shown), rank(s)) << model::WireName(mode) << " step " << i;
            }
            if (s != shown) {
                EXPECT_EQ(Next(shown, event_into(s)), s)
                    << model::WireName(mode) << ": " << model::WireName(shown) << " -> "
                    << model::WireName(s) << " is not in the lifecycle table";
            }
            shown = s;
        }
        EXPECT_EQ(states.back(), State::kRunning) << model::WireName(mode);
        EXPECT_EQ(Next(State::kRunning, Event::kSucceed), State::kSucceeded);
        const bool cordons = Contains(ActionsOf(mode), Action::kCordonHost);
        EXPECT_EQ(states.front() == State::kQuarantining, cordons) << model::WireName(mode);
        if (!cordons) {
            EXPECT_EQ(states, std::vector<State>(states.size(), State::kRunning))
                << model::WireName(mode) << ": modes without a cordon are RUNNING throughout";
        }
    }
}

}  // namespace
}  // namespace noderepair::engine
