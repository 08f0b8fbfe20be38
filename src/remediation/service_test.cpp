#include "remediation/service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.hpp"
#include "storage/open.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::remediation {
namespace {

using model::Mode;
using model::Remediation;
using model::State;
using model::Trigger;
using storage::test_support::ExpectSameRemediation;
using storage::test_support::IsOk;
using storage::test_support::MakeRemediation;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

auth::Principal Operator() { return {"alice", auth::Role::kOperator, {}}; }
auth::Principal Approver() { return {"bob", auth::Role::kApprover, {}}; }

CreateRequest Request(const std::string& instance_id, Mode mode = Mode::kVmOnly,
                      const std::string& reason = "", const std::string& remediation_id = "") {
    CreateRequest r;
    r.cluster_id = instance_id.starts_with("j") ? "c2" : "c1";
    r.instance_id = instance_id;
    r.mode = mode;
    r.reason = reason;
    r.remediation_id = remediation_id;
    return r;
}

Address At(const Remediation& r) { return {r.cluster_id, r.instance_id, r.id}; }

// Runs one asynchronous service call and waits for its reply.
Result<Remediation> Await(const std::function<void(Reply<Remediation>)>& call) {
    auto promise = std::make_shared<std::promise<Result<Remediation>>>();
    auto future = promise->get_future();
    call([promise](Result<Remediation> r) { promise->set_value(std::move(r)); });
    return future.get();
}

class RemediationServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        url_ = "sqlite:" + dir_.path() + "/service.db";
        store_ = storage::test_support::OpenWithTestFleet(url_);
        ASSERT_NE(store_, nullptr);
        service_ = std::make_unique<RemediationService>(*store_, lifecycle_);
    }

    void TearDown() override {
        if (store_) store_->Close();
    }

    Result<Remediation> Create(CreateRequest request, auth::Principal caller = Operator()) {
        return Await([&](Reply<Remediation> reply) {
            service_->Create(caller, std::move(request), std::move(reply));
        });
    }
    Result<Remediation> Approve(const Address& a, Review review = {},
                                auth::Principal caller = Approver()) {
        return Await([&](Reply<Remediation> reply) {
            service_->Approve(caller, a, std::move(review), std::move(reply));
        });
    }
    Result<Remediation> Reject(const Address& a, Review review = {},
                               auth::Principal caller = Approver()) {
        return Await([&](Reply<Remediation> reply) {
            service_->Reject(caller, a, std::move(review), std::move(reply));
        });
    }
    Result<Remediation> Cancel(const Address& a, auth::Principal caller = Operator()) {
        return Await(
            [&](Reply<Remediation> reply) { service_->Cancel(caller, a, std::move(reply)); });
    }

    // A remediation written straight to the store, as the health automation would (docs/http-api.md
    // 5).
    Remediation InsertDirect(const std::string& id, const std::string& instance_id, State state,
                             Trigger trigger = Trigger::kAutomated) {
        Remediation r = MakeRemediation(id, instance_id, state, lifecycle_.NextTimestamp());
        r.trigger = trigger;
        r.mode = r.requested_mode = Mode::kRebootVm;
        r.requested_by = "system:health-checks";
        r.reason = "DmesgXidError";
        r.passive_health_check_event_id = "alert-" + id;
        Status written = store_->WriteAndWait([r](storage::Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(
                txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r));
            return txn.Remediations().AppendEvent(
                r.id, {r.create_time, "state_change", r.state, "", r.requested_by, "created"});
        });
        EXPECT_TRUE(written) << written.error().message;
        return r;
    }

    // Many remediations at once, in one transaction: terminal ones on i1..i4 of c1.
    std::vector<std::string> InsertManyTerminal(int count, const std::string& prefix = "bulk") {
        std::vector<Remediation> rows;
        for (int i = 0; i < count; ++i) {
            rows.push_back(MakeRemediation(prefix + "-" + std::to_string(i),
                                           "i" + std::to_string(i % 4 + 1), State::kSucceeded,
                                           lifecycle_.NextTimestamp()));
        }
        Status written = store_->WriteAndWait([&rows](storage::Txn& txn) -> Status {
            for (const auto& r : rows)
                NR_RETURN_IF_ERROR(
                    txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r));
            return OkStatus();
        });
        EXPECT_TRUE(written) << written.error().message;
        std::vector<std::string> ids;
        for (const auto& r : rows) ids.push_back(r.id);
        return ids;
    }

    std::optional<Remediation> Stored(const std::string& id) {
        return storage::test_support::GetStored(*store_, id);
    }

    std::vector<model::RemediationEvent> EventsOf(const Remediation& r) {
        auto events = service_->Events(At(r));
        EXPECT_TRUE(events) << events.error().message;
        return events ? *events : std::vector<model::RemediationEvent>{};
    }

    // Every id of a list, walking all pages.
    std::vector<Remediation> WalkAll(ListRequest request, int page_size) {
        std::vector<Remediation> all;
        request.page_size = page_size;
        request.page_token.clear();
        for (int page = 0; page < 10000; ++page) {
            auto got = service_->List(request);
            EXPECT_TRUE(got) << got.error().message;
            if (!got) break;
            all.insert(all.end(), got->remediations.begin(), got->remediations.end());
            if (!got->has_next) {
                EXPECT_EQ(got->next_page_token, "");
                return all;
            }
            EXPECT_NE(got->next_page_token, "");
            request.page_token = got->next_page_token;
        }
        ADD_FAILURE() << "paging did not end";
        return all;
    }

    static ListRequest ListOf(const std::string& cluster_id, const std::string& instance_id) {
        ListRequest r;
        r.cluster_id = cluster_id;
        r.instance_id = instance_id;
        return r;
    }

    ScopedTempDir dir_;
    std::string url_;
    FakeClock clock_{TestEpoch()};
    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<storage::Store> store_;
    std::unique_ptr<RemediationService> service_;
};

// ---- Create -------------------------------------------------------------------------------

