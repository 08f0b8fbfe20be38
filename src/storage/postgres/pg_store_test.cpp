#include "storage/postgres/pg_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/audit.hpp"
#include "storage/postgres/connection.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::storage::postgres {
namespace {

using test_support::IsOk;
using test_support::ReadValue;

std::unique_ptr<PgStore> OpenPg(const std::string& url, int writers) {
    auto opened = PgStore::Open(url, 1024, 1024, nullptr, writers);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(opened).value() : nullptr;
}

// Several writers (docs/design.md 6): a change still running on one writer does not hold up
// another thread's write, which is in another writer's lane.
TEST(PgStore, SecondWriterCommitsWhileTheFirstChangeIsStillRunning) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto store = OpenPg(url, 2);
    ASSERT_NE(store, nullptr);

    std::promise<void> started;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::promise<Status> first_done;
    store->Write(
        [&started, released](Txn& txn) -> Status {
            started.set_value();
            released.wait_for(std::chrono::seconds(10));
            return txn.Settings().Put("first", "1");
        },
        [&first_done](Status s) { first_done.set_value(std::move(s)); });
    ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);

    std::promise<Status> second_done;
    auto second = second_done.get_future();
    std::thread([&] {
        store->Write([](Txn& txn) { return txn.Settings().Put("second", "2"); },
                     [&second_done](Status s) { second_done.set_value(std::move(s)); });
    }).join();
    // With one writer this waits for the first change's 10 s.
    ASSERT_EQ(second.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_TRUE(IsOk(second.get()));

    release.set_value();
    auto first = first_done.get_future();
    ASSERT_EQ(first.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(IsOk(first.get()));
    store->Close();
}

// The writes one thread queues without waiting commit in the order queued, whatever the number
// of writers (docs/design.md 6: the thread's lane): the second waits for the first, which is
// still running, instead of committing beside it in another writer's batch.
TEST(PgStore, AThreadsSecondWriteWaitsForItsFirstOnAnotherWritersWay) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto store = OpenPg(url, 3);
    ASSERT_NE(store, nullptr);

    std::promise<void> started;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::mutex mu;
    std::vector<std::string> answered;
    std::promise<void> both;
    auto answer = [&](const std::string& which) {
        return [&, which](Status s) {
            EXPECT_TRUE(IsOk(s)) << which;
            std::lock_guard lock(mu);
            answered.push_back(which);
            if (answered.size() == 2) both.set_value();
        };
    };
    store->Write(
        [&started, released](Txn& txn) -> Status {
            started.set_value();
            released.wait_for(std::chrono::seconds(10));
            return txn.Settings().Put("k", "first");
        },
        answer("first"));
    ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    std::promise<void> second_ran;
    auto second = second_ran.get_future();
    store->Write(
        [&second_ran](Txn& txn) -> Status {
            second_ran.set_value();
            return txn.Settings().Put("k", "second");
        },
        answer("second"));
    // A free writer would have run it by now (one shared queue did); in the thread's lane it
    // waits for the first to commit.
    EXPECT_EQ(second.wait_for(std::chrono::seconds(2)), std::future_status::timeout);
    release.set_value();
    ASSERT_EQ(both.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(answered, (std::vector<std::string>{"first", "second"}));
    auto value = ReadValue<std::optional<std::string>>(
        *store, [](Reader& r) { return r.Settings().Get("k"); });
    ASSERT_TRUE(value) << value.error().message;
    EXPECT_EQ(*value, "second");
    store->Close();
}

// Writers committing side by side keep one unbroken audit chain and exact aggregates: every
// committed change's record and addition is there once, a rolled-back change's are not.
TEST(PgStore, ConcurrentWritersKeepOneAuditChainAndExactAggregates) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto store = OpenPg(url, 4);
    ASSERT_NE(store, nullptr);

    constexpr int kChanges = 400;
    constexpr int kThreads = 4;  // a lane each
    std::vector<std::promise<Status>> done(kChanges);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = t; i < kChanges; i += kThreads) {
                const bool fails = i % 5 == 0;
                store->Write(
                    [i, fails](Txn& txn) -> Status {
                        NR_RETURN_IF_ERROR(txn.Settings().Put("k" + std::to_string(i), "v"));
                        NR_RETURN_IF_ERROR(
                            txn.Stats().AddDaily("c1", 20000, model::Mode::kVmOnly, 1, 0, 0));
                        if (fails) return FailedPrecondition("rolled back");
                        return OkStatus();
                    },
                    [&done, i](Status s) { done[size_t(i)].set_value(std::move(s)); });
            }
        });
    }
    for (auto& t : threads) t.join();
    int committed = 0;
    for (int i = 0; i < kChanges; ++i) {
        auto f = done[size_t(i)].get_future();
        ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        const bool ok = IsOk(f.get());
        EXPECT_EQ(ok, i % 5 != 0) << i;
        committed += ok ? 1 : 0;
    }

    auto verdict = ReadValue<AuditVerdict>(
        *store, [](Reader& r) { return VerifyAuditChain(r.Audit(), std::nullopt); });
    ASSERT_TRUE(verdict) << verdict.error().message;
    EXPECT_TRUE(verdict->intact) << verdict->problem;
    EXPECT_EQ(verdict->checked, committed);

    auto daily = ReadValue<std::vector<DailyCount>>(
        *store, [](Reader& r) { return r.Stats().ListDaily("c1", 20000, 20000); });
    ASSERT_TRUE(daily) << daily.error().message;
    ASSERT_EQ(daily->size(), 1u);
    EXPECT_EQ(daily->front().created, committed);
    store->Close();
}

