#include "notify/notifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "model/inventory.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::notify {
namespace {

using namespace std::chrono_literals;
using model::Remediation;
using model::State;
using storage::test_support::IsOk;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

// What one push held: each alert's alertname, instance, and whether it was resolved (endsAt
// not after the push).
struct Pushed {
    std::string alertname;
    std::string instance;
    std::string starts_at;
    bool resolved = false;
};

class NotifierTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = storage::test_support::OpenWithTestFleet("sqlite:" + dir_.path() + "/n.db");
        ASSERT_NE(store_, nullptr);
        ConditionOptions conditions;
        conditions.approval_after = 600s;
        NotifierOptions options;
        options.interval = 30s;
        options.is_leader = [this] { return leader_; };
        notifier_ = std::make_unique<Notifier>(
            *store_, clock_, Conditions(conditions),
            [this](const std::string& body) -> Status {
                bodies_.push_back(body);
                if (refuse_) return Unavailable("alertmanager is down");
                return OkStatus();
            },
            options, &metrics_);
    }
    void TearDown() override {
        notifier_.reset();
        if (store_) store_->Close();
    }

    Remediation Create(const std::string& instance) {
        Remediation r =
            storage::test_support::MakeRemediation("", instance, State::kPendingApproval, {});
        EXPECT_TRUE(IsOk(store_->WriteAndWait(
            [&](storage::Txn& txn) { return lifecycle_.Create(txn, r, "automation", ""); })));
        return r;
    }

    // The last push, decoded.
    std::vector<Pushed> Last() {
        std::vector<Pushed> out;
        if (bodies_.empty()) return out;
        const Timestamp now = clock_.Now();
        const boost::json::value pushed = boost::json::parse(bodies_.back());
        for (const auto& v : pushed.as_array()) {
            const auto& a = v.as_object();
            Pushed p;
            p.alertname = a.at("labels").at("alertname").as_string().c_str();
            if (const auto* i = a.at("labels").as_object().if_contains("instance")) {
                p.instance = i->as_string().c_str();
            }
            p.starts_at = a.at("startsAt").as_string().c_str();
            auto ends = ParseRfc3339(a.at("endsAt").as_string().c_str());
            EXPECT_TRUE(ends);
            p.resolved = ends && *ends <= now;
            if (!p.resolved) {
                EXPECT_EQ(*ends, now + 4 * 30s) << "four rounds ahead";
            }
            out.push_back(p);
        }
        return out;
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch()};
    remediation::Lifecycle lifecycle_{clock_};
    telemetry::Metrics metrics_;
    std::unique_ptr<storage::Store> store_;
    std::unique_ptr<Notifier> notifier_;
    std::vector<std::string> bodies_;
    bool leader_ = true;
    bool refuse_ = false;
};

// docs/http-api.md 11: NoderepairApprovalWaiting once a remediation waited approval_after_s,
// re-sent every round while it waits, resolved (endsAt now) once when it no longer does.
TEST_F(NotifierTest, ApprovalWaitingFiresAfterTheDelayAndResolvesOnApproval) {
    Remediation r = Create("i1");
    notifier_->RunOnce();
    EXPECT_TRUE(bodies_.empty()) << "nothing holds: nothing is sent";
    clock_.Advance(599s);
    notifier_->RunOnce();
    EXPECT_TRUE(bodies_.empty()) << "not yet old enough";
    clock_.Advance(1s);
    notifier_->RunOnce();
    auto pushed = Last();
    ASSERT_EQ(pushed.size(), 1u);
    EXPECT_EQ(pushed[0].alertname, "NoderepairApprovalWaiting");
    EXPECT_EQ(pushed[0].instance, "i1");
    EXPECT_EQ(pushed[0].starts_at, FormatRfc3339(r.create_time));
    EXPECT_FALSE(pushed[0].resolved);
    EXPECT_NE(bodies_.back().find("\"cluster\":\"c1\""), std::string::npos);
    EXPECT_NE(bodies_.back().find("\"severity\":\"warning\""), std::string::npos);

    clock_.Advance(30s);
    notifier_->RunOnce();
    EXPECT_EQ(bodies_.size(), 2u) << "re-sent while it holds";

    ASSERT_TRUE(IsOk(store_->WriteAndWait([&](storage::Txn& txn) {
        return lifecycle_.Apply(txn, r, remediation::Event::kApprove, "bob", "");
    })));
    clock_.Advance(30s);
    notifier_->RunOnce();
    pushed = Last();
    ASSERT_EQ(pushed.size(), 1u);
    EXPECT_TRUE(pushed[0].resolved);
    EXPECT_EQ(pushed[0].starts_at, FormatRfc3339(r.create_time));
    clock_.Advance(30s);
    notifier_->RunOnce();
    EXPECT_EQ(bodies_.size(), 3u) << "resolved once, then nothing more";
}

