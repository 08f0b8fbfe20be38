#include "remediation/lifecycle.hpp"

#include <gtest/gtest.h>

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