TEST_F(RemediationServiceTest, CreateStartsPendingManualRequestedByTheCaller) {
    auto created = Create(Request("i1", Mode::kHostAware, "xid 79"));
    ASSERT_TRUE(created) << created.error().message;
    const Remediation& r = *created;
    EXPECT_TRUE(IsUuid(r.id)) << r.id;
    EXPECT_EQ(r.id[14], '7') << "a UUIDv7: " << r.id;
    EXPECT_EQ(r.cluster_id, "c1");
    EXPECT_EQ(r.instance_id, "i1");
    EXPECT_EQ(r.instance_name, "i1-name");
    EXPECT_EQ(r.mode, Mode::kHostAware);
    EXPECT_EQ(r.requested_mode, Mode::kHostAware);
    EXPECT_EQ(r.trigger, Trigger::kManual);
    EXPECT_EQ(r.state, State::kPending);
    EXPECT_EQ(r.reason, "xid 79");
    EXPECT_EQ(r.requested_by, "alice");
    EXPECT_EQ(r.create_time, TestEpoch());
    EXPECT_EQ(r.update_time, r.create_time);
    EXPECT_FALSE(r.start_time);
    EXPECT_FALSE(r.end_time);
    EXPECT_FALSE(r.review_time);
    EXPECT_EQ(r.reviewed_by, "");

    auto got = service_->Get(At(r));
    ASSERT_TRUE(got) << got.error().message;
    ExpectSameRemediation(*got, r);
}

TEST_F(RemediationServiceTest, CreateRecordsAnEvent) {
    auto r = Create(Request("i2", Mode::kRebootVm, "hung kernel"));
    ASSERT_TRUE(r) << r.error().message;
    const auto events = EventsOf(*r);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "state_change");
    EXPECT_EQ(events[0].state, State::kPending);
    EXPECT_EQ(events[0].actor, "alice");
    EXPECT_EQ(events[0].time, r->create_time);
    EXPECT_NE(events[0].detail.find("REMEDIATION_MODE_REBOOT_VM"), std::string::npos);
    EXPECT_NE(events[0].detail.find("hung kernel"), std::string::npos);
}

// docs/http-api.md 4.1: the acknowledged remediation is durable.
TEST_F(RemediationServiceTest, CreatedRemediationIsOnDiskWhenReplied) {
    auto r = Create(Request("i1"));
    ASSERT_TRUE(r) << r.error().message;
    store_->Close();
    auto reopened = storage::OpenStore(url_);
    ASSERT_TRUE(reopened) << reopened.error().message;
    auto stored = storage::test_support::GetStored(**reopened, r->id);
    ASSERT_TRUE(stored);
    ExpectSameRemediation(*stored, *r);
    (*reopened)->Close();
}

TEST_F(RemediationServiceTest, ReplayOfTheSameRequestReturnsTheSameRemediation) {
    auto first = Create(Request("i1", Mode::kVmOnly, "disk", "fix-i1"));
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->id, "fix-i1");
    clock_.Advance(std::chrono::seconds(3));
    auto again = Create(Request("i1", Mode::kVmOnly, "disk", "fix-i1"));
    ASSERT_TRUE(again) << again.error().message;
    ExpectSameRemediation(*again, *first);
    EXPECT_EQ(EventsOf(*first).size(), 1u);
    auto listed = service_->List(ListOf("c1", "i1"));
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->remediations.size(), 1u);
}

// docs/http-api.md 4.1: a known remediation_id comes before every other rule, even a busy instance.
TEST_F(RemediationServiceTest, ReplayAnswersEvenWhileTheInstanceIsBusy) {
    ASSERT_TRUE(Create(Request("i1", Mode::kVmOnly, "", "busy-1")));
    ASSERT_FALSE(Create(Request("i1")));  // a new one is refused: busy
    auto replay = Create(Request("i1", Mode::kVmOnly, "", "busy-1"));
    ASSERT_TRUE(replay) << replay.error().message;
    EXPECT_EQ(replay->id, "busy-1");
    EXPECT_EQ(replay->state, State::kPending);
}

TEST_F(RemediationServiceTest, ReplayReturnsTheCurrentState) {
    auto first = Create(Request("i1", Mode::kVmOnly, "", "later-cancelled"));
    ASSERT_TRUE(first);
    ASSERT_TRUE(Cancel(At(*first)));
    auto replay = Create(Request("i1", Mode::kVmOnly, "", "later-cancelled"));
    ASSERT_TRUE(replay) << replay.error().message;
    EXPECT_EQ(replay->state, State::kCancelled);
    EXPECT_TRUE(replay->end_time);
    EXPECT_FALSE(storage::test_support::ReadValue<std::optional<Remediation>>(
                     *store_, [](storage::Reader& r) { return r.Remediations().GetActive("i1"); })
                     .value())
        << "a replay must not create a second remediation";
}

TEST_F(RemediationServiceTest, ReusedIdWithADifferentRequestIsAlreadyExists) {
    ASSERT_TRUE(Create(Request("i1", Mode::kVmOnly, "disk", "taken")));
    for (const CreateRequest& different : {Request("i1", Mode::kVmOnly, "other reason", "taken"),
                                           Request("i1", Mode::kRebootVm, "disk", "taken"),
                                           Request("i2", Mode::kVmOnly, "disk", "taken"),
                                           Request("j1", Mode::kVmOnly, "disk", "taken"),
                                           Request("i1", Mode::kVmOnly, "", "taken")}) {
        auto got = Create(different);
        ASSERT_FALSE(got) << different.instance_id << " " << different.reason;
        EXPECT_EQ(got.error().code, Code::kAlreadyExists);
    }
    // Checked before the instance is even looked up.
    CreateRequest unknown = Request("i1", Mode::kVmOnly, "disk", "taken");
    unknown.instance_id = "no-such-instance";
    auto got = Create(unknown);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kAlreadyExists);
    EXPECT_FALSE(Stored("taken")->reason.empty());
}

TEST_F(RemediationServiceTest, ServerMadeIdsCannotBeReusedForAnotherRequest) {
    auto first = Create(Request("i1"));
    ASSERT_TRUE(first);
    auto clash = Create(Request("i2", Mode::kVmOnly, "", first->id));
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, Code::kAlreadyExists);
}

TEST_F(RemediationServiceTest, ClientIdMayBeAUuidOrALabel) {
    auto uuid = Create(Request("i1", Mode::kVmOnly, "", "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"));
    ASSERT_TRUE(uuid) << uuid.error().message;
    EXPECT_EQ(uuid->id, "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b");
    auto label = Create(Request("i2", Mode::kVmOnly, "", std::string(63, 'x')));
    ASSERT_TRUE(label) << label.error().message;
    EXPECT_EQ(label->id, std::string(63, 'x'));
}