TEST_F(NotifierTest, NodeAttentionKeepsItsFirstStartAndResolvesWhenCleared) {
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Settings().Put(model::AttentionSetting("j1"), "past the top of the ladder");
    })));
    notifier_->RunOnce();
    auto first = Last();
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].alertname, "NoderepairNodeAttention");
    EXPECT_EQ(first[0].instance, "j1");
    clock_.Advance(30s);
    notifier_->RunOnce();
    ASSERT_EQ(Last().size(), 1u);
    EXPECT_EQ(Last()[0].starts_at, first[0].starts_at);
    EXPECT_NE(bodies_.back().find("\"severity\":\"critical\""), std::string::npos);
    ASSERT_TRUE(IsOk(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Settings().Delete(model::AttentionSetting("j1")); })));
    notifier_->RunOnce();
    ASSERT_EQ(Last().size(), 1u);
    EXPECT_TRUE(Last()[0].resolved);
}

// A dead Alertmanager: the push fails, is counted, and the resolution is sent again next round.
TEST_F(NotifierTest, AFailedPushRetriesTheResolutionAndIsCounted) {
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Settings().Put(model::AttentionSetting("i2"), "why");
    })));
    notifier_->RunOnce();
    ASSERT_TRUE(IsOk(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Settings().Delete(model::AttentionSetting("i2")); })));
    refuse_ = true;
    notifier_->RunOnce();
    ASSERT_TRUE(Last()[0].resolved);
    refuse_ = false;
    notifier_->RunOnce();
    ASSERT_EQ(Last().size(), 1u);
    EXPECT_TRUE(Last()[0].resolved) << "sent again after the failure";
    const size_t pushes = bodies_.size();
    notifier_->RunOnce();
    EXPECT_EQ(bodies_.size(), pushes);
    const std::string text = metrics_.Render({});
    EXPECT_NE(text.find("noderepair_notify_posts_total{result=\"failed\"} 1"), std::string::npos)
        << text;
    EXPECT_NE(text.find("noderepair_notify_posts_total{result=\"sent\"} 2"), std::string::npos);
}

TEST_F(NotifierTest, OnlyTheLeaderSends) {
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Settings().Put(model::AttentionSetting("i2"), "why");
    })));
    leader_ = false;
    notifier_->RunOnce();
    EXPECT_TRUE(bodies_.empty());
    leader_ = true;
    notifier_->RunOnce();
    EXPECT_EQ(bodies_.size(), 1u);
}

TEST_F(NotifierTest, TheThreadRunsRoundsUntilStopped) {
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Settings().Put(model::AttentionSetting("i2"), "why");
    })));
    std::atomic<int> pushes{0};
    NotifierOptions options;
    options.interval = 1s;
    Notifier threaded(
        *store_, clock_, Conditions({}),
        [&](const std::string&) -> Status {
            ++pushes;
            return OkStatus();
        },
        options);
    threaded.Start();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pushes.load() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    threaded.Stop();
    EXPECT_GE(pushes.load(), 1);
    threaded.Stop();
}

}  // namespace
}  // namespace noderepair::notify
