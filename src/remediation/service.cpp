#include "remediation/service.hpp"

#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/ids.hpp"
#include "model/inventory.hpp"
#include "remediation/page_token.hpp"

namespace noderepair::remediation {
namespace {

using model::Remediation;
using model::State;

constexpr int kMaxPageSize = 1000;

// The refusals of approve's rules, decided before anything is written; any other error of a
// batch's id is the storage's and ends the whole batch.
bool IsRuleRefusal(Code code) {
    return code == Code::kNotFound || code == Code::kFailedPrecondition ||
           code == Code::kPermissionDenied || code == Code::kInvalidArgument;
}

Error RemediationNotFound(const Address& a) {
    return NotFound("remediation " + a.remediation_id + " not found for instance " + a.instance_id +
                    " in cluster " + a.cluster_id);
}

// Looks up a remediation under its full address: one under another cluster or instance is
// NOT_FOUND (docs/http-api.md 3).
Result<Remediation> FoundAt(std::optional<Remediation> found, const Address& a) {
    if (!found || found->cluster_id != a.cluster_id || found->instance_id != a.instance_id) {
        return RemediationNotFound(a);
    }
    return *std::move(found);
}

Result<Remediation> FindAt(storage::Reader& reader, const Address& a) {
    NR_ASSIGN_OR_RETURN(auto found, reader.Remediations().Get(a.remediation_id));
    return FoundAt(std::move(found), a);
}

// How many GETs one coalesced read answers at most.
constexpr size_t kMaxCoalescedGets = 64;
// How many lists one coalesced read answers at most (a statement, a round trip, for each
// different query among them).
constexpr size_t kMaxCoalescedLists = 64;

// Runs `work` in the store and hands its result to `reply` once committed; with `ahead`, a
// work that keeps storage::ReadAhead's promises (the result of its last run is the one kept).
template <class T>
void WriteThenReply(storage::Store& store, std::function<Result<T>(storage::Txn&)> work,
                    Reply<T> reply, std::optional<storage::ReadAhead> ahead = std::nullopt) {
    auto result = std::make_shared<std::optional<Result<T>>>();
    storage::TxnWork run = [work = std::move(work), result](storage::Txn& txn) -> Status {
        result->emplace(work(txn));
        if (!result->value()) return result->value().error();
        return OkStatus();
    };
    storage::CommitCallback done = [result, reply = std::move(reply)](Status committed) {
        if (!committed) {
            reply(committed.error());
        } else {
            reply(std::move(result->value()));
        }
    };
    if (ahead) {
        store.WriteWithReadAhead(*std::move(ahead), std::move(run), std::move(done));
    } else {
        store.Write(std::move(run), std::move(done));
    }
}

}  // namespace

RemediationService::RemediationService(storage::Store& store, Lifecycle& lifecycle)
    : store_(store), lifecycle_(lifecycle) {
    if (!store_.ReadsAreRoundTrips()) return;
    coalesced_gets_ = std::make_unique<CoalescedGets>(
        [this](const std::vector<std::string>& ids)
            -> Result<std::unordered_map<std::string, Remediation>> {
            std::vector<Remediation> rows;
            NR_RETURN_IF_ERROR(store_.ReadOneStatement([&](storage::Reader& reader) -> Status {
                NR_ASSIGN_OR_RETURN(rows, reader.Remediations().GetMany(ids));
                return OkStatus();
            }));
            std::unordered_map<std::string, Remediation> by_id;
            for (auto& r : rows) {
                std::string id = r.id;
                by_id.emplace(std::move(id), std::move(r));
            }
            return by_id;
        },
        kMaxCoalescedGets, "nr-read-gets");
    coalesced_lists_ = std::make_unique<CoalescedLists>(
        [this](const std::vector<storage::ListQuery>& queries) -> Result<CoalescedLists::Found> {
            CoalescedLists::Found pages;
            NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
                for (const auto& q : queries) {
                    NR_ASSIGN_OR_RETURN(auto page, reader.Remediations().ListInScope(q));
                    if (page) pages.emplace(q, *std::move(page));
                }
                return OkStatus();
            }));
            return pages;
        },
        kMaxCoalescedLists, "nr-read-lists");
}

