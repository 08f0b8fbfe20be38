// The whole remediation lifecycle in one table (docs/http-api.md 2.2), and the one writer that
// applies it: every change of a remediation's state or mode, by the API, automation or the
// engine, goes through Lifecycle inside the transaction that makes it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"
#include "storage/store.hpp"

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

// The states a remediation may be created in (docs/http-api.md 2.2): PENDING for the API,
// PENDING_APPROVAL for automation and for modes that need a second person.
constexpr bool IsInitial(State state) {
    return state == State::kPending || state == State::kPendingApproval;
}

// A mode changes only while a person may still decide (an escalation, an approver's override).
constexpr bool CanChangeMode(State state) { return state == State::kPendingApproval; }

// What a transition is called in an error message ("cannot approve remediation …").
std::string_view VerbOf(Event event);

// The one writer of remediation state. Each method works inside the caller's transaction on a
// remediation read in that same transaction, checks the table, writes the row with a
// compare-and-set on its version and appends the timeline event, so the row and its timeline
// never disagree. It also hands out the strictly increasing timestamps every change carries,
// so create_time order is commit order. Thread-safe (the store runs it on its writer thread).
class Lifecycle {
public:
    // `two_person_modes`: approval.two_person_modes (docs/http-api.md 11).
    explicit Lifecycle(const Clock& clock, std::vector<model::Mode> two_person_modes = {})
        : clock_(clock), two_person_modes_(std::move(two_person_modes)) {}

    // Whether a remediation of `mode` needs a second person: it waits in PENDING_APPROVAL
    // whoever created it, automation never approves it, and its requester cannot.
    bool NeedsSecondPerson(model::Mode mode) const;
    // Whether `approver` may approve `r`, optionally overriding its mode: not a two-person
    // remediation they requested, and no override into a two-person mode (the approver would
    // both choose and approve it). PermissionDenied otherwise; changes nothing.
    Status CheckApprover(const model::Remediation& r, std::string_view approver,
                         std::optional<model::Mode> override_mode) const;
    // The state a remediation created by a person starts in (docs/http-api.md 2.2).
    State ManualInitialState(model::Mode mode) const {
        return NeedsSecondPerson(mode) ? State::kPendingApproval : State::kPending;
    }

    // Tells `listener` of every remediation Create stores, inside its transaction, on the
    // writer thread (policy replay schedules each one's end, docs/http-api.md 11). Set it
    // before the first Create. A change a store runs twice (storage::ReadAhead) tells it
    // twice: replay's throw-away store never does.
    void OnCreate(std::function<void(const model::Remediation&)> listener) {
        on_create_ = std::move(listener);
    }

    // The overview's daily aggregates are not kept (Create and the ends skip them, and the
    // end's timeline read they need): for policy replay's scratch store, whose aggregates
    // nobody reads (docs/http-api.md 11). Set it before the first Create.
    void KeepNoAggregates() { aggregates_ = false; }

    // Strictly increasing timestamps for this process.
    Timestamp NextTimestamp();

    // Stores a new remediation in an initial state, with its creation event; sets create_time,
    // update_time and the version. Every change also keeps the overview's daily aggregates
    // (docs/http-api.md 11) in the same transaction: a creation, and each end.
    Status Create(storage::Txn& txn, model::Remediation& r, std::string_view actor,
                  std::string detail);
    // Moves `r` along `event`: FailedPrecondition when the table has no such transition from
    // its state, Aborted when the stored row changed since it was read. Sets state,
    // update_time, end_time (terminal states), and the review fields for approve and reject
    // (reviewed_by = actor, review_time). The caller may set review_comment, start_time and
    // error_message on `r` first; they are written with it (the rest is fixed at creation).
    // An approval of a two-person mode by its own requester is PermissionDenied.
    Status Apply(storage::Txn& txn, model::Remediation& r, Event event, std::string_view actor,
                 std::string detail);
    // Policy replay's end of a remediation (docs/http-api.md 11): from a live state straight
    // to `final_state` (terminal), one write and one event, where the live run took a step per
    // transition; only the end matters to the policy. The end is counted as Apply counts it.
    Status ReplayEnd(storage::Txn& txn, model::Remediation& r, State final_state,
                     std::string_view actor, std::string detail);
    // An escalation or an approver's override: the mode changes in place, recorded as a
    // mode_change event naming both modes. Only while CanChangeMode(r.state).
    Status ChangeMode(storage::Txn& txn, model::Remediation& r, model::Mode mode,
                      std::string_view actor, std::string why);

private:
    Status Write(storage::Txn& txn, model::Remediation& r, State expected,
                 model::RemediationEvent event);
    // Counts a remediation that just ended in the overview's daily aggregates.
    Status CountEnd(storage::Txn& txn, const model::Remediation& r);

    const Clock& clock_;
    const std::vector<model::Mode> two_person_modes_;
    std::function<void(const model::Remediation&)> on_create_;
    bool aggregates_ = true;
    std::atomic<int64_t> last_timestamp_us_{0};
};

}  // namespace noderepair::remediation