TEST_F(RemediationServiceTest, BadClientIdIsInvalidArgument) {
    for (const std::string& bad : {std::string("Fix-1"), std::string("-fix"), std::string("fix-"),
                                   std::string(64, 'a'), std::string("fix_1"), std::string("fix.1"),
                                   std::string("fix 1"), std::string("0190A1B2-c3d4-7e5f-8a6b")}) {
        auto got = Create(Request("i1", Mode::kVmOnly, "", bad));
        ASSERT_FALSE(got) << bad;
        EXPECT_EQ(got.error().code, Code::kInvalidArgument) << bad;
    }
    auto listed = service_->List(ListOf("c1", "-"));
    ASSERT_TRUE(listed);
    EXPECT_TRUE(listed->remediations.empty());
}

TEST_F(RemediationServiceTest, UnknownInstanceOrWrongClusterIsNotFound) {
    for (const auto& [cluster, instance] : std::vector<std::pair<std::string, std::string>>{
             {"c1", "nope"}, {"c2", "i1"}, {"c9", "i1"}, {"c1", "j1"}, {"", "i1"}}) {
        CreateRequest request = Request("i1");
        request.cluster_id = cluster;
        request.instance_id = instance;
        auto got = Create(request);
        ASSERT_FALSE(got) << cluster << "/" << instance;
        EXPECT_EQ(got.error().code, Code::kNotFound) << cluster << "/" << instance;
    }
}

TEST_F(RemediationServiceTest, SecondActiveRemediationIsFailedPrecondition) {
    auto first = Create(Request("i1"));
    ASSERT_TRUE(first);
    auto second = Create(Request("i1", Mode::kRebootVm));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Code::kFailedPrecondition);
    EXPECT_NE(second.error().message.find(first->id), std::string::npos) << second.error().message;
    // Other instances are free; the first one is again after its remediation ends.
    EXPECT_TRUE(Create(Request("i2")));
    ASSERT_TRUE(Cancel(At(*first)));
    EXPECT_TRUE(Create(Request("i1", Mode::kRebootVm)));
}

TEST_F(RemediationServiceTest, AutomatedRemediationWaitingForApprovalAlsoBlocksCreate) {
    InsertDirect("auto-1", "i3", State::kPendingApproval);
    auto got = Create(Request("i3"));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kFailedPrecondition);
}

TEST_F(RemediationServiceTest, EvictedInstanceCanBeRemediated) {
    auto r = Create(Request("j2", Mode::kVmOnly));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->cluster_id, "c2");
}

TEST_F(RemediationServiceTest, ConcurrentCreatesOnOneInstanceAdmitExactlyOne) {
    constexpr int kCallers = 8;
    std::vector<std::future<Result<Remediation>>> results;
    for (int i = 0; i < kCallers; ++i) {
        auto promise = std::make_shared<std::promise<Result<Remediation>>>();
        results.push_back(promise->get_future());
        service_->Create(Operator(), Request("i4", Mode::kVmOnly, "race " + std::to_string(i)),
                         [promise](Result<Remediation> r) { promise->set_value(std::move(r)); });
    }
    int won = 0;
    for (auto& f : results) {
        auto r = f.get();
        if (r) {
            ++won;
        } else {
            EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
        }
    }
    EXPECT_EQ(won, 1);
}

// ---- Approve, reject, cancel --------------------------------------------------------------

TEST_F(RemediationServiceTest, ApproveMovesToPendingAndRecordsTheReview) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    clock_.Advance(std::chrono::seconds(30));
    auto approved = Approve(At(waiting), {"looks right", std::nullopt});
    ASSERT_TRUE(approved) << approved.error().message;
    EXPECT_EQ(approved->state, State::kPending);
    EXPECT_EQ(approved->reviewed_by, "bob");
    EXPECT_EQ(approved->review_comment, "looks right");
    EXPECT_EQ(approved->update_time, TestEpoch() + std::chrono::seconds(30));
    EXPECT_EQ(approved->review_time, approved->update_time);
    EXPECT_EQ(approved->mode, Mode::kRebootVm);
    EXPECT_EQ(approved->create_time, waiting.create_time);
    EXPECT_EQ(approved->trigger, Trigger::kAutomated);
    EXPECT_FALSE(approved->end_time);
    ExpectSameRemediation(*Stored("auto-1"), *approved);

    const auto events = EventsOf(waiting);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].state, State::kPending);
    EXPECT_EQ(events[1].actor, "bob");
    EXPECT_EQ(events[1].time, approved->update_time);
    EXPECT_NE(events[1].detail.find("looks right"), std::string::npos);
}

TEST_F(RemediationServiceTest, ApproveWithoutBodyLeavesTheCommentUnset) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    auto approved = Approve(At(waiting));
    ASSERT_TRUE(approved) << approved.error().message;
    EXPECT_EQ(approved->review_comment, "");
    EXPECT_EQ(approved->reviewed_by, "bob");
}

TEST_F(RemediationServiceTest, ApproveCanOverrideTheMode) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    auto approved = Approve(At(waiting), {"", Mode::kHostAware});
    ASSERT_TRUE(approved) << approved.error().message;
    EXPECT_EQ(approved->mode, Mode::kHostAware);
    EXPECT_EQ(approved->requested_mode, Mode::kRebootVm);
    EXPECT_EQ(Stored("auto-1")->mode, Mode::kHostAware);
    // The override is a mode_change event of its own, before the approval (docs/http-api.md 4.8).
    const auto events = EventsOf(waiting);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[1].type, "mode_change");
    EXPECT_FALSE(events[1].state.has_value());
    EXPECT_EQ(events[1].actor, "bob");
    EXPECT_NE(events[1].detail.find("REMEDIATION_MODE_REBOOT_VM"), std::string::npos);
    EXPECT_NE(events[1].detail.find("REMEDIATION_MODE_HOST_AWARE"), std::string::npos);
    EXPECT_EQ(events[2].type, "state_change");
    EXPECT_EQ(events[2].state, State::kPending);
}

