// The six remediation operations of docs/http-api.md 4.1-4.6 and the timeline of 4.8: the rules
// live here, each change is one transaction of the store. Called from I/O threads; every write
// answers through a callback after its transaction committed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/principal.hpp"
#include "common/read_coalescer.hpp"
#include "common/status.hpp"
#include "common/time.hpp"
#include "model/remediation.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store.hpp"

namespace noderepair::remediation {

template <class T>
using Reply = std::function<void(Result<T>)>;

// Where a remediation is addressed: the path of docs/http-api.md 4.2.
struct Address {
    std::string cluster_id;
    std::string instance_id;
    std::string remediation_id;
};

struct CreateRequest {
    std::string cluster_id;
    std::string instance_id;
    model::Mode mode = model::Mode::kVmOnly;
    std::string reason;
    std::string remediation_id;  // client-chosen, optional
};

struct ListRequest {
    std::string cluster_id;
    std::string instance_id;  // "-": the whole cluster
    std::vector<model::State> states;
    std::vector<model::Mode> modes;
    std::vector<model::Trigger> triggers;
    storage::OrderField order = storage::OrderField::kCreateTime;
    bool descending = true;
    int page_size = 50;
    std::string page_token;
};

struct ListResult {
    std::vector<model::Remediation> remediations;
    bool has_next = false;
    std::string next_page_token;
};

// Review of a remediation waiting for approval (docs/http-api.md 4.4, 4.5).
struct Review {
    std::string comment;
    std::optional<model::Mode> mode;  // approve only
};

// One id's outcome in a batch approval (docs/http-api.md 11): the approved remediation or why
// not.
struct BatchOutcome {
    std::string id;
    Result<model::Remediation> outcome;
};

inline constexpr size_t kMaxBatchApprove = 1000;

class RemediationService {
public:
    RemediationService(storage::Store& store, Lifecycle& lifecycle);

    void Create(const auth::Principal& caller, CreateRequest request,
                Reply<model::Remediation> reply);
    // Where reads are round trips (PostgreSQL) these never wait: `reply` runs on the thread
    // that reads for several callers at once (docs/design.md 7). Elsewhere they read, and
    // reply before they return.
    void Get(const Address& address, Reply<model::Remediation> reply);
    void List(const ListRequest& request, Reply<ListResult> reply);
    // Whether Get and List with a reply never wait (their reads are asked together).
    bool ReadsTogether() const { return coalesced_gets_ != nullptr; }
    // Get and List, waiting for the answer.
    Result<model::Remediation> Get(const Address& address);
    Result<ListResult> List(const ListRequest& request);
    void Approve(const auth::Principal& caller, Address address, Review review,
                 Reply<model::Remediation> reply);
    // Approves each of `ids` (remediations of `cluster_id`) by the rules of Approve, each on
    // its own; outcomes in the order of `ids`. 1 to kMaxBatchApprove distinct ids, else
    // INVALID_ARGUMENT and nothing changes.
    void BatchApprove(const auth::Principal& caller, std::string cluster_id,
                      std::vector<std::string> ids, Review review,
                      Reply<std::vector<BatchOutcome>> reply);
    void Reject(const auth::Principal& caller, Address address, Review review,
                Reply<model::Remediation> reply);
    void Cancel(const auth::Principal& caller, Address address, Reply<model::Remediation> reply);
    Result<std::vector<model::RemediationEvent>> Events(const Address& address);

    // Lists waiting for a read of lists to start (for tests; 0 where lists are not read
    // together).
    size_t ListsWaiting() const { return coalesced_lists_ ? coalesced_lists_->queued() : 0; }

private:
    // A list request as the store's query, with its paging fingerprint; INVALID_ARGUMENT for a
    // bad page size or token.
    Result<std::pair<storage::ListQuery, std::string>> ListQueryOf(
        const ListRequest& request) const;
    // The answer to a list whose query read `found` (nothing: its scope does not exist).
    static Result<ListResult> ListAnswer(const storage::ListQuery& query,
                                         const std::string& fingerprint,
                                         std::optional<storage::RemediationPage> found);
    // An approval override the contract never allows, whatever the remediation.
    static Status CheckOverride(const Review& review);
    // Approves `r`, read in `txn`, by the rules of docs/http-api.md 4.4 and 11. Every refusal
    // comes before the first write.
    Result<model::Remediation> ApproveIn(storage::Txn& txn, const auth::Principal& caller,
                                         model::Remediation r, const Review& review);
    // One transition of the lifecycle table by the caller, after `prepare` (which may refuse
    // it or change the fields the transition sets).
    void Transition(const auth::Principal& caller, Address address, Event event,
                    std::function<Status(storage::Txn&, model::Remediation&)> prepare,
                    std::string detail, Reply<model::Remediation> reply);

    // The GETs of one remediation, fetched together where a read is a round trip to the
    // database (storage::Store::ReadsAreRoundTrips); null where it is not.
    using CoalescedGets = ReadCoalescer<std::string, model::Remediation>;
    // The lists asked for while another is read, read together where GETs are: equal queries
    // once for all their callers (docs/design.md 7).
    struct ListQueryHash {
        size_t operator()(const storage::ListQuery& q) const;
    };
    using CoalescedLists =
        ReadCoalescer<storage::ListQuery, storage::RemediationPage, ListQueryHash>;

    storage::Store& store_;
    Lifecycle& lifecycle_;
    std::unique_ptr<CoalescedGets> coalesced_gets_;
    std::unique_ptr<CoalescedLists> coalesced_lists_;
};

}  // namespace noderepair::remediation
