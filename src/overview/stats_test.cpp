#include "overview/stats.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "model/incident.hpp"
#include "model/inventory.hpp"
#include "remediation/lifecycle.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/sqlite/connection.hpp"
#include "storage/sqlite/schema.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::overview {
namespace {

using namespace std::chrono_literals;
using model::Mode;
using model::Remediation;
using model::Stage;
using model::State;
using remediation::Event;
using storage::test_support::IsOk;
using storage::test_support::ScopedTempDir;
using storage::test_support::TestEpoch;

// A percentile read back from the histogram is the middle of its bucket: within 4.5%.
void ExpectAbout(const std::optional<double>& got, double want) {
    ASSERT_TRUE(got.has_value()) << "want " << want;
    EXPECT_NEAR(*got, want, want * 0.045) << "want " << want;
}

model::RemediationEvent Change(Timestamp t, State s) { return {t, "state_change", s, "", "x", ""}; }

model::RemediationEvent Step(Timestamp t, std::string name) {
    return {t, "step", std::nullopt, std::move(name), "engine", ""};
}

int64_t Count(const ModeCounts& counts, Mode mode) {
    for (const auto& [m, n] : counts) {
        if (m == mode) return n;
    }
    return 0;
}

const StageStats& StageOf(const ClusterStats& stats, Stage stage) {
    for (const auto& s : stats.stages) {
        if (s.stage == stage) return s;
    }
    ADD_FAILURE() << "no stage " << model::WireName(stage);
    return stats.stages.front();
}

TEST(DurationBucket, ReadsBackWithinItsWidthAtEveryScale) {
    for (double seconds : {0.002, 0.05, 1.0, 7.3, 60.0, 599.0, 3600.0, 86400.0 * 3}) {
        const auto d = std::chrono::microseconds(int64_t(seconds * 1e6));
        EXPECT_NEAR(model::BucketSeconds(model::DurationBucket(d)), seconds, seconds * 0.045)
            << seconds;
    }
    EXPECT_EQ(model::DurationBucket(0us), 0);
    EXPECT_EQ(model::BucketSeconds(0), 0.0);
    EXPECT_LT(model::DurationBucket(59s), model::DurationBucket(61s));
}

TEST(UtcDay, FormatsTheIsoDate) {
    EXPECT_EQ(model::FormatUtcDay(model::UtcDay(TestEpoch())), "2026-01-01");
    EXPECT_EQ(model::FormatUtcDay(model::UtcDay(TestEpoch() + 24h * 59 + 23h)), "2026-03-01");
    EXPECT_EQ(model::FormatUtcDay(0), "1970-01-01");
}

// docs/http-api.md 11: the stages by the states that bound them. A host mode: quarantine is
// QUARANTINING, action QUARANTINED, recovery RUNNING.
TEST(StagesOf, SplitsAHostModeTimelineByState) {
    const Timestamp t0 = TestEpoch();
    std::vector<model::RemediationEvent> timeline = {
        Change(t0, State::kPendingApproval),
        {t0 + 5s, "mode_change", std::nullopt, "", "automation", "escalated"},
        Change(t0 + 10s, State::kPending),
        Change(t0 + 13s, State::kQuarantining),
        Step(t0 + 14s, "cordon_host"),
        Change(t0 + 20s, State::kQuarantined),
        Step(t0 + 21s, "delete_vm"),
        Change(t0 + 40s, State::kRunning),
        Step(t0 + 41s, "provision_vm"),
        Step(t0 + 60s, "wait_ready"),
        Step(t0 + 80s, "rejoin"),
        Change(t0 + 100s, State::kSucceeded),
    };
    auto samples = model::StagesOf(timeline);
    ASSERT_EQ(samples.size(), 5u);
    EXPECT_EQ(samples[0].stage, Stage::kWaitingForApproval);
    EXPECT_EQ(samples[0].duration, 10s);
    EXPECT_EQ(samples[1].stage, Stage::kQueued);
    EXPECT_EQ(samples[1].duration, 3s);
    EXPECT_EQ(samples[2].stage, Stage::kQuarantine);
    EXPECT_EQ(samples[2].duration, 7s);
    EXPECT_EQ(samples[3].stage, Stage::kAction);
    EXPECT_EQ(samples[3].duration, 20s);
    EXPECT_EQ(samples[4].stage, Stage::kRecovery);
    EXPECT_EQ(samples[4].duration, 60s);

    // Still running: the stage in progress has no sample yet.
    timeline.resize(8);
    samples = model::StagesOf(timeline);
    ASSERT_EQ(samples.size(), 4u);
    EXPECT_EQ(samples.back().stage, Stage::kAction);
}

// A mode without quarantine: RUNNING is action until its first provision_vm or wait_ready step.
TEST(StagesOf, SplitsRunningAtTheFirstRecoveryStep) {
    const Timestamp t0 = TestEpoch();
    auto samples = model::StagesOf({
        Change(t0, State::kPending),
        Change(t0 + 2s, State::kRunning),
        Step(t0 + 3s, "drain"),
        Step(t0 + 4s, "reboot_vm"),
        Step(t0 + 9s, "wait_ready"),
        Step(t0 + 12s, "wait_ready"),
        Step(t0 + 15s, "rejoin"),
        Change(t0 + 20s, State::kSucceeded),
    });
    ASSERT_EQ(samples.size(), 3u);
    EXPECT_EQ(samples[1].stage, Stage::kAction);
    EXPECT_EQ(samples[1].duration, 7s);
    EXPECT_EQ(samples[2].stage, Stage::kRecovery);
    EXPECT_EQ(samples[2].duration, 11s);
    // Evicting has no recovery; a cancel ends the queue.
    samples = model::StagesOf({Change(t0, State::kPending), Change(t0 + 1s, State::kRunning),
                               Step(t0 + 2s, "evict_vm"), Change(t0 + 5s, State::kFailed)});
    ASSERT_EQ(samples.size(), 2u);
    EXPECT_EQ(samples[1].stage, Stage::kAction);
    samples = model::StagesOf({Change(t0, State::kPending), Change(t0 + 1s, State::kCancelled)});
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_EQ(samples[0].stage, Stage::kQueued);
}

TEST(ParseDays, TakesOneToAYear) {
    EXPECT_EQ(*ParseDays(std::nullopt), 30);
    EXPECT_EQ(*ParseDays("1"), 1);
    EXPECT_EQ(*ParseDays("365"), 365);
    for (const char* bad : {"", "0", "366", "-1", "abc", "30x", " 30", "1e2", "99999999999"}) {
        auto parsed = ParseDays(std::string(bad));
        ASSERT_FALSE(parsed) << bad;
        EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << bad;
    }
}

TEST(Percentile, NearestRankOverBuckets) {
    std::vector<storage::StageBucketCount> buckets;
    EXPECT_FALSE(Percentile(buckets, 0.5));
    const int b10 = model::DurationBucket(10s);
    const int b30 = model::DurationBucket(30s);
    buckets = {{Stage::kQueued, b10, 9}, {Stage::kQueued, b30, 1}};
    ExpectAbout(Percentile(buckets, 0.5), 10);
    ExpectAbout(Percentile(buckets, 0.9), 10);
    ExpectAbout(Percentile(buckets, 0.91), 30);
}

struct Backend {
    std::string name;
    std::function<std::string(const std::string& dir)> url;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// The aggregates as the one writer keeps them, on every backend.
class OverviewStats : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        const std::string url = GetParam().url(dir_.path());
        if (url.empty()) GTEST_SKIP() << GetParam().name << " is not available here";
        store_ = storage::test_support::OpenWithTestFleet(url);
        ASSERT_NE(store_, nullptr);
    }
    void TearDown() override {
        if (store_) store_->Close();
    }