TEST_F(RemediationServiceTest, ApproveWithTheSameModeRecordsNoModeChange) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    ASSERT_TRUE(Approve(At(waiting), {"", Mode::kRebootVm}));
    const auto events = EventsOf(waiting);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].type, "state_change");
}

TEST_F(RemediationServiceTest, ApproveWithAnOverrideInTheWrongStateChangesNothing) {
    const Remediation pending = InsertDirect("man-1", "i1", State::kPending);
    auto got = Approve(At(pending), {"", Mode::kHostAware});
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kFailedPrecondition);
    ExpectSameRemediation(*Stored("man-1"), pending);
    EXPECT_EQ(EventsOf(pending).size(), 1u);
}

// docs/http-api.md 4.4: a power cycle is never an approval override.
TEST_F(RemediationServiceTest, ApproveWithPowerCycleOverrideIsInvalidArgument) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    auto got = Approve(At(waiting), {"", Mode::kHostPowerCycle});
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kInvalidArgument);
    ExpectSameRemediation(*Stored("auto-1"), waiting);
    EXPECT_EQ(EventsOf(waiting).size(), 1u);
}

TEST_F(RemediationServiceTest, ReplayMatchesTheRequestedModeAfterAnOverride) {
    const Remediation waiting =
        InsertDirect("manual-1", "i1", State::kPendingApproval, Trigger::kManual);
    ASSERT_TRUE(Approve(At(waiting), {"", Mode::kHostAware}));
    auto replay = Create(Request("i1", Mode::kRebootVm, waiting.reason, "manual-1"));
    ASSERT_TRUE(replay) << replay.error().message;
    EXPECT_EQ(replay->mode, Mode::kHostAware);
    auto other = Create(Request("i1", Mode::kHostAware, waiting.reason, "manual-1"));
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, Code::kAlreadyExists);
}

TEST_F(RemediationServiceTest, RejectCancelsAndRecordsTheReview) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    clock_.Advance(std::chrono::minutes(2));
    auto rejected = Reject(At(waiting), {"false alarm", std::nullopt});
    ASSERT_TRUE(rejected) << rejected.error().message;
    EXPECT_EQ(rejected->state, State::kCancelled);
    EXPECT_EQ(rejected->reviewed_by, "bob");
    EXPECT_EQ(rejected->review_comment, "false alarm");
    EXPECT_EQ(rejected->review_time, rejected->update_time);
    EXPECT_EQ(rejected->end_time, rejected->update_time);
    EXPECT_EQ(rejected->mode, waiting.mode);
    ExpectSameRemediation(*Stored("auto-1"), *rejected);
    const auto events = EventsOf(waiting);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].state, State::kCancelled);
    EXPECT_NE(events[1].detail.find("false alarm"), std::string::npos);
    // The instance is free again.
    EXPECT_TRUE(Create(Request("i1")));
}

TEST_F(RemediationServiceTest, ApproveAndRejectOnlyFromPendingApproval) {
    int n = 0;
    for (State state : model::kAllStates) {
        if (state == State::kPendingApproval) continue;
        const std::string instance = "i" + std::to_string(n % 4 + 1);
        const Remediation r = InsertDirect("r-" + std::to_string(n++), instance, state);
        auto approved = Approve(At(r));
        ASSERT_FALSE(approved) << model::WireName(state);
        EXPECT_EQ(approved.error().code, Code::kFailedPrecondition) << model::WireName(state);
        auto rejected = Reject(At(r));
        ASSERT_FALSE(rejected) << model::WireName(state);
        EXPECT_EQ(rejected.error().code, Code::kFailedPrecondition) << model::WireName(state);
        ExpectSameRemediation(*Stored(r.id), r);
        EXPECT_EQ(EventsOf(r).size(), 1u);
        // Free the instance for the next state.
        if (!model::IsTerminal(state)) {
            Remediation ended = r;
            ended.state = State::kFailed;
            ASSERT_TRUE(IsOk(store_->WriteAndWait([ended, state](storage::Txn& txn) {
                return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), ended,
                                                 state);
            })));
        }
    }
}

TEST_F(RemediationServiceTest, CancelFromPendingEndsTheRemediation) {
    auto created = Create(Request("i1"));
    ASSERT_TRUE(created);
    clock_.Advance(std::chrono::seconds(5));
    auto cancelled = Cancel(At(*created), {"carol", auth::Role::kOperator, {}});
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    EXPECT_EQ(cancelled->state, State::kCancelled);
    EXPECT_EQ(cancelled->update_time, TestEpoch() + std::chrono::seconds(5));
    EXPECT_EQ(cancelled->end_time, cancelled->update_time);
    EXPECT_EQ(cancelled->reviewed_by, "");
    ExpectSameRemediation(*Stored(created->id), *cancelled);
    const auto events = EventsOf(*created);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].state, State::kCancelled);
    EXPECT_EQ(events[1].actor, "carol");
}

TEST_F(RemediationServiceTest, CancelFromPendingApproval) {
    const Remediation waiting = InsertDirect("auto-1", "i2", State::kPendingApproval);
    auto cancelled = Cancel(At(waiting));
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    EXPECT_EQ(cancelled->state, State::kCancelled);
    EXPECT_TRUE(cancelled->end_time);
}

// docs/http-api.md 4.6: a remediation the engine picked up cannot be cancelled.
TEST_F(RemediationServiceTest, CancelIsRefusedOnceTheEngineHasIt) {
    int n = 0;
    for (State state :
         {State::kQuarantining, State::kQuarantined, State::kRunning, State::kSucceeded,
          State::kFailed, State::kCancelled, State::kAutoResolved}) {
        const Remediation r =
            InsertDirect("r-" + std::to_string(n), "i" + std::to_string(n % 4 + 1), state);
        ++n;
        auto got = Cancel(At(r));
        ASSERT_FALSE(got) << model::WireName(state);
        EXPECT_EQ(got.error().code, Code::kFailedPrecondition) << model::WireName(state);
        EXPECT_NE(got.error().message.find(std::string(model::WireName(state))), std::string::npos)
            << got.error().message;
        ExpectSameRemediation(*Stored(r.id), r);
        if (!model::IsTerminal(state)) {
            Remediation ended = r;
            ended.state = State::kFailed;
            ASSERT_TRUE(IsOk(store_->WriteAndWait([ended, state](storage::Txn& txn) {
                return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), ended,
                                                 state);
            })));
        }
    }
}