// A create as the service makes one, of mode `mode`; `fails` makes it fail after its writes
// (its row rolls back and runs each change again alone).
TxnWork CreateAsTheServiceDoes(const std::string& id, const std::string& instance_id,
                               model::Mode mode = model::Mode::kVmOnly, bool fails = false) {
    return [id, instance_id, mode, fails](Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(instance_id));
        if (!instance) return NotFound(instance_id);
        NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive(instance_id));
        if (active) return FailedPrecondition(active->id);
        auto r = test_support::MakeRemediation(id, instance_id, model::State::kPending,
                                               test_support::TestEpoch());
        r.mode = r.requested_mode = mode;
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(UncheckedRemediationWriteKey(), r));
        NR_RETURN_IF_ERROR(
            txn.Remediations().AppendEvent(id, {test_support::TestEpoch(), "state_change",
                                                model::State::kPending, "", "t", "created"}));
        if (fails) return Internal("failed after its writes");
        return txn.Settings().Delete("attention/" + instance_id);
    };
}

// Tells when a batch of `size` changes committed, how often it waited for the server and how
// many statements it sent without waiting.
class BatchWaits final : public CommitObserver {
public:
    struct Counts {
        uint64_t round_trips = 0;
        uint64_t statements_sent = 0;
    };
    explicit BatchWaits(size_t size) : size_(size) {}
    void OnCommit(const CommitReport& report) override {
        std::lock_guard lock(mu_);
        if (report.batch_size == size_ && !seen_) {
            seen_ = true;
            counts_.set_value({report.round_trips, report.statements_sent});
        }
    }
    std::future<Counts> Counted() { return counts_.get_future(); }

private:
    const size_t size_;
    std::mutex mu_;
    bool seen_ = false;
    std::promise<Counts> counts_;
};