    Remediation Create(const std::string& instance, Mode mode, State state) {
        Remediation r = storage::test_support::MakeRemediation("", instance, state, {});
        r.mode = r.requested_mode = mode;
        EXPECT_TRUE(IsOk(store_->WriteAndWait(
            [&](storage::Txn& txn) { return lifecycle_.Create(txn, r, "alice", "created"); })));
        return r;
    }
    void Apply(Remediation& r, Event event) {
        EXPECT_TRUE(IsOk(store_->WriteAndWait(
            [&](storage::Txn& txn) { return lifecycle_.Apply(txn, r, event, "bob", ""); })));
    }
    // The engine's record of a step starting (engine/executor.cpp Note).
    void Step(const Remediation& r, const std::string& name) {
        EXPECT_TRUE(IsOk(store_->WriteAndWait([&](storage::Txn& txn) {
            return txn.Remediations().AppendEvent(
                r.id, {lifecycle_.NextTimestamp(), "step", std::nullopt, name, "engine", ""});
        })));
    }
    ClusterStats Stats(const std::string& cluster, int days) {
        auto stats = ReadStats(*store_, cluster, days, clock_.Now());
        EXPECT_TRUE(stats) << stats.error().message;
        return stats ? *stats : ClusterStats{};
    }

    ScopedTempDir dir_;
    FakeClock clock_{TestEpoch() + 10h};
    remediation::Lifecycle lifecycle_{clock_};
    std::unique_ptr<storage::Store> store_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends, OverviewStats,
    ::testing::Values(
        Backend{"Sqlite", [](const std::string& d) { return "sqlite:" + d + "/o.db"; }},
        Backend{"Postgres",
                [](const std::string&) { return storage::test_support::NewPostgresDatabase(); }}),
    [](const ::testing::TestParamInfo<Backend>& backend) { return backend.param.name; });