TEST_F(RemediationServiceTest, SecondCancelIsFailedPrecondition) {
    auto created = Create(Request("i1"));
    ASSERT_TRUE(created);
    ASSERT_TRUE(Cancel(At(*created)));
    auto again = Cancel(At(*created));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Code::kFailedPrecondition);
    EXPECT_EQ(EventsOf(*created).size(), 2u);
}

// docs/http-api.md 4.6: cancel and the engine's pick-up race safely; exactly one wins.
TEST_F(RemediationServiceTest, CancelAndEnginePickUpExactlyOneWins) {
    for (int round = 0; round < 10; ++round) {
        auto created = Create(Request("i1", Mode::kVmOnly, "round " + std::to_string(round)));
        ASSERT_TRUE(created) << created.error().message;
        Remediation running = *created;
        running.state = State::kRunning;
        running.start_time = running.update_time;
        std::promise<Status> engine;
        auto cancel = std::make_shared<std::promise<Result<Remediation>>>();
        auto pick_up = [&] {
            store_->Write(
                [running](storage::Txn& txn) {
                    return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(),
                                                     running, State::kPending);
                },
                [&engine](Status s) { engine.set_value(s); });
        };
        auto cancel_call = [&] {
            service_->Cancel(Operator(), At(*created),
                             [cancel](Result<Remediation> r) { cancel->set_value(std::move(r)); });
        };
        if (round % 2) {
            pick_up();
            cancel_call();
        } else {
            cancel_call();
            pick_up();
        }
        const Status engine_won = engine.get_future().get();
        const Result<Remediation> cancel_result = cancel->get_future().get();
        EXPECT_NE(engine_won.ok(), cancel_result.has_value()) << "round " << round;
        const auto stored = Stored(created->id);
        ASSERT_TRUE(stored);
        EXPECT_EQ(stored->state, engine_won.ok() ? State::kRunning : State::kCancelled);
        // End it, so the next round can create again.
        if (stored->state == State::kRunning) {
            Remediation failed = *stored;
            failed.state = State::kFailed;
            ASSERT_TRUE(IsOk(store_->WriteAndWait([failed](storage::Txn& txn) {
                return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), failed,
                                                 State::kRunning);
            })));
        }
    }
}

TEST_F(RemediationServiceTest, WrongAddressIsNotFoundAndChangesNothing) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    for (const Address& wrong : {Address{"c1", "i2", "auto-1"}, Address{"c2", "i1", "auto-1"},
                                 Address{"c1", "i1", "auto-2"}, Address{"c9", "i9", "auto-1"}}) {
        const std::string where =
            wrong.cluster_id + "/" + wrong.instance_id + "/" + wrong.remediation_id;
        auto got = service_->Get(wrong);
        ASSERT_FALSE(got) << where;
        EXPECT_EQ(got.error().code, Code::kNotFound) << where;
        auto events = service_->Events(wrong);
        ASSERT_FALSE(events) << where;
        EXPECT_EQ(events.error().code, Code::kNotFound) << where;
        for (auto result : {Approve(wrong), Reject(wrong), Cancel(wrong)}) {
            ASSERT_FALSE(result) << where;
            EXPECT_EQ(result.error().code, Code::kNotFound) << where;
        }
    }
    ExpectSameRemediation(*Stored("auto-1"), waiting);
}

TEST_F(RemediationServiceTest, EventsFollowEveryTransitionInOrder) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    clock_.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(Approve(At(waiting), {"ok", Mode::kVmOnly}));
    clock_.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(Cancel(At(waiting)));
    const auto events = EventsOf(waiting);
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0].state, State::kPendingApproval);
    EXPECT_EQ(events[1].type, "mode_change");
    EXPECT_EQ(events[2].state, State::kPending);
    EXPECT_EQ(events[2].actor, "bob");
    EXPECT_EQ(events[3].state, State::kCancelled);
    EXPECT_EQ(events[3].actor, "alice");
    for (size_t i = 1; i < events.size(); ++i) EXPECT_LT(events[i - 1].time, events[i].time);
    for (size_t i : {0, 2, 3}) EXPECT_EQ(events[i].type, "state_change");
}

// ---- Timestamps ---------------------------------------------------------------------------

TEST_F(RemediationServiceTest, TimestampsStrictlyIncreaseWhateverTheClockDoes) {
    const Timestamp a = lifecycle_.NextTimestamp();
    EXPECT_EQ(a, TestEpoch());
    const Timestamp b = lifecycle_.NextTimestamp();  // clock stands still
    EXPECT_GT(b, a);
    clock_.Set(TestEpoch() - std::chrono::hours(1));  // clock goes back
    const Timestamp c = lifecycle_.NextTimestamp();
    EXPECT_GT(c, b);
    clock_.Set(TestEpoch() + std::chrono::hours(1));
    EXPECT_EQ(lifecycle_.NextTimestamp(), TestEpoch() + std::chrono::hours(1));
}

TEST_F(RemediationServiceTest, CreatesAtTheSameClockTimeGetDistinctCreateTimes) {
    auto a = Create(Request("i1"));
    auto b = Create(Request("i2"));
    ASSERT_TRUE(a && b);
    EXPECT_LT(a->create_time, b->create_time);
    EXPECT_LT(a->id, b->id);
}

// ---- List ---------------------------------------------------------------------------------

TEST_F(RemediationServiceTest, ListDefaultsToNewestFirstFiftyAPage) {
    InsertManyTerminal(60);
    ListRequest request = ListOf("c1", "-");
    request.page_size = 0;
    auto page = service_->List(request);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->remediations.size(), 50u);
    EXPECT_TRUE(page->has_next);
    EXPECT_FALSE(page->next_page_token.empty());
    EXPECT_EQ(page->remediations.front().id, "bulk-59");
    for (size_t i = 1; i < page->remediations.size(); ++i) {
        EXPECT_GT(page->remediations[i - 1].create_time, page->remediations[i].create_time);
    }
    ListRequest defaults;  // the struct's own defaults are the contract's
    EXPECT_EQ(defaults.page_size, 50);
    EXPECT_EQ(defaults.order, storage::OrderField::kCreateTime);
    EXPECT_TRUE(defaults.descending);
}

