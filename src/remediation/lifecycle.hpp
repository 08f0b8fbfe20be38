// The whole remediation lifecycle in one table; API.md 2.2 is the source of truth.
#pragma once

#include <array>
#include <optional>

#include "model/remediation.hpp"

namespace noderepair::remediation {

using model::State;

enum class Event {
    kApprove,
    kReject,
    kCancel,
    kAutoResolve,
    kStartQuarantine,  // engine picks up a mode that cordons a host
    kQuarantined,      // host cordoned and drained
    kStartRun,         // engine picks up a mode that does not cordon, or quarantine is done
    kSucceed,
    kFail,
};

struct Transition {
    State from;
    Event event;
    State to;
};

inline constexpr std::array kTransitions = {
    Transition{State::kPendingApproval, Event::kApprove, State::kPending},
    Transition{State::kPendingApproval, Event::kReject, State::kCancelled},
    Transition{State::kPendingApproval, Event::kCancel, State::kCancelled},
    Transition{State::kPending, Event::kCancel, State::kCancelled},
    Transition{State::kPendingApproval, Event::kAutoResolve, State::kAutoResolved},
    Transition{State::kPending, Event::kStartQuarantine, State::kQuarantining},
    Transition{State::kQuarantining, Event::kQuarantined, State::kQuarantined},
    Transition{State::kPending, Event::kStartRun, State::kRunning},
    Transition{State::kQuarantined, Event::kStartRun, State::kRunning},
    Transition{State::kRunning, Event::kSucceed, State::kSucceeded},
    Transition{State::kQuarantining, Event::kFail, State::kFailed},
    Transition{State::kQuarantined, Event::kFail, State::kFailed},
    Transition{State::kRunning, Event::kFail, State::kFailed},
};

constexpr std::optional<State> Next(State from, Event event) {
    for (const auto& t : kTransitions) {
        if (t.from == from && t.event == event) return t.to;
    }
    return std::nullopt;
}

static_assert(!Next(State::kRunning, Event::kCancel), "the engine owns a running remediation");
static_assert(!Next(State::kPending, Event::kApprove), "only PENDING_APPROVAL is approved");
static_assert(!Next(State::kSucceeded, Event::kFail), "terminal states are final");

}  // namespace noderepair::remediation
