#include "remediation/lifecycle.hpp"

#include <algorithm>
#include <utility>

#include "common/ids.hpp"
#include "model/stats.hpp"

namespace noderepair::remediation {

using model::Remediation;

std::string_view VerbOf(Event event) {
    switch (event) {
        case Event::kApprove:
            return "approve";
        case Event::kReject:
            return "reject";
        case Event::kCancel:
            return "cancel";
        case Event::kAutoResolve:
            return "auto-resolve";
        case Event::kStartQuarantine:
            return "quarantine";
        case Event::kQuarantined:
            return "isolate";
        case Event::kStartRun:
            return "run";
        case Event::kSucceed:
            return "succeed";
        case Event::kFail:
            return "fail";
    }
    return "change";
}

bool Lifecycle::NeedsSecondPerson(model::Mode mode) const {
    return std::find(two_person_modes_.begin(), two_person_modes_.end(), mode) !=
           two_person_modes_.end();
}

Status Lifecycle::CheckApprover(const Remediation& r, std::string_view approver,
                                std::optional<model::Mode> override_mode) const {
    // Identity is the token's name: the person who asked is not the second person.
    if (NeedsSecondPerson(r.mode) && approver == r.requested_by) {
        return PermissionDenied("remediation " + r.id + " (" +
                                std::string(model::WireName(r.mode)) +
                                ") needs a second person's approval: it was requested by " +
                                r.requested_by + ", who cannot approve it");
    }
    if (override_mode && *override_mode != r.mode && NeedsSecondPerson(*override_mode)) {
        return PermissionDenied("approving remediation " + r.id + " as " +
                                std::string(model::WireName(*override_mode)) +
                                " would skip the second person that mode needs: reject it and "
                                "create a remediation of that mode, which another person approves");
    }
    return OkStatus();
}

Timestamp Lifecycle::NextTimestamp() {
    int64_t now = ToMicros(clock_.Now());
    int64_t last = last_timestamp_us_.load();
    while (true) {
        int64_t next = now > last ? now : last + 1;
        if (last_timestamp_us_.compare_exchange_weak(last, next)) return FromMicros(next);
    }
}

Status Lifecycle::Create(storage::Txn& txn, Remediation& r, std::string_view actor,
                         std::string detail) {
    NR_ASSERT(IsInitial(r.state), "a remediation is created in PENDING or PENDING_APPROVAL");
    r.create_time = r.update_time = NextTimestamp();
    if (r.id.empty()) r.id = NewUuidV7(r.create_time);
    r.version = 1;
    NR_RETURN_IF_ERROR(txn.Remediations().Insert(storage::RemediationWriteKey{}, r));
    NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
        r.id, {r.create_time, "state_change", r.state, "", std::string(actor), std::move(detail)}));
    if (aggregates_) {
        NR_RETURN_IF_ERROR(
            txn.Stats().AddDaily(r.cluster_id, model::UtcDay(r.create_time), r.mode, 1, 0, 0));
    }
    if (on_create_) on_create_(r);
    return OkStatus();
}

Status Lifecycle::Apply(storage::Txn& txn, Remediation& r, Event event, std::string_view actor,
                        std::string detail) {
    const State from = r.state;
    const auto to = Next(from, event);
    if (!to) {
        return FailedPrecondition("cannot " + std::string(VerbOf(event)) + " remediation " + r.id +
                                  " in state " + std::string(model::WireName(from)));
    }
    if (event == Event::kApprove) NR_RETURN_IF_ERROR(CheckApprover(r, actor, std::nullopt));
    if (event == Event::kApprove && NeedsSecondPerson(r.mode)) {
        detail += " (second person; requested by " + r.requested_by + ")";
    }
    r.state = *to;
    r.update_time = NextTimestamp();
    if (model::IsTerminal(r.state)) r.end_time = r.update_time;
    if (event == Event::kApprove || event == Event::kReject) {
        r.reviewed_by = std::string(actor);
        r.review_time = r.update_time;
    }
    NR_RETURN_IF_ERROR(
        Write(txn, r, from,
              {r.update_time, "state_change", r.state, "", std::string(actor), std::move(detail)}));
    if (!model::IsTerminal(r.state)) return OkStatus();
    return CountEnd(txn, r);
}

Status Lifecycle::ReplayEnd(storage::Txn& txn, Remediation& r, State final_state,
                            std::string_view actor, std::string detail) {
    NR_ASSERT(model::IsTerminal(final_state), "a replayed end is a terminal state");
    if (model::IsTerminal(r.state)) {
        return FailedPrecondition("remediation " + r.id + " already ended in state " +
                                  std::string(model::WireName(r.state)));
    }
    const State from = r.state;
    r.state = final_state;
    r.update_time = NextTimestamp();
    r.end_time = r.update_time;
    NR_RETURN_IF_ERROR(
        Write(txn, r, from,
              {r.update_time, "state_change", r.state, "", std::string(actor), std::move(detail)}));
    return CountEnd(txn, r);
}

Status Lifecycle::CountEnd(storage::Txn& txn, const Remediation& r) {
    // docs/http-api.md 11: outcomes and stage durations count on the UTC day the remediation
    // ended, read from its timeline, which now holds the final event too.
    if (!aggregates_) return OkStatus();
    const int64_t day = model::UtcDay(*r.end_time);
    const bool succeeded = r.state == State::kSucceeded;
    if (succeeded || r.state == State::kFailed) {
        NR_RETURN_IF_ERROR(txn.Stats().AddDaily(r.cluster_id, day, r.mode, 0, succeeded ? 1 : 0,
                                                succeeded ? 0 : 1));
    }
    NR_ASSIGN_OR_RETURN(auto timeline, txn.Remediations().ListEvents(r.id));
    return txn.Stats().AddStages(r.cluster_id, day, model::StagesOf(timeline));
}

Status Lifecycle::ChangeMode(storage::Txn& txn, Remediation& r, model::Mode mode,
                             std::string_view actor, std::string why) {
    if (!CanChangeMode(r.state)) {
        return FailedPrecondition("cannot change the mode of remediation " + r.id + " in state " +
                                  std::string(model::WireName(r.state)));
    }
    std::string detail = "mode changed from " + std::string(model::WireName(r.mode)) + " to " +
                         std::string(model::WireName(mode));
    if (!why.empty()) detail += ": " + why;
    r.mode = mode;
    r.update_time = NextTimestamp();
    return Write(
        txn, r, r.state,
        {r.update_time, "mode_change", std::nullopt, "", std::string(actor), std::move(detail)});
}

Status Lifecycle::Write(storage::Txn& txn, Remediation& r, State expected,
                        model::RemediationEvent event) {
    NR_RETURN_IF_ERROR(txn.Remediations().Update(storage::RemediationWriteKey{}, r, expected));
    ++r.version;
    return txn.Remediations().AppendEvent(r.id, event);
}

}  // namespace noderepair::remediation