size_t RemediationService::ListQueryHash::operator()(const storage::ListQuery& q) const {
    std::string key = ListFilters(q) + '\n' + std::to_string(q.limit);
    if (q.after) key += '\n' + std::to_string(q.after->time_us) + '\n' + q.after->id;
    return std::hash<std::string>()(key);
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
    storage::ReadAhead ahead{request.instance_id};
    // Reads the instance and its active remediation, writes through Lifecycle::Create (an
    // Insert) and a setting's delete, and keeps nothing of a run: it may run twice.
    auto work = [this, caller,
                 request = std::move(request)](storage::Txn& txn) -> Result<Remediation> {
        // A known remediation_id comes before every other rule (docs/http-api.md 4.1).
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
        r.id = request.remediation_id;  // empty: Create makes a UUIDv7
        r.cluster_id = request.cluster_id;
        r.instance_id = request.instance_id;
        r.instance_name = instance->instance_name;
        r.mode = r.requested_mode = request.mode;
        r.trigger = model::Trigger::kManual;
        r.state = lifecycle_.ManualInitialState(r.mode);
        r.reason = request.reason;
        r.requested_by = caller.name;
        NR_RETURN_IF_ERROR(lifecycle_.Create(txn, r, caller.name,
                                             "created " + std::string(model::WireName(r.mode)) +
                                                 (r.reason.empty() ? "" : ": " + r.reason)));
        // A person acting on the node has seen why it needed one (docs/http-api.md 11); if the
        // cause remains, this remediation's steps say so again.
        NR_RETURN_IF_ERROR(txn.Settings().Delete(model::AttentionSetting(r.instance_id)));
        return r;
    };
    WriteThenReply<Remediation>(store_, std::move(work), std::move(reply), std::move(ahead));
}

void RemediationService::Get(const Address& address, Reply<Remediation> reply) {
    if (!coalesced_gets_) return reply(Get(address));
    // With the GETs that other callers ask meanwhile: one statement for all of them.
    coalesced_gets_->Ask(address.remediation_id,
                         [address, reply = std::move(reply)](CoalescedGets::Answer found) {
                             if (!found) return reply(found.error());
                             reply(FoundAt(*std::move(found), address));
                         });
}

Result<Remediation> RemediationService::Get(const Address& address) {
    if (coalesced_gets_) {
        NR_ASSIGN_OR_RETURN(auto found, coalesced_gets_->Get(address.remediation_id));
        return FoundAt(std::move(found), address);
    }
    std::optional<Remediation> found;
    // One statement (the remediation with its alerts): no transaction needed around it.
    NR_RETURN_IF_ERROR(store_.ReadOneStatement([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(found, FindAt(reader, address));
        return OkStatus();
    }));
    return *std::move(found);
}

Result<std::pair<storage::ListQuery, std::string>> RemediationService::ListQueryOf(
    const ListRequest& request) const {
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
    std::string fingerprint = ListFingerprint(query);
    if (!request.page_token.empty()) {
        NR_ASSIGN_OR_RETURN(query.after, DecodePageToken(request.page_token, fingerprint));
    }
    return std::make_pair(std::move(query), std::move(fingerprint));
}

Result<ListResult> RemediationService::ListAnswer(const storage::ListQuery& query,
                                                  const std::string& fingerprint,
                                                  std::optional<storage::RemediationPage> found) {
    // An unknown cluster or instance is NOT_FOUND, not an empty list.
    if (!found && query.instance_id.empty()) {
        return NotFound("cluster " + query.cluster_id + " not found");
    }
    if (!found) {
        return NotFound("instance " + query.instance_id + " not found in cluster " +
                        query.cluster_id);
    }
    storage::RemediationPage& page = *found;
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

void RemediationService::List(const ListRequest& request, Reply<ListResult> reply) {
    if (!coalesced_lists_) return reply(List(request));
    auto asked = ListQueryOf(request);
    if (!asked) return reply(asked.error());
    // With the lists other callers ask meanwhile: an equal query is read once for all.
    auto query = asked->first;
    coalesced_lists_->Ask(
        query, [asked = *std::move(asked), reply = std::move(reply)](CoalescedLists::Answer found) {
            if (!found) return reply(found.error());
            reply(ListAnswer(asked.first, asked.second, *std::move(found)));
        });
}

Result<ListResult> RemediationService::List(const ListRequest& request) {
    NR_ASSIGN_OR_RETURN(auto asked, ListQueryOf(request));
    const auto& [query, fingerprint] = asked;
    std::optional<storage::RemediationPage> found;
    if (coalesced_lists_) {
        NR_ASSIGN_OR_RETURN(found, coalesced_lists_->Get(query));
    } else {
        NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(found, reader.Remediations().ListInScope(query));
            return OkStatus();
        }));
    }
    return ListAnswer(query, fingerprint, std::move(found));
}

void RemediationService::Transition(const auth::Principal& caller, Address address, Event event,
                                    std::function<Status(storage::Txn&, Remediation&)> prepare,
                                    std::string detail, Reply<Remediation> reply) {
    auto work = [this, caller, address = std::move(address), event, prepare = std::move(prepare),
                 detail = std::move(detail)](storage::Txn& txn) -> Result<Remediation> {
        NR_ASSIGN_OR_RETURN(auto r, FindAt(txn, address));
        NR_RETURN_IF_ERROR(prepare(txn, r));
        NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, r, event, caller.name, detail));
        return r;
    };
    WriteThenReply<Remediation>(store_, std::move(work), std::move(reply));
}

