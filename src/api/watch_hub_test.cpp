#include "api/watch_hub.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/store_contract_test.hpp"

namespace noderepair::api {
namespace {

using model::State;
using storage::test_support::MakeRemediation;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

// A stream that keeps what it was sent, or refuses once closed.
class FakeStream final : public ResponseStream {
public:
    bool Send(std::string data) override {
        std::lock_guard lock(mu_);
        if (closed_) return false;
        text_ += data;
        return true;
    }
    bool IsClosed() const override {
        std::lock_guard lock(mu_);
        return closed_;
    }
    void Close() {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    std::string Text() const {
        std::lock_guard lock(mu_);
        return text_;
    }
    int Count(const std::string& needle) const {
        std::string text = Text();
        int n = 0;
        for (size_t at = text.find(needle); at != std::string::npos;
             at = text.find(needle, at + 1)) {
            ++n;
        }
        return n;
    }

private:
    mutable std::mutex mu_;
    bool closed_ = false;
    std::string text_;
};

class WatchHubTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = storage::OpenStore("sqlite:" + dir_.path() + "/w.db", {});
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
    }
    void TearDown() override { store_->Close(); }

    // Commits `n` remediations of instance `instance` in one transaction, recorded in the
    // change stream as any replica's commit is. Ended ones, so an instance may have many.
    void Commit(const std::string& instance, int n, int first = 0) {
        Status done = store_->WriteAndWait([&](storage::Txn& txn) -> Status {
            for (int k = first; k < first + n; ++k) {
                auto r = MakeRemediation("r-" + instance + "-" + std::to_string(k), instance,
                                         State::kSucceeded, TestEpoch());
                NR_RETURN_IF_ERROR(
                    txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r));
            }
            return OkStatus();
        });
        ASSERT_TRUE(done) << done.error().message;
    }

    // Waits until `pred` holds or two seconds passed.
    template <class F>
    static bool Eventually(F pred) {
        for (int i = 0; i < 400 && !pred(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return pred();
    }

    static std::string LastId(const std::string& text) {
        auto at = text.rfind("id: ");
        return text.substr(at + 4, text.find('\n', at) - at - 4);
    }

    ScopedTempDir dir_;
    std::unique_ptr<storage::Store> store_;
};

TEST_F(WatchHubTest, StreamsGetReadyThenTheirClustersChangesOnly) {
    WatchHub hub(*store_);
    auto all = std::make_shared<FakeStream>();
    auto one = std::make_shared<FakeStream>();
    auto other = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", all);
    hub.Subscribe({"c1", "i2", ""}, "", one);
    hub.Subscribe({"c2", "", ""}, "", other);
    EXPECT_TRUE(all->Text().starts_with("event: ready\ndata: {}\n\n"));
    Commit("i1", 2);
    Commit("i2", 1);
    ASSERT_TRUE(Eventually([&] { return all->Count("event: remediation") == 3; }));
    ASSERT_TRUE(Eventually([&] { return one->Count("event: remediation") == 1; }));
    EXPECT_EQ(other->Count("event: remediation"), 0);
    EXPECT_NE(one->Text().find("\"instance_id\":\"i2\""), std::string::npos);
}

TEST_F(WatchHubTest, LastEventIdReplaysTheMissedChangesOrResets) {
    WatchHub hub(*store_, {.history = 4});
    // Sees every change: once it has, the hub's thread has put them in its history too.
    auto probe = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", probe);
    auto published = [&](int n) {
        return Eventually([&] { return probe->Count("event: remediation") == n; });
    };
    auto first = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", first);
    Commit("i1", 1);
    ASSERT_TRUE(Eventually([&] { return first->Count("event: remediation") == 1; }));
    const std::string seen = LastId(first->Text());
    first->Close();
    Commit("i1", 2, 1);

    ASSERT_TRUE(published(3));
    auto resumed = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, seen, resumed);
    EXPECT_EQ(resumed->Count("event: remediation"), 2) << resumed->Text();
    EXPECT_EQ(resumed->Count("event: reset"), 0);
    EXPECT_EQ(resumed->Text().find("r-i1-0"), std::string::npos) << "nothing seen twice";

    // Five more changes push the first ones out of a history of four: too late to replay.
    Commit("i1", 5, 3);
    ASSERT_TRUE(published(8));
    auto late = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, seen, late);
    EXPECT_EQ(late->Count("event: reset"), 1);
    EXPECT_EQ(late->Count("event: remediation"), 0);

    auto stranger = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "0000-1", stranger);
    EXPECT_EQ(stranger->Count("event: reset"), 1);
}

TEST_F(WatchHubTest, EventIdsAreTheDatabasesChangeNumbers) {
    WatchHub hub(*store_);
    auto all = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", all);
    Commit("i1", 3);
    ASSERT_TRUE(Eventually([&] { return all->Count("event: remediation") == 3; }));
    const std::string text = all->Text();
    EXPECT_NE(text.find("id: 1\nevent: remediation"), std::string::npos) << text;
    EXPECT_EQ(LastId(text), "3");
    EXPECT_EQ(hub.LastPublished(), 3);
}