// Creates that declare their reads (store.hpp ReadAhead) wait for the server a few times per
// batch, not per create: their reads are one statement sent with BEGIN, and their row one
// savepoint with one wait at its end (three waits each before: two reads and a flush). Their
// appends go as one statement for the row (three per create before: the remediation, its
// event, the setting's delete).
TEST(PgStore, ABatchOfCreatesThatReadAheadWaitsAFewTimesNotOncePerCreate) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto store = OpenPg(url, 1);
    ASSERT_NE(store, nullptr);
    constexpr int kCreates = 32;
    FleetImport fleet;
    model::Cluster cluster{"c1", "cluster one", "Ready", {}};
    for (int i = 0; i <= kCreates; ++i) {  // one more, for the warm-up
        cluster.gpu_worker_nodes.push_back(
            test_support::TestInstance("p" + std::to_string(i), "c1", ""));
    }
    fleet.clusters = {cluster};
    ASSERT_TRUE(IsOk(
        store->WriteAndWait([&fleet](Txn& txn) { return txn.Inventory().ImportFleet(fleet); })));
    // Each statement's first use prepares it (a wait or two): not what is measured here.
    std::promise<Status> warmed;
    store->WriteWithReadAhead(ReadAhead{"p32"}, CreateAsTheServiceDoes("warm-up", "p32"),
                              [&warmed](Status s) { warmed.set_value(std::move(s)); });
    ASSERT_TRUE(IsOk(warmed.get_future().get()));
    BatchWaits waits(kCreates);
    store->AddObserver(&waits);

    std::promise<void> started;
    std::promise<void> release;
    auto released = release.get_future().share();
    store->Write(  // holds the writer, so the creates queue up for one batch
        [&started, released](Txn&) {
            started.set_value();
            released.wait_for(std::chrono::seconds(10));
            return OkStatus();
        },
        [](Status) {});
    ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    std::vector<std::promise<Status>> done(kCreates);
    for (int i = 0; i < kCreates; ++i) {
        const std::string instance_id = "p" + std::to_string(i);
        const std::string id = "r" + std::to_string(i);
        store->WriteWithReadAhead(
            ReadAhead{instance_id}, CreateAsTheServiceDoes(id, instance_id),
            [&done, i](Status s) { done[size_t(i)].set_value(std::move(s)); });
    }
    release.set_value();
    for (auto& d : done) {
        auto f = d.get_future();
        ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        EXPECT_TRUE(IsOk(f.get()));
    }
    auto counted = waits.Counted();
    ASSERT_EQ(counted.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const BatchWaits::Counts counts = counted.get();
    // BEGIN with the reads, the row's wait, the audit head, COMMIT; a few to spare.
    EXPECT_LE(counts.round_trips, 8u);
    // BEGIN, SAVEPOINT, the row's appends, RELEASE, and the commit's own (the audit records,
    // the audit head, the recorded changes, the change numbers, the aggregates).
    EXPECT_LE(counts.statements_sent, 12u);
    store->Close();
}

// Rows of creates counted per statement (migration 13) stay exact with several writers on each
// of two replicas of one database: every committed create counted once by its state, mode and
// trigger, a rolled-back one not at all.
TEST(PgStore, RowsOfCreatesOnTwoReplicasWithTwoWritersEachCountEveryCommittedCreateOnce) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    constexpr int kCreates = 600;
    std::vector<std::unique_ptr<PgStore>> replicas;
    replicas.push_back(OpenPg(url, 2));
    replicas.push_back(OpenPg(url, 2));
    ASSERT_NE(replicas[0], nullptr);
    ASSERT_NE(replicas[1], nullptr);
    FleetImport fleet;
    model::Cluster cluster{"c1", "cluster one", "Ready", {}};
    for (int i = 0; i < kCreates; ++i) {
        cluster.gpu_worker_nodes.push_back(
            test_support::TestInstance("p" + std::to_string(i), "c1", ""));
    }
    fleet.clusters = {cluster};
    ASSERT_TRUE(IsOk(replicas[0]->WriteAndWait(
        [&fleet](Txn& txn) { return txn.Inventory().ImportFleet(fleet); })));

    std::vector<std::promise<Status>> done(kCreates);
    std::map<model::Mode, int64_t> expected;
    for (int i = 0; i < kCreates; ++i) {
        const model::Mode mode = i % 3 == 0 ? model::Mode::kHostAware : model::Mode::kVmOnly;
        const bool fails = i % 7 == 0;
        if (!fails) ++expected[mode];
        const std::string instance_id = "p" + std::to_string(i);
        replicas[size_t(i % 2)]->WriteWithReadAhead(
            ReadAhead{instance_id},
            CreateAsTheServiceDoes("r" + std::to_string(i), instance_id, mode, fails),
            [&done, i](Status s) { done[size_t(i)].set_value(std::move(s)); });
    }
    for (int i = 0; i < kCreates; ++i) {
        auto f = done[size_t(i)].get_future();
        ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        EXPECT_EQ(IsOk(f.get()), i % 7 != 0) << i;
    }

    for (const auto& replica : replicas) {
        auto counts = ReadValue<std::vector<RemediationCount>>(
            *replica, [](Reader& r) { return r.Remediations().Count(); });
        ASSERT_TRUE(counts) << counts.error().message;
        std::map<model::Mode, int64_t> counted;
        for (const auto& c : *counts) {
            EXPECT_EQ(c.state, model::State::kPending);
            EXPECT_EQ(c.trigger, model::Trigger::kManual);
            counted[c.mode] += c.count;
        }
        EXPECT_EQ(counted, expected);
    }
    for (const auto& replica : replicas) replica->Close();
}