// docs/http-api.md 11 ("Overview"): a seeded history, every number checked.
TEST_P(OverviewStats, CountsDaysOutcomesStagePercentilesAndWhatNeedsAPerson) {
    // Day 1 (2026-01-01): r1 waits 60 s for approval, queues 30 s, acts 100 s, recovers 50 s.
    Remediation r1 = Create("i1", Mode::kVmOnly, State::kPendingApproval);
    clock_.Advance(60s);
    Apply(r1, Event::kApprove);
    clock_.Advance(30s);
    Apply(r1, Event::kStartRun);
    clock_.Advance(100s);
    Step(r1, "wait_ready");
    clock_.Advance(50s);
    Apply(r1, Event::kSucceed);
    // r2 queues 10 s and fails after 20 s of action, never reaching recovery.
    Remediation r2 = Create("i2", Mode::kRebootVm, State::kPending);
    clock_.Advance(10s);
    Apply(r2, Event::kStartRun);
    clock_.Advance(20s);
    Apply(r2, Event::kFail);
    // r3 (a host mode) is created on day 1, quarantined for 60 s, acts for 120 s and recovers
    // until day 2.
    Remediation r3 = Create("i3", Mode::kHostAware, State::kPending);
    clock_.Advance(5s);
    Apply(r3, Event::kStartQuarantine);
    clock_.Advance(60s);
    Apply(r3, Event::kQuarantined);
    clock_.Advance(120s);
    Apply(r3, Event::kStartRun);
    clock_.Set(TestEpoch() + 24h + 1h);
    Apply(r3, Event::kSucceed);
    // Day 2: waiting for approval now, and cancelled ones (no outcome, still timed).
    Create("i4", Mode::kHostAware, State::kPendingApproval);
    Remediation r5 = Create("j1", Mode::kVmOnly, State::kPendingApproval);
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Settings().Put(model::AttentionSetting("i2"), "top of the ladder"));
        NR_RETURN_IF_ERROR(txn.Settings().Put(model::AttentionSetting("i1"), "again"));
        return txn.Settings().Put(model::AttentionSetting("j1"), "other cluster");
    })));

    // Day 3, asking for three days: the first is 2026-01-01.
    clock_.Set(TestEpoch() + 48h + 2h);
    ClusterStats stats = Stats("c1", 3);
    ASSERT_EQ(stats.days.size(), 3u);
    EXPECT_EQ(model::FormatUtcDay(stats.days[0].day), "2026-01-01");
    EXPECT_EQ(model::FormatUtcDay(stats.days[2].day), "2026-01-03");
    const auto& d1 = stats.days[0];
    EXPECT_EQ(Count(d1.created, Mode::kVmOnly), 1);
    EXPECT_EQ(Count(d1.created, Mode::kRebootVm), 1);
    EXPECT_EQ(Count(d1.created, Mode::kHostAware), 1);
    EXPECT_EQ(d1.created.size(), 3u);
    EXPECT_EQ(Count(d1.succeeded, Mode::kVmOnly), 1);
    EXPECT_EQ(d1.succeeded.size(), 1u);
    EXPECT_EQ(Count(d1.failed, Mode::kRebootVm), 1);
    EXPECT_EQ(d1.failed.size(), 1u);
    const auto& d2 = stats.days[1];
    EXPECT_EQ(Count(d2.created, Mode::kHostAware), 1) << "i4; j1 is in c2";
    EXPECT_EQ(d2.created.size(), 1u);
    EXPECT_EQ(Count(d2.succeeded, Mode::kHostAware), 1) << "r3 ended on day 2";
    EXPECT_TRUE(d2.failed.empty());
    EXPECT_TRUE(stats.days[2].created.empty() && stats.days[2].succeeded.empty() &&
                stats.days[2].failed.empty());

    ASSERT_EQ(stats.stages.size(), 5u);
    EXPECT_EQ(stats.stages[0].stage, Stage::kWaitingForApproval);
    EXPECT_EQ(StageOf(stats, Stage::kWaitingForApproval).count, 1);
    ExpectAbout(StageOf(stats, Stage::kWaitingForApproval).p50_s, 60);
    const auto& queued = StageOf(stats, Stage::kQueued);
    EXPECT_EQ(queued.count, 3);  // 30 s, 10 s, 5 s
    ExpectAbout(queued.p50_s, 10);
    ExpectAbout(queued.p90_s, 30);
    const auto& quarantine = StageOf(stats, Stage::kQuarantine);
    EXPECT_EQ(quarantine.count, 1);
    ExpectAbout(quarantine.p50_s, 60);
    const auto& action = StageOf(stats, Stage::kAction);
    EXPECT_EQ(action.count, 3);  // 100 s, 20 s, and r3's 120 s in QUARANTINED
    ExpectAbout(action.p50_s, 100);
    ExpectAbout(action.p90_s, 120);
    const auto& recovery = StageOf(stats, Stage::kRecovery);
    EXPECT_EQ(recovery.count, 2);
    ExpectAbout(recovery.p50_s, 50);
    // r3 ran from 10 h + 455 s (every step before it) to 25 h.
    ExpectAbout(recovery.p90_s, (15h - 455s) / 1.0s);

    EXPECT_EQ(stats.needs_person.approvals_waiting, 1);
    EXPECT_EQ(stats.needs_person.attention, 2);
    EXPECT_EQ(stats.needs_person.suspect_hosts, 0);
    EXPECT_EQ(stats.needs_person.open_incidents, 0);

    // One day back: only day 3, with nothing in it; the stage histograms of no day.
    ClusterStats today = Stats("c1", 1);
    ASSERT_EQ(today.days.size(), 1u);
    EXPECT_TRUE(today.days[0].created.empty());
    EXPECT_EQ(StageOf(today, Stage::kQueued).count, 0);
    EXPECT_FALSE(StageOf(today, Stage::kQueued).p50_s);

    // Rejecting r5 (in c2) times its wait in c2, not c1.
    Apply(r5, Event::kReject);
    EXPECT_EQ(StageOf(Stats("c1", 3), Stage::kWaitingForApproval).count, 1);
    EXPECT_EQ(StageOf(Stats("c2", 3), Stage::kWaitingForApproval).count, 1);
    EXPECT_EQ(Stats("c2", 3).needs_person.approvals_waiting, 0);

    auto unknown = ReadStats(*store_, "nope", 30, clock_.Now());
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Code::kNotFound);
}