TEST_F(RemediationServiceTest, PageSizeAboveTheMaximumIsClamped) {
    InsertManyTerminal(1005);
    ListRequest request = ListOf("c1", "-");
    request.page_size = 5000;
    auto page = service_->List(request);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->remediations.size(), 1000u);
    EXPECT_TRUE(page->has_next);
    request.page_token = page->next_page_token;
    auto rest = service_->List(request);
    ASSERT_TRUE(rest) << rest.error().message;
    EXPECT_EQ(rest->remediations.size(), 5u);
    EXPECT_FALSE(rest->has_next);
}

TEST_F(RemediationServiceTest, NegativePageSizeIsInvalidArgument) {
    ListRequest request = ListOf("c1", "-");
    for (int size : {-1, -1000}) {
        request.page_size = size;
        auto page = service_->List(request);
        ASSERT_FALSE(page);
        EXPECT_EQ(page.error().code, Code::kInvalidArgument);
    }
}

TEST_F(RemediationServiceTest, WalkingAllPagesReturnsEveryRemediationOnceInEveryOrder) {
    std::vector<std::string> ids = InsertManyTerminal(40);
    for (auto order : {storage::OrderField::kCreateTime, storage::OrderField::kUpdateTime}) {
        for (bool descending : {true, false}) {
            ListRequest request = ListOf("c1", "-");
            request.order = order;
            request.descending = descending;
            std::vector<std::string> walked;
            for (const auto& r : WalkAll(request, 7)) walked.push_back(r.id);
            std::vector<std::string> expected = ids;
            if (descending) std::reverse(expected.begin(), expected.end());
            EXPECT_EQ(walked, expected);
        }
    }
}

TEST_F(RemediationServiceTest, PageSizeMayChangeBetweenPages) {
    std::vector<std::string> ids = InsertManyTerminal(20);
    ListRequest request = ListOf("c1", "-");
    request.descending = false;
    std::vector<std::string> walked;
    for (int size : {3, 10, 1, 50}) {
        request.page_size = size;
        auto page = service_->List(request);
        ASSERT_TRUE(page) << page.error().message;
        for (const auto& r : page->remediations) walked.push_back(r.id);
        if (!page->has_next) break;
        request.page_token = page->next_page_token;
    }
    EXPECT_EQ(walked, ids);
}

TEST_F(RemediationServiceTest, TokenOfAnotherListOrTamperedIsInvalidArgument) {
    InsertManyTerminal(10);
    ListRequest request = ListOf("c1", "-");
    request.page_size = 3;
    auto first = service_->List(request);
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->has_next);
    const std::string token = first->next_page_token;

    std::vector<ListRequest> others(6, request);
    others[0].descending = false;
    others[1].order = storage::OrderField::kUpdateTime;
    others[2].states = {State::kSucceeded};
    others[3].instance_id = "i1";
    others[4].modes = {Mode::kVmOnly};
    others[5].triggers = {Trigger::kManual};
    for (size_t i = 0; i < others.size(); ++i) {
        others[i].page_token = token;
        auto got = service_->List(others[i]);
        ASSERT_FALSE(got) << "variant " << i;
        EXPECT_EQ(got.error().code, Code::kInvalidArgument) << "variant " << i;
    }
    ListRequest tampered = request;
    tampered.page_token = token;
    tampered.page_token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
    auto got = service_->List(tampered);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kInvalidArgument);

    request.page_token = token;
    EXPECT_TRUE(service_->List(request));
}

TEST_F(RemediationServiceTest, ListOfAnUnknownClusterOrInstanceIsNotFound) {
    for (const auto& [cluster, instance] : std::vector<std::pair<std::string, std::string>>{
             {"c9", "-"}, {"c1", "j1"}, {"c1", "nope"}, {"c9", "i1"}}) {
        auto got = service_->List(ListOf(cluster, instance));
        ASSERT_FALSE(got) << cluster << "/" << instance;
        EXPECT_EQ(got.error().code, Code::kNotFound) << cluster << "/" << instance;
    }
    auto empty = service_->List(ListOf("c2", "-"));
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_TRUE(empty->remediations.empty());
    EXPECT_FALSE(empty->has_next);
    EXPECT_EQ(empty->next_page_token, "");
}

