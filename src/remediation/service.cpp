#include "remediation/service.hpp"

#include <memory>
#include <utility>

#include "common/ids.hpp"
#include "remediation/page_token.hpp"

namespace noderepair::remediation {
namespace {

using model::Remediation;
using model::State;

constexpr int kMaxPageSize = 1000;

Error RemediationNotFound(const Address& a) {
    return NotFound("remediation " + a.remediation_id + " not found for instance " + a.instance_id +
                    " in cluster " + a.cluster_id);
}

// Looks up a remediation under its full address: one under another cluster or instance is
// NOT_FOUND (API.md 3).
Result<Remediation> FindAt(storage::Reader& reader, const Address& a) {
    NR_ASSIGN_OR_RETURN(auto found, reader.Remediations().Get(a.remediation_id));
    if (!found || found->cluster_id != a.cluster_id || found->instance_id != a.instance_id) {
        return RemediationNotFound(a);
    }
    return *std::move(found);
}

model::RemediationEvent StateEvent(Timestamp time, State state, std::string actor,
                                   std::string detail) {
    return {time, "state_change", state, "", std::move(actor), std::move(detail)};
}

// Runs `work` in the store and hands its result to `reply` once committed.
template <class T>
void WriteThenReply(storage::Store& store, std::function<Result<T>(storage::Txn&)> work,
                    Reply<T> reply) {
    auto result = std::make_shared<std::optional<Result<T>>>();
    store.Write(
        [work = std::move(work), result](storage::Txn& txn) -> Status {
            result->emplace(work(txn));
            if (!result->value()) return result->value().error();
            return OkStatus();
        },
        [result, reply = std::move(reply)](Status committed) {
            if (!committed) {
                reply(committed.error());
            } else {
                reply(std::move(result->value()));
            }
        });
}

}  // namespace

std::string WrongStateMessage(std::string_view operation, const Remediation& r) {
    return "cannot " + std::string(operation) + " remediation " + r.id + " in state " +
           std::string(model::WireName(r.state));
}

Timestamp RemediationService::NextTimestamp() {
    int64_t now = ToMicros(clock_.Now());
    int64_t last = last_timestamp_us_.load();
    while (true) {
        int64_t next = now > last ? now : last + 1;
        if (last_timestamp_us_.compare_exchange_weak(last, next)) return FromMicros(next);
    }
}

void RemediationService::Create(const auth::Principal& caller, CreateRequest request,
                                Reply<Remediation> reply) {
    if (!request.remediation_id.empty() && !IsUuid(request.remediation_id) &&
        !IsDnsLabel(request.remediation_id)) {
        reply(
            InvalidArgument("remediation_id must be a UUID or a lowercase RFC 1034 label "
                            "(^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$)"));
        return;
    }
    auto work = [this, caller,
                 request = std::move(request)](storage::Txn& txn) -> Result<Remediation> {
        // A known remediation_id comes before every other rule (API.md 4.1).
        if (!request.remediation_id.empty()) {
            NR_ASSIGN_OR_RETURN(auto existing, txn.Remediations().Get(request.remediation_id));
            if (existing) {
                if (existing->cluster_id == request.cluster_id &&
                    existing->instance_id == request.instance_id &&
                    existing->requested_mode == request.mode &&
                    existing->reason == request.reason) {
                    return *std::move(existing);
                }
                return AlreadyExists("remediation_id " + request.remediation_id +
                                     " was already used for a different request");
            }
        }
        NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(request.instance_id));
        if (!instance || instance->cluster_id != request.cluster_id) {
            return NotFound("instance " + request.instance_id + " not found in cluster " +
                            request.cluster_id);
        }
        NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive(request.instance_id));
        if (active) {
            return FailedPrecondition("instance " + request.instance_id +
                                      " already has an active remediation " + active->id +
                                      " in state " + std::string(model::WireName(active->state)));
        }
        Remediation r;
        r.create_time = r.update_time = NextTimestamp();
        r.id = request.remediation_id.empty() ? NewUuidV7(r.create_time) : request.remediation_id;
        r.cluster_id = request.cluster_id;
        r.instance_id = request.instance_id;
        r.instance_name = instance->instance_name;
        r.mode = r.requested_mode = request.mode;
        r.trigger = model::Trigger::kManual;
        r.state = State::kPending;
        r.reason = request.reason;
        r.requested_by = caller.name;
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(r));
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
            r.id, StateEvent(r.create_time, r.state, caller.name,
                             "created " + std::string(model::WireName(r.mode)) +
                                 (r.reason.empty() ? "" : ": " + r.reason))));
        return r;
    };
    WriteThenReply<Remediation>(store_, std::move(work), std::move(reply));
}

Result<Remediation> RemediationService::Get(const Address& address) {
    std::optional<Remediation> found;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(found, FindAt(reader, address));
        return OkStatus();
    }));
    return *std::move(found);
}