// The notifications' reads: approvals waiting past a cutoff, oldest first, and nodes with
// attention, on every backend.
TEST_P(OverviewStats, ListsWaitingApprovalsAndAttention) {
    Remediation old = Create("i1", Mode::kVmOnly, State::kPendingApproval);
    clock_.Advance(10min);
    Create("i2", Mode::kVmOnly, State::kPendingApproval);
    Create("i3", Mode::kVmOnly, State::kPending);
    ASSERT_TRUE(IsOk(store_->WriteAndWait([](storage::Txn& txn) {
        return txn.Settings().Put(model::AttentionSetting("j1"), "why");
    })));
    auto waiting = storage::test_support::ReadValue<std::vector<storage::WaitingApproval>>(
        *store_,
        [&](storage::Reader& r) { return r.Stats().ListWaitingApproval(clock_.Now() - 5min, 10); });
    ASSERT_TRUE(waiting);
    ASSERT_EQ(waiting->size(), 1u);
    EXPECT_EQ((*waiting)[0].remediation_id, old.id);
    EXPECT_EQ((*waiting)[0].cluster_id, "c1");
    EXPECT_EQ((*waiting)[0].instance_name, "i1-name");
    EXPECT_EQ((*waiting)[0].create_time, old.create_time);
    auto attention = storage::test_support::ReadValue<std::vector<storage::AttentionNode>>(
        *store_, [](storage::Reader& r) { return r.Stats().ListAttention(10); });
    ASSERT_TRUE(attention);
    ASSERT_EQ(attention->size(), 1u);
    EXPECT_EQ((*attention)[0].cluster_id, "c2");
    EXPECT_EQ((*attention)[0].instance_id, "j1");
    EXPECT_EQ((*attention)[0].why, "why");
}