// Lists asked while a list is read are answered by the next read, all of them (an equal query
// read once), each as a read of its own would answer it (docs/design.md 7).
TEST_F(RemediationServiceTest, ListsAskedWhileAListIsReadAreReadTogether) {
    InsertManyTerminal(12);
    std::promise<void> release;
    storage::test_support::RoundTripStore store(*store_, release.get_future().share());
    RemediationService service(store, lifecycle_);
    const std::vector<ListRequest> asked = {ListOf("c1", "-"), ListOf("c1", "-"), ListOf("c1", "-"),
                                            ListOf("c1", "i2"), ListOf("c9", "-")};
    std::vector<std::future<Result<ListResult>>> got;
    got.push_back(std::async(std::launch::async, [&] { return service.List(asked[0]); }));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (store.reads() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(store.reads(), 1) << "the first list is being read";
    for (size_t i = 1; i < asked.size(); ++i) {
        got.push_back(std::async(std::launch::async, [&, i] { return service.List(asked[i]); }));
    }
    while (service.ListsWaiting() < 4 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(service.ListsWaiting(), 4u);
    release.set_value();
    for (size_t i = 0; i < asked.size(); ++i) {
        auto page = got[i].get();
        auto alone = service_->List(asked[i]);
        ASSERT_EQ(bool(page), bool(alone)) << "list " << i;
        if (!alone) {
            EXPECT_EQ(page.error().code, alone.error().code) << "list " << i;
            EXPECT_EQ(page.error().message, alone.error().message) << "list " << i;
            continue;
        }
        ASSERT_EQ(page->remediations.size(), alone->remediations.size()) << "list " << i;
        for (size_t k = 0; k < alone->remediations.size(); ++k) {
            ExpectSameRemediation(page->remediations[k], alone->remediations[k]);
        }
        EXPECT_EQ(page->has_next, alone->has_next);
        EXPECT_EQ(page->next_page_token, alone->next_page_token);
    }
    EXPECT_EQ(store.reads(), 2);  // the first list's, then one for the four after it
}

TEST_F(RemediationServiceTest, ListScopesToTheInstanceOrTheWholeCluster) {
    InsertManyTerminal(12);
    ASSERT_TRUE(Create(Request("j1")));
    auto i2 = service_->List(ListOf("c1", "i2"));
    ASSERT_TRUE(i2);
    EXPECT_EQ(i2->remediations.size(), 3u);
    for (const auto& r : i2->remediations) EXPECT_EQ(r.instance_id, "i2");
    auto all = service_->List(ListOf("c1", "-"));
    ASSERT_TRUE(all);
    EXPECT_EQ(all->remediations.size(), 12u);
    for (const auto& r : all->remediations) EXPECT_EQ(r.cluster_id, "c1");
}

TEST_F(RemediationServiceTest, ListFiltersAreAnyOf) {
    auto a = Create(Request("i1", Mode::kVmOnly));
    auto b = Create(Request("i2", Mode::kRebootVm));
    const Remediation c = InsertDirect("auto-1", "i3", State::kPendingApproval);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(Cancel(At(*a)));
    auto ids = [&](ListRequest request) {
        std::set<std::string> out;
        for (const auto& r : WalkAll(std::move(request), 10)) out.insert(r.id);
        return out;
    };
    ListRequest by_state = ListOf("c1", "-");
    by_state.states = {State::kPending, State::kPendingApproval};
    EXPECT_EQ(ids(by_state), (std::set<std::string>{b->id, c.id}));
    ListRequest by_mode = ListOf("c1", "-");
    by_mode.modes = {Mode::kRebootVm};
    EXPECT_EQ(ids(by_mode), (std::set<std::string>{b->id, c.id}));
    ListRequest by_trigger = ListOf("c1", "-");
    by_trigger.triggers = {Trigger::kManual};
    EXPECT_EQ(ids(by_trigger), (std::set<std::string>{a->id, b->id}));
    ListRequest combined = ListOf("c1", "-");
    combined.triggers = {Trigger::kManual};
    combined.states = {State::kCancelled};
    EXPECT_EQ(ids(combined), (std::set<std::string>{a->id}));
}

// docs/http-api.md 4.3: walking all pages returns every remediation exactly once even while new
// ones are created (create_time order).
TEST_F(RemediationServiceTest, PagingIsStableWhileRemediationsAreCreated) {
    const std::vector<std::string> before = InsertManyTerminal(150, "old");
    std::atomic<bool> stop{false};
    std::atomic<int> created{0};
    std::thread writer([&] {
        for (int i = 0; i < 400 && !stop; ++i) {
            auto r = Create(Request("i" + std::to_string(i % 4 + 1)));
            if (!r) {
                ADD_FAILURE() << r.error().message;
                return;
            }
            if (!Cancel(At(*r))) {
                ADD_FAILURE() << "cancel failed";
                return;
            }
            ++created;
        }
    });
    while (created.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (bool descending : {true, false}) {
        ListRequest request = ListOf("c1", "-");
        request.descending = descending;
        request.page_size = 7;
        std::vector<Remediation> walked;
        for (int page = 0; page < 1000; ++page) {
            auto got = service_->List(request);
            ASSERT_TRUE(got) << got.error().message;
            walked.insert(walked.end(), got->remediations.begin(), got->remediations.end());
            if (!got->has_next) break;
            request.page_token = got->next_page_token;
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        std::set<std::string> seen;
        for (size_t i = 0; i < walked.size(); ++i) {
            EXPECT_TRUE(seen.insert(walked[i].id).second) << "twice: " << walked[i].id;
            if (i > 0) {
                if (descending) {
                    EXPECT_GT(walked[i - 1].create_time, walked[i].create_time);
                } else {
                    EXPECT_LT(walked[i - 1].create_time, walked[i].create_time);
                }
            }
        }
        for (const auto& id : before) EXPECT_TRUE(seen.contains(id)) << "missed " << id;
        EXPECT_GT(walked.size(), before.size()) << (descending ? "desc" : "asc");
    }
    stop = true;
    writer.join();
    EXPECT_GT(created.load(), 3);
}

// ---- Two-person approval and batch approve (docs/http-api.md 11) -----------------------------

// The same service with approval.two_person_modes [HOST_AWARE, EVICT_WITHOUT_REPLACEMENT].
class TwoPersonApprovalTest : public RemediationServiceTest {
protected:
    void SetUp() override {
        RemediationServiceTest::SetUp();
        service_ = std::make_unique<RemediationService>(*store_, two_person_);
    }

    Result<std::vector<BatchOutcome>> Batch(std::vector<std::string> ids, Review review = {},
                                            auth::Principal caller = Approver(),
                                            const std::string& cluster_id = "c1") {
        auto promise = std::make_shared<std::promise<Result<std::vector<BatchOutcome>>>>();
        auto future = promise->get_future();
        service_->BatchApprove(
            caller, cluster_id, std::move(ids), std::move(review),
            [promise](Result<std::vector<BatchOutcome>> r) { promise->set_value(std::move(r)); });
        return future.get();
    }

    static auth::Principal ApproverNamed(const std::string& name) {
        return {name, auth::Role::kApprover, {}};
    }

    remediation::Lifecycle two_person_{clock_, {Mode::kHostAware, Mode::kEvictWithoutReplacement}};
};

TEST_F(TwoPersonApprovalTest, ManualRemediationOfATwoPersonModeWaitsForApproval) {
    auto two_person = Create(Request("i1", Mode::kHostAware));
    ASSERT_TRUE(two_person) << two_person.error().message;
    EXPECT_EQ(two_person->state, State::kPendingApproval);
    EXPECT_EQ(two_person->trigger, Trigger::kManual);
    auto other = Create(Request("i2", Mode::kVmOnly));
    ASSERT_TRUE(other) << other.error().message;
    EXPECT_EQ(other->state, State::kPending);
}

TEST_F(TwoPersonApprovalTest, RequesterCannotApproveTheirOwnButASecondApproverCan) {
    auto created = Create(Request("i1", Mode::kHostAware), ApproverNamed("alice"));
    ASSERT_TRUE(created) << created.error().message;
    auto own = Approve(At(*created), {}, ApproverNamed("alice"));
    ASSERT_FALSE(own);
    EXPECT_EQ(own.error().code, Code::kPermissionDenied);
    EXPECT_NE(own.error().message.find("second person"), std::string::npos) << own.error().message;
    ExpectSameRemediation(*Stored(created->id), *created);

    auto second = Approve(At(*created), {"checked", std::nullopt}, ApproverNamed("bob"));
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->state, State::kPending);
    EXPECT_EQ(second->reviewed_by, "bob");
    // The timeline says who approved, and that it was the second person.
    const auto events = EventsOf(*created);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].actor, "bob");
    EXPECT_NE(events[1].detail.find("requested by alice"), std::string::npos) << events[1].detail;
}

TEST_F(TwoPersonApprovalTest, RequesterCannotOverrideTheirOwnOutOfOrIntoATwoPersonMode) {
    auto created = Create(Request("i1", Mode::kEvictWithoutReplacement), ApproverNamed("alice"));
    ASSERT_TRUE(created) << created.error().message;
    for (Mode mode : {Mode::kHostAware, Mode::kRebootVm}) {
        auto got = Approve(At(*created), {"", mode}, ApproverNamed("alice"));
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().code, Code::kPermissionDenied);
    }
    ExpectSameRemediation(*Stored(created->id), *created);
    EXPECT_EQ(EventsOf(*created).size(), 1u);
}