// Two replicas create for one instance at once: the change whose read found no active
// remediation and whose insert then met the other's committed one runs again, and its read now
// sees it (a refusal by its own rules, not a unique violation).
TEST(PgStore, ACreateThatLostTheRaceForItsInstanceRunsAgainAndSeesTheWinner) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto mine = OpenPg(url, 1);
    auto other = OpenPg(url, 1);
    ASSERT_NE(mine, nullptr);
    ASSERT_NE(other, nullptr);
    ASSERT_TRUE(IsOk(mine->WriteAndWait(
        [](Txn& txn) { return txn.Inventory().ImportFleet(test_support::TestFleet()); })));
    int attempts = 0;
    Status lost = mine->WriteAndWait([&](Txn& txn) -> Status {
        ++attempts;
        NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive("i1"));
        if (active) return FailedPrecondition("active: " + active->id);
        if (attempts == 1) {
            // The other replica's create commits between this change's read and its insert.
            NR_RETURN_IF_ERROR(other->WriteAndWait([](Txn& theirs) {
                return theirs.Remediations().Insert(
                    storage::UncheckedRemediationWriteKey(),
                    test_support::MakeRemediation("theirs", "i1", model::State::kPending,
                                                  test_support::TestEpoch()));
            }));
        }
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(
            storage::UncheckedRemediationWriteKey(),
            test_support::MakeRemediation("mine", "i1", model::State::kPending,
                                          test_support::TestEpoch())));
        return txn.Remediations().AppendEvent(
            "mine", {test_support::TestEpoch(), "state_change", model::State::kPending, "", "t",
                     "created mine"});
    });
    ASSERT_FALSE(lost);
    EXPECT_EQ(lost.error().code, Code::kFailedPrecondition) << lost.error().message;
    EXPECT_EQ(lost.error().message, "active: theirs");
    EXPECT_EQ(attempts, 2);
    EXPECT_FALSE(test_support::GetStored(*mine, "mine"));
    mine->Close();
    other->Close();
}

// A list page runs on its statement's generic plan: planned again for each page (what the
// server picks for it unprompted, its LIMIT parameter making the generic plan look dear), the
// planning cost PostgreSQL more than the page (bench/RESULTS.md). Statements after it plan as
// before.
TEST(PgStore, AListPageRunsOnItsGenericPlanAndOnlyIt) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto store = test_support::OpenWithTestFleet(url);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(IsOk(store->WriteAndWait([](Txn& txn) {
        return txn.Remediations().Insert(
            UncheckedRemediationWriteKey(),
            test_support::MakeRemediation("r1", "i1", model::State::kPending,
                                          test_support::TestEpoch()));
    })));
    store->Close();

    auto opened = Connection::Open(url);
    ASSERT_TRUE(opened) << opened.error().message;
    Connection& conn = **opened;
    ASSERT_TRUE(IsOk(conn.Exec("BEGIN")));
    sql::SqlRemediations remediations(conn, nullptr);
    ListQuery q;
    q.cluster_id = "c1";
    constexpr int kPages = 8;
    for (int i = 0; i < kPages; ++i) {
        auto page = remediations.ListInScope(q);
        ASSERT_TRUE(page) << page.error().message;
        ASSERT_TRUE(*page);
        ASSERT_EQ((*page)->remediations.size(), 1u);
    }
    auto plans = conn.Prepare(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE "
        "'WITH page AS%'");
    ASSERT_TRUE(plans) << plans.error().message;
    auto row = plans->Step();
    ASSERT_TRUE(row) << row.error().message;
    ASSERT_TRUE(*row);
    EXPECT_EQ(plans->Int(0), kPages);
    EXPECT_EQ(plans->Int(1), 0);
    auto mode = conn.Prepare("SELECT current_setting('plan_cache_mode')");
    ASSERT_TRUE(mode) << mode.error().message;
    row = mode->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(mode->Text(0), "auto");
}