// Another replica's commits reach this one through the database alone: this hub is no
// observer of the store, so only its tail of the change stream finds them.
TEST_F(WatchHubTest, ChangesCommittedByAnotherProcessArriveByPolling) {
    WatchHub hub(*store_, {.poll = std::chrono::milliseconds(20)});
    auto all = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", all);
    for (int k = 0; k < 5; ++k) Commit("i1", 1, k);
    ASSERT_TRUE(Eventually([&] { return all->Count("event: remediation") == 5; }));
    // In commit order.
    size_t at = 0;
    for (int k = 0; k < 5; ++k) {
        auto next = all->Text().find("r-i1-" + std::to_string(k), at);
        ASSERT_NE(next, std::string::npos) << k;
        at = next;
    }
}

// Local commits closer together than the tail's gap are read together: a stream of them costs
// the database one read per gap, not one per commit. The first, after a quiet spell, is read at
// once.
TEST_F(WatchHubTest, CommitsInQuickSuccessionAreReadTogether) {
    storage::test_support::RoundTripStore counted(*store_);
    WatchHub hub(counted,
                 {.poll = std::chrono::seconds(60), .tail_gap = std::chrono::milliseconds(500)});
    auto all = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", all);
    auto commit = [&](int k) {
        Commit("i1", 1, k);
        hub.OnCommit({1, {}, {storage::RemediationChange{}}});
    };
    commit(0);
    ASSERT_TRUE(Eventually([&] { return all->Count("event: remediation") == 1; }));
    const int reads = counted.reads();
    for (int k = 1; k <= 5; ++k) commit(k);
    ASSERT_TRUE(Eventually([&] { return all->Count("event: remediation") == 6; }));
    EXPECT_EQ(counted.reads() - reads, 1);
}

// A restarted server (a new hub) replays from the database what a client missed while it
// was away, without a reset.
TEST_F(WatchHubTest, LastEventIdWorksAcrossARestart) {
    std::string seen;
    {
        WatchHub before(*store_);
        auto first = std::make_shared<FakeStream>();
        before.Subscribe({"c1", "", ""}, "", first);
        Commit("i1", 2);
        ASSERT_TRUE(Eventually([&] { return first->Count("event: remediation") == 2; }));
        seen = LastId(first->Text());
    }
    Commit("i1", 3, 2);
    WatchHub after(*store_);
    auto resumed = std::make_shared<FakeStream>();
    after.Subscribe({"c1", "", ""}, seen, resumed);
    EXPECT_EQ(resumed->Count("event: reset"), 0) << resumed->Text();
    EXPECT_EQ(resumed->Count("event: remediation"), 3) << resumed->Text();
    EXPECT_EQ(resumed->Text().find("r-i1-1"), std::string::npos) << "nothing seen twice";
}

// An id newer than this replica has read waits for the tail (another replica committed it a
// moment ago); one that no replica reaches in time is reset.
TEST_F(WatchHubTest, AnIdAheadOfTheTailWaitsForItThenResets) {
    WatchHub hub(*store_,
                 {.poll = std::chrono::hours(1), .future_id_wait = std::chrono::milliseconds(300)});
    Commit("i1", 2);
    auto ahead = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "1", ahead);  // the hub has not read change 1 yet
    auto wake = [&] { hub.OnCommit({1, {}, {storage::RemediationChange{}}}); };
    wake();
    ASSERT_TRUE(Eventually([&] { return hub.LastPublished() == 2; }));
    EXPECT_EQ(ahead->Count("event: reset"), 0) << ahead->Text();
    EXPECT_EQ(ahead->Count("event: remediation"), 1) << "only what came after 1";
    EXPECT_NE(ahead->Text().find("r-i1-1"), std::string::npos);

    auto stranger = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "999999", stranger);
    EXPECT_EQ(stranger->Count("event: reset"), 0);
    ASSERT_TRUE(Eventually([&] {
        wake();
        return stranger->Count("event: reset") == 1;
    }));
    Commit("i1", 1, 2);
    wake();
    ASSERT_TRUE(Eventually([&] { return stranger->Count("event: remediation") == 1; }));
}

// A replica that fell behind further than the database keeps tells its streams to re-list.
TEST_F(WatchHubTest, ChangesPrunedBeforeTheyWereReadResetEveryStream) {
    WatchHub hub(*store_, {.poll = std::chrono::hours(1)});
    auto all = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", all);
    Commit("i1", 5);
    ASSERT_TRUE(store_->WriteAndWait([](storage::Txn& txn) -> Status {
        auto pruned = txn.Remediations().PruneChanges(2);
        return pruned ? OkStatus() : pruned.error();
    }));
    hub.OnCommit({1, {}, {storage::RemediationChange{}}});
    ASSERT_TRUE(Eventually([&] { return hub.LastPublished() == 5; }));
    EXPECT_EQ(all->Count("event: reset"), 1);
    EXPECT_EQ(all->Count("event: remediation"), 2) << all->Text();
}

TEST_F(WatchHubTest, ClosedStreamsAreForgottenAndStopEndsEverything) {
    WatchHub hub(*store_);
    auto gone = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", gone);
    EXPECT_EQ(hub.Subscribers(), 1u);
    gone->Close();
    Commit("i1", 1);
    EXPECT_TRUE(Eventually([&] { return hub.Subscribers() == 0; }));
    auto open = std::make_shared<FakeStream>();
    hub.Subscribe({"c1", "", ""}, "", open);
    hub.Stop();
    EXPECT_EQ(hub.Subscribers(), 0u);
    Commit("i1", 1, 1);  // after Stop: ignored, no crash
}

}  // namespace
}  // namespace noderepair::api