TEST_F(TwoPersonApprovalTest, OverrideIntoATwoPersonModeIsRefusedAndChangesNothing) {
    const Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    auto got = Approve(At(waiting), {"", Mode::kHostAware});
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kPermissionDenied);
    ExpectSameRemediation(*Stored("auto-1"), waiting);
    EXPECT_EQ(EventsOf(waiting).size(), 1u);
    // Other overrides are as before.
    auto lighter = Approve(At(waiting), {"", Mode::kVmOnly});
    ASSERT_TRUE(lighter) << lighter.error().message;
    EXPECT_EQ(lighter->mode, Mode::kVmOnly);
}

TEST_F(TwoPersonApprovalTest, AnAutomatedRemediationOfATwoPersonModeTakesAnyApprover) {
    Remediation waiting = InsertDirect("auto-1", "i1", State::kPendingApproval);
    Status escalated = store_->WriteAndWait([&](storage::Txn& txn) {
        return two_person_.ChangeMode(txn, waiting, Mode::kHostAware, "system:health-checks",
                                      "escalated");
    });
    ASSERT_TRUE(escalated) << escalated.error().message;
    auto approved = Approve(At(waiting));
    ASSERT_TRUE(approved) << approved.error().message;
    EXPECT_EQ(approved->mode, Mode::kHostAware);
    EXPECT_EQ(approved->state, State::kPending);
}

TEST_F(TwoPersonApprovalTest, BatchApprovesEachIdOnItsOwnInRequestOrder) {
    const Remediation a = InsertDirect("auto-a", "i1", State::kPendingApproval);
    const Remediation queued = InsertDirect("man-b", "i2", State::kPending);
    const Remediation other_cluster = InsertDirect("auto-j", "j1", State::kPendingApproval);
    const Remediation c = InsertDirect("auto-c", "i3", State::kPendingApproval);
    auto own = Create(Request("i4", Mode::kHostAware), ApproverNamed("bob"));
    ASSERT_TRUE(own) << own.error().message;

    auto got = Batch({"auto-a", "unknown-id", "man-b", "auto-j", own->id, "auto-c"},
                     {"batch", std::nullopt});
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->size(), 6u);
    const std::vector<std::string> order = {"auto-a", "unknown-id", "man-b",
                                            "auto-j", own->id,      "auto-c"};
    for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ((*got)[i].id, order[i]);
    ASSERT_TRUE((*got)[0].outcome);
    EXPECT_EQ((*got)[0].outcome->state, State::kPending);
    EXPECT_EQ((*got)[0].outcome->review_comment, "batch");
    EXPECT_EQ((*got)[1].outcome.error().code, Code::kNotFound);
    EXPECT_EQ((*got)[2].outcome.error().code, Code::kFailedPrecondition);
    EXPECT_EQ((*got)[3].outcome.error().code, Code::kNotFound);
    EXPECT_EQ((*got)[4].outcome.error().code, Code::kPermissionDenied);
    ASSERT_TRUE((*got)[5].outcome);
    EXPECT_EQ((*got)[5].outcome->reviewed_by, "bob");

    EXPECT_EQ(Stored("auto-a")->state, State::kPending);
    EXPECT_EQ(Stored("auto-c")->state, State::kPending);
    ExpectSameRemediation(*Stored("man-b"), queued);
    ExpectSameRemediation(*Stored("auto-j"), other_cluster);
    ExpectSameRemediation(*Stored(own->id), *own);
    (void)a;
    (void)c;
}

TEST_F(TwoPersonApprovalTest, BatchOfNoneTooManyOrRepeatedIdsIsInvalidArgumentAndChangesNothing) {
    const Remediation a = InsertDirect("auto-a", "i1", State::kPendingApproval);
    std::vector<std::string> too_many(kMaxBatchApprove + 1, "x");
    too_many[0] = "auto-a";
    for (size_t i = 1; i < too_many.size(); ++i) too_many[i] = "id-" + std::to_string(i);
    std::vector<std::string> just_enough(too_many.begin(), too_many.end() - 1);
    for (const auto& ids :
         {std::vector<std::string>{}, too_many, std::vector<std::string>{"auto-a", "auto-a"}}) {
        auto got = Batch(ids);
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().code, Code::kInvalidArgument);
    }
    auto power_cycle = Batch({"auto-a"}, {"", Mode::kHostPowerCycle});
    ASSERT_FALSE(power_cycle);
    EXPECT_EQ(power_cycle.error().code, Code::kInvalidArgument);
    ExpectSameRemediation(*Stored("auto-a"), a);
    // A thousand is allowed.
    auto thousand = Batch(just_enough);
    ASSERT_TRUE(thousand) << thousand.error().message;
    EXPECT_EQ(thousand->size(), kMaxBatchApprove);
    EXPECT_TRUE((*thousand)[0].outcome);
}

TEST_F(TwoPersonApprovalTest, BatchOfAnUnknownClusterIsNotFound) {
    auto got = Batch({"auto-a"}, {}, Approver(), "no-such-cluster");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace noderepair::remediation