Result<ListResult> RemediationService::List(const ListRequest& request) {
    if (request.page_size < 0) return InvalidArgument("page_size must not be negative");
    storage::ListQuery query;
    query.cluster_id = request.cluster_id;
    query.instance_id = request.instance_id == "-" ? "" : request.instance_id;
    query.states = request.states;
    query.modes = request.modes;
    query.triggers = request.triggers;
    query.order = request.order;
    query.descending = request.descending;
    query.limit = request.page_size == 0 ? 50 : std::min(request.page_size, kMaxPageSize);
    const std::string fingerprint = ListFingerprint(query);
    if (!request.page_token.empty()) {
        NR_ASSIGN_OR_RETURN(query.after, DecodePageToken(request.page_token, fingerprint));
    }
    storage::RemediationPage page;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        // An unknown cluster or instance is NOT_FOUND, not an empty list.
        if (query.instance_id.empty()) {
            NR_ASSIGN_OR_RETURN(bool known, reader.Inventory().HasCluster(query.cluster_id));
            if (!known) return NotFound("cluster " + query.cluster_id + " not found");
        } else {
            NR_ASSIGN_OR_RETURN(auto instance, reader.Inventory().GetInstance(query.instance_id));
            if (!instance || instance->cluster_id != query.cluster_id) {
                return NotFound("instance " + query.instance_id + " not found in cluster " +
                                query.cluster_id);
            }
        }
        NR_ASSIGN_OR_RETURN(page, reader.Remediations().List(query));
        return OkStatus();
    }));
    ListResult result;
    result.has_next = page.has_next;
    if (page.has_next) {
        const Remediation& last = page.remediations.back();
        const Timestamp key =
            query.order == storage::OrderField::kCreateTime ? last.create_time : last.update_time;
        result.next_page_token = EncodePageToken({ToMicros(key), last.id}, fingerprint);
    }
    result.remediations = std::move(page.remediations);
    return result;
}

void RemediationService::Transition(const auth::Principal& caller, Address address, Event event,
                                    std::function<void(Remediation&)> change, std::string detail,
                                    Reply<Remediation> reply) {
    auto work = [this, caller, address = std::move(address), event, change = std::move(change),
                 detail = std::move(detail)](storage::Txn& txn) -> Result<Remediation> {
        NR_ASSIGN_OR_RETURN(auto r, FindAt(txn, address));
        const auto next = Next(r.state, event);
        if (!next) {
            const char* verb = event == Event::kApprove  ? "approve"
                               : event == Event::kReject ? "reject"
                                                         : "cancel";
            return FailedPrecondition(WrongStateMessage(verb, r));
        }
        const State expected = r.state;
        r.state = *next;
        r.update_time = NextTimestamp();
        if (model::IsTerminal(r.state)) r.end_time = r.update_time;
        change(r);
        NR_RETURN_IF_ERROR(txn.Remediations().Update(r, expected));
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
            r.id, StateEvent(r.update_time, r.state, caller.name, detail)));
        return r;
    };
    WriteThenReply<Remediation>(store_, std::move(work), std::move(reply));
}

void RemediationService::Approve(const auth::Principal& caller, Address address, Review review,
                                 Reply<Remediation> reply) {
    // API.md 4.4: a power cycle hits every VM of a host, so it is never an approval override.
    if (review.mode == model::Mode::kHostPowerCycle) {
        reply(InvalidArgument(
            "REMEDIATION_MODE_HOST_POWER_CYCLE cannot be set when approving; create a host "
            "power-cycle remediation instead"));
        return;
    }
    std::string detail = "approved";
    if (review.mode) detail += " as " + std::string(model::WireName(*review.mode));
    if (!review.comment.empty()) detail += ": " + review.comment;
    Transition(
        caller, std::move(address), Event::kApprove,
        [name = caller.name, review](Remediation& r) {
            r.reviewed_by = name;
            r.review_time = r.update_time;
            r.review_comment = review.comment;
            if (review.mode) r.mode = *review.mode;
        },
        std::move(detail), std::move(reply));
}

void RemediationService::Reject(const auth::Principal& caller, Address address, Review review,
                                Reply<Remediation> reply) {
    std::string detail = "rejected";
    if (!review.comment.empty()) detail += ": " + review.comment;
    Transition(
        caller, std::move(address), Event::kReject,
        [name = caller.name, comment = review.comment](Remediation& r) {
            r.reviewed_by = name;
            r.review_time = r.update_time;
            r.review_comment = comment;
        },
        std::move(detail), std::move(reply));
}

void RemediationService::Cancel(const auth::Principal& caller, Address address,
                                Reply<Remediation> reply) {
    Transition(
        caller, std::move(address), Event::kCancel, [](Remediation&) {}, "cancelled",
        std::move(reply));
}

Result<std::vector<model::RemediationEvent>> RemediationService::Events(const Address& address) {
    std::vector<model::RemediationEvent> events;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_RETURN_IF_ERROR(FindAt(reader, address));
        NR_ASSIGN_OR_RETURN(events, reader.Remediations().ListEvents(address.remediation_id));
        return OkStatus();
    }));
    return events;
}

}  // namespace noderepair::remediation