Result<Remediation> RemediationService::ApproveIn(storage::Txn& txn, const auth::Principal& caller,
                                                  Remediation r, const Review& review) {
    // A wrong state is refused by the approval's own check first.
    if (Next(r.state, Event::kApprove)) {
        NR_RETURN_IF_ERROR(lifecycle_.CheckApprover(r, caller.name, review.mode));
    }
    r.review_comment = review.comment;
    // The override is its own timeline event, before the approval (docs/http-api.md 4.8).
    if (review.mode && *review.mode != r.mode && Next(r.state, Event::kApprove)) {
        NR_RETURN_IF_ERROR(
            lifecycle_.ChangeMode(txn, r, *review.mode, caller.name, "approver's override"));
    }
    std::string detail = "approved";
    if (!review.comment.empty()) detail += ": " + review.comment;
    NR_RETURN_IF_ERROR(lifecycle_.Apply(txn, r, Event::kApprove, caller.name, std::move(detail)));
    return r;
}

void RemediationService::Approve(const auth::Principal& caller, Address address, Review review,
                                 Reply<Remediation> reply) {
    if (Status valid = CheckOverride(review); !valid) return reply(valid.error());
    auto work = [this, caller, address = std::move(address),
                 review = std::move(review)](storage::Txn& txn) -> Result<Remediation> {
        NR_ASSIGN_OR_RETURN(auto r, FindAt(txn, address));
        return ApproveIn(txn, caller, std::move(r), review);
    };
    WriteThenReply<Remediation>(store_, std::move(work), std::move(reply));
}

Status RemediationService::CheckOverride(const Review& review) {
    // A power cycle hits every VM of a host, so it is never an approval override
    // (docs/http-api.md 4.4).
    if (review.mode == model::Mode::kHostPowerCycle) {
        return InvalidArgument(
            "REMEDIATION_MODE_HOST_POWER_CYCLE cannot be set when approving; create a host "
            "power-cycle remediation instead");
    }
    return OkStatus();
}

void RemediationService::BatchApprove(const auth::Principal& caller, std::string cluster_id,
                                      std::vector<std::string> ids, Review review,
                                      Reply<std::vector<BatchOutcome>> reply) {
    if (ids.empty() || ids.size() > kMaxBatchApprove) {
        return reply(InvalidArgument("ids must hold 1 to " + std::to_string(kMaxBatchApprove) +
                                     " remediation ids, not " + std::to_string(ids.size())));
    }
    std::set<std::string_view> seen;
    for (const auto& id : ids) {
        if (!seen.insert(id).second) {
            return reply(InvalidArgument("ids must be distinct; " + id + " appears twice"));
        }
    }
    if (Status valid = CheckOverride(review); !valid) return reply(valid.error());
    // One work item for the whole batch (docs/http-api.md, "Batch approve"): each id is decided
    // on its own, and a refused one writes nothing because every rule is checked before its
    // first write; a storage failure rolls the whole batch back and fails the request.
    auto work = [this, caller, cluster_id = std::move(cluster_id), ids = std::move(ids),
                 review =
                     std::move(review)](storage::Txn& txn) -> Result<std::vector<BatchOutcome>> {
        NR_ASSIGN_OR_RETURN(bool known, txn.Inventory().HasCluster(cluster_id));
        if (!known) return NotFound("cluster " + cluster_id + " not found");
        std::vector<BatchOutcome> outcomes;
        outcomes.reserve(ids.size());
        for (const auto& id : ids) {
            NR_ASSIGN_OR_RETURN(auto found, txn.Remediations().Get(id));
            if (!found || found->cluster_id != cluster_id) {
                outcomes.push_back(
                    {id, NotFound("remediation " + id + " not found in cluster " + cluster_id)});
                continue;
            }
            auto approved = ApproveIn(txn, caller, *std::move(found), review);
            if (!approved && !IsRuleRefusal(approved.error().code)) return approved.error();
            outcomes.push_back({id, std::move(approved)});
        }
        return outcomes;
    };
    WriteThenReply<std::vector<BatchOutcome>>(store_, std::move(work), std::move(reply));
}

void RemediationService::Reject(const auth::Principal& caller, Address address, Review review,
                                Reply<Remediation> reply) {
    std::string detail = "rejected";
    if (!review.comment.empty()) detail += ": " + review.comment;
    Transition(
        caller, std::move(address), Event::kReject,
        [comment = review.comment](storage::Txn&, Remediation& r) {
            r.review_comment = comment;
            return OkStatus();
        },
        std::move(detail), std::move(reply));
}

void RemediationService::Cancel(const auth::Principal& caller, Address address,
                                Reply<Remediation> reply) {
    Transition(
        caller, std::move(address), Event::kCancel,
        [](storage::Txn&, Remediation&) { return OkStatus(); }, "cancelled", std::move(reply));
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