// Suspect hosts count for the clusters whose faults landed on them, open incidents for their own
// cluster; both are listed for the notifications.
TEST_P(OverviewStats, CountsAndListsSuspectHostsAndOpenIncidents) {
    const Timestamp now = clock_.Now();
    ASSERT_TRUE(IsOk(store_->WriteAndWait([&](storage::Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().AddHostFault({"h1", "", "c1", "i1", "Xid79", "", now}));
        NR_RETURN_IF_ERROR(txn.Inventory().AddHostFault({"h5", "", "c2", "j1", "Xid79", "", now}));
        NR_RETURN_IF_ERROR(txn.Inventory().SetHostSuspect("h1", "two instances faulted"));
        NR_RETURN_IF_ERROR(txn.Inventory().SetHostSuspect("h5", "three faults"));
        model::Incident open{"inc-1",      "c1", "r1",       model::IncidentState::kOpen,
                             {"i1", "i2"}, 6,    now - 1min, now,
                             std::nullopt, ""};
        model::Incident closed{"inc-2", "c1", "",         model::IncidentState::kDismissed,
                               {"i3"},  5,    now - 2min, now,
                               now,     "bob"};
        NR_RETURN_IF_ERROR(txn.Inventory().PutIncident(open));
        return txn.Inventory().PutIncident(closed);
    })));
    const auto c1 = Stats("c1", 1).needs_person;
    EXPECT_EQ(c1.suspect_hosts, 1) << "h1; h5's faults are c2's";
    EXPECT_EQ(c1.open_incidents, 1) << "the dismissed one is not open";
    const auto c2 = Stats("c2", 1).needs_person;
    EXPECT_EQ(c2.suspect_hosts, 1);
    EXPECT_EQ(c2.open_incidents, 0);

    auto hosts = storage::test_support::ReadValue<std::vector<storage::SuspectHost>>(
        *store_, [](storage::Reader& r) { return r.Stats().ListSuspectHosts(10); });
    ASSERT_TRUE(hosts);
    ASSERT_EQ(hosts->size(), 2u);
    EXPECT_EQ((*hosts)[0].host_name, "h1");
    EXPECT_EQ((*hosts)[0].why, "two instances faulted");
    auto incidents = storage::test_support::ReadValue<std::vector<storage::OpenIncident>>(
        *store_, [](storage::Reader& r) { return r.Stats().ListOpenIncidents(10); });
    ASSERT_TRUE(incidents);
    ASSERT_EQ(incidents->size(), 1u);
    EXPECT_EQ((*incidents)[0].id, "inc-1");
    EXPECT_EQ((*incidents)[0].rack, "r1");
    EXPECT_EQ((*incidents)[0].signals, 6);

    // Cleared, the host no longer counts.
    ASSERT_TRUE(IsOk(store_->WriteAndWait(
        [](storage::Txn& txn) { return txn.Inventory().SetHostSuspect("h1", ""); })));
    EXPECT_EQ(Stats("c1", 1).needs_person.suspect_hosts, 0);
}