// The generic plan PostgreSQL caches for `statement` (the text it was prepared from contains
// `marker`) run on `ids`, one line per plan node.
std::string GenericPlanOf(Connection& conn, const std::string& marker, const std::string& ids) {
    auto name = conn.Prepare("SELECT name FROM pg_prepared_statements WHERE statement LIKE ?1");
    EXPECT_TRUE(name) << name.error().message;
    name->Bind(1, "%" + marker + "%");
    auto found = name->Step();
    EXPECT_TRUE(found && *found) << "no prepared statement contains " << marker;
    if (!found || !*found) return "";
    const std::string statement = name->Text(0);
    EXPECT_TRUE(IsOk(conn.Exec("SET plan_cache_mode = force_generic_plan")));
    auto plan = conn.Prepare("EXPLAIN EXECUTE " + statement + "('" + ids + "')");
    EXPECT_TRUE(plan) << plan.error().message;
    auto lines = plan->Rows([](const sql::Statement& row) { return row.Text(0); });
    EXPECT_TRUE(lines) << lines.error().message;
    EXPECT_TRUE(IsOk(conn.Exec("RESET plan_cache_mode")));
    std::string text;
    for (const auto& line : lines ? *lines : std::vector<std::string>{}) text += line + "\n";
    return text;
}

// Reads of many rows by key (coalesced GETs, a webhook's instances) stay an index search per
// key on the plan the server caches for them, whatever the tables held when it was made: merged
// into a join, that plan hashed the keys against a scan of the whole table on every read.
TEST(PgStore, ReadsOfManyByKeyStayIndexSearchesOnTheirGenericPlans) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server here";
    auto store = test_support::OpenWithTestFleet(url);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(IsOk(store->WriteAndWait([](Txn& txn) -> Status {
        for (int i = 0; i < 500; ++i) {
            NR_RETURN_IF_ERROR(txn.Remediations().Insert(
                UncheckedRemediationWriteKey(),
                test_support::MakeRemediation("r" + std::to_string(i), "i1",
                                              model::State::kSucceeded,
                                              test_support::TestEpoch())));
        }
        return OkStatus();
    })));
    store->Close();

    auto opened = Connection::Open(url);
    ASSERT_TRUE(opened) << opened.error().message;
    Connection& conn = **opened;
    ASSERT_TRUE(IsOk(conn.Exec("ANALYZE")));
    sql::SqlRemediations remediations(conn, nullptr);
    auto many = remediations.GetMany({"r1", "r2", "nope"});
    ASSERT_TRUE(many) << many.error().message;
    EXPECT_EQ(many->size(), 2u);
    sql::SqlInventory inventory(conn, nullptr);
    auto instances = inventory.GetInstances({"i1", "i2"});
    ASSERT_TRUE(instances) << instances.error().message;
    EXPECT_EQ(instances->size(), 2u);

    const std::string gets =
        GenericPlanOf(conn, "FROM remediations WHERE id = k.id", R"(["r1","r2"])");
    EXPECT_EQ(gets.find("Hash"), std::string::npos) << gets;
    EXPECT_NE(gets.find("Index"), std::string::npos) << gets;
    const std::string reads =
        GenericPlanOf(conn, "FROM instances WHERE instance_id = k.id", R"(["i1","i2"])");
    EXPECT_EQ(reads.find("Hash"), std::string::npos) << reads;
}

}  // namespace
}  // namespace noderepair::storage::postgres