// The migration that adds the aggregates back-fills them from the history already stored, as
// the one writer would have counted it.
TEST(OverviewBackfill, TheMigrationCountsTheStoredHistory) {
    ScopedTempDir dir;
    const std::string path = dir.path() + "/old.db";
    {
        auto conn = storage::sqlite::Connection::Open(path);
        ASSERT_TRUE(conn) << conn.error().message;
        ASSERT_TRUE(storage::sqlite::Migrate(**conn, 11));
        const int64_t t0 = ToMicros(TestEpoch());
        const int64_t s = 1'000'000;
        const std::string sql =
            "INSERT INTO clusters(cluster_id, cluster_name, status) VALUES('c1', 'one', "
            "'Ready');"
            "INSERT INTO remediations(seq, id, cluster_id, instance_id, instance_name, mode, "
            "requested_mode, trigger, state, create_time, update_time, end_time) VALUES"
            "(1, 'r1', 'c1', 'i1', 'n1', 4, 4, 1, 6, " +
            std::to_string(t0) + ", 0, " + std::to_string(t0 + 25 * 3600 * s) +
            "), (2, 'r2', 'c1', 'i2', 'n2', 1, 1, 2, 1, " + std::to_string(t0) + ", 0, NULL);" +
            "INSERT INTO remediation_events(remediation_id, n, time, type, state, step) VALUES"
            "('r1', 1, " +
            std::to_string(t0) +
            ", 'state_change', 2, NULL),"
            "('r1', 2, " +
            std::to_string(t0 + 40 * s) +
            ", 'state_change', 5, NULL),"
            "('r1', 3, " +
            std::to_string(t0 + 100 * s) +
            ", 'step', NULL, 'wait_ready'),"
            "('r1', 4, " +
            std::to_string(t0 + 25 * 3600 * s) +
            ", 'state_change', 6, NULL),"
            "('r2', 1, " +
            std::to_string(t0) + ", 'state_change', 1, NULL);";
        ASSERT_TRUE((*conn)->Exec(sql.c_str()));
    }
    auto conn = storage::sqlite::Connection::Open(path);
    ASSERT_TRUE(conn);
    ASSERT_TRUE(storage::sqlite::Migrate(**conn));
    storage::sql::Connection& db = **conn;
    storage::sql::SqlStats stats(db);
    const int64_t day = model::UtcDay(TestEpoch());
    auto daily = stats.ListDaily("c1", day, day + 1);
    ASSERT_TRUE(daily);
    ASSERT_EQ(daily->size(), 3u);
    // Day 1: r1 (REBOOT_VM) and r2 (VM_ONLY) created; day 2: r1 succeeded.
    EXPECT_EQ((*daily)[0].mode, Mode::kVmOnly);
    EXPECT_EQ((*daily)[0].created, 1);
    EXPECT_EQ((*daily)[1].mode, Mode::kRebootVm);
    EXPECT_EQ((*daily)[1].created, 1);
    EXPECT_EQ((*daily)[2].day, day + 1);
    EXPECT_EQ((*daily)[2].succeeded, 1);
    EXPECT_EQ((*daily)[2].created, 0);
    auto buckets = stats.SumStageBuckets("c1", day, day + 1);
    ASSERT_TRUE(buckets);
    ASSERT_EQ(buckets->size(), 3u) << "r1's queued, action and recovery; r2 has not ended";
    EXPECT_EQ((*buckets)[0].stage, Stage::kQueued);
    EXPECT_EQ((*buckets)[0].bucket, model::DurationBucket(40s));
    EXPECT_EQ((*buckets)[1].stage, Stage::kAction);
    EXPECT_EQ((*buckets)[1].bucket, model::DurationBucket(60s));
    EXPECT_EQ((*buckets)[2].stage, Stage::kRecovery);
    EXPECT_EQ((*buckets)[2].bucket, model::DurationBucket(25h - 100s));
}

}  // namespace
}  // namespace noderepair::overview
