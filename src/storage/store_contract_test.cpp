// The storage contract (store.hpp), run against every backend: what the services above rely
// on, whichever database is underneath (docs/design.md 9).
#include "storage/store_contract_test.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/request_context.hpp"
#include "storage/open.hpp"
#include "storage/postgres/connection.hpp"
#include "storage/store.hpp"

namespace noderepair::storage {
namespace {

using model::Mode;
using model::Remediation;
using model::RemediationEvent;
using model::State;
using model::Trigger;
using test_support::ExpectSameRemediation;
using test_support::IsOk;
using test_support::MakeRemediation;
using test_support::ReadValue;
using test_support::ScopedTempDir;
using test_support::TestEpoch;
using test_support::TestFleet;

// A backend under test: its factory makes a URL naming a new, empty database, and returns ""
// when the backend is not available here (the suite then skips instead of failing).
struct Backend {
    std::string name;
    std::function<std::string(const std::string& temp_dir)> new_database_url;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

std::vector<Backend> Backends() {
    return {
        {"Sqlite", [](const std::string& dir) { return "sqlite:" + dir + "/store.db"; }},
        {"Postgres", [](const std::string&) { return test_support::NewPostgresDatabase(); }},
    };
}

std::vector<std::string> InstanceIds(const model::Host& host) {
    std::vector<std::string> ids;
    for (const auto& i : host.instances) ids.push_back(i.instance_id);
    return ids;
}

Timestamp T(int64_t seconds, int64_t micros = 0) {
    return TestEpoch() + std::chrono::seconds(seconds) + std::chrono::microseconds(micros);
}

// Every field set, each to a value of its own.
Remediation Full(const std::string& id, const std::string& instance_id) {
    Remediation r = MakeRemediation(id, instance_id, State::kFailed, T(10, 1));
    r.mode = Mode::kHostAware;
    r.requested_mode = Mode::kRebootVm;
    r.trigger = Trigger::kAutomated;
    r.reason = "GPU fell off the bus: \"xid 79\"\nsee dmesg; caf\xc3\xa9";
    r.active_health_check_run_id = "run-1";
    r.passive_health_check_event_id = "alert-fp-1";
    r.requested_by = "system:health-checks";
    r.reviewed_by = "bob";
    r.review_time = T(11, 2);
    r.review_comment = "go ahead";
    r.update_time = T(14, 5);
    r.start_time = T(12, 3);
    r.end_time = T(13, 4);
    r.error_message = "no host with free capacity";
    return r;
}

// The contract holds whatever the number of writers: PostgreSQL stores are opened with several
// (SQLite has one), so writes of different threads run in different writers' batches and the
// writes of one thread must still apply in the order queued (docs/design.md "Group commit").
// A test that needs one batch opens its store with one writer itself.
constexpr int kContractWriters = 3;

class StoreContract : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        url_ = GetParam().new_database_url(dir_.path());
        if (url_.empty()) GTEST_SKIP() << GetParam().name << " is not available here";
        auto opened = OpenStore(url_, StoreOptions{.writers = kContractWriters});
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
        ASSERT_TRUE(IsOk(store_->WriteAndWait(
            [](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    }

    void TearDown() override {
        if (store_) store_->Close();
    }

    // A second, empty database of the same backend.
    std::unique_ptr<Store> OpenEmpty(const ScopedTempDir& other_dir) {
        auto opened = OpenStore(GetParam().new_database_url(other_dir.path()),
                                StoreOptions{.writers = kContractWriters});
        EXPECT_TRUE(opened) << opened.error().message;
        return opened ? std::move(opened).value() : nullptr;
    }

    void Reopen() {
        store_->Close();
        store_.reset();
        auto opened = OpenStore(url_, StoreOptions{.writers = kContractWriters});
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(opened).value();
    }

    Status Write(TxnWork work) { return store_->WriteAndWait(std::move(work)); }

    // Queues a change that holds the writer until `released`: what is queued meanwhile waits
    // for the writer's next batches.
    void HoldWriter(std::shared_future<void> released) {
        store_->Write(
            [released](Txn&) {
                released.wait();
                return OkStatus();
            },
            [](Status) {});
    }

    // Runs `changes` (each an instance to read ahead and its change) as one row of one batch:
    // the store reopened with one writer, held while they are queued. Each change's outcome.
    std::vector<Status> RunAsOneRow(std::vector<std::pair<std::string, TxnWork>> changes) {
        store_->Close();
        auto opened = OpenStore(url_, StoreOptions{.writers = 1});
        EXPECT_TRUE(opened) << opened.error().message;
        if (!opened) return {};
        store_ = std::move(opened).value();
        std::promise<void> release;
        HoldWriter(release.get_future().share());
        std::vector<std::promise<Status>> queued(changes.size());
        for (size_t i = 0; i < changes.size(); ++i) {
            store_->WriteWithReadAhead(
                ReadAhead{changes[i].first}, std::move(changes[i].second),
                [&queued, i](Status s) { queued[i].set_value(std::move(s)); });
        }
        release.set_value();
        std::vector<Status> outcomes;
        for (auto& q : queued) {
            auto f = q.get_future();
            if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
                ADD_FAILURE() << "a change of the row was not answered within 30 s";
                return {};
            }
            outcomes.push_back(f.get());
        }
        return outcomes;
    }

    Status Insert(const Remediation& r) {
        return Write([r](Txn& txn) {
            return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r);
        });
    }

    Status Update(const Remediation& r, State expected) {
        return Write([r, expected](Txn& txn) {
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), r, expected);
        });
    }

    // The value of a read that must succeed.
    template <class T, class F>
    T ReadOk(F read) {
        auto got = ReadValue<T>(*store_, read);
        EXPECT_TRUE(got) << got.error().message;
        if (!got) return T{};
        return std::move(got).value();
    }

    std::optional<Remediation> Get(const std::string& id) {
        return ReadOk<std::optional<Remediation>>(
            [&](Reader& r) { return r.Remediations().Get(id); });
    }

    std::optional<State> StateOf(const std::string& id) {
        auto r = Get(id);
        return r ? std::optional<State>(r->state) : std::nullopt;
    }

    std::optional<std::string> ActiveId(const std::string& instance_id) {
        auto r = Active(instance_id);
        return r ? std::optional<std::string>(r->id) : std::nullopt;
    }

    std::optional<Remediation> Active(const std::string& instance_id) {
        return ReadOk<std::optional<Remediation>>(
            [&](Reader& r) { return r.Remediations().GetActive(instance_id); });
    }

    RemediationPage List(const ListQuery& q) {
        return ReadOk<RemediationPage>([&](Reader& r) { return r.Remediations().List(q); });
    }

    std::optional<std::string> Setting(const std::string& key) {
        return ReadOk<std::optional<std::string>>([&](Reader& r) { return r.Settings().Get(key); });
    }

    std::vector<RemediationEvent> Events(const std::string& id) {
        return ReadOk<std::vector<RemediationEvent>>(
            [&](Reader& r) { return r.Remediations().ListEvents(id); });
    }

    ScopedTempDir dir_;
    std::string url_;
    std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& backend) {
                             return backend.param.name;
                         });

// ---- Fleet import -------------------------------------------------------------------------

TEST_P(StoreContract, EmptyDatabaseHasNothing) {
    ScopedTempDir other;
    auto empty = OpenEmpty(other);
    ASSERT_NE(empty, nullptr);
    auto clusters = ReadValue<std::vector<model::Cluster>>(
        *empty, [](Reader& r) { return r.Inventory().ListClusters(); });
    ASSERT_TRUE(clusters);
    EXPECT_TRUE(clusters->empty());
    auto hosts = ReadValue<std::vector<model::Host>>(
        *empty, [](Reader& r) { return r.Inventory().ListHosts(); });
    ASSERT_TRUE(hosts);
    EXPECT_TRUE(hosts->empty());
    auto any_token = ReadValue<bool>(*empty, [](Reader& r) { return r.Tokens().HasAny(); });
    ASSERT_TRUE(any_token);
    EXPECT_FALSE(*any_token);
    auto has = ReadValue<bool>(*empty, [](Reader& r) { return r.Inventory().HasCluster("c1"); });
    ASSERT_TRUE(has);
    EXPECT_FALSE(*has);
    empty->Close();
}

TEST_P(StoreContract, ImportFleetStoresClustersHostsAndInstances) {
    auto clusters =
        ReadOk<std::vector<model::Cluster>>([](Reader& r) { return r.Inventory().ListClusters(); });
    ASSERT_EQ(clusters.size(), 2u);
    EXPECT_EQ(clusters[0].cluster_id, "c1");
    EXPECT_EQ(clusters[0].cluster_name, "cluster one");
    EXPECT_EQ(clusters[0].status, "Ready");
    EXPECT_TRUE(clusters[0].gpu_worker_nodes.empty());
    EXPECT_EQ(clusters[1].cluster_id, "c2");

    auto c1 = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    ASSERT_TRUE(c1);
    ASSERT_EQ(c1->gpu_worker_nodes.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        const model::Instance& node = c1->gpu_worker_nodes[i];
        EXPECT_EQ(node.instance_id, "i" + std::to_string(i + 1));
        EXPECT_EQ(node.instance_name, node.instance_id + "-name");
        EXPECT_EQ(node.cluster_id, "c1");
        EXPECT_EQ(node.host_name, "h" + std::to_string(i + 1));
        EXPECT_EQ(node.num_gpus, 8);
        EXPECT_EQ(node.status, "Ready");
        EXPECT_TRUE(node.auto_repair);
        EXPECT_FALSE(node.latest_remediation);
    }

    auto j2 = ReadOk<std::optional<model::Instance>>(
        [](Reader& r) { return r.Inventory().GetInstance("j2"); });
    ASSERT_TRUE(j2);
    EXPECT_EQ(j2->cluster_id, "c2");
    EXPECT_EQ(j2->host_name, "");
    EXPECT_EQ(j2->status, "Evicted");

    auto hosts =
        ReadOk<std::vector<model::Host>>([](Reader& r) { return r.Inventory().ListHosts(); });
    ASSERT_EQ(hosts.size(), 6u);
    EXPECT_EQ(hosts[0].host_name, "h1");
    EXPECT_EQ(hosts[0].gpu_slots, 8);
    EXPECT_EQ(hosts[0].used_gpus, 8);
    EXPECT_EQ(InstanceIds(hosts[0]), std::vector<std::string>{"i1"});
    EXPECT_EQ(hosts[0].instances.at(0).cluster_id, "c1");
    EXPECT_FALSE(hosts[0].cordoned);
    EXPECT_EQ(hosts[4].host_name, "h5");
    EXPECT_EQ(hosts[4].used_gpus, 4);
    ASSERT_EQ(hosts[4].instances.size(), 1u);
    EXPECT_EQ(hosts[4].instances[0].cluster_id, "c2");
    EXPECT_EQ(hosts[5].host_name, "h6");
    EXPECT_EQ(hosts[5].used_gpus, 0);
    EXPECT_TRUE(InstanceIds(hosts[5]).empty());

    EXPECT_TRUE(ReadOk<bool>([](Reader& r) { return r.Inventory().HasCluster("c2"); }));
    EXPECT_FALSE(ReadOk<bool>([](Reader& r) { return r.Inventory().HasCluster("c3"); }));
    EXPECT_FALSE(ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c3"); }));
    EXPECT_FALSE(ReadOk<std::optional<model::Instance>>(
        [](Reader& r) { return r.Inventory().GetInstance("i9"); }));
}

// A webhook's instances in one read (docs/http-api.md 5, "Ingest rate"): those that exist, each
// as GetInstance reads it.
TEST_P(StoreContract, GetInstancesReadsThoseThatExist) {
    auto found = ReadOk<std::vector<model::Instance>>([](Reader& r) {
        return r.Inventory().GetInstances({"j2", "i9", "i1"});
    });
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.instance_id < b.instance_id; });
    ASSERT_EQ(found.size(), 2u);
    for (const auto& instance : found) {
        auto one = ReadOk<std::optional<model::Instance>>(
            [&](Reader& r) { return r.Inventory().GetInstance(instance.instance_id); });
        ASSERT_TRUE(one);
        EXPECT_EQ(instance.cluster_id, one->cluster_id);
        EXPECT_EQ(instance.instance_name, one->instance_name);
        EXPECT_EQ(instance.num_gpus, one->num_gpus);
        EXPECT_EQ(instance.host_name, one->host_name);
        EXPECT_EQ(instance.status, one->status);
        EXPECT_EQ(instance.auto_repair, one->auto_repair);
    }
    EXPECT_EQ(found[0].instance_id, "i1");
    EXPECT_EQ(found[1].instance_id, "j2");
    EXPECT_TRUE(ReadOk<std::vector<model::Instance>>([](Reader& r) {
                    return r.Inventory().GetInstances({});
                }).empty());
}

TEST_P(StoreContract, ImportFleetTwiceChangesNothing) {
    auto before = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    auto hosts_before =
        ReadOk<std::vector<model::Host>>([](Reader& r) { return r.Inventory().ListHosts(); });
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    auto after = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    auto hosts_after =
        ReadOk<std::vector<model::Host>>([](Reader& r) { return r.Inventory().ListHosts(); });
    ASSERT_TRUE(before && after);
    ASSERT_EQ(after->gpu_worker_nodes.size(), before->gpu_worker_nodes.size());
    ASSERT_EQ(hosts_after.size(), hosts_before.size());
    for (size_t i = 0; i < hosts_after.size(); ++i) {
        EXPECT_EQ(hosts_after[i].host_name, hosts_before[i].host_name);
        EXPECT_EQ(hosts_after[i].used_gpus, hosts_before[i].used_gpus);
        EXPECT_EQ(InstanceIds(hosts_after[i]), InstanceIds(hosts_before[i]));
    }
    EXPECT_EQ(ReadOk<std::vector<model::Cluster>>([](Reader& r) {
                  return r.Inventory().ListClusters();
              }).size(),
              2u);
}

TEST_P(StoreContract, ImportFleetKeepsStoredRowsAndAddsNewOnes) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-1", "i1", State::kPending, T(1)))));

    FleetImport changed = TestFleet();
    changed.clusters[0].cluster_name = "renamed";
    changed.hosts[0].gpu_slots = 16;
    changed.clusters[0].gpu_worker_nodes[0].host_name = "h6";
    changed.clusters[0].gpu_worker_nodes[0].instance_name = "other-name";
    changed.clusters[0].gpu_worker_nodes[0].num_gpus = 2;
    changed.hosts.push_back({"h7", 4, 0, false, {}});
    changed.clusters[0].gpu_worker_nodes.push_back(test_support::TestInstance("i5", "c1", "h7", 4));
    changed.clusters.push_back({"c3", "cluster three", "Ready", {}});
    changed.clusters.back().gpu_worker_nodes.push_back(
        test_support::TestInstance("k1", "c3", "h6", 2));
    ASSERT_TRUE(IsOk(Write([changed](Txn& txn) { return txn.Inventory().ImportFleet(changed); })));

    auto c1 = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    ASSERT_TRUE(c1);
    EXPECT_EQ(c1->cluster_name, "cluster one");
    ASSERT_EQ(c1->gpu_worker_nodes.size(), 5u);
    const model::Instance& i1 = c1->gpu_worker_nodes[0];
    EXPECT_EQ(i1.instance_id, "i1");
    EXPECT_EQ(i1.instance_name, "i1-name");
    EXPECT_EQ(i1.host_name, "h1");
    EXPECT_EQ(i1.num_gpus, 8);
    ASSERT_TRUE(i1.latest_remediation);
    EXPECT_EQ(i1.latest_remediation->id, "r-1");
    EXPECT_EQ(c1->gpu_worker_nodes[4].instance_id, "i5");

    auto hosts =
        ReadOk<std::vector<model::Host>>([](Reader& r) { return r.Inventory().ListHosts(); });
    ASSERT_EQ(hosts.size(), 7u);
    EXPECT_EQ(hosts[0].gpu_slots, 8);
    EXPECT_EQ(InstanceIds(hosts[5]), std::vector<std::string>{"k1"});
    EXPECT_EQ(hosts[6].host_name, "h7");
    EXPECT_EQ(InstanceIds(hosts[6]), std::vector<std::string>{"i5"});
    EXPECT_TRUE(ReadOk<bool>([](Reader& r) { return r.Inventory().HasCluster("c3"); }));
    EXPECT_TRUE(Active("i1"));
}

// ---- Remediations -------------------------------------------------------------------------

TEST_P(StoreContract, InsertThenGetRoundTripsEveryField) {
    const Remediation r = Full("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", "i2");
    ASSERT_TRUE(IsOk(Insert(r)));
    auto got = Get(r.id);
    ASSERT_TRUE(got);
    ExpectSameRemediation(*got, r);
}

// docs/design.md 7: a GET's one statement runs without BEGIN and COMMIT on PostgreSQL; it sees
// what a transaction's read sees, on a connection that also serves reads in transactions, and a
// read that would need a second statement (its own snapshot) is refused there.
TEST_P(StoreContract, AOneStatementReadSeesWhatAReadSeesAndRunsOnlyOneWhereItRunsAlone) {
    const Remediation r = Full("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2c", "i2");
    ASSERT_TRUE(IsOk(Insert(r)));
    for (int round = 0; round < 3; ++round) {
        std::optional<Remediation> alone;
        Status read = store_->ReadOneStatement([&](Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(alone, reader.Remediations().Get(r.id));
            return OkStatus();
        });
        ASSERT_TRUE(read) << read.error().message;
        ASSERT_TRUE(alone);
        ExpectSameRemediation(*alone, r);
        auto in_txn = Get(r.id);  // a read in a transaction on the same pool, between them
        ASSERT_TRUE(in_txn);
        ExpectSameRemediation(*in_txn, r);
    }
    Status two = store_->ReadOneStatement([&](Reader& reader) -> Status {
        NR_RETURN_IF_ERROR(reader.Remediations().Get(r.id));
        NR_RETURN_IF_ERROR(reader.Remediations().Get(r.id));
        return OkStatus();
    });
    if (url_.starts_with("postgres")) {
        ASSERT_FALSE(two);
        EXPECT_EQ(two.error().code, Code::kInternal) << two.error().message;
    } else {
        EXPECT_TRUE(two) << two.error().message;  // SQLite: a read in a transaction
    }
    EXPECT_TRUE(Get(r.id));
}

TEST_P(StoreContract, InsertThenGetKeepsUnsetFieldsUnset) {
    Remediation r = MakeRemediation("r-min", "i1", State::kPending, T(3, 999999));
    r.instance_name = "";
    ASSERT_TRUE(IsOk(Insert(r)));
    auto got = Get("r-min");
    ASSERT_TRUE(got);
    ExpectSameRemediation(*got, r);
    EXPECT_FALSE(got->review_time);
    EXPECT_FALSE(got->start_time);
    EXPECT_FALSE(got->end_time);
    EXPECT_EQ(got->reason, "");
}

TEST_P(StoreContract, GetOfUnknownIdIsEmpty) {
    EXPECT_FALSE(Get("nope"));
    EXPECT_FALSE(Active("i1"));
    EXPECT_FALSE(Active("unknown-instance"));
}

TEST_P(StoreContract, InsertOfAnExistingIdFailsAndKeepsTheFirst) {
    const Remediation first = MakeRemediation("dup", "i1", State::kSucceeded, T(1));
    ASSERT_TRUE(IsOk(Insert(first)));
    Remediation second = MakeRemediation("dup", "i2", State::kCancelled, T(2));
    second.reason = "second";
    EXPECT_FALSE(Insert(second));
    auto got = Get("dup");
    ASSERT_TRUE(got);
    ExpectSameRemediation(*got, first);
}

TEST_P(StoreContract, InsertRecordsTheInstancesLatestRemediation) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("old", "i3", State::kSucceeded, T(1)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("new", "i3", State::kPending, T(2)))));
    auto c1 = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    ASSERT_TRUE(c1);
    const model::Instance& i3 = c1->gpu_worker_nodes[2];
    ASSERT_EQ(i3.instance_id, "i3");
    ASSERT_TRUE(i3.latest_remediation);
    EXPECT_EQ(i3.latest_remediation->id, "new");
    EXPECT_EQ(i3.latest_remediation->state, State::kPending);
    EXPECT_FALSE(c1->gpu_worker_nodes[0].latest_remediation);
}

// The latest is the remediation inserted last, even when the clock stepped back between two
// creates (a replica's clock behind another's) and its id sorts first: alone, and as two creates
// of one instance in one row of a batch (PostgreSQL sends the row as one statement).
TEST_P(StoreContract, TheInstancesLatestIsTheOneInsertedLastWhateverItsTimesAndId) {
    Remediation first = MakeRemediation("z-first", "i3", State::kSucceeded, T(50));
    first.update_time = T(70);
    ASSERT_TRUE(IsOk(Insert(first)));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a-second", "i3", State::kPending, T(10)))));

    Remediation row_first = MakeRemediation("y-row-first", "i4", State::kCancelled, T(60));
    row_first.update_time = T(80);
    std::vector<std::pair<std::string, TxnWork>> row;
    for (const Remediation& r :
         {row_first, MakeRemediation("b-row-second", "i4", State::kPending, T(5))}) {
        row.emplace_back(r.instance_id, [r](Txn& txn) {
            return txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r);
        });
    }
    const auto outcomes = RunAsOneRow(std::move(row));
    ASSERT_EQ(outcomes.size(), 2u);
    for (const Status& s : outcomes) EXPECT_TRUE(IsOk(s));

    auto c1 = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    ASSERT_TRUE(c1);
    ASSERT_GE(c1->gpu_worker_nodes.size(), 4u);
    const model::Instance& i3 = c1->gpu_worker_nodes[2];
    ASSERT_EQ(i3.instance_id, "i3");
    ASSERT_TRUE(i3.latest_remediation);
    EXPECT_EQ(i3.latest_remediation->id, "a-second");
    const model::Instance& i4 = c1->gpu_worker_nodes[3];
    ASSERT_EQ(i4.instance_id, "i4");
    ASSERT_TRUE(i4.latest_remediation);
    EXPECT_EQ(i4.latest_remediation->id, "b-row-second");
    EXPECT_EQ(i4.latest_remediation->state, State::kPending);
}

// An update writes what a change of state or mode touches, bumps the version, and keeps the
// rest as created.
TEST_P(StoreContract, UpdateWithTheExpectedStateWritesWhatAChangeTouches) {
    const Remediation pending = MakeRemediation("r-1", "i1", State::kPending, T(1));
    ASSERT_TRUE(IsOk(Insert(pending)));
    const Remediation full = Full("r-1", "i1");
    Remediation changed = pending;
    changed.mode = Mode::kHostAware;
    changed.state = State::kRunning;
    changed.reviewed_by = full.reviewed_by;
    changed.review_time = full.review_time;
    changed.review_comment = full.review_comment;
    changed.update_time = full.update_time;
    changed.start_time = full.start_time;
    changed.error_message = full.error_message;
    Remediation ignored = changed;
    ignored.reason = "not written";
    ignored.requested_by = "not written";
    ASSERT_TRUE(IsOk(Update(ignored, State::kPending)));
    auto got = Get("r-1");
    ASSERT_TRUE(got);
    changed.version = pending.version + 1;
    ExpectSameRemediation(*got, changed);
    EXPECT_EQ(got->version, pending.version + 1);
    ASSERT_TRUE(Active("i1"));
    EXPECT_EQ(Active("i1")->state, State::kRunning);
}

TEST_P(StoreContract, UpdateOfAStaleVersionIsAbortedEvenInTheExpectedState) {
    const Remediation pending = MakeRemediation("r-1", "i1", State::kPending, T(1));
    ASSERT_TRUE(IsOk(Insert(pending)));
    Remediation first = pending;
    first.mode = Mode::kHostAware;
    ASSERT_TRUE(IsOk(Update(first, State::kPending)));
    Remediation stale = pending;  // read before the first update
    stale.state = State::kCancelled;
    Status s = Update(stale, State::kPending);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kAborted);
    EXPECT_EQ(Get("r-1")->mode, Mode::kHostAware);
    EXPECT_EQ(Get("r-1")->state, State::kPending);
}

TEST_P(StoreContract, UpdateWithAnotherExpectedStateIsAbortedAndChangesNothing) {
    const Remediation pending = MakeRemediation("r-1", "i1", State::kPending, T(1));
    ASSERT_TRUE(IsOk(Insert(pending)));
    Remediation cancelled = pending;
    cancelled.state = State::kCancelled;
    cancelled.update_time = cancelled.create_time + std::chrono::seconds(5);
    cancelled.end_time = cancelled.update_time;
    for (State wrong : {State::kPendingApproval, State::kRunning, State::kCancelled}) {
        Status s = Update(cancelled, wrong);
        ASSERT_FALSE(s) << int(wrong);
        EXPECT_EQ(s.error().code, Code::kAborted);
    }
    auto got = Get("r-1");
    ASSERT_TRUE(got);
    ExpectSameRemediation(*got, pending);
}

TEST_P(StoreContract, UpdateOfAnUnknownIdIsAborted) {
    Status s = Update(MakeRemediation("ghost", "i1", State::kRunning, T(1)), State::kPending);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kAborted);
    EXPECT_FALSE(Get("ghost"));
}

TEST_P(StoreContract, CompareAndSetLetsExactlyOneOfTwoRacersWin) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-1", "i1", State::kPending, T(1)))));
    Remediation cancel = MakeRemediation("r-1", "i1", State::kCancelled, T(1));
    Remediation run = MakeRemediation("r-1", "i1", State::kRunning, T(1));
    std::promise<Status> a;
    std::promise<Status> b;
    store_->Write(
        [cancel](Txn& txn) {
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), cancel,
                                             State::kPending);
        },
        [&a](Status s) { a.set_value(s); });
    store_->Write(
        [run](Txn& txn) {
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), run,
                                             State::kPending);
        },
        [&b](Status s) { b.set_value(s); });
    const Status first = a.get_future().get();
    const Status second = b.get_future().get();
    EXPECT_NE(first.ok(), second.ok());
    const Status& loser = first.ok() ? second : first;
    EXPECT_EQ(loser.error().code, Code::kAborted);
    EXPECT_EQ(StateOf("r-1"), first.ok() ? State::kCancelled : State::kRunning);
}

// A committed write's callback (a reply being encoded and sent) never holds up the next batch:
// while the first callback still runs, a later write is written.
TEST_P(StoreContract, TheNextBatchIsWrittenWhileACallbackStillRuns) {
    constexpr auto kWait = std::chrono::seconds(10);
    std::promise<void> first_answered;
    std::promise<bool> saw_second;
    std::promise<Status> second;
    auto second_ran = std::make_shared<std::promise<void>>();
    auto ran = second_ran->get_future().share();
    store_->Write([](Txn&) { return OkStatus(); },
                  [&first_answered, &saw_second, ran, kWait](Status) {
                      first_answered.set_value();
                      saw_second.set_value(ran.wait_for(kWait) == std::future_status::ready);
                  });
    ASSERT_EQ(first_answered.get_future().wait_for(kWait), std::future_status::ready);
    auto once = std::make_shared<std::once_flag>();
    store_->Write(
        [second_ran, once](Txn&) {
            std::call_once(*once, [&] { second_ran->set_value(); });  // a retry runs it again
            return OkStatus();
        },
        [&second](Status s) { second.set_value(s); });
    EXPECT_TRUE(saw_second.get_future().get()) << "the writer waited for the first callback";
    EXPECT_TRUE(IsOk(second.get_future().get()));
}

// docs/http-api.md 1: at most one active remediation per instance, whatever the caller checked.
TEST_P(StoreContract, SecondActiveRemediationOfAnInstanceIsRefused) {
    for (State active : {State::kPendingApproval, State::kPending, State::kQuarantining,
                         State::kQuarantined, State::kRunning}) {
        const std::string first_id = "first-" + std::to_string(int(active));
        const std::string second_id = "second-" + std::to_string(int(active));
        Remediation first = MakeRemediation(first_id, "i1", active, T(int(active)));
        ASSERT_TRUE(IsOk(Insert(first))) << int(active);
        EXPECT_FALSE(Insert(MakeRemediation(second_id, "i1", State::kPending, T(20))))
            << int(active);
        EXPECT_FALSE(Get(second_id)) << int(active);
        EXPECT_EQ(ActiveId("i1"), first_id);
        // Ending the first frees the instance for the next round.
        Remediation ended = first;
        ended.state = State::kFailed;
        ended.end_time = ended.update_time;
        ASSERT_TRUE(IsOk(Update(ended, active)));
        EXPECT_FALSE(Active("i1"));
    }
}

TEST_P(StoreContract, ReactivatingWhileAnotherIsActiveIsRefused) {
    const Remediation old = MakeRemediation("old", "i1", State::kCancelled, T(1));
    ASSERT_TRUE(IsOk(Insert(old)));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("current", "i1", State::kPending, T(2)))));
    Remediation revived = old;
    revived.state = State::kPending;
    revived.end_time.reset();
    EXPECT_FALSE(Update(revived, State::kCancelled));
    EXPECT_EQ(StateOf("old"), State::kCancelled);
    EXPECT_EQ(ActiveId("i1"), "current");
}

TEST_P(StoreContract, TerminalRemediationsAreNotActive) {
    int n = 0;
    for (State terminal :
         {State::kSucceeded, State::kFailed, State::kCancelled, State::kAutoResolved}) {
        ASSERT_TRUE(IsOk(Insert(MakeRemediation("t" + std::to_string(n), "i2", terminal, T(n)))));
        ++n;
    }
    EXPECT_FALSE(Active("i2"));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("live", "i2", State::kPendingApproval, T(10)))));
    EXPECT_EQ(ActiveId("i2"), "live");
    EXPECT_FALSE(Active("i1"));  // other instances are not affected
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("live-i1", "i1", State::kPending, T(11)))));
}

// ---- Listing ------------------------------------------------------------------------------

constexpr State kTerminal[] = {State::kSucceeded, State::kFailed, State::kCancelled,
                               State::kAutoResolved};

// 30 remediations in c1 over i1..i4 with ties on both times, ids whose order differs from
// insertion order, and every mode, trigger and state; 3 more in c2.
std::vector<Remediation> ListingData() {
    std::vector<Remediation> all;
    for (int k = 0; k < 30; ++k) {
        char id[8];
        std::snprintf(id, sizeof id, "r%02d", (k * 13) % 30);
        const std::string instance = "i" + std::to_string(k % 4 + 1);
        State state = kTerminal[k % 4];
        if (k >= 26) {
            constexpr State kActive[] = {State::kPending, State::kRunning, State::kPendingApproval,
                                         State::kQuarantined};
            state = kActive[k - 26];
        }
        Remediation r = MakeRemediation(id, instance, state, T(k / 3));
        r.update_time = T(100 + (k * 7) % 5);
        r.mode = model::kAllModes[k % 5];
        r.trigger = k % 3 == 0 ? Trigger::kAutomated : Trigger::kManual;
        all.push_back(r);
    }
    for (int k = 0; k < 3; ++k) {
        all.push_back(MakeRemediation("s" + std::to_string(k), "j1", State::kSucceeded, T(k)));
    }
    return all;
}

class StoreListing : public StoreContract {
protected:
    void SetUp() override {
        StoreContract::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        data_ = ListingData();
        ASSERT_TRUE(IsOk(Write([this](Txn& txn) -> Status {
            for (const auto& r : data_)
                NR_RETURN_IF_ERROR(
                    txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r));
            return OkStatus();
        })));
    }

    static int64_t Key(const Remediation& r, OrderField order) {
        return ToMicros(order == OrderField::kCreateTime ? r.create_time : r.update_time);
    }

    // The ids `q` selects, in its order, computed here from data_.
    std::vector<std::string> Expected(const ListQuery& q) const {
        auto any_of = [](const auto& values, auto v) {
            return values.empty() || std::find(values.begin(), values.end(), v) != values.end();
        };
        std::vector<Remediation> rows;
        for (const auto& r : data_) {
            if (r.cluster_id != q.cluster_id) continue;
            if (!q.instance_id.empty() && r.instance_id != q.instance_id) continue;
            if (!any_of(q.states, r.state) || !any_of(q.modes, r.mode) ||
                !any_of(q.triggers, r.trigger)) {
                continue;
            }
            rows.push_back(r);
        }
        std::sort(rows.begin(), rows.end(), [&](const Remediation& a, const Remediation& b) {
            auto ka = std::make_pair(Key(a, q.order), a.id);
            auto kb = std::make_pair(Key(b, q.order), b.id);
            return q.descending ? kb < ka : ka < kb;
        });
        std::vector<std::string> ids;
        for (const auto& r : rows) ids.push_back(r.id);
        return ids;
    }

    // Walks every page of `q`, page sizes taken in turn from `sizes`.
    std::vector<std::string> Walk(ListQuery q, std::vector<int> sizes) {
        std::vector<std::string> ids;
        q.after.reset();
        for (size_t page = 0; page < 200; ++page) {
            q.limit = sizes[page % sizes.size()];
            const RemediationPage got = List(q);
            EXPECT_LE(got.remediations.size(), size_t(q.limit));
            for (const auto& r : got.remediations) ids.push_back(r.id);
            if (!got.has_next) return ids;
            EXPECT_EQ(got.remediations.size(), size_t(q.limit)) << "a short page with has_next";
            if (got.remediations.empty()) break;
            const Remediation& last = got.remediations.back();
            q.after = Cursor{Key(last, q.order), last.id};
        }
        ADD_FAILURE() << "paging did not end";
        return ids;
    }

    std::vector<Remediation> data_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreListing, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& backend) {
                             return backend.param.name;
                         });

TEST_P(StoreListing, TheDataHasTiesOnBothOrderKeys) {
    std::set<int64_t> creates;
    std::set<int64_t> updates;
    for (const auto& r : data_) {
        if (r.cluster_id != "c1") continue;
        creates.insert(Key(r, OrderField::kCreateTime));
        updates.insert(Key(r, OrderField::kUpdateTime));
    }
    EXPECT_LT(creates.size(), 30u);
    EXPECT_LT(updates.size(), 30u);
}

TEST_P(StoreListing, WalksEveryOrderWithTiesBrokenById) {
    for (OrderField order : {OrderField::kCreateTime, OrderField::kUpdateTime}) {
        for (bool descending : {true, false}) {
            ListQuery q;
            q.cluster_id = "c1";
            q.order = order;
            q.descending = descending;
            const auto expected = Expected(q);
            ASSERT_EQ(expected.size(), 30u);
            for (const std::vector<int>& sizes :
                 std::vector<std::vector<int>>{{1}, {4}, {7}, {30}, {1000}, {2, 9, 1}}) {
                EXPECT_EQ(Walk(q, sizes), expected)
                    << (order == OrderField::kCreateTime ? "create_time" : "update_time")
                    << (descending ? " desc" : " asc") << ", first page size " << sizes[0];
            }
        }
    }
}

TEST_P(StoreListing, FiltersByStateModeAndTrigger) {
    std::vector<ListQuery> queries(6);
    for (auto& q : queries) q.cluster_id = "c1";
    queries[0].states = {State::kSucceeded, State::kFailed};
    queries[1].states = {State::kPending};
    queries[2].modes = {Mode::kHostPowerCycle, Mode::kVmOnly};
    queries[3].triggers = {Trigger::kAutomated};
    queries[4].states = {State::kCancelled, State::kRunning};
    queries[4].modes = {Mode::kHostAware, Mode::kRebootVm, Mode::kEvictWithoutReplacement};
    queries[4].triggers = {Trigger::kManual};
    queries[5].states = {State::kQuarantining};  // matches nothing
    for (size_t i = 0; i < queries.size(); ++i) {
        for (bool descending : {true, false}) {
            queries[i].descending = descending;
            const auto expected = Expected(queries[i]);
            if (i < 5) {
                EXPECT_FALSE(expected.empty()) << "query " << i;
            }
            EXPECT_EQ(Walk(queries[i], {3}), expected) << "query " << i;
        }
    }
}

TEST_P(StoreListing, ScopesToTheClusterAndInstance) {
    ListQuery q;
    q.cluster_id = "c1";
    q.instance_id = "i2";
    const auto expected = Expected(q);
    EXPECT_EQ(expected.size(), 8u);
    EXPECT_EQ(Walk(q, {3}), expected);

    ListQuery c2;
    c2.cluster_id = "c2";
    EXPECT_EQ(Walk(c2, {2}), (std::vector<std::string>{"s2", "s1", "s0"}));

    ListQuery wrong_cluster;
    wrong_cluster.cluster_id = "c1";
    wrong_cluster.instance_id = "j1";
    EXPECT_TRUE(Walk(wrong_cluster, {10}).empty());

    ListQuery unknown;
    unknown.cluster_id = "c9";
    EXPECT_TRUE(Walk(unknown, {10}).empty());
}

// The API's list (docs/http-api.md 4.2): one statement on PostgreSQL, the scope's existence
// read with the page.
TEST_P(StoreListing, InScopeIsTheListWhereItsScopeExistsAndNothingWhereItDoesNot) {
    auto in_scope = [&](const ListQuery& q) {
        return ReadOk<std::optional<RemediationPage>>(
            [&](Reader& r) { return r.Remediations().ListInScope(q); });
    };
    auto ids = [](const RemediationPage& page) {
        std::vector<std::string> out;
        for (const auto& r : page.remediations) out.push_back(r.id);
        return out;
    };
    std::vector<ListQuery> queries(5);
    queries[0].cluster_id = "c1";
    queries[1].cluster_id = "c1";
    queries[1].instance_id = "i2";
    queries[1].limit = 3;
    queries[2].cluster_id = "c2";
    queries[2].order = OrderField::kUpdateTime;
    queries[2].descending = false;
    queries[3].cluster_id = "c1";
    queries[3].states = {State::kSucceeded, State::kFailed};
    queries[3].limit = 4;
    queries[4].cluster_id = "c1";
    queries[4].after = Cursor{ToMicros(T(5)), "r15"};
    for (size_t i = 0; i < queries.size(); ++i) {
        const RemediationPage listed = List(queries[i]);
        ASSERT_FALSE(listed.remediations.empty()) << "query " << i;
        const auto got = in_scope(queries[i]);
        ASSERT_TRUE(got) << "query " << i;
        EXPECT_EQ(ids(*got), ids(listed)) << "query " << i;
        EXPECT_EQ(got->has_next, listed.has_next) << "query " << i;
        for (size_t k = 0; k < listed.remediations.size(); ++k) {
            ExpectSameRemediation(got->remediations[k], listed.remediations[k]);
        }
    }

    ListQuery empty;  // an instance without remediations: an empty page, not nothing
    empty.cluster_id = "c2";
    empty.instance_id = "j2";
    auto got = in_scope(empty);
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->remediations.empty());
    EXPECT_FALSE(got->has_next);
    ListQuery past_the_end;  // a page after the last row of a cluster
    past_the_end.cluster_id = "c2";
    past_the_end.descending = false;
    past_the_end.after = Cursor{ToMicros(T(99)), "z"};
    got = in_scope(past_the_end);
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->remediations.empty());

    for (const auto& [cluster, instance] :
         std::vector<std::pair<std::string, std::string>>{{"c9", ""}, {"c1", "j1"}, {"c1", "i9"}}) {
        ListQuery unknown;
        unknown.cluster_id = cluster;
        unknown.instance_id = instance;
        EXPECT_FALSE(in_scope(unknown)) << cluster << "/" << instance;
    }
}

TEST_P(StoreListing, HasNextOnlyWhenMoreRowsFollow) {
    ListQuery q;
    q.cluster_id = "c1";
    q.limit = 30;
    EXPECT_FALSE(List(q).has_next);
    EXPECT_EQ(List(q).remediations.size(), 30u);
    q.limit = 29;
    EXPECT_TRUE(List(q).has_next);
    EXPECT_EQ(List(q).remediations.size(), 29u);
    q.limit = 1;
    const RemediationPage one = List(q);
    EXPECT_TRUE(one.has_next);
    ASSERT_EQ(one.remediations.size(), 1u);
    // Exactly 10 + 10 + 10: the third page is full and has no next.
    q.limit = 10;
    q.after.reset();
    int pages = 0;
    while (true) {
        const RemediationPage page = List(q);
        ++pages;
        ASSERT_EQ(page.remediations.size(), 10u);
        if (!page.has_next) break;
        ASSERT_LT(pages, 3);
        const auto& last = page.remediations.back();
        q.after = Cursor{ToMicros(last.create_time), last.id};
    }
    EXPECT_EQ(pages, 3);
}

TEST_P(StoreListing, AfterTheLastRowIsAnEmptyPage) {
    ListQuery q;
    q.cluster_id = "c1";
    q.descending = false;
    q.after = Cursor{ToMicros(T(1000)), "zzz"};
    const RemediationPage page = List(q);
    EXPECT_TRUE(page.remediations.empty());
    EXPECT_FALSE(page.has_next);
}

TEST_P(StoreListing, ReturnsWholeRemediations) {
    ListQuery q;
    q.cluster_id = "c1";
    q.limit = 1000;
    const RemediationPage page = List(q);
    std::map<std::string, Remediation> by_id;
    for (const auto& r : data_) by_id[r.id] = r;
    for (const auto& r : page.remediations) ExpectSameRemediation(r, by_id.at(r.id));
}

// ---- Events -------------------------------------------------------------------------------

TEST_P(StoreContract, EventsComeBackInAppendOrderWithEveryField) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-1", "i1", State::kPending, T(1)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-2", "i2", State::kPending, T(1)))));
    const std::vector<RemediationEvent> events = {
        {T(5), "state_change", State::kPending, "", "alice", "created REMEDIATION_MODE_VM_ONLY"},
        {T(5), "step", std::nullopt, "cordon", "engine", ""},
        {T(4, 7), "step", std::nullopt, "drain", "", "took \"long\""},  // earlier time, later
        {T(9), "state_change", State::kFailed, "", "engine", "no capacity"},
    };
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent("r-1", events[0]));
        NR_RETURN_IF_ERROR(
            txn.Remediations().AppendEvent("r-2", {T(6), "step", std::nullopt, "x", "y", "z"}));
        return txn.Remediations().AppendEvent("r-1", events[1]);
    })));
    ASSERT_TRUE(
        IsOk(Write([&](Txn& txn) { return txn.Remediations().AppendEvent("r-1", events[2]); })));
    ASSERT_TRUE(
        IsOk(Write([&](Txn& txn) { return txn.Remediations().AppendEvent("r-1", events[3]); })));
    const auto got = Events("r-1");
    ASSERT_EQ(got.size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(got[i].time, events[i].time) << i;
        EXPECT_EQ(got[i].type, events[i].type) << i;
        EXPECT_EQ(got[i].state, events[i].state) << i;
        EXPECT_EQ(got[i].step, events[i].step) << i;
        EXPECT_EQ(got[i].actor, events[i].actor) << i;
        EXPECT_EQ(got[i].detail, events[i].detail) << i;
    }
    const auto other = Events("r-2");
    ASSERT_EQ(other.size(), 1u);
    EXPECT_EQ(other[0].step, "x");
    EXPECT_TRUE(Events("unknown").empty());
}

// ---- Tokens and settings ------------------------------------------------------------------

TEST_P(StoreContract, TokensAreFoundByHash) {
    EXPECT_FALSE(ReadOk<bool>([](Reader& r) { return r.Tokens().HasAny(); }));
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Tokens().Insert("hash-admin", {"root", Role::kAdmin, {}}));
        NR_RETURN_IF_ERROR(txn.Tokens().Insert("hash-op", {"ops", Role::kOperator, {"c1", "c2"}}));
        NR_RETURN_IF_ERROR(txn.Tokens().Insert("hash-view", {"viewer", Role::kViewer, {"c2"}}));
        return txn.Tokens().Insert("hash-approve", {"boss", Role::kApprover, {}});
    })));
    EXPECT_TRUE(ReadOk<bool>([](Reader& r) { return r.Tokens().HasAny(); }));
    auto find = [&](const std::string& hash) {
        return ReadOk<std::optional<TokenRecord>>([&](Reader& r) { return r.Tokens().Find(hash); });
    };
    auto admin = find("hash-admin");
    ASSERT_TRUE(admin);
    EXPECT_EQ(admin->name, "root");
    EXPECT_EQ(admin->role, Role::kAdmin);
    EXPECT_TRUE(admin->clusters.empty());
    auto op = find("hash-op");
    ASSERT_TRUE(op);
    EXPECT_EQ(op->role, Role::kOperator);
    EXPECT_EQ(op->clusters, (std::vector<std::string>{"c1", "c2"}));
    EXPECT_EQ(find("hash-view").value_or(TokenRecord{}).clusters, std::vector<std::string>{"c2"});
    EXPECT_EQ(find("hash-approve").value_or(TokenRecord{}).role, Role::kApprover);
    EXPECT_FALSE(find("hash-unknown"));
    EXPECT_FALSE(find(""));
}

TEST_P(StoreContract, TokenHashesAreUnique) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) {
        return txn.Tokens().Insert("h", {"a", Role::kAdmin, {}});
    })));
    EXPECT_FALSE(Write([](Txn& txn) {
        return txn.Tokens().Insert("h", {"b", Role::kViewer, {}});
    }));
    auto found = ReadOk<std::optional<TokenRecord>>([](Reader& r) { return r.Tokens().Find("h"); });
    ASSERT_TRUE(found);
    EXPECT_EQ(found->name, "a");
}

TEST_P(StoreContract, SettingsAreSetOverwrittenAndRead) {
    EXPECT_FALSE(Setting("engine.paused"));
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("engine.paused", "true"); })));
    EXPECT_EQ(Setting("engine.paused"), "true");
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("engine.paused", "false"); })));
    EXPECT_EQ(Setting("engine.paused"), "false");
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("empty", ""); })));
    EXPECT_EQ(Setting("empty"), "");
    EXPECT_FALSE(Setting("other"));
}

TEST_P(StoreContract, TokensAreListedRevokedByNameAndTheirLastUseOnlyMovesForward) {
    TokenRecord ops{"ops", Role::kOperator, {"c1"}};
    ops.created_at = T(1);
    ops.expires_at = T(100);
    TokenRecord admin{"admin", Role::kAdmin, {}};
    admin.created_at = T(2);
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Tokens().Insert("hash-ops", ops));
        NR_RETURN_IF_ERROR(txn.Tokens().Insert("hash-ops-2", ops));
        return txn.Tokens().Insert("hash-admin", admin);
    })));
    auto listed = ReadOk<std::vector<TokenRecord>>([](Reader& r) { return r.Tokens().List(); });
    ASSERT_EQ(listed.size(), 3u);
    EXPECT_EQ(listed[0].name, "admin");
    EXPECT_FALSE(listed[0].expires_at);
    EXPECT_EQ(listed[1].name, "ops");
    EXPECT_EQ(listed[1].created_at, T(1));
    EXPECT_EQ(listed[1].expires_at, T(100));
    EXPECT_EQ(listed[1].clusters, std::vector<std::string>{"c1"});

    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Tokens().TouchLastUsed("hash-admin", T(50)));
        return txn.Tokens().TouchLastUsed("hash-admin", T(40));
    })));
    auto found =
        ReadOk<std::optional<TokenRecord>>([](Reader& r) { return r.Tokens().Find("hash-admin"); });
    ASSERT_TRUE(found);
    EXPECT_EQ(found->last_used_at, T(50));

    // Every token of the name goes; they are still found, revoked, but no longer listed.
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Tokens().Revoke("ops", T(60)); })));
    found =
        ReadOk<std::optional<TokenRecord>>([](Reader& r) { return r.Tokens().Find("hash-ops-2"); });
    ASSERT_TRUE(found);
    EXPECT_EQ(found->revoked_at, T(60));
    listed = ReadOk<std::vector<TokenRecord>>([](Reader& r) { return r.Tokens().List(); });
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].name, "admin");

    Status again = Write([](Txn& txn) { return txn.Tokens().Revoke("ops", T(61)); });
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Code::kNotFound);
    EXPECT_NE(again.error().message.find("ops"), std::string::npos);
}

// ---- The audit trail (docs/design.md 11) --------------------------------------------------

TEST_P(StoreContract, EveryChangeOfStateIsAnAuditRecordInOneIntactChain) {
    const auto before = ReadOk<AuditHead>([](Reader& r) { return r.Audit().Head(); });
    Remediation r = MakeRemediation("r-audit", "i1", State::kPending, T(1));
    {
        ScopedActor actor("alice");
        ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(txn.Remediations().Insert(UncheckedRemediationWriteKey(), r));
            return txn.Remediations().AppendEvent(
                r.id, {T(1), "state_change", State::kPending, "", "alice", "created"});
        })));
        ASSERT_TRUE(IsOk(Write([](Txn& txn) {
            return txn.Tokens().Insert("hash-bob", {"bob", Role::kViewer, {"c1", "c2"}});
        })));
    }
    {
        ScopedActor actor("engine");
        r.state = State::kRunning;
        ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(
                txn.Remediations().Update(UncheckedRemediationWriteKey(), r, State::kPending));
            NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
                r.id, {T(2), "state_change", State::kRunning, "", "engine", ""}));
            // Steps are progress, not changes of state: no record.
            return txn.Remediations().AppendEvent(
                r.id, {T(3), "step", std::nullopt, "drain", "engine", "drained"});
        })));
        ASSERT_TRUE(
            IsOk(Write([](Txn& txn) { return txn.Inventory().SetHostCordoned("h1", true); })));
    }
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("engine.paused", "true"); })));
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Tokens().Revoke("bob", T(4)); })));

    auto records = ReadOk<std::vector<AuditRecord>>(
        [&](Reader& reader) { return reader.Audit().List(before.seq, 100); });
    ASSERT_EQ(records.size(), 6u);
    std::vector<std::string> actions;
    for (const auto& record : records) actions.push_back(record.actor + " " + record.action);
    EXPECT_EQ(actions,
              (std::vector<std::string>{"alice remediation.create", "alice token.create",
                                        "engine remediation.state_change", "engine host.cordon",
                                        "system engine.pause", "system token.revoke"}));
    EXPECT_EQ(records[0].target, "clusters/c1/instances/i1/remediations/r-audit");
    EXPECT_NE(records[0].detail.find(R"("state":"PENDING")"), std::string::npos);
    EXPECT_EQ(records[1].detail, R"({"role":"viewer","clusters":"c1,c2"})");
    EXPECT_NE(records[2].detail.find(R"("from":"PENDING","to":"RUNNING")"), std::string::npos);
    EXPECT_EQ(records[3].target, "hosts/h1");
    std::string previous = before.hash;
    for (size_t i = 0; i < records.size(); ++i) {
        EXPECT_EQ(records[i].seq, before.seq + int64_t(i) + 1);
        EXPECT_EQ(records[i].hash, AuditHash(previous, records[i]));
        previous = records[i].hash;
    }
    auto head = ReadOk<AuditHead>([](Reader& reader) { return reader.Audit().Head(); });
    EXPECT_EQ(head.seq, records.back().seq);
    EXPECT_EQ(head.hash, records.back().hash);
    auto verdict = ReadOk<AuditVerdict>(
        [](Reader& reader) { return VerifyAuditChain(reader.Audit(), std::nullopt); });
    EXPECT_TRUE(verdict.intact) << verdict.problem;
    EXPECT_EQ(verdict.checked, head.seq);
    EXPECT_EQ(verdict.head, head.hash);
}

TEST_P(StoreContract, AChangeRolledBackLeavesNoAuditRecordAndTheBatchStillChains) {
    const auto before = ReadOk<AuditHead>([](Reader& r) { return r.Audit().Head(); });
    // Queued together so they are likely one batch; the failing one in the middle.
    std::vector<std::future<Status>> done;
    auto queue = [&](TxnWork work) {
        auto promise = std::make_shared<std::promise<Status>>();
        done.push_back(promise->get_future());
        store_->Write(std::move(work), [promise](Status s) { promise->set_value(std::move(s)); });
    };
    queue([](Txn& txn) { return txn.Inventory().SetHostCordoned("h1", true); });
    queue([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().SetHostCordoned("h2", true));
        return FailedPrecondition("rolled back");
    });
    queue([](Txn& txn) { return txn.Inventory().SetHostCordoned("h3", true); });
    EXPECT_TRUE(IsOk(done[0].get()));
    EXPECT_FALSE(done[1].get());
    EXPECT_TRUE(IsOk(done[2].get()));
    auto records = ReadOk<std::vector<AuditRecord>>(
        [&](Reader& reader) { return reader.Audit().List(before.seq, 100); });
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].target, "hosts/h1");
    EXPECT_EQ(records[1].target, "hosts/h3");
    EXPECT_EQ(records[1].seq, records[0].seq + 1);
    auto verdict =
        ReadOk<AuditVerdict>([](Reader& r) { return VerifyAuditChain(r.Audit(), std::nullopt); });
    EXPECT_TRUE(verdict.intact) << verdict.problem;
}

TEST_P(StoreContract, TheAuditChainContinuesAcrossAReopen) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("engine.paused", "true"); })));
    const auto before = ReadOk<AuditHead>([](Reader& r) { return r.Audit().Head(); });
    Reopen();
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("engine.paused", "false"); })));
    auto records = ReadOk<std::vector<AuditRecord>>(
        [&](Reader& reader) { return reader.Audit().List(before.seq, 100); });
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].action, "engine.resume");
    EXPECT_EQ(records[0].hash, AuditHash(before.hash, records[0]));
}

// Two processes writing one database (a server and `token create`, later replicas) extend one
// chain: neither may number a record after a head the other has already moved.
TEST_P(StoreContract, TwoStoresOnOneDatabaseExtendOneAuditChain) {
    auto opened = OpenStore(url_);
    ASSERT_TRUE(opened) << opened.error().message;
    std::unique_ptr<Store> other = std::move(*opened);
    const auto before = ReadOk<AuditHead>([](Reader& r) { return r.Audit().Head(); });
    constexpr int kWrites = 40;
    std::atomic<int> failed{0};
    auto writer = [&failed](Store& store, const std::string& prefix) {
        for (int i = 0; i < kWrites; ++i) {
            Status s = store.WriteAndWait(
                [&](Txn& txn) { return txn.Settings().Put(prefix + std::to_string(i), "v"); });
            if (!s) ++failed;
        }
    };
    std::thread a(writer, std::ref(*store_), "a.");
    std::thread b(writer, std::ref(*other), "b.");
    a.join();
    b.join();
    other->Close();
    EXPECT_EQ(failed.load(), 0);
    auto records = ReadOk<std::vector<AuditRecord>>(
        [&](Reader& reader) { return reader.Audit().List(before.seq, 1000); });
    ASSERT_EQ(records.size(), size_t(2 * kWrites));
    std::string previous = before.hash;
    for (const auto& record : records) {
        EXPECT_EQ(record.hash, AuditHash(previous, record)) << record.seq;
        previous = record.hash;
    }
}

// Servers starting together on an empty database each check for a token and add the first
// admin token when there is none: inside a write, HasAny must hold until the commit, so exactly
// one of them adds it.
TEST_P(StoreContract, HasAnyInAWriteLetsExactlyOneWriterAddTheFirstToken) {
    for (int round = 0; round < 4; ++round) {
        ScopedTempDir dir;
        const std::string url = GetParam().new_database_url(dir.path());
        std::vector<std::unique_ptr<Store>> stores;
        for (int i = 0; i < 3; ++i) {
            auto opened = OpenStore(url);
            ASSERT_TRUE(opened) << opened.error().message;
            stores.push_back(std::move(*opened));
        }
        std::atomic<int> added{0};
        std::vector<std::thread> starts;
        for (size_t i = 0; i < stores.size(); ++i) {
            starts.emplace_back([&, i] {
                Status s = stores[i]->WriteAndWait([&](Txn& txn) -> Status {
                    NR_ASSIGN_OR_RETURN(bool any, txn.Tokens().HasAny());
                    if (any) return OkStatus();
                    // Long enough for the others to look too, were nothing holding them.
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    NR_RETURN_IF_ERROR(txn.Tokens().Insert(
                        "hash-" + std::to_string(round) + "-" + std::to_string(i),
                        TokenRecord{"admin", Role::kAdmin, {}}));
                    ++added;
                    return OkStatus();
                });
                EXPECT_TRUE(IsOk(s));
            });
        }
        for (auto& t : starts) t.join();
        for (auto& store : stores) store->Close();
        EXPECT_EQ(added.load(), 1) << "round " << round;
    }
}

// ---- Transactions and group commit --------------------------------------------------------

TEST_P(StoreContract, WriteAndWaitReturnsTheWorksStatusAndRollsBackAFailure) {
    Status failed = Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Settings().Put("k", "from-failed"));
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r-f", "i1", State::kPending, T(1))));
        return FailedPrecondition("rules said no");
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, Code::kFailedPrecondition);
    EXPECT_EQ(failed.error().message, "rules said no");
    EXPECT_FALSE(Setting("k"));
    EXPECT_FALSE(Get("r-f"));
    EXPECT_FALSE(Active("i1"));
    // The instance's latest remediation pointer was rolled back too.
    auto c1 = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("c1"); });
    ASSERT_TRUE(c1 && !c1->gpu_worker_nodes.empty());
    EXPECT_FALSE(c1->gpu_worker_nodes[0].latest_remediation);

    EXPECT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("k", "ok"); })));
    EXPECT_EQ(Setting("k"), "ok");
}

TEST_P(StoreContract, ReadReturnsTheReadsError) {
    Status s = store_->Read([](Reader&) -> Status { return NotFound("not here"); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kNotFound);
    EXPECT_EQ(s.error().message, "not here");
    EXPECT_TRUE(store_->Read([](Reader&) { return OkStatus(); }));
}

TEST_P(StoreContract, WorkSeesItsOwnAndEarlierChangesOfTheBatch) {
    // One writer, held below, so the next writes share its next batch (with several
    // PostgreSQL writers another writer may take them: each batch is one writer's).
    store_->Close();
    auto opened = OpenStore(url_, StoreOptions{.writers = 1});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<Status> blocker_done;
    // Holds the writer so the next writes queue up and commit together.
    store_->Write(
        [released](Txn&) {
            released.wait();
            return OkStatus();
        },
        [&](Status s) { blocker_done.set_value(s); });
    std::promise<Status> first_done;
    std::promise<std::optional<std::string>> seen;
    store_->Write([](Txn& txn) { return txn.Settings().Put("batch", "first"); },
                  [&](Status s) { first_done.set_value(s); });
    store_->Write(
        [&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto value, txn.Settings().Get("batch"));
            seen.set_value(value);
            return OkStatus();
        },
        [](Status) {});
    release.set_value();
    EXPECT_TRUE(blocker_done.get_future().get());
    EXPECT_TRUE(first_done.get_future().get());
    EXPECT_EQ(seen.get_future().get(), "first");
}

// Many writers, some failing, in shared batches: each failure leaves no trace, every other
// change commits, and every callback gets its own outcome (store.hpp Write).
TEST_P(StoreContract, AFailingWorkInABatchRollsBackOnlyItself) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 40;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> blocker_done;
    store_->Write(
        [released](Txn&) {
            released.wait();
            return OkStatus();
        },
        [&](Status) { blocker_done.set_value(); });

    std::mutex mu;
    std::condition_variable cv;
    int done_count = 0;
    std::map<std::string, Status> outcomes;
    auto fails = [](int t, int i) { return (t * kPerThread + i) % 3 == 0; };
    auto breaks_constraint = [](int t, int i) { return (t * kPerThread + i) % 7 == 0; };
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
        writers.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                const std::string key = "k-" + std::to_string(t) + "-" + std::to_string(i);
                const bool fail = fails(t, i);
                const bool constraint = breaks_constraint(t, i);
                store_->Write(
                    [=](Txn& txn) -> Status {
                        NR_RETURN_IF_ERROR(txn.Settings().Put(key, "v"));
                        NR_RETURN_IF_ERROR(txn.Remediations().Insert(
                            storage::UncheckedRemediationWriteKey(),
                            MakeRemediation("r-" + key, "i3", State::kSucceeded, T(t, i))));
                        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
                            "r-" + key,
                            {T(t, i), "state_change", State::kSucceeded, "", "t", key}));
                        if (constraint) {
                            // A store error half-way: the id exists already in this change.
                            NR_RETURN_IF_ERROR(txn.Remediations().Insert(
                                storage::UncheckedRemediationWriteKey(),
                                MakeRemediation("r-" + key, "i3", State::kSucceeded, T(t, i))));
                        }
                        if (fail) return FailedPrecondition("planned failure " + key);
                        return OkStatus();
                    },
                    [&, key](Status s) {
                        std::lock_guard lock(mu);
                        outcomes.emplace(key, s);
                        ++done_count;
                        cv.notify_all();
                    });
            }
        });
    }
    for (auto& w : writers) w.join();
    release.set_value();
    {
        std::unique_lock lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30),
                                [&] { return done_count == kThreads * kPerThread; }));
    }
    blocker_done.get_future().wait();

    int committed = 0;
    for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < kPerThread; ++i) {
            const std::string key = "k-" + std::to_string(t) + "-" + std::to_string(i);
            const Status& s = outcomes.at(key);
            if (breaks_constraint(t, i)) {
                EXPECT_FALSE(s) << key;
            } else if (fails(t, i)) {
                ASSERT_FALSE(s) << key;
                EXPECT_EQ(s.error().code, Code::kFailedPrecondition) << key;
                EXPECT_EQ(s.error().message, "planned failure " + key);
            } else {
                EXPECT_TRUE(s) << key << ": " << s.error().message;
            }
            const bool should_exist = s.ok();
            committed += should_exist ? 1 : 0;
            EXPECT_EQ(Setting(key).has_value(), should_exist) << key;
            EXPECT_EQ(Get("r-" + key).has_value(), should_exist) << key;
            EXPECT_EQ(Events("r-" + key).size(), should_exist ? 1u : 0u) << key;
        }
    }
    EXPECT_GT(committed, 0);
    EXPECT_LT(committed, kThreads * kPerThread);
}

// A reply sent from `done` is durable and visible: the change is committed before it runs.
TEST_P(StoreContract, DoneRunsAfterTheCommitIsVisibleToOtherThreads) {
    constexpr int kWrites = 20;
    std::promise<void> release;
    HoldWriter(release.get_future().share());
    std::mutex mu;
    std::condition_variable cv;
    int finished = 0;
    std::map<std::string, std::optional<std::string>> seen;
    for (int i = 0; i < kWrites; ++i) {
        const std::string key = "visible-" + std::to_string(i);
        const bool fail = i % 4 == 3;
        store_->Write(
            [=](Txn& txn) -> Status {
                NR_RETURN_IF_ERROR(txn.Settings().Put(key, "yes"));
                return fail ? Aborted("no") : OkStatus();
            },
            [&, key](Status) {
                std::optional<std::string> value;
                std::thread reader([&] {
                    auto got = ReadValue<std::optional<std::string>>(
                        *store_, [&](Reader& r) { return r.Settings().Get(key); });
                    if (got) value = *got;
                });
                reader.join();
                std::lock_guard lock(mu);
                seen[key] = value;
                ++finished;
                cv.notify_all();
            });
    }
    release.set_value();
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return finished == kWrites; }));
    for (int i = 0; i < kWrites; ++i) {
        const std::string key = "visible-" + std::to_string(i);
        if (i % 4 == 3) {
            EXPECT_FALSE(seen[key]) << key;
        } else {
            EXPECT_EQ(seen[key], "yes") << key;
        }
    }
}

// A create as the service makes one: the instance, its active remediation, then the row and
// its event.
TxnWork CreateOn(const std::string& id, const std::string& instance_id) {
    return [id, instance_id](Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(auto instance, txn.Inventory().GetInstance(instance_id));
        if (!instance) return NotFound("no instance " + instance_id);
        NR_ASSIGN_OR_RETURN(auto active, txn.Remediations().GetActive(instance_id));
        if (active) return FailedPrecondition("active: " + active->id);
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation(id, instance_id, State::kPending, T(1))));
        return txn.Remediations().AppendEvent(
            id, {T(1), "state_change", State::kPending, "", "t", "created " + id});
    };
}

// Changes that declare their reads (store.hpp ReadAhead), in one batch with others: each sees
// what the batch wrote before it, a refusal or a failure is that change's alone (a failure
// after writing may make the backend run its neighbours again), and every committed change is
// there exactly once, with one audit record.
TEST_P(StoreContract, ChangesThatReadAheadSeeTheirBatchAndFailAlone) {
    store_->Close();
    auto opened = OpenStore(url_, StoreOptions{.writers = 1});  // one batch, held below
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    auto chain = [&] {
        return ReadOk<AuditVerdict>(
            [](Reader& r) { return VerifyAuditChain(r.Audit(), std::nullopt); });
    };
    const int64_t audited_before = chain().checked;
    std::promise<void> release;
    HoldWriter(release.get_future().share());

    std::vector<std::promise<Status>> queued(10);
    auto queue = [&](size_t n, const std::string& instance_id, TxnWork work, bool ahead) {
        auto done = [&queued, n](Status s) { queued[n].set_value(std::move(s)); };
        if (ahead) {
            store_->WriteWithReadAhead(ReadAhead{instance_id}, std::move(work), std::move(done));
        } else {
            store_->Write(std::move(work), std::move(done));
        }
    };
    queue(0, "i1", CreateOn("a1", "i1"), true);
    queue(1, "i1", CreateOn("a2", "i1"), true);  // a1, the batch's own, is active
    queue(2, "i2", CreateOn("a1", "i2"), true);  // a1's id again: fails after writing
    queue(3, "i2", CreateOn("a3", "i2"), true);
    queue(4, "nope", CreateOn("a4", "nope"), true);
    queue(5, "", CreateOn("b1", "i3"), false);   // writes what i3's read-ahead said was not there
    queue(6, "i3", CreateOn("a5", "i3"), true);  // b1 is active
    queue(7, "i4", CreateOn("a6", "i4"), true);
    queue(
        8, "j1",
        [](Txn& txn) -> Status {  // gives up after a write that fails unseen
            NR_RETURN_IF_ERROR(
                txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                          MakeRemediation("a1", "j1", State::kPending, T(1))));
            return FailedPrecondition("gave up");
        },
        true);
    queue(9, "j1", CreateOn("a7", "j1"), true);
    release.set_value();
    std::vector<Status> outcomes;
    for (auto& q : queued) {
        auto f = q.get_future();
        ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        outcomes.push_back(f.get());
    }
    EXPECT_TRUE(IsOk(outcomes[0]));
    ASSERT_FALSE(outcomes[1]);
    EXPECT_EQ(outcomes[1].error().message, "active: a1");
    ASSERT_FALSE(outcomes[2]);
    EXPECT_EQ(outcomes[2].error().code, Code::kAlreadyExists);
    EXPECT_TRUE(IsOk(outcomes[3]));
    ASSERT_FALSE(outcomes[4]);
    EXPECT_EQ(outcomes[4].error().code, Code::kNotFound);
    EXPECT_TRUE(IsOk(outcomes[5]));
    ASSERT_FALSE(outcomes[6]);
    EXPECT_EQ(outcomes[6].error().message, "active: b1");
    EXPECT_TRUE(IsOk(outcomes[7]));
    EXPECT_FALSE(outcomes[8]);  // gave up, or (SQLite answers at once) the duplicate id
    EXPECT_TRUE(IsOk(outcomes[9]));

    EXPECT_EQ(ActiveId("i1"), "a1");
    EXPECT_EQ(ActiveId("i2"), "a3");
    EXPECT_EQ(ActiveId("i3"), "b1");
    EXPECT_EQ(ActiveId("i4"), "a6");
    EXPECT_EQ(ActiveId("j1"), "a7");
    EXPECT_EQ(Get("a1")->instance_id, "i1");
    for (const char* id : {"a2", "a4", "a5"}) EXPECT_FALSE(Get(id).has_value()) << id;
    for (const char* id : {"a1", "a3", "b1", "a6", "a7"}) EXPECT_EQ(Events(id).size(), 1u) << id;
    const AuditVerdict verdict = chain();
    EXPECT_TRUE(verdict.intact) << verdict.problem;
    EXPECT_EQ(verdict.checked, audited_before + 5);  // a1, a3, b1, a6, a7: each once
}

// A row of creates that also delete their instance's attention setting, as the API's create
// does (PostgreSQL holds a row's appends to send them as one statement): a setting that was
// there is gone and audited once, one that was not is not audited, and a later change of the
// row reads what the row wrote before it.
TEST_P(StoreContract, ARowOfChangesDeletesSettingsOnceAndReadsWhatItWrote) {
    store_->Close();
    auto opened = OpenStore(url_, StoreOptions{.writers = 1});  // one batch, held below
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Settings().Put("attention/i2", "look"); })));
    auto audit = [&] {
        return ReadOk<std::vector<storage::AuditRecord>>(
            [](Reader& r) { return r.Audit().List(0, 1000); });
    };
    const size_t audited_before = audit().size();
    std::promise<void> release;
    HoldWriter(release.get_future().share());

    auto clearing = [](const std::string& id, const std::string& instance_id) -> TxnWork {
        return [id, instance_id](Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(CreateOn(id, instance_id)(txn));
            return txn.Settings().Delete("attention/" + instance_id);
        };
    };
    std::vector<std::promise<Status>> queued(4);
    auto queue = [&](size_t n, const std::string& instance_id, TxnWork work) {
        store_->WriteWithReadAhead(ReadAhead{instance_id}, std::move(work),
                                   [&queued, n](Status s) { queued[n].set_value(std::move(s)); });
    };
    queue(0, "i1", clearing("a1", "i1"));
    queue(1, "i2", clearing("a2", "i2"));
    queue(2, "i3", [](Txn& txn) -> Status {  // reads what the row wrote before it
        for (const char* id : {"a1", "a2"}) {
            NR_ASSIGN_OR_RETURN(auto row, txn.Remediations().GetRow(id));
            if (!row) return NotFound(std::string("unseen ") + id);
            NR_ASSIGN_OR_RETURN(auto events, txn.Remediations().ListEvents(id));
            if (events.size() != 1) return NotFound(std::string("events unseen ") + id);
        }
        NR_ASSIGN_OR_RETURN(auto attention, txn.Settings().Get("attention/i2"));
        if (attention) return FailedPrecondition("the deleted setting is still there");
        return CreateOn("a3", "i3")(txn);
    });
    queue(3, "i4", clearing("a4", "i4"));
    release.set_value();
    for (auto& q : queued) {
        auto f = q.get_future();
        ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
        EXPECT_TRUE(IsOk(f.get()));
    }
    EXPECT_FALSE(Setting("attention/i2"));
    for (const char* id : {"a1", "a2", "a3", "a4"}) EXPECT_EQ(Events(id).size(), 1u) << id;
    const auto records = audit();
    ASSERT_EQ(records.size(), audited_before + 5);  // four creates, one deletion
    int deletions = 0;
    for (const auto& record : records) {
        if (record.action != "setting.delete") continue;
        ++deletions;
        EXPECT_EQ(record.target, "settings/attention/i2");
    }
    EXPECT_EQ(deletions, 1);
    const AuditVerdict verdict =
        ReadOk<AuditVerdict>([](Reader& r) { return VerifyAuditChain(r.Audit(), std::nullopt); });
    EXPECT_TRUE(verdict.intact) << verdict.problem;
}

// The texts of a row of creates, of their events, audit records and recorded changes come back
// as they went whatever characters they hold, an empty one empty and an unset one unset
// (PostgreSQL sends a row's remediations and events, and a batch's audit records and changes,
// as arrays of records quoted twice over: sql::RecordArray).
TEST_P(StoreContract, ARowOfCreatesKeepsEveryCharacterOfItsTexts) {
    const auto changes_after =
        ReadOk<int64_t>([](Reader& r) { return r.Remediations().LastChangeSeq(); });
    const std::string awkward =
        "a \"quoted\" \\ back\\\\slash\\\", (paren) {brace,} 'tick' NULL\n\ttab caf\xc3\xa9 ";
    std::vector<Remediation> created;
    std::vector<RemediationEvent> events;
    std::vector<std::pair<std::string, TxnWork>> row;
    for (int i = 0; i < 3; ++i) {
        Remediation r = Full("awkward-" + std::to_string(i), "i" + std::to_string(i + 1));
        r.reason = awkward + std::to_string(i);
        r.review_comment = i == 0 ? "\"" : i == 1 ? "\\" : "";
        r.error_message = i == 2 ? "()" : "";
        if (i == 1) r.instance_name = "";
        created.push_back(r);
        events.push_back({T(1), "state_change", State::kFailed, i == 0 ? "" : "\"step\"",
                          "actor " + awkward, awkward});
        row.emplace_back(r.instance_id, [r, e = events.back()](Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(
                txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r));
            return txn.Remediations().AppendEvent(r.id, e);
        });
    }
    const auto outcomes = RunAsOneRow(std::move(row));
    ASSERT_EQ(outcomes.size(), created.size());
    for (const Status& s : outcomes) EXPECT_TRUE(IsOk(s));
    const auto changes = ReadOk<std::vector<RecordedChange>>(
        [&](Reader& r) { return r.Remediations().ListChangesAfter(changes_after, 100); });
    ASSERT_EQ(changes.size(), created.size());
    for (size_t i = 0; i < created.size(); ++i) {
        auto got = Get(created[i].id);
        ASSERT_TRUE(got) << created[i].id;
        ExpectSameRemediation(*got, created[i]);
        ExpectSameRemediation(changes[i].remediation, created[i]);
        const auto timeline = Events(created[i].id);
        ASSERT_EQ(timeline.size(), 1u);
        EXPECT_EQ(timeline[0].state, events[i].state);
        EXPECT_EQ(timeline[0].step, events[i].step);
        EXPECT_EQ(timeline[0].actor, events[i].actor);
        EXPECT_EQ(timeline[0].detail, events[i].detail);
    }
    // Each create's audit record holds its reason and actor; the chain's hashes, computed
    // before the records were sent, match what was stored.
    const auto records = ReadOk<std::vector<storage::AuditRecord>>(
        [](Reader& r) { return r.Audit().List(0, 1000); });
    int creates = 0;
    for (const auto& record : records) {
        if (record.action != "remediation.create") continue;
        ++creates;
        EXPECT_NE(record.detail.find("caf\xc3\xa9"), std::string::npos) << record.detail;
    }
    EXPECT_EQ(creates, 3);
    const AuditVerdict verdict =
        ReadOk<AuditVerdict>([](Reader& r) { return VerifyAuditChain(r.Audit(), std::nullopt); });
    EXPECT_TRUE(verdict.intact) << verdict.problem;
}

TEST_P(StoreContract, WritesOfOneThreadApplyInOrder) {
    std::promise<void> last;
    for (int i = 0; i < 100; ++i) {
        store_->Write([i](Txn& txn) { return txn.Settings().Put("counter", std::to_string(i)); },
                      [i, &last](Status) {
                          if (i == 99) last.set_value();
                      });
    }
    last.get_future().wait();
    EXPECT_EQ(Setting("counter"), "99");
}

TEST_P(StoreContract, ReadsNeverSeeHalfAWrite) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Settings().Put("a", "0"));
        return txn.Settings().Put("b", "0");
    })));
    std::atomic<bool> stop{false};
    std::atomic<int> torn{0};
    std::atomic<int> reads{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
        readers.emplace_back([&] {
            while (!stop) {
                std::optional<std::string> a, b;
                Status s = store_->Read([&](Reader& r) -> Status {
                    NR_ASSIGN_OR_RETURN(a, r.Settings().Get("a"));
                    std::this_thread::yield();
                    NR_ASSIGN_OR_RETURN(b, r.Settings().Get("b"));
                    return OkStatus();
                });
                if (!s || a != b) ++torn;
                ++reads;
            }
        });
    }
    for (int i = 1; i <= 50; ++i) {
        const std::string v = std::to_string(i);
        ASSERT_TRUE(IsOk(Write([v](Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(txn.Settings().Put("a", v));
            return txn.Settings().Put("b", v);
        })));
    }
    stop = true;
    for (auto& r : readers) r.join();
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(Setting("a"), "50");
}

TEST_P(StoreContract, CloseCommitsEveryQueuedWriteFirst) {
    constexpr int kWrites = 200;
    std::atomic<int> ok{0};
    std::atomic<int> called{0};
    for (int i = 0; i < kWrites; ++i) {
        store_->Write([i](Txn& txn) { return txn.Settings().Put("q-" + std::to_string(i), "v"); },
                      [&](Status s) {
                          ok += s.ok() ? 1 : 0;
                          ++called;
                      });
    }
    store_->Close();
    EXPECT_EQ(called.load(), kWrites);
    EXPECT_EQ(ok.load(), kWrites);
    ASSERT_NO_FATAL_FAILURE(Reopen());
    for (int i = 0; i < kWrites; ++i) EXPECT_TRUE(Setting("q-" + std::to_string(i))) << i;
}

TEST_P(StoreContract, WriteAfterCloseIsUnavailable) {
    store_->Close();
    std::optional<Status> got;
    store_->Write([](Txn& txn) { return txn.Settings().Put("late", "v"); },
                  [&](Status s) { got = s; });
    ASSERT_TRUE(got) << "done must be called even when the store is closed";
    ASSERT_FALSE(*got);
    EXPECT_EQ(got->error().code, Code::kUnavailable);
    store_->Close();  // closing twice is harmless
}

TEST_P(StoreContract, EverythingSurvivesAReopen) {
    const Remediation r = Full("durable-1", "i4");
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(), r));
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
            r.id, {T(1), "state_change", State::kFailed, "", "engine", "d"}));
        NR_RETURN_IF_ERROR(txn.Tokens().Insert("durable-hash", {"n", Role::kApprover, {"c2"}}));
        return txn.Settings().Put("engine.paused", "true");
    })));
    ASSERT_NO_FATAL_FAILURE(Reopen());
    auto got = Get("durable-1");
    ASSERT_TRUE(got);
    ExpectSameRemediation(*got, r);
    const auto events = Events("durable-1");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].detail, "d");
    auto token = ReadOk<std::optional<TokenRecord>>(
        [](Reader& rd) { return rd.Tokens().Find("durable-hash"); });
    ASSERT_TRUE(token);
    EXPECT_EQ(token->role, Role::kApprover);
    EXPECT_EQ(Setting("engine.paused"), "true");
    EXPECT_EQ(ReadOk<std::vector<model::Host>>([](Reader& rd) {
                  return rd.Inventory().ListHosts();
              }).size(),
              6u);
    // The store still works after a reopen (the schema is not re-created or re-migrated).
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("after-reopen", "i1", State::kPending, T(50)))));
}

TEST_P(StoreContract, DestroyingTheStoreCommitsLikeClose) {
    std::atomic<int> called{0};
    for (int i = 0; i < 20; ++i) {
        store_->Write([i](Txn& txn) { return txn.Settings().Put("d-" + std::to_string(i), "v"); },
                      [&](Status) { ++called; });
    }
    store_.reset();
    EXPECT_EQ(called.load(), 20);
    auto reopened = OpenStore(url_);
    ASSERT_TRUE(reopened) << reopened.error().message;
    store_ = std::move(reopened).value();
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(Setting("d-" + std::to_string(i))) << i;
}

TEST_P(StoreContract, WithoutGroupCommitFailuresAreStillIsolated) {
    store_->Close();
    auto opened = OpenStore(url_, StoreOptions{.max_batch = 1});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    std::promise<void> all_done;
    std::atomic<int> left{10};
    std::vector<Status> outcomes(10);
    for (int i = 0; i < 10; ++i) {
        store_->Write(
            [i](Txn& txn) -> Status {
                NR_RETURN_IF_ERROR(txn.Settings().Put("nb-" + std::to_string(i), "v"));
                return i % 2 ? Internal("odd") : OkStatus();
            },
            [&, i](Status s) {
                outcomes[size_t(i)] = s;
                if (--left == 0) all_done.set_value();
            });
    }
    all_done.get_future().wait();
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(outcomes[size_t(i)].ok(), i % 2 == 0) << i;
        EXPECT_EQ(Setting("nb-" + std::to_string(i)).has_value(), i % 2 == 0) << i;
    }
}

// docs/http-api.md 10: an HTTP request's write past the queue's bound is refused at once; a
// background write (no request id: the engine's) still queues; the queue takes writes again
// once it drains.
TEST_P(StoreContract, RefusesARequestsWriteWhenTheWriteQueueIsFull) {
    store_->Close();
    // One writer, held below: with more, the others would take the queued writes.
    auto opened = OpenStore(url_, StoreOptions{.max_queued_writes = 2, .writers = 1});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    auto put = [this](const std::string& key) {
        auto done = std::make_shared<std::promise<Status>>();
        auto result = done->get_future();
        store_->Write([key](Txn& txn) { return txn.Settings().Put(key, "v"); },
                      [done](Status s) { done->set_value(std::move(s)); });
        return result;
    };
    // Holds the writer inside a batch, so that the writes below wait in the queue.
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> writer_busy;
    store_->Write(
        [&](Txn&) {
            writer_busy.set_value();
            released.wait();
            return OkStatus();
        },
        [](Status) {});
    writer_busy.get_future().wait();
    std::future<Status> first, second, third;
    {
        ScopedRequestId request("req-flood");
        first = put("q-1");
        second = put("q-2");
        third = put("q-3");
    }
    std::future<Status> background = put("q-engine");
    ASSERT_EQ(third.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    Status refused = third.get();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Code::kUnavailable);
    EXPECT_EQ(first.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    release.set_value();
    EXPECT_TRUE(first.get().ok());
    EXPECT_TRUE(second.get().ok());
    EXPECT_TRUE(background.get().ok());
    {
        ScopedRequestId request("req-after");
        EXPECT_TRUE(put("q-4").get().ok());
    }
    EXPECT_FALSE(Setting("q-3").has_value());
    EXPECT_TRUE(Setting("q-engine").has_value());
}

// ---- Commit observers and counts ----------------------------------------------------------

// Keeps every report it is given.
class RecordingObserver final : public CommitObserver {
public:
    void OnCommit(const CommitReport& report) override {
        std::lock_guard lock(mu);
        reports.push_back(report);
    }
    std::vector<RemediationChange> Changes() {
        std::lock_guard lock(mu);
        std::vector<RemediationChange> out;
        for (const auto& r : reports) out.insert(out.end(), r.changes.begin(), r.changes.end());
        return out;
    }
    std::mutex mu;
    std::vector<CommitReport> reports;
};

TEST_P(StoreContract, ObserversSeeCommittedChangesOnlyWithTheirRequestId) {
    RecordingObserver observer;
    store_->AddObserver(&observer);
    Remediation r = MakeRemediation("r-obs", "i1", State::kPending, T(1));
    {
        ScopedRequestId request("req-1");
        ASSERT_TRUE(IsOk(Insert(r)));
    }
    // A change whose work fails leaves no trace in the feed either.
    Status failed = Write([&](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r-gone", "i2", State::kPending, T(2))));
        return FailedPrecondition("rolled back");
    });
    EXPECT_FALSE(failed.ok());
    r.state = State::kRunning;
    r.update_time = T(3);
    ASSERT_TRUE(IsOk(Update(r, State::kPending)));
    // A compare-and-set that loses reports nothing.
    EXPECT_FALSE(Update(r, State::kPending).ok());
    // Observers run after the commit's callbacks: stopping the writer waits for them. The
    // observer must outlive the store's writer anyway.
    store_->Close();

    auto changes = observer.Changes();
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].remediation.id, "r-obs");
    EXPECT_FALSE(changes[0].previous_state.has_value());
    EXPECT_EQ(changes[0].request_id, "req-1");
    EXPECT_EQ(changes[1].remediation.state, State::kRunning);
    EXPECT_EQ(changes[1].previous_state, State::kPending);
    EXPECT_EQ(changes[1].request_id, "");
    ASSERT_FALSE(observer.reports.empty());
    for (const auto& report : observer.reports) EXPECT_GE(report.batch_size, 1u);
}

TEST_P(StoreContract, RemediationCountsFollowInsertsAndTransitions) {
    auto counts = [&] {
        std::map<std::tuple<State, Mode, Trigger>, int64_t> out;
        for (const auto& c : ReadOk<std::vector<RemediationCount>>(
                 [](Reader& r) { return r.Remediations().Count(); })) {
            out[{c.state, c.mode, c.trigger}] = c.count;
        }
        return out;
    };
    EXPECT_TRUE(counts().empty());
    Remediation a = MakeRemediation("r-a", "i1", State::kPending, T(1));
    Remediation b = MakeRemediation("r-b", "i2", State::kPending, T(2));
    ASSERT_TRUE(IsOk(Insert(a)));
    ASSERT_TRUE(IsOk(Insert(b)));
    EXPECT_EQ((counts()[{State::kPending, Mode::kVmOnly, Trigger::kManual}]), 2);
    a.state = State::kSucceeded;
    a.mode = Mode::kHostAware;
    ASSERT_TRUE(IsOk(Update(a, State::kPending)));
    auto after = counts();
    EXPECT_EQ((after[{State::kPending, Mode::kVmOnly, Trigger::kManual}]), 1);
    EXPECT_EQ((after[{State::kSucceeded, Mode::kHostAware, Trigger::kManual}]), 1);
    // Counts survive a restart and stay exact.
    Reopen();
    EXPECT_EQ(counts(), after);
}

// ---- Health signals (docs/http-api.md 5)
// ------------------------------------------------------------

// An alert of `instance_id` (cluster c1, or c2 for j*) with every field set.
model::Alert MakeAlert(const std::string& id, const std::string& instance_id,
                       Timestamp started_at) {
    model::Alert a;
    a.id = id;
    a.fingerprint = "fp-" + id;
    a.alert_name = "DmesgXidError";
    a.cluster_id = instance_id.starts_with("j") ? "c2" : "c1";
    a.instance_id = instance_id;
    a.target_vm = instance_id + "-name";
    a.severity = model::Severity::kCritical;
    a.labels = {{"alertname", "DmesgXidError"}, {"xid", "79"}, {"instance_id", instance_id}};
    a.annotations = {{"summary", "Xid 79 \"fell off\"\ncaf\xc3\xa9"}, {"empty", ""}};
    a.started_at = started_at;
    return a;
}

void ExpectSameAlert(const model::Alert& actual, const model::Alert& expected) {
    EXPECT_EQ(actual.id, expected.id);
    EXPECT_EQ(actual.fingerprint, expected.fingerprint);
    EXPECT_EQ(actual.alert_name, expected.alert_name);
    EXPECT_EQ(actual.cluster_id, expected.cluster_id);
    EXPECT_EQ(actual.instance_id, expected.instance_id);
    EXPECT_EQ(actual.target_vm, expected.target_vm);
    EXPECT_EQ(actual.severity, expected.severity);
    EXPECT_EQ(actual.labels, expected.labels);
    EXPECT_EQ(actual.annotations, expected.annotations);
    EXPECT_EQ(actual.started_at, expected.started_at);
    EXPECT_EQ(actual.resolved_at, expected.resolved_at);
    EXPECT_EQ(actual.remediation_id, expected.remediation_id);
    EXPECT_EQ(actual.waiting, expected.waiting);
}

std::vector<std::string> AlertIds(const std::vector<model::Alert>& alerts) {
    std::vector<std::string> ids;
    for (const auto& a : alerts) ids.push_back(a.id);
    return ids;
}

class StoreAlertContract : public StoreContract {
protected:
    Status Put(const model::Alert& a) {
        return Write([a](Txn& txn) { return txn.Alerts().Put(a); });
    }

    std::optional<model::Alert> ByFingerprint(const std::string& fp) {
        return ReadOk<std::optional<model::Alert>>(
            [&](Reader& r) { return r.Alerts().GetByFingerprint(fp); });
    }

    AlertPage Alerts(const AlertQuery& q) {
        return ReadOk<AlertPage>([&](Reader& r) { return r.Alerts().List(q); });
    }

    std::vector<std::string> Waiting(const std::string& cluster_id, int limit,
                                     Timestamp now = T(1000)) {
        return AlertIds(ReadOk<std::vector<model::Alert>>(
            [&](Reader& r) { return r.Alerts().ListWaiting(cluster_id, now, limit); }));
    }

    std::set<std::string> ClustersWithWaiting(Timestamp now) {
        auto clusters = ReadOk<std::vector<std::string>>(
            [&](Reader& r) { return r.Alerts().ListClustersWithWaiting(now); });
        return {clusters.begin(), clusters.end()};
    }

    std::set<std::string> Resolvable(Timestamp cutoff, int limit = 100) {
        auto ids = ReadOk<std::vector<std::string>>(
            [&](Reader& r) { return r.Remediations().ListAutoResolvable(cutoff, limit); });
        return {ids.begin(), ids.end()};
    }

    int Count(bool active, const std::string& cluster_id) {
        return ReadOk<int>([&](Reader& r) {
            return active ? r.Remediations().CountActive(cluster_id)
                          : r.Inventory().CountInstances(cluster_id);
        });
    }

    std::optional<Timestamp> LastEnd(const std::string& instance_id) {
        return ReadOk<std::optional<Timestamp>>(
            [&](Reader& r) { return r.Remediations().LastEnd(instance_id); });
    }

    model::ClusterAutomation Automation(const std::string& cluster_id) {
        return ReadOk<model::ClusterAutomation>(
            [&](Reader& r) { return r.Inventory().GetClusterAutomation(cluster_id); });
    }

    std::optional<model::Cluster> Cluster(const std::string& cluster_id) {
        return ReadOk<std::optional<model::Cluster>>(
            [&](Reader& r) { return r.Inventory().GetCluster(cluster_id); });
    }
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreAlertContract, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& backend) {
                             return backend.param.name;
                         });

TEST_P(StoreAlertContract, PutThenGetByFingerprintRoundTripsEveryField) {
    model::Alert a = MakeAlert("a1", "i1", T(5, 7));
    a.resolved_at = T(9, 3);
    a.remediation_id = "r-1";
    a.waiting = true;
    ASSERT_TRUE(IsOk(Put(a)));
    auto got = ByFingerprint("fp-a1");
    ASSERT_TRUE(got);
    ExpectSameAlert(*got, a);
}

TEST_P(StoreAlertContract, UnsetFieldsStayUnset) {
    model::Alert a;
    a.id = "bare";
    a.fingerprint = "fp-bare";
    a.alert_name = "NodeDown";
    a.severity = model::Severity::kInfo;
    a.started_at = T(1);
    ASSERT_TRUE(IsOk(Put(a)));
    auto got = ByFingerprint("fp-bare");
    ASSERT_TRUE(got);
    ExpectSameAlert(*got, a);
}

TEST_P(StoreAlertContract, PutReplacesByIdAndUnknownFingerprintIsEmpty) {
    model::Alert a = MakeAlert("a1", "i1", T(5));
    a.waiting = true;
    ASSERT_TRUE(IsOk(Put(a)));
    a.resolved_at = T(8);
    a.waiting = false;
    a.remediation_id = "r-9";
    a.annotations = {{"summary", "changed"}};
    ASSERT_TRUE(IsOk(Put(a)));
    auto got = ByFingerprint("fp-a1");
    ASSERT_TRUE(got);
    ExpectSameAlert(*got, a);
    AlertQuery q;
    q.cluster_id = "c1";
    EXPECT_EQ(Alerts(q).alerts.size(), 1u);
    EXPECT_FALSE(ByFingerprint("fp-none"));
}

TEST_P(StoreAlertContract, GetByFingerprintReturnsTheNewestOccurrence) {
    model::Alert older = MakeAlert("old", "i1", T(1));
    older.resolved_at = T(2);
    model::Alert newer = MakeAlert("new", "i1", T(3));
    model::Alert other = MakeAlert("other", "i1", T(9));
    newer.fingerprint = older.fingerprint = "same";
    // Written newest first, so insertion order cannot be what decides.
    ASSERT_TRUE(IsOk(Put(newer)));
    ASSERT_TRUE(IsOk(Put(older)));
    ASSERT_TRUE(IsOk(Put(other)));
    auto got = ByFingerprint("same");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, "new");
    // A webhook's fingerprints in one read: the newest alert of each that has one.
    auto found = ReadOk<std::vector<model::Alert>>([](Reader& r) {
        return r.Alerts().GetByFingerprints({"same", "fp-none", "fp-other"});
    });
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    ASSERT_EQ(found.size(), 2u);
    ExpectSameAlert(found[0], newer);
    ExpectSameAlert(found[1], other);
}

TEST_P(StoreAlertContract, ListAlertsPagesNewestFirstWithTiesBrokenById) {
    // 11 alerts of c1 with ties on started_at, plus alerts of c2 and of no cluster.
    std::vector<model::Alert> all;
    for (int k = 0; k < 11; ++k) {
        model::Alert a =
            MakeAlert("a" + std::to_string(k), "i" + std::to_string(k % 4 + 1), T(k / 3));
        if (k % 2 == 0) a.resolved_at = T(100);
        all.push_back(a);
    }
    model::Alert c2 = MakeAlert("c2-alert", "j1", T(50));
    model::Alert nowhere = MakeAlert("nowhere", "i1", T(60));
    nowhere.cluster_id = nowhere.instance_id = "";
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        for (const auto& a : all) NR_RETURN_IF_ERROR(txn.Alerts().Put(a));
        NR_RETURN_IF_ERROR(txn.Alerts().Put(c2));
        return txn.Alerts().Put(nowhere);
    })));
    auto expected_order = [&](std::optional<bool> firing) {
        std::vector<model::Alert> rows;
        for (const auto& a : all) {
            if (!firing || *firing == !a.resolved_at) rows.push_back(a);
        }
        std::sort(rows.begin(), rows.end(), [](const model::Alert& x, const model::Alert& y) {
            return std::make_pair(x.started_at, x.id) > std::make_pair(y.started_at, y.id);
        });
        return AlertIds(rows);
    };
    for (std::optional<bool> firing :
         {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)}) {
        for (int size : {1, 2, 3, 5, 50}) {
            SCOPED_TRACE(::testing::Message()
                         << "firing " << (firing ? int(*firing) : -1) << ", page size " << size);
            AlertQuery q;
            q.cluster_id = "c1";
            q.firing = firing;
            q.limit = size;
            std::vector<std::string> ids;
            for (int page = 0; page < 50; ++page) {
                const AlertPage got = Alerts(q);
                EXPECT_LE(got.alerts.size(), size_t(size));
                for (const auto& a : got.alerts) ids.push_back(a.id);
                if (!got.has_next) break;
                ASSERT_EQ(got.alerts.size(), size_t(size)) << "a short page with has_next";
                q.after = Cursor{ToMicros(got.alerts.back().started_at), got.alerts.back().id};
            }
            EXPECT_EQ(ids, expected_order(firing));
        }
    }
    AlertQuery q2;
    q2.cluster_id = "c2";
    auto page = Alerts(q2);
    ASSERT_EQ(page.alerts.size(), 1u);
    ExpectSameAlert(page.alerts[0], c2);
    AlertQuery q3;
    q3.cluster_id = "nope";
    EXPECT_TRUE(Alerts(q3).alerts.empty());
    EXPECT_FALSE(Alerts(q3).has_next);
}

TEST_P(StoreAlertContract, HasNextOnlyWhenMoreRowsFollow) {
    for (int k = 0; k < 4; ++k)
        ASSERT_TRUE(IsOk(Put(MakeAlert("a" + std::to_string(k), "i1", T(k)))));
    AlertQuery q;
    q.cluster_id = "c1";
    q.limit = 4;
    EXPECT_FALSE(Alerts(q).has_next);
    q.limit = 3;
    EXPECT_TRUE(Alerts(q).has_next);
    q.after = Cursor{ToMicros(T(0)), "a0"};
    EXPECT_TRUE(Alerts(q).alerts.empty());
    EXPECT_FALSE(Alerts(q).has_next);
}

TEST_P(StoreAlertContract, WaitingAlertsComeOldestFirstUpToTheLimit) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        for (int k = 0; k < 6; ++k) {
            model::Alert a = MakeAlert("w" + std::to_string(k), k % 2 ? "i2" : "j1", T(10 - k));
            a.waiting = k != 3;
            NR_RETURN_IF_ERROR(txn.Alerts().Put(a));
        }
        return OkStatus();
    })));
    // Per cluster, so one cluster's storm never hides another's signals.
    EXPECT_EQ(Waiting("c2", 100), (std::vector<std::string>{"w4", "w2", "w0"}));
    EXPECT_EQ(Waiting("c2", 2), (std::vector<std::string>{"w4", "w2"}));
    EXPECT_EQ(Waiting("c1", 100), (std::vector<std::string>{"w5", "w1"}));
    EXPECT_EQ(ClustersWithWaiting(T(1000)), (std::set<std::string>{"c1", "c2"}));
    auto c1 = Cluster("c1");
    auto c2 = Cluster("c2");
    ASSERT_TRUE(c1 && c2);
    EXPECT_EQ(c1->waiting_signals, 2);  // w1, w5
    EXPECT_EQ(c2->waiting_signals, 3);  // w0, w2, w4
}

TEST_P(StoreAlertContract, WaitingAlertsAreListedOnlyOnceDue) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        model::Alert room = MakeAlert("room", "j1", T(1));  // waits for room: due at once
        room.waiting = true;
        NR_RETURN_IF_ERROR(txn.Alerts().Put(room));
        model::Alert cooling = MakeAlert("cooling", "j1", T(0));  // waits for the cooldown
        cooling.waiting = true;
        cooling.wait_until = T(100);
        NR_RETURN_IF_ERROR(txn.Alerts().Put(cooling));
        model::Alert other = MakeAlert("other", "i2", T(2));  // the other cluster, cooling
        other.waiting = true;
        other.wait_until = T(200);
        return txn.Alerts().Put(other);
    })));
    EXPECT_EQ(Waiting("c2", 100, T(99)), (std::vector<std::string>{"room"}));
    EXPECT_EQ(Waiting("c2", 100, T(100)), (std::vector<std::string>{"cooling", "room"}));
    EXPECT_EQ(ClustersWithWaiting(T(99)), (std::set<std::string>{"c2"}));
    EXPECT_EQ(ClustersWithWaiting(T(200)), (std::set<std::string>{"c1", "c2"}));
    auto stored = ByFingerprint("fp-cooling");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->wait_until, T(100));
    // Still counted as waiting while not due.
    auto c1 = Cluster("c1");
    ASSERT_TRUE(c1);
    EXPECT_EQ(c1->waiting_signals, 1);
}

// The sweeper's joins (docs/http-api.md 5, "Ingest rate"): the waiting signals of instances
// with an active remediation, oldest first, and no others.
TEST_P(StoreAlertContract, WaitingAlertsOfInstancesWithAnActiveRemediationComeOldestFirst) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        // i1 and j1: active; i2: ended; i3: none.
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r1", "i1", State::kRunning, T(1))));
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r2", "i2", State::kSucceeded, T(1))));
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r3", "j1", State::kPendingApproval, T(1))));
        const std::tuple<const char*, const char*, int, bool> alerts[] = {
            {"a1", "i1", 30, true}, {"a2", "i1", 10, true}, {"a3", "i1", 5, false},
            {"a4", "i2", 1, true},  {"a5", "i3", 2, true},  {"a6", "j1", 20, true}};
        for (const auto& [id, instance, started, waiting] : alerts) {
            model::Alert a = MakeAlert(id, instance, T(started));
            a.waiting = waiting;
            NR_RETURN_IF_ERROR(txn.Alerts().Put(a));
        }
        return OkStatus();
    })));
    auto joinable = [&](int limit) {
        return AlertIds(ReadOk<std::vector<model::Alert>>(
            [&](Reader& r) { return r.Alerts().ListWaitingWithActiveRemediation(limit); }));
    };
    EXPECT_EQ(joinable(100), (std::vector<std::string>{"a2", "a6", "a1"}));
    EXPECT_EQ(joinable(2), (std::vector<std::string>{"a2", "a6"}));
}

// An incident's release reads an instance's firing alerts (docs/http-api.md 11): the unlinked,
// the waiting and the linked ones, whatever state their remediation is in, oldest first; the
// linked ones come through the instance's remediations, not alerts_open_by_instance.
TEST_P(StoreAlertContract, AnInstancesOpenAlertsIncludeTheLinkedOnesOldestFirst) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r-ended", "i1", State::kSucceeded, T(1))));
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r-active", "i1", State::kRunning, T(2))));
        NR_RETURN_IF_ERROR(
            txn.Remediations().Insert(storage::UncheckedRemediationWriteKey(),
                                      MakeRemediation("r-other", "i2", State::kRunning, T(2))));
        // id, instance, start, linked to, waiting, resolved
        const std::tuple<const char*, const char*, int, const char*, bool, bool> alerts[] = {
            {"active", "i1", 40, "r-active", false, false},
            {"ended", "i1", 10, "r-ended", false, false},
            {"held", "i1", 30, "", false, false},
            {"waits", "i1", 20, "", true, false},
            {"linked-resolved", "i1", 5, "r-active", false, true},
            {"resolved", "i1", 6, "", false, true},
            {"other", "i2", 15, "r-other", false, false},
            {"other-held", "i2", 16, "", false, false}};
        for (const auto& [id, instance, started, linked, waiting, resolved] : alerts) {
            model::Alert a = MakeAlert(id, instance, T(started));
            a.remediation_id = linked;
            a.waiting = waiting;
            if (resolved) a.resolved_at = T(started + 1);
            NR_RETURN_IF_ERROR(txn.Alerts().Put(a));
        }
        return OkStatus();
    })));
    auto open = [&](const std::string& instance) {
        return AlertIds(ReadOk<std::vector<model::Alert>>(
            [&](Reader& r) { return r.Alerts().ListOpen(instance); }));
    };
    EXPECT_EQ(open("i1"), (std::vector<std::string>{"ended", "waits", "held", "active"}));
    EXPECT_EQ(open("i2"), (std::vector<std::string>{"other", "other-held"}));
    EXPECT_TRUE(open("i3").empty());
}

TEST_P(StoreAlertContract, AutoResolvableNeedsEveryLinkedAlertResolvedByTheCutoff) {
    // r1: two alerts resolved at 10 and 20. r2: one still firing. r3: no alerts. r4: resolved
    // but approved already. r5 (j1): one alert resolved at 5.
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        const std::pair<const char*, const char*> rems[] = {
            {"r1", "i1"}, {"r2", "i2"}, {"r3", "i3"}, {"r4", "i4"}, {"r5", "j1"}};
        for (const auto& [id, instance] : rems) {
            NR_RETURN_IF_ERROR(txn.Remediations().Insert(
                storage::UncheckedRemediationWriteKey(),
                MakeRemediation(id, instance,
                                std::string(id) == "r4" ? State::kPending : State::kPendingApproval,
                                T(1))));
        }
        auto linked = [&](const std::string& id, const std::string& instance,
                          const std::string& remediation, std::optional<Timestamp> resolved) {
            model::Alert a = MakeAlert(id, instance, T(1));
            a.remediation_id = remediation;
            a.resolved_at = resolved;
            return txn.Alerts().Put(a);
        };
        NR_RETURN_IF_ERROR(linked("a1", "i1", "r1", T(10)));
        NR_RETURN_IF_ERROR(linked("a2", "i1", "r1", T(20)));
        NR_RETURN_IF_ERROR(linked("a3", "i2", "r2", T(3)));
        NR_RETURN_IF_ERROR(linked("a4", "i2", "r2", std::nullopt));
        NR_RETURN_IF_ERROR(linked("a5", "i4", "r4", T(2)));
        NR_RETURN_IF_ERROR(linked("a6", "j1", "r5", T(5)));
        return OkStatus();
    })));
    EXPECT_EQ(Resolvable(T(4)), std::set<std::string>{});
    EXPECT_EQ(Resolvable(T(5)), std::set<std::string>{"r5"});
    EXPECT_EQ(Resolvable(T(20) - std::chrono::microseconds(1)), std::set<std::string>{"r5"});
    EXPECT_EQ(Resolvable(T(20)), (std::set<std::string>{"r1", "r5"}));
    EXPECT_EQ(Resolvable(T(1000)), (std::set<std::string>{"r1", "r5"}));
    EXPECT_EQ(Resolvable(T(1000), 1).size(), 1u);
}

TEST_P(StoreAlertContract, CountsActiveRemediationsAndInstancesPerCluster) {
    EXPECT_EQ(Count(false, "c1"), 4);
    EXPECT_EQ(Count(false, "c2"), 2);
    EXPECT_EQ(Count(false, "nope"), 0);
    EXPECT_EQ(Count(true, "c1"), 0);
    int n = 0;
    for (State s : model::kAllStates) {
        ASSERT_TRUE(IsOk(Insert(
            MakeRemediation("r" + std::to_string(n), "i" + std::to_string(n % 4 + 1), s, T(n)))));
        if (!model::IsTerminal(s)) {
            // One active remediation per instance: finish it before the next one.
            EXPECT_EQ(Count(true, "c1"), 1) << model::WireName(s);
            Remediation done = MakeRemediation(
                "r" + std::to_string(n), "i" + std::to_string(n % 4 + 1), State::kSucceeded, T(n));
            ASSERT_TRUE(IsOk(Update(done, s)));
        }
        ++n;
    }
    EXPECT_EQ(Count(true, "c1"), 0);
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a1", "i1", State::kPending, T(50)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a2", "i2", State::kRunning, T(50)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a3", "i3", State::kPendingApproval, T(50)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a4", "j1", State::kQuarantining, T(50)))));
    EXPECT_EQ(Count(true, "c1"), 3);
    EXPECT_EQ(Count(true, "c2"), 1);
    EXPECT_EQ(Count(true, "nope"), 0);
}

TEST_P(StoreAlertContract, LastRemediationEndIsTheNewestEndOfSucceededFailedOrCancelled) {
    EXPECT_FALSE(LastEnd("i1"));
    auto ended = [](const std::string& id, const std::string& instance, State s, Timestamp end) {
        Remediation r = MakeRemediation(id, instance, s, T(1));
        r.end_time = end;
        return r;
    };
    ASSERT_TRUE(IsOk(Insert(ended("e1", "i1", State::kSucceeded, T(30)))));
    ASSERT_TRUE(IsOk(Insert(ended("e2", "i1", State::kFailed, T(10)))));
    EXPECT_EQ(LastEnd("i1"), T(30));
    ASSERT_TRUE(IsOk(Insert(ended("e3", "i1", State::kCancelled, T(40, 5)))));
    EXPECT_EQ(LastEnd("i1"), T(40, 5));
    // AUTO_RESOLVED starts no cooldown (docs/http-api.md 5); active ones have not ended.
    ASSERT_TRUE(IsOk(Insert(ended("e4", "i1", State::kAutoResolved, T(90)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("e5", "i1", State::kRunning, T(95)))));
    EXPECT_EQ(LastEnd("i1"), T(40, 5));
    ASSERT_TRUE(IsOk(Insert(ended("e6", "i2", State::kAutoResolved, T(90)))));
    EXPECT_FALSE(LastEnd("i2"));
    EXPECT_FALSE(LastEnd("j1"));
}

TEST_P(StoreAlertContract, ClusterAutomationDefaultsToApproveAndIsSetAndShown) {
    auto initial = Automation("c1");
    EXPECT_FALSE(initial.automatic);
    EXPECT_TRUE(initial.automatic_alerts.empty());

    const std::vector<std::string> names = {"DmesgXidError", "NpdKernelDeadlock"};
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) {
        return txn.Inventory().SetClusterAutomation("c1", {true, names});
    })));
    auto set = Automation("c1");
    EXPECT_TRUE(set.automatic);
    EXPECT_EQ(set.automatic_alerts, names);
    EXPECT_FALSE(Automation("c2").automatic) << "per cluster";
    auto cluster = Cluster("c1");
    ASSERT_TRUE(cluster);
    EXPECT_TRUE(cluster->automation.automatic);
    EXPECT_EQ(cluster->automation.automatic_alerts, names);

    ASSERT_NO_FATAL_FAILURE(Reopen());
    EXPECT_EQ(Automation("c1").automatic_alerts, names);

    ASSERT_TRUE(IsOk(Write([](Txn& txn) {
        return txn.Inventory().SetClusterAutomation("c1", {false, {}});
    })));
    auto cleared = Automation("c1");
    EXPECT_FALSE(cleared.automatic);
    EXPECT_TRUE(cleared.automatic_alerts.empty());
}

TEST_P(StoreAlertContract, SetClusterAutomationOfAnUnknownClusterIsNotFound) {
    Status s = Write([](Txn& txn) {
        return txn.Inventory().SetClusterAutomation("nope", {true, {}});
    });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kNotFound);
}

TEST_P(StoreAlertContract, InstanceAutoRepairDefaultsOnAndIsSetAndShown) {
    auto instance = [&](const std::string& id) {
        return ReadOk<std::optional<model::Instance>>(
            [&](Reader& r) { return r.Inventory().GetInstance(id); });
    };
    ASSERT_TRUE(instance("i2"));
    EXPECT_TRUE(instance("i2")->auto_repair);
    ASSERT_TRUE(
        IsOk(Write([](Txn& txn) { return txn.Inventory().SetInstanceAutoRepair("i2", false); })));
    EXPECT_FALSE(instance("i2")->auto_repair);
    EXPECT_TRUE(instance("i1")->auto_repair);
    auto by_name = ReadOk<std::optional<model::Instance>>(
        [](Reader& r) { return r.Inventory().FindInstanceByName("i2-name"); });
    ASSERT_TRUE(by_name);
    EXPECT_FALSE(by_name->auto_repair);
    auto cluster = Cluster("c1");
    ASSERT_TRUE(cluster);
    for (const auto& node : cluster->gpu_worker_nodes) {
        EXPECT_EQ(node.auto_repair, node.instance_id != "i2") << node.instance_id;
    }
    // Importing the fleet again keeps it.
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    EXPECT_FALSE(instance("i2")->auto_repair);
    ASSERT_TRUE(
        IsOk(Write([](Txn& txn) { return txn.Inventory().SetInstanceAutoRepair("i2", true); })));
    EXPECT_TRUE(instance("i2")->auto_repair);

    Status unknown =
        Write([](Txn& txn) { return txn.Inventory().SetInstanceAutoRepair("nope", false); });
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Code::kNotFound);
}

TEST_P(StoreAlertContract, FindInstanceByNameReturnsTheWholeInstance) {
    auto found = ReadOk<std::optional<model::Instance>>(
        [](Reader& r) { return r.Inventory().FindInstanceByName("j1-name"); });
    ASSERT_TRUE(found);
    EXPECT_EQ(found->instance_id, "j1");
    EXPECT_EQ(found->cluster_id, "c2");
    EXPECT_EQ(found->instance_name, "j1-name");
    EXPECT_EQ(found->num_gpus, 4);
    EXPECT_EQ(found->host_name, "h5");
    EXPECT_TRUE(found->auto_repair);
    for (const char* missing : {"j1", "nope", "", "J1-NAME", "j1-nam"}) {
        EXPECT_FALSE(ReadOk<std::optional<model::Instance>>([&](Reader& r) {
            return r.Inventory().FindInstanceByName(missing);
        })) << missing;
    }
}

TEST_P(StoreAlertContract, LinkedAlertsComeWithGetAndListOldestFirst) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r1", "i1", State::kPendingApproval, T(1)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r2", "i2", State::kPending, T(2)))));
    model::Alert late = MakeAlert("late", "i1", T(9));
    late.remediation_id = "r1";
    model::Alert early = MakeAlert("early", "i1", T(3));
    early.remediation_id = "r1";
    early.resolved_at = T(4);  // resolved ones included
    model::Alert tie_b = MakeAlert("tie-b", "i1", T(5));
    tie_b.remediation_id = "r1";
    model::Alert tie_a = MakeAlert("tie-a", "i1", T(5));
    tie_a.remediation_id = "r1";
    model::Alert unlinked = MakeAlert("unlinked", "i1", T(6));
    model::Alert waiting = MakeAlert("waiting", "i1", T(7));
    waiting.waiting = true;
    model::Alert other = MakeAlert("other", "i2", T(8));
    other.remediation_id = "r2";
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        for (const auto& a : {late, early, tie_b, tie_a, unlinked, waiting, other}) {
            NR_RETURN_IF_ERROR(txn.Alerts().Put(a));
        }
        return OkStatus();
    })));
    const std::vector<std::string> r1_alerts = {"early", "tie-a", "tie-b", "late"};

    auto r1 = Get("r1");
    ASSERT_TRUE(r1);
    EXPECT_EQ(AlertIds(r1->linked_alerts), r1_alerts);
    ASSERT_EQ(r1->linked_alerts.size(), 4u);
    ExpectSameAlert(r1->linked_alerts[0], early);
    // The row alone: the same remediation, no alerts.
    auto row =
        ReadOk<std::optional<Remediation>>([](Reader& r) { return r.Remediations().GetRow("r1"); });
    ASSERT_TRUE(row);
    EXPECT_EQ(row->id, "r1");
    EXPECT_EQ(row->version, r1->version);
    EXPECT_EQ(row->state, r1->state);
    EXPECT_TRUE(row->linked_alerts.empty());
    EXPECT_FALSE(ReadOk<std::optional<Remediation>>(
        [](Reader& r) { return r.Remediations().GetRow("nope"); }));

    ListQuery q;
    q.cluster_id = "c1";
    auto page = List(q);
    ASSERT_EQ(page.remediations.size(), 2u);
    for (const auto& r : page.remediations) {
        const std::vector<std::string> expected =
            r.id == "r1" ? r1_alerts : std::vector<std::string>{"other"};
        EXPECT_EQ(AlertIds(r.linked_alerts), expected) << r.id;
    }
    q.instance_id = "i2";
    page = List(q);
    ASSERT_EQ(page.remediations.size(), 1u);
    EXPECT_EQ(AlertIds(page.remediations[0].linked_alerts), std::vector<std::string>{"other"});

    // Without alerts the list is empty, not stale.
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r3", "i3", State::kPending, T(3)))));
    EXPECT_TRUE(Get("r3")->linked_alerts.empty());
}

// The coalesced GETs of PostgreSQL (docs/design.md 7): several remediations in one read,
// each as Get gives it, alone in its statement where reads run alone.
TEST_P(StoreAlertContract, GetManyGivesWhatGetGivesForEachIdItFinds) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r1", "i1", State::kPendingApproval, T(1)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r2", "i2", State::kPending, T(2)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r3", "i3", State::kPending, T(3)))));
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        using Linked = std::tuple<const char*, const char*, int, const char*>;
        // (alert, instance, start, remediation)
        for (auto [id, instance, at, linked] :
             {Linked{"late", "i1", 9, "r1"}, Linked{"early", "i1", 3, "r1"},
              Linked{"other", "i2", 8, "r2"}}) {
            model::Alert a = MakeAlert(id, instance, T(at));
            a.remediation_id = linked;
            NR_RETURN_IF_ERROR(txn.Alerts().Put(a));
        }
        return OkStatus();
    })));
    std::vector<Remediation> many;
    Status read = store_->ReadOneStatement([&](Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(many, reader.Remediations().GetMany({"r2", "nope", "r1", "r3"}));
        return OkStatus();
    });
    ASSERT_TRUE(read) << read.error().message;
    ASSERT_EQ(many.size(), 3u);
    std::sort(many.begin(), many.end(),
              [](const Remediation& a, const Remediation& b) { return a.id < b.id; });
    for (const auto& r : many) {
        auto one = Get(r.id);
        ASSERT_TRUE(one) << r.id;
        ExpectSameRemediation(r, *one);
        EXPECT_EQ(AlertIds(r.linked_alerts), AlertIds(one->linked_alerts)) << r.id;
    }
    EXPECT_EQ(AlertIds(many[0].linked_alerts), (std::vector<std::string>{"early", "late"}));
    EXPECT_EQ(AlertIds(many[1].linked_alerts), std::vector<std::string>{"other"});
    EXPECT_TRUE(many[2].linked_alerts.empty());
    auto none = ReadOk<std::vector<Remediation>>(
        [](Reader& r) { return r.Remediations().GetMany({"nope"}); });
    EXPECT_TRUE(none.empty());
}

TEST(OpenStore, RejectsUnknownOrIncompleteUrls) {
    for (const char* url : {"", "sqlite:", "mysql://localhost/db", "file.db", "SQLITE:x.db"}) {
        auto opened = OpenStore(url);
        ASSERT_FALSE(opened) << url;
        EXPECT_EQ(opened.error().code, Code::kInvalidArgument) << url;
    }
}

// ---- Signal occurrences (docs/http-api.md 11, policy replay) -------------------------------

TEST_P(StoreContract, SignalOccurrencesAreListedInTimeOrderFromSinceWithAKeyset) {
    const Timestamp t0 = test_support::TestEpoch();
    auto at = [&](int s) { return t0 + std::chrono::seconds(s); };
    ASSERT_TRUE(Write([&](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Alerts().AppendOccurrence(
            {0, at(20), "c1", "i2", "health_check:gpu_burn", model::Mode::kHostAware, "", "r1"}));
        NR_RETURN_IF_ERROR(txn.Alerts().AppendOccurrence(
            {0, at(10), "c1", "i1", "DmesgXidError", model::Mode::kRebootVm, "a1", ""}));
        NR_RETURN_IF_ERROR(txn.Alerts().AppendOccurrence(
            {0, at(10), "c1", "i3", "KubeNodeDiskPressure", std::nullopt, "a2", ""}));
        return txn.Alerts().AppendOccurrence(
            {0, at(5), "c2", "j1", "DmesgXidError", model::Mode::kRebootVm, "a3", ""});
    }));
    using Occurrences = std::vector<SignalOccurrence>;
    auto all =
        ReadOk<Occurrences>([&](Reader& r) { return r.Alerts().ListOccurrences(at(10), 0, 100); });
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].instance_id, "i1");
    EXPECT_EQ(all[0].mode, model::Mode::kRebootVm);
    EXPECT_EQ(all[0].alert_id, "a1");
    EXPECT_EQ(all[0].time, at(10));
    EXPECT_EQ(all[1].instance_id, "i3");
    EXPECT_FALSE(all[1].mode);
    EXPECT_EQ(all[2].signal, "health_check:gpu_burn");
    EXPECT_EQ(all[2].run_id, "r1");
    EXPECT_EQ(all[2].alert_id, "");
    // Page by page, from the last (time, seq) seen.
    auto first =
        ReadOk<Occurrences>([&](Reader& r) { return r.Alerts().ListOccurrences(at(0), 0, 1); });
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].instance_id, "j1");
    auto next = ReadOk<Occurrences>(
        [&](Reader& r) { return r.Alerts().ListOccurrences(all[0].time, all[0].seq, 10); });
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0].instance_id, "i3");
}

TEST(OpenStore, UnwritablePathIsAnError) {
    auto opened = OpenStore("sqlite:/nonexistent-dir/sub/store.db");
    EXPECT_FALSE(opened);
}

// docs/http-api.md 11: the suspicion check's count is exact whether the host's ceiling answers
// or its ledger does: fewer signals in the window than asked for is nullopt, as many or more
// the window's counts; remediations raise no ceiling, and a window that starts before the
// ceiling's is read from the ledger.
TEST_P(StoreContract, HostFaultCountsReachingAThresholdAreExact) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    std::vector<std::optional<model::HostFaultCounts>> seen;
    ASSERT_TRUE(IsOk(Write([&seen](Txn& txn) -> Status {
        InventoryRepository& inventory = txn.Inventory();
        auto count = [&](Timestamp since, int at_least) -> Status {
            NR_ASSIGN_OR_RETURN(auto counts,
                                inventory.CountHostFaultsReaching("h1", since, at_least));
            seen.push_back(counts);
            return OkStatus();
        };
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i1", "A", "", T(10)}));
        NR_RETURN_IF_ERROR(count(T(0), 2));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i2", "B", "", T(20)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i1", "VM_ONLY", "r", T(21)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h2", "", "c1", "i3", "A", "", T(22)}));
        NR_RETURN_IF_ERROR(count(T(5), 3));
        NR_RETURN_IF_ERROR(count(T(5), 2));
        NR_RETURN_IF_ERROR(count(T(15), 2));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i2", "C", "", T(30)}));
        NR_RETURN_IF_ERROR(count(T(15), 2));
        NR_RETURN_IF_ERROR(count(T(0), 3));
        return OkStatus();
    })));
    ASSERT_EQ(seen.size(), 6u);
    EXPECT_FALSE(seen[0]) << "one signal, two asked for";
    EXPECT_FALSE(seen[1]) << "two signals, three asked for";
    ASSERT_TRUE(seen[2]);
    EXPECT_EQ(seen[2]->signals, 2);
    EXPECT_EQ(seen[2]->instances, 2);
    EXPECT_FALSE(seen[3]) << "A left the window: one signal";
    ASSERT_TRUE(seen[4]);
    EXPECT_EQ(seen[4]->signals, 2);
    EXPECT_EQ(seen[4]->instances, 1);
    ASSERT_TRUE(seen[5]);
    EXPECT_EQ(seen[5]->signals, 3);
    EXPECT_EQ(seen[5]->instances, 2);
}

// docs/http-api.md 11: a signal appended with its host's check answers as the check would right
// after the append, from the ceiling the append leaves: below the threshold while the ceiling
// is, counted from the ledger when it reaches it or when the window starts before it, and the
// ceiling set again from that count.
TEST_P(StoreContract, AHostSignalAppendedWithItsCheckIsCountedExactly) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    std::vector<std::optional<model::HostFaultCounts>> seen;
    ASSERT_TRUE(IsOk(Write([&seen](Txn& txn) -> Status {
        InventoryRepository& inventory = txn.Inventory();
        auto signal = [&](const std::string& instance, int at, Timestamp since,
                          int at_least) -> Status {
            NR_ASSIGN_OR_RETURN(auto counts,
                                inventory.AddHostFaultReaching(
                                    {"h1", "r1", "c1", instance, "S", "", T(at)}, since, at_least));
            seen.push_back(counts);
            return OkStatus();
        };
        NR_RETURN_IF_ERROR(signal("i1", 10, T(0), 2));
        NR_RETURN_IF_ERROR(signal("i2", 20, T(0), 2));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "r1", "c1", "i1", "VM_ONLY", "r", T(21)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h2", "r1", "c1", "i3", "A", "", T(22)}));
        NR_RETURN_IF_ERROR(signal("i1", 30, T(0), 4));
        NR_RETURN_IF_ERROR(signal("i2", 40, T(15), 3));
        NR_RETURN_IF_ERROR(signal("i2", 50, T(35), 3));
        NR_RETURN_IF_ERROR(signal("i3", 60, T(35), 3));
        NR_RETURN_IF_ERROR(signal("i1", 70, T(0), 100));
        NR_ASSIGN_OR_RETURN(auto all, inventory.CountHostFaultsReaching("h1", T(0), 7));
        seen.push_back(all);
        // A ceiling a check set before the host's first row names no row: the row appended
        // after it is the one its chain starts from.
        NR_ASSIGN_OR_RETURN(auto none, inventory.CountHostFaultsReaching("h3", T(0), 1));
        seen.push_back(none);
        NR_ASSIGN_OR_RETURN(auto first, inventory.AddHostFaultReaching(
                                            {"h3", "r1", "c1", "i3", "S", "", T(80)}, T(0), 1));
        seen.push_back(first);
        return OkStatus();
    })));
    ASSERT_EQ(seen.size(), 10u);
    // The check at `k` answered with these counts (a window that reached its threshold).
    auto counted = [&seen](size_t k, int signals, int instances, const char* why) {
        ASSERT_TRUE(seen[k]) << why;
        EXPECT_EQ(seen[k]->signals, signals) << why;
        EXPECT_EQ(seen[k]->instances, instances) << why;
    };
    EXPECT_FALSE(seen[0]) << "a host's first signal, two asked for";
    counted(1, 2, 2, "two signals of two instances");
    EXPECT_FALSE(seen[2]) << "three signals, four asked for; the remediation and h2's not counted";
    counted(3, 3, 2, "from 15 s: the signals at 20, 30 and 40 s");
    EXPECT_FALSE(seen[4]) << "from 35 s: two signals";
    counted(5, 3, 2, "from 35 s: the signals at 40, 50 and 60 s");
    EXPECT_FALSE(seen[6]) << "a window before the ceiling's start, read from the ledger";
    counted(7, 7, 3, "the ceiling was set again from the whole window");
    EXPECT_FALSE(seen[8]) << "h3 has no signal yet";
    counted(9, 1, 1, "h3's first signal, counted from its chain");
    auto scope = ReadOk<std::vector<model::InstanceSignals>>(
        [](Reader& r) { return r.Inventory().ListScopeSignals("c1", "r1", T(0)); });
    int signals = 0;
    for (const auto& instance : scope) signals += instance.signals;
    EXPECT_EQ(signals, 9) << "every signal of the rack's chain, h2's too, none skipped";
}

// docs/http-api.md 11: a host's ledger is read newest first along the host's own rows; when the
// clock steps back, a row appended later can be older than those before it, and the window's
// count and the page (newest first by time) still hold every row they should.
TEST_P(StoreContract, HostFaultsStayExactWhenTheClockStepsBack) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().ImportFleet(TestFleet()); })));
    std::optional<model::HostFaultCounts> reaching;
    ASSERT_TRUE(IsOk(Write([&reaching](Txn& txn) -> Status {
        InventoryRepository& inventory = txn.Inventory();
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i1", "A", "", T(100)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i2", "B", "", T(110)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h2", "", "c1", "i3", "X", "", T(115)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i1", "C", "", T(120)}));
        // The clock steps back.
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i3", "D", "", T(50)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "", "c1", "i3", "E", "", T(60)}));
        NR_ASSIGN_OR_RETURN(reaching, inventory.CountHostFaultsReaching("h1", T(105), 2));
        return OkStatus();
    })));
    ASSERT_TRUE(reaching) << "B and C are in the window behind the two older rows";
    EXPECT_EQ(reaching->signals, 2);
    EXPECT_EQ(reaching->instances, 2);
    auto since55 = ReadOk<model::HostFaultCounts>(
        [](Reader& r) { return r.Inventory().CountHostFaults("h1", T(55)); });
    EXPECT_EQ(since55.signals, 4) << "A, B, C and E";
    EXPECT_EQ(since55.instances, 3);
    auto newest = ReadOk<std::vector<model::HostFault>>(
        [](Reader& r) { return r.Inventory().ListHostFaults("h1", 2); });
    ASSERT_EQ(newest.size(), 2u);
    EXPECT_EQ(newest[0].name, "C");
    EXPECT_EQ(newest[1].name, "B");
    auto all = ReadOk<std::vector<model::HostFault>>(
        [](Reader& r) { return r.Inventory().ListHostFaults("h1", 10); });
    std::string names;
    for (const auto& fault : all) names += fault.name;
    EXPECT_EQ(names, "CBAED");
}

// A scope's signals (an incident's opening, docs/http-api.md 11) are read along the scope's
// own chain: exact when the clock steps back, never another scope's, remediations not counted.
TEST_P(StoreContract, ScopeSignalsStayExactWhenTheClockStepsBack) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        InventoryRepository& inventory = txn.Inventory();
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "r1", "c1", "i1", "A", "", T(100)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h2", "r1", "c1", "i2", "B", "", T(110)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h3", "r2", "c1", "i4", "X", "", T(115)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "r1", "c2", "i5", "Y", "", T(116)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h1", "r1", "c1", "i1", "C", "", T(120)}));
        // The clock steps back.
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h2", "r1", "c1", "i3", "D", "", T(50)}));
        NR_RETURN_IF_ERROR(inventory.AddHostFault({"h2", "r1", "c1", "i3", "E", "", T(60)}));
        return inventory.AddHostFault({"h2", "r1", "c1", "i2", "VM_ONLY", "rem-1", T(61)});
    })));
    auto scope = [&](Timestamp since) {
        std::string out;
        for (const auto& s : ReadOk<std::vector<model::InstanceSignals>>(
                 [&](Reader& r) { return r.Inventory().ListScopeSignals("c1", "r1", since); })) {
            out += s.instance_id + ":" + std::to_string(s.signals) + "@" +
                   std::to_string((ToMicros(s.first) - ToMicros(T(0))) / 1000000) + " ";
        }
        return out;
    };
    EXPECT_EQ(scope(T(105)), "i2:1@110 i1:1@120 ") << "B and C behind the two older rows";
    EXPECT_EQ(scope(T(55)), "i1:2@100 i2:1@110 i3:1@60 ");
    EXPECT_EQ(scope(T(0)), "i1:2@100 i2:1@110 i3:2@50 ");
    EXPECT_EQ(scope(T(121)), "");
}

// docs/http-api.md 11: a host's rack and suspicion, its fault ledger, the counts the policy
// engine decides on, and incidents, alike on both backends.
TEST_P(StoreContract, HostFaultLedgerRacksSuspicionAndIncidents) {
    FleetImport racked = TestFleet();
    racked.hosts[0].rack = "r1";
    racked.hosts[1].rack = "r1";
    ASSERT_TRUE(IsOk(Write([racked](Txn& txn) { return txn.Inventory().ImportFleet(racked); })));
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().AddHostFault({"h1", "r1", "c1", "i1", "A", "", T(10)}));
        NR_RETURN_IF_ERROR(txn.Inventory().AddHostFault({"h1", "r1", "c1", "i1", "B", "", T(20)}));
        NR_RETURN_IF_ERROR(txn.Inventory().AddHostFault({"h2", "r1", "c1", "i2", "C", "", T(30)}));
        NR_RETURN_IF_ERROR(
            txn.Inventory().AddHostFault({"h1", "r1", "c1", "i1", "VM_ONLY", "rem-1", T(31)}));
        return txn.Inventory().SetHostSuspect("h1", "why");
    })));
    auto host =
        ReadOk<std::optional<model::Host>>([](Reader& r) { return r.Inventory().GetHost("h1"); });
    ASSERT_TRUE(host);
    EXPECT_EQ(host->rack, "r1");
    EXPECT_EQ(host->suspect, "why");
    EXPECT_EQ(ReadOk<int>([](Reader& r) { return r.Inventory().CountSuspectHosts(); }), 1);
    auto hosts =
        ReadOk<std::vector<model::Host>>([](Reader& r) { return r.Inventory().ListHosts(); });
    EXPECT_EQ(hosts[1].rack, "r1");
    EXPECT_EQ(hosts[2].rack, "");
    auto ledger = ReadOk<std::vector<model::HostFault>>(
        [](Reader& r) { return r.Inventory().ListHostFaults("h1", 10); });
    ASSERT_EQ(ledger.size(), 3u);
    EXPECT_EQ(ledger[0].remediation_id, "rem-1");
    EXPECT_EQ(ledger[1].name, "B");
    EXPECT_EQ(ledger[2].time, T(10));
    auto counts = ReadOk<model::HostFaultCounts>(
        [](Reader& r) { return r.Inventory().CountHostFaults("h1", T(15)); });
    EXPECT_EQ(counts.instances, 1);
    EXPECT_EQ(counts.signals, 1) << "remediations are not signals";
    auto scope = ReadOk<std::vector<model::InstanceSignals>>(
        [](Reader& r) { return r.Inventory().ListScopeSignals("c1", "r1", T(0)); });
    ASSERT_EQ(scope.size(), 2u);
    EXPECT_EQ(scope[0].instance_id, "i1");
    EXPECT_EQ(scope[0].signals, 2);
    EXPECT_EQ(scope[0].first, T(10));
    EXPECT_EQ(scope[1].instance_id, "i2");
    // A scope's instances: new to the window once, then repeats only move their last signal.
    std::vector<bool> entered;
    ASSERT_TRUE(IsOk(Write([&entered](Txn& txn) -> Status {
        for (auto [since, when] :
             {std::pair{T(0), T(10)}, std::pair{T(0), T(20)}, std::pair{T(25), T(30)}}) {
            NR_ASSIGN_OR_RETURN(bool is_new,
                                txn.Inventory().TouchScopeInstance("c1", "r1", "i1", since, when));
            entered.push_back(is_new);
        }
        NR_RETURN_IF_ERROR(txn.Inventory().TouchScopeInstance("c1", "r1", "i2", T(0), T(30)));
        return OkStatus();
    })));
    EXPECT_EQ(entered, (std::vector<bool>{true, false, true}));
    EXPECT_EQ(
        ReadOk<int>([](Reader& r) { return r.Inventory().CountScopeInstances("c1", "r1", T(30)); }),
        2);
    EXPECT_EQ(
        ReadOk<int>([](Reader& r) { return r.Inventory().CountScopeInstances("c1", "", T(0)); }),
        0);
    ASSERT_TRUE(IsOk(Write([](Txn& txn) { return txn.Inventory().SetHostSuspect("h1", ""); })));
    EXPECT_EQ(ReadOk<int>([](Reader& r) { return r.Inventory().CountSuspectHosts(); }), 0);

    // The rack's active remediations, through its hosts' instances.
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a1", "i1", State::kPendingApproval, T(40)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("a3", "i3", State::kRunning, T(40)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("d2", "i2", State::kSucceeded, T(40)))));
    EXPECT_EQ(ReadOk<int>([](Reader& r) { return r.Remediations().CountActiveInRack("r1"); }), 1);
    EXPECT_EQ(ReadOk<std::vector<std::string>>(
                  [](Reader& r) { return r.Remediations().ListActiveOnHost("h1"); }),
              std::vector<std::string>{"a1"});
    auto finished = ReadOk<std::optional<Remediation>>(
        [](Reader& r) { return r.Remediations().LastFinished("i2"); });
    ASSERT_TRUE(finished);
    EXPECT_EQ(finished->id, "d2");

    model::Incident incident;
    incident.id = "inc-1";
    incident.cluster_id = "c1";
    incident.rack = "r1";
    incident.instances = {"i1", "i2"};
    incident.signals = 3;
    incident.first_seen = T(10);
    incident.last_seen = T(30);
    ASSERT_TRUE(
        IsOk(Write([incident](Txn& txn) { return txn.Inventory().PutIncident(incident); })));
    incident.state = model::IncidentState::kReleased;
    incident.closed_at = T(50);
    incident.closed_by = "bob";
    ASSERT_TRUE(
        IsOk(Write([incident](Txn& txn) { return txn.Inventory().PutIncident(incident); })));
    auto latest = ReadOk<std::optional<model::Incident>>(
        [](Reader& r) { return r.Inventory().GetLatestIncident("c1", "r1"); });
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->state, model::IncidentState::kReleased);
    EXPECT_EQ(latest->instances, (std::vector<std::string>{"i1", "i2"}));
    EXPECT_EQ(latest->signals, 3);
    EXPECT_EQ(latest->closed_at, T(50));
    EXPECT_EQ(latest->closed_by, "bob");
    EXPECT_FALSE(ReadOk<std::optional<model::Incident>>(
        [](Reader& r) { return r.Inventory().GetLatestIncident("c1", ""); }));
    EXPECT_EQ(ReadOk<std::vector<model::Incident>>([](Reader& r) {
                  return r.Inventory().ListIncidents("c1", 10);
              }).size(),
              1u);
}

// A webhook's hosts and its scopes' latest incidents, each in one statement: what GetHost and
// GetLatestIncident answer one by one, for every name and scope that has one.
TEST_P(StoreContract, HostsAndScopesLatestIncidentsAreReadTogetherAsOneByOne) {
    FleetImport racked = TestFleet();
    racked.hosts[0].rack = "r1";
    racked.hosts[1].rack = "r2";
    ASSERT_TRUE(IsOk(Write([racked](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().ImportFleet(racked));
        NR_RETURN_IF_ERROR(txn.Inventory().SetHostSuspect("h2", "three faults"));
        return txn.Inventory().SetHostCordoned("h2", true);
    })));
    auto hosts = ReadOk<std::vector<model::Host>>([](Reader& r) {
        return r.Inventory().GetHosts({"h2", "no-such-host", "h1"});
    });
    std::sort(hosts.begin(), hosts.end(),
              [](const auto& a, const auto& b) { return a.host_name < b.host_name; });
    ASSERT_EQ(hosts.size(), 2u) << "a name without a host has no row";
    for (const auto& host : hosts) {
        auto one = ReadOk<std::optional<model::Host>>(
            [&host](Reader& r) { return r.Inventory().GetHost(host.host_name); });
        ASSERT_TRUE(one);
        EXPECT_EQ(host.host_name, one->host_name);
        EXPECT_EQ(host.gpu_slots, one->gpu_slots);
        EXPECT_EQ(host.cordoned, one->cordoned);
        EXPECT_EQ(host.rack, one->rack);
        EXPECT_EQ(host.suspect, one->suspect);
    }
    EXPECT_EQ(hosts[0].rack, "r1");
    EXPECT_EQ(hosts[1].suspect, "three faults");
    EXPECT_TRUE(hosts[1].cordoned);

    // r1 has two incidents (the newer one released), r2 one, the cluster's rackless scope none.
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        for (auto [id, rack, first] :
             {std::tuple{"inc-old", "r1", 10}, std::tuple{"inc-new", "r1", 20},
              std::tuple{"inc-r2", "r2", 5}}) {
            model::Incident incident;
            incident.id = id;
            incident.cluster_id = "c1";
            incident.rack = rack;
            incident.instances = {"i1"};
            incident.signals = first;
            incident.first_seen = T(first);
            incident.last_seen = T(first);
            if (std::string(id) == "inc-new") {
                incident.state = model::IncidentState::kReleased;
                incident.closed_at = T(30);
                incident.closed_by = "bob";
            }
            NR_RETURN_IF_ERROR(txn.Inventory().PutIncident(incident));
        }
        return OkStatus();
    })));
    auto latest = ReadOk<std::vector<model::Incident>>([](Reader& r) {
        return r.Inventory().GetLatestIncidents(
            {{"c1", "r1"}, {"c1", ""}, {"c2", "r1"}, {"c1", "r2"}});
    });
    std::sort(latest.begin(), latest.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    ASSERT_EQ(latest.size(), 2u) << "one per scope that has an incident";
    EXPECT_EQ(latest[0].id, "inc-new");
    EXPECT_EQ(latest[0].state, model::IncidentState::kReleased);
    EXPECT_EQ(latest[0].closed_at, T(30));
    EXPECT_EQ(latest[0].closed_by, "bob");
    EXPECT_EQ(latest[0].instances, std::vector<std::string>{"i1"});
    EXPECT_EQ(latest[1].id, "inc-r2");
    EXPECT_EQ(latest[1].signals, 5);
    EXPECT_TRUE(ReadOk<std::vector<model::Incident>>([](Reader& r) {
                    return r.Inventory().GetLatestIncidents({});
                }).empty());
}

}  // namespace
}  // namespace noderepair::storage

// ---- Replicas (docs/design.md 12) -----------------------------------------------------------

namespace noderepair::storage {
namespace {

TEST_P(StoreContract, EngineJobLeasesFenceCommitsAndPassOnlyWhenExpired) {
    EngineJob job;
    job.remediation_id = "lease-r1";
    job.workflow_version = 1;
    job.step = "drain";
    job.fence = 3;
    job.owner = "A";
    job.attempt = 1;
    ASSERT_TRUE(Write([&](Txn& txn) { return txn.EngineJobs().Put(job); }));
    const std::chrono::milliseconds lease(60000);
    auto hold = [&](const std::string& id, const std::string& owner, int64_t attempt) {
        LeaseCheck check = LeaseCheck::kGone;
        EXPECT_TRUE(Write([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto held, txn.EngineJobs().HoldLease(id, owner, attempt, lease));
            check = held.check;
            return OkStatus();
        }));
        return check;
    };
    auto take = [&](const std::string& owner, TakeOverScope scope) {
        std::vector<LeasedJob> taken;
        EXPECT_TRUE(Write([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(taken, txn.EngineJobs().TakeOver(owner, scope, lease, 10));
            return OkStatus();
        }));
        return taken;
    };
    auto renew = [&](const std::string& owner, std::chrono::milliseconds for_,
                     const std::vector<std::string>& ids = {"lease-r1"}) {
        std::vector<LeasedJob> held;
        EXPECT_TRUE(Write([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(held, txn.EngineJobs().RenewLeases(owner, ids, for_));
            return OkStatus();
        }));
        return held;
    };
    EXPECT_EQ(hold("lease-r1", "A", 1), LeaseCheck::kHeld);
    EXPECT_EQ(hold("lease-r1", "B", 1), LeaseCheck::kLost);
    EXPECT_EQ(hold("lease-r1", "A", 2), LeaseCheck::kLost);
    EXPECT_EQ(hold("lease-none", "A", 1), LeaseCheck::kGone);
    // Held: nobody takes it over.
    EXPECT_TRUE(take("B", TakeOverScope::kExpired).empty());
    // Its lease ended (a renewal for no time): B takes it, under the next attempt, where it was.
    ASSERT_EQ(renew("A", std::chrono::milliseconds(0)).size(), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto taken = take("B", TakeOverScope::kExpired);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].remediation_id, "lease-r1");
    EXPECT_EQ(taken[0].attempt, 2);
    EXPECT_EQ(taken[0].fence, 3);
    EXPECT_EQ(taken[0].step, "drain");
    // A's commits are refused from now on; B's hold.
    EXPECT_EQ(hold("lease-r1", "A", 1), LeaseCheck::kLost);
    EXPECT_EQ(hold("lease-r1", "B", 2), LeaseCheck::kHeld);
    EXPECT_TRUE(renew("A", lease).empty());
    EXPECT_EQ(renew("B", lease).size(), 1u);
    // A restarted B takes its own back at once, under a new attempt; A has none.
    EXPECT_TRUE(take("A", TakeOverScope::kOwn).empty());
    taken = take("B", TakeOverScope::kOwn);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].attempt, 3);
    // Progress written by Put never moves the owner or the attempt.
    job.owner = "Z";
    job.attempt = 9;
    job.step = "delete_vm";
    ASSERT_TRUE(Write([&](Txn& txn) { return txn.EngineJobs().Put(job); }));
    auto stored =
        ReadOk<std::optional<EngineJob>>([](Reader& r) { return r.EngineJobs().Get("lease-r1"); });
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->owner, "B");
    EXPECT_EQ(stored->attempt, 3);
    EXPECT_EQ(stored->step, "delete_vm");
    EXPECT_EQ(take("C", TakeOverScope::kEveryone).size(), 1u);
    // Only the jobs named are renewed: one its owner holds but does not work on (does not
    // name) keeps its old lease, and once that ends another replica takes it.
    ASSERT_EQ(renew("C", std::chrono::milliseconds(0)).size(), 1u);
    EXPECT_TRUE(renew("C", lease, {"lease-other"}).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    taken = take("D", TakeOverScope::kExpired);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].remediation_id, "lease-r1");
}

// docs/design.md 12: one statement locks a batch of the oldest PENDING remediations for their
// claims and reads each with its instance and host; another replica's claim skips them.
TEST_P(StoreContract, LockPendingTakesTheOldestWithTheirInstancesAndSkipsLockedOnes) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("p-3", "i3", State::kPending, T(3)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("p-1", "i1", State::kPending, T(1)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("p-2", "j2", State::kPending, T(2)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("p-run", "i2", State::kRunning, T(0)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("p-4", "gone", State::kPending, T(4)))));
    auto lock = [](Store& store, int limit) {
        std::vector<PendingClaim> claims;
        EXPECT_TRUE(IsOk(store.WriteAndWait([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(claims, txn.EngineJobs().LockPending(limit));
            return OkStatus();
        })));
        return claims;
    };
    auto claims = lock(*store_, 3);
    ASSERT_EQ(claims.size(), 3u);
    EXPECT_EQ(claims[0].remediation.id, "p-1");
    EXPECT_EQ(claims[0].remediation.state, State::kPending);
    ASSERT_TRUE(claims[0].instance);
    EXPECT_EQ(claims[0].instance->host_name, "h1");
    ASSERT_TRUE(claims[0].host);
    EXPECT_EQ(claims[0].host->host_name, "h1");
    EXPECT_EQ(claims[1].remediation.id, "p-2");
    ASSERT_TRUE(claims[1].instance);
    EXPECT_EQ(claims[1].instance->host_name, "") << "j2 has no VM";
    EXPECT_FALSE(claims[1].host);
    EXPECT_EQ(claims[2].remediation.id, "p-3");
    claims = lock(*store_, 10);
    ASSERT_EQ(claims.size(), 4u);
    EXPECT_EQ(claims[3].remediation.id, "p-4");
    EXPECT_FALSE(claims[3].instance) << "an instance that is not in the fleet";
    if (GetParam().name != "Postgres") return;  // one writer at a time: nothing to skip
    // A second store (another replica) while this one holds p-1 and p-2 in a transaction.
    auto opened = OpenStore(url_);
    ASSERT_TRUE(opened) << opened.error().message;
    std::unique_ptr<Store> other = std::move(*opened);
    std::promise<void> locked;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::thread holder([&] {
        (void)store_->WriteAndWait([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto held, txn.EngineJobs().LockPending(2));
            EXPECT_EQ(held.size(), 2u);
            locked.set_value();
            released.wait();
            return OkStatus();
        });
    });
    locked.get_future().wait();
    claims = lock(*other, 10);
    release.set_value();
    holder.join();
    other->Close();
    ASSERT_EQ(claims.size(), 2u) << "the locked rows are skipped, not waited for";
    EXPECT_EQ(claims[0].remediation.id, "p-3");
    EXPECT_EQ(claims[1].remediation.id, "p-4");
}

// docs/design.md 12: a batch of claims reads the jobs on its own hosts only (a job's source or
// target), however many jobs run elsewhere.
TEST_P(StoreContract, ListHostWorkReadsTheJobsOnTheGivenHostsOnly) {
    const std::vector<std::tuple<std::string, std::string, std::string, std::string>> jobs = {
        {"w-1", "i1", "h1", "h1"}, {"w-2", "i2", "h2", "h3"}, {"w-3", "j2", "h4", ""}};
    for (const auto& [id, instance, source, target] : jobs) {
        Remediation r = MakeRemediation(id, instance, State::kRunning, T(1));
        r.mode = Mode::kHostAware;
        ASSERT_TRUE(IsOk(Insert(r)));
        EngineJob job;
        job.remediation_id = id;
        job.workflow_version = 1;
        job.step = "drain";
        job.source_host = source;
        job.target_host = target;
        ASSERT_TRUE(Write([&](Txn& txn) { return txn.EngineJobs().Put(job); }));
    }
    auto list = [&](const std::vector<std::string>& hosts) {
        std::vector<HostWork> work;
        EXPECT_TRUE(Write([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(work, txn.EngineJobs().ListHostWork(hosts));
            return OkStatus();
        }));
        std::set<std::string> sources;
        for (const auto& w : work) {
            EXPECT_EQ(w.mode, Mode::kHostAware);
            sources.insert(w.source_host + ">" + w.target_host);
        }
        EXPECT_EQ(sources.size(), work.size()) << "each job once";
        return sources;
    };
    EXPECT_EQ(list({"h1", "h3"}), (std::set<std::string>{"h1>h1", "h2>h3"}));
    EXPECT_EQ(list({"h4", "h9"}), (std::set<std::string>{"h4>"}));
    EXPECT_TRUE(list({"h9"}).empty());
    EXPECT_TRUE(list({}).empty());
}

// docs/design.md 12: a claim's job is leased by its own insert; an update of its progress
// never touches the lease.
TEST_P(StoreContract, AJobMadeWithAFirstLeaseIsLeasedFromItsInsert) {
    const std::chrono::milliseconds lease(60000);
    for (const std::string id : {"sl-1", "sl-2", "sl-3"}) {
        EngineJob job;
        job.remediation_id = id;
        job.workflow_version = 1;
        job.step = "drain";
        job.owner = "A";
        job.attempt = 1;
        if (id != "sl-2") job.first_lease = lease;
        ASSERT_TRUE(Write([&](Txn& txn) { return txn.EngineJobs().Put(job); }));
        job.step = "delete_vm";
        job.first_lease = std::chrono::milliseconds(0);
        ASSERT_TRUE(Write([&](Txn& txn) { return txn.EngineJobs().Put(job); }));
    }
    // A job made without a lease is expired at once; the two leased are not.
    std::vector<LeasedJob> taken;
    ASSERT_TRUE(Write([&](Txn& txn) -> Status {
        NR_ASSIGN_OR_RETURN(taken,
                            txn.EngineJobs().TakeOver("B", TakeOverScope::kExpired, lease, 10));
        return OkStatus();
    }));
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].remediation_id, "sl-2");
    EXPECT_EQ(taken[0].step, "delete_vm");
}

// docs/design.md 12: the claims' compare-and-sets are checked when the change is flushed, and a
// row that moved all the same still fails the whole change: nothing of it commits.
TEST_P(StoreContract, AnUpdateCheckedAtFlushStillFailsTheChangeWhenTheRowMoved) {
    const Remediation pending = MakeRemediation("cf-1", "i1", State::kPending, T(1));
    ASSERT_TRUE(IsOk(Insert(pending)));
    const size_t events = ReadOk<std::vector<RemediationEvent>>([](Reader& r) {
                              return r.Remediations().ListEvents("cf-1");
                          }).size();
    Remediation stale = pending;
    stale.version = pending.version + 5;
    stale.state = State::kRunning;
    Status update_answered = OkStatus();
    Status s = Write([&](Txn& txn) -> Status {
        txn.Remediations().BeginBulk();
        update_answered =
            txn.Remediations().Update(UncheckedRemediationWriteKey(), stale, State::kPending);
        if (!update_answered) return update_answered;
        NR_RETURN_IF_ERROR(txn.Remediations().AppendEvent(
            "cf-1", {T(2), "state_change", State::kRunning, "", "engine", "picked up"}));
        return txn.Remediations().EndBulk();
    });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kAborted);
    if (GetParam().name == "Postgres") {
        EXPECT_TRUE(update_answered) << "not waited for: the change went on";
    }
    EXPECT_EQ(Get("cf-1")->state, State::kPending);
    EXPECT_EQ(Get("cf-1")->version, pending.version);
    EXPECT_EQ(ReadOk<std::vector<RemediationEvent>>([](Reader& r) {
                  return r.Remediations().ListEvents("cf-1");
              }).size(),
              events);
    // A row that matches commits as ever, and the next change of the batch is not failed.
    Remediation running = pending;
    running.state = State::kRunning;
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) -> Status {
        txn.Remediations().BeginBulk();
        NR_RETURN_IF_ERROR(
            txn.Remediations().Update(UncheckedRemediationWriteKey(), running, State::kPending));
        return txn.Remediations().EndBulk();
    })));
    EXPECT_EQ(Get("cf-1")->state, State::kRunning);
    EXPECT_EQ(Get("cf-1")->version, pending.version + 1);
}

// docs/design.md 12: events appended in bulk (a batch of claims) join the timeline in the
// order they were appended, every field as written, and a read of a timeline in between sees
// them.
TEST_P(StoreContract, EventsAppendedInBulkKeepTheirOrderAndAreReadInBetween) {
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("be-1", "i1", State::kPending, T(1)))));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("be-2", "i2", State::kPending, T(1)))));
    const RemediationEvent first{T(2), "state_change", State::kRunning, "", "engine", "picked up"};
    const RemediationEvent note{T(3), "step", std::nullopt, "reserve", "engine", "keeps its slots"};
    size_t seen_in_between = 0;
    ASSERT_TRUE(Write([&](Txn& txn) -> Status {
        auto& remediations = txn.Remediations();
        remediations.BeginBulk();
        NR_RETURN_IF_ERROR(remediations.AppendEvent("be-1", first));
        NR_RETURN_IF_ERROR(remediations.AppendEvent("be-2", first));
        NR_RETURN_IF_ERROR(remediations.AppendEvent("be-1", note));
        NR_ASSIGN_OR_RETURN(auto timeline, remediations.ListEvents("be-1"));
        seen_in_between = timeline.size();
        NR_RETURN_IF_ERROR(remediations.AppendEvent("be-2", note));
        return remediations.EndBulk();
    }));
    auto events = [&](const std::string& id) {
        return ReadOk<std::vector<RemediationEvent>>(
            [&](Reader& r) { return r.Remediations().ListEvents(id); });
    };
    for (const std::string id : {"be-1", "be-2"}) {
        auto timeline = events(id);
        ASSERT_GE(timeline.size(), 2u) << id;
        const auto& a = timeline[timeline.size() - 2];
        const auto& b = timeline.back();
        EXPECT_EQ(a.type, "state_change");
        EXPECT_EQ(a.state, State::kRunning);
        EXPECT_EQ(a.detail, "picked up");
        EXPECT_EQ(a.time, T(2));
        EXPECT_EQ(b.type, "step");
        EXPECT_FALSE(b.state.has_value());
        EXPECT_EQ(b.step, "reserve");
        EXPECT_EQ(b.actor, "engine");
        EXPECT_EQ(b.detail, "keeps its slots");
    }
    EXPECT_EQ(seen_in_between, events("be-1").size());
}

// docs/design.md 12: what one replica (the leader) read of a host's power, every replica reads.
TEST_P(StoreContract, HostPowerReadingsAreSharedAndTheNewestWins) {
    ASSERT_TRUE(IsOk(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Replicas().PutHostPower("h1", "off"));
        NR_RETURN_IF_ERROR(txn.Replicas().PutHostPower("h2", "unknown"));
        return txn.Replicas().PutHostPower("h1", "on");
    })));
    auto readings = ReadOk<std::vector<HostPowerReading>>(
        [](Reader& r) { return r.Replicas().ListHostPower(); });
    ASSERT_EQ(readings.size(), 2u);
    EXPECT_EQ(readings[0].host_name, "h1");
    EXPECT_EQ(readings[0].power, "on");
    EXPECT_EQ(readings[1].power, "unknown");
    EXPECT_GT(readings[0].read_at, Timestamp{});
}

// The blast radius's instance count is kept by the import, exact when imports repeat or add.
TEST_P(StoreContract, FleetImportKeepsEachClustersInstanceCount) {
    auto count = [&](const std::string& cluster) {
        return ReadOk<int>([&](Reader& r) { return r.Inventory().CountInstances(cluster); });
    };
    EXPECT_EQ(count("c1"), 4);
    EXPECT_EQ(count("c2"), 2);
    FleetImport more = test_support::TestFleet();
    more.clusters[0].gpu_worker_nodes.push_back(test_support::TestInstance("i9", "c1", "h1"));
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) { return txn.Inventory().ImportFleet(more); })));
    ASSERT_TRUE(IsOk(Write([&](Txn& txn) { return txn.Inventory().ImportFleet(more); })));
    EXPECT_EQ(count("c1"), 5);
    EXPECT_EQ(count("c2"), 2);
    EXPECT_EQ(count("nope"), 0);
}

// The import writes many rows per statement (sql::kRowsPerInsert): a fleet of two full
// batches and a remainder arrives whole, counted once, with each host's GPUs used, and the
// simulated world adopts each instance once.
TEST_P(StoreContract, ABigFleetImportsWholeInBatchesAndAgainAddsNothing) {
    FleetImport big;
    model::Cluster cluster{"big", "big cluster", "Ready", {}};
    const int hosts = 150, instances = 300;  // two instances a host, the last one without a VM
    for (int h = 0; h < hosts; ++h) {
        model::Host host{"bh" + std::to_string(h), 16, 0, false, {}};
        host.rack = "r" + std::to_string(h % 7);
        big.hosts.push_back(host);
    }
    for (int i = 0; i < instances; ++i) {
        std::string host = i == instances - 1 ? "" : "bh" + std::to_string(i / 2);
        cluster.gpu_worker_nodes.push_back(
            test_support::TestInstance("b" + std::to_string(i), "big", host, 4));
    }
    big.clusters = {cluster};
    std::vector<SimInstance> sim;
    for (const auto& node : cluster.gpu_worker_nodes)
        sim.push_back({node.instance_id, node.host_name});
    for (int round = 0; round < 2; ++round) {
        ASSERT_TRUE(IsOk(Write([&](Txn& txn) { return txn.Inventory().ImportFleet(big); })));
        ASSERT_TRUE(IsOk(Write([&](Txn& txn) { return txn.Simulated().Adopt(sim); })));
    }
    EXPECT_EQ(ReadOk<int>([](Reader& r) { return r.Inventory().CountInstances("big"); }),
              instances);
    auto got = ReadOk<std::optional<model::Cluster>>(
        [](Reader& r) { return r.Inventory().GetCluster("big"); });
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->gpu_worker_nodes.size(), size_t(instances));
    auto last = ReadOk<std::optional<model::Instance>>(
        [&](Reader& r) { return r.Inventory().GetInstance("b" + std::to_string(instances - 1)); });
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->status, "Evicted");
    auto listed =
        ReadOk<std::vector<model::Host>>([](Reader& r) { return r.Inventory().ListHosts(); });
    int big_hosts = 0;
    for (const auto& h : listed) {
        if (!h.host_name.starts_with("bh")) continue;
        ++big_hosts;
        // Two instances of 4 GPUs on each host but the last, which keeps one.
        EXPECT_EQ(h.used_gpus, h.host_name == "bh149" ? 4 : 8) << h.host_name;
        EXPECT_EQ(h.rack, "r" + std::to_string(std::stoi(h.host_name.substr(2)) % 7));
    }
    EXPECT_EQ(big_hosts, hosts);
    auto vms = ReadOk<std::vector<SimVm>>([](Reader& r) { return r.Simulated().ListVms(); });
    int big_vms = 0;
    for (const auto& vm : vms) big_vms += vm.instance_id.starts_with("b") ? 1 : 0;
    EXPECT_EQ(big_vms, instances - 1);  // one each, the instance without a host none
}

TEST_P(StoreContract, OneReplicaHoldsTheLeaderLeaseUntilItResigns) {
    const std::chrono::milliseconds lease(60000);
    auto beat = [&](const std::string& id) {
        bool leads = false;
        EXPECT_TRUE(Write([&](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(leads, txn.Replicas().Heartbeat(id, true, lease));
            return OkStatus();
        }));
        return leads;
    };
    ASSERT_TRUE(Write([](Txn& txn) { return txn.Replicas().Register("A"); }));
    ASSERT_TRUE(Write([](Txn& txn) { return txn.Replicas().Register("B"); }));
    EXPECT_TRUE(beat("A"));
    EXPECT_FALSE(beat("B"));
    EXPECT_TRUE(beat("A"));
    auto listed = ReadOk<std::vector<ReplicaRecord>>([](Reader& r) { return r.Replicas().List(); });
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].id, "A");
    EXPECT_TRUE(listed[0].leader);
    EXPECT_EQ(listed[1].id, "B");
    EXPECT_FALSE(listed[1].leader);
    EXPECT_LE(listed[0].started_at, listed[0].last_seen);
    ASSERT_TRUE(Write([](Txn& txn) { return txn.Replicas().Resign("A"); }));
    EXPECT_TRUE(beat("B"));
    EXPECT_FALSE(beat("A"));
}

// The watchdog that cuts off hung PostgreSQL calls is one thread for the process, not one per
// call: a thousand statements start no thread.
TEST_P(StoreContract, StatementsStartNoThreads) {
    auto threads = [] {
        size_t n = 0;
        for ([[maybe_unused]] const auto& entry :
             std::filesystem::directory_iterator("/proc/self/task")) {
            ++n;
        }
        return n;
    };
    SetDatabaseAnswerTimeout(std::chrono::milliseconds(2500));
    ASSERT_TRUE(Write([](Txn& txn) { return txn.Settings().Put("warm", "up"); }));
    (void)Setting("warm");
    const size_t before = threads();
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(Write([i](Txn& txn) { return txn.Settings().Put("k", std::to_string(i)); }));
        EXPECT_EQ(Setting("k"), std::to_string(i));
    }
    EXPECT_LE(threads(), before + 1);  // at most the watchdog, once
    SetDatabaseAnswerTimeout(std::chrono::milliseconds(0));
}

TEST_P(StoreContract, SerializeAutomationCanBeAskedForByEveryChange) {
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(Write([](Txn& txn) -> Status {
            NR_RETURN_IF_ERROR(txn.SerializeAutomation());
            return txn.SerializeAutomation();
        }));
    }
}

// docs/design.md 12: the changes of one batch are recorded in the order they were made, every
// field as written (PostgreSQL sends them as one statement).
TEST_P(StoreContract, ChangesOfOneBatchAreRecordedInOrderWithEveryField) {
    Remediation a = MakeRemediation("rb-a", "i1", State::kPending, T(1));
    Remediation b = MakeRemediation("rb-b", "i2", State::kPendingApproval, T(2));
    b.reason = "xid 79";
    b.requested_by = "alice";
    Remediation a_done = a;
    a_done.state = State::kFailed;
    a_done.reviewed_by = "bob";
    a_done.review_time = T(3);
    a_done.review_comment = "ok";
    a_done.update_time = T(4);
    a_done.start_time = T(3, 5);
    a_done.end_time = T(4);
    a_done.error_message = "it broke";
    ASSERT_TRUE(Write([&](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(UncheckedRemediationWriteKey(), a));
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(UncheckedRemediationWriteKey(), b));
        return txn.Remediations().Update(UncheckedRemediationWriteKey(), a_done, State::kPending);
    }));
    auto got = ReadOk<std::vector<RecordedChange>>(
        [](Reader& reader) { return reader.Remediations().ListChangesAfter(0, 100); });
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].seq, 1);
    EXPECT_EQ(got[2].seq, 3);
    ExpectSameRemediation(got[0].remediation, a);
    ExpectSameRemediation(got[1].remediation, b);
    a_done.version = a.version + 1;
    ExpectSameRemediation(got[2].remediation, a_done);
}

// docs/design.md 12: every committed remediation change is recorded, numbered in commit
// order without gaps; a change rolled back leaves no record and no hole; a restart keeps
// them; pruning keeps the newest.
TEST_P(StoreContract, CommittedChangesAreRecordedInCommitOrderWithoutGaps) {
    auto changes = [this](int64_t after) {
        return ReadOk<std::vector<RecordedChange>>(
            [after](Reader& reader) { return reader.Remediations().ListChangesAfter(after, 100); });
    };
    auto last = [this] {
        return ReadOk<int64_t>(
            [](Reader& reader) { return reader.Remediations().LastChangeSeq(); });
    };
    EXPECT_EQ(last(), 0);
    EXPECT_TRUE(changes(0).empty());
    Remediation r1 = MakeRemediation("r-1", "i1", State::kPending, T(1));
    ASSERT_TRUE(IsOk(Insert(r1)));
    // A change that fails after its write is rolled back, and so is its record.
    EXPECT_FALSE(Write([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(
            UncheckedRemediationWriteKey(), MakeRemediation("r-x", "i2", State::kPending, T(2))));
        return Aborted("the rules said no");
    }));
    Remediation running = r1;
    running.state = State::kRunning;
    running.update_time = T(3);
    ASSERT_TRUE(IsOk(Update(running, State::kPending)));
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-2", "i2", State::kPending, T(4)))));
    auto got = changes(0);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].seq, 1);
    EXPECT_EQ(got[1].seq, 2);
    EXPECT_EQ(got[2].seq, 3);
    ExpectSameRemediation(got[0].remediation, r1);
    EXPECT_EQ(got[1].remediation.id, "r-1");
    EXPECT_EQ(got[1].remediation.state, State::kRunning);
    EXPECT_EQ(got[1].remediation.version, r1.version + 1);
    EXPECT_EQ(got[2].remediation.id, "r-2");
    EXPECT_EQ(last(), 3);
    ASSERT_EQ(changes(2).size(), 1u);

    Reopen();
    EXPECT_EQ(last(), 3);
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-3", "i3", State::kPending, T(5)))));
    EXPECT_EQ(last(), 4);
    auto pruned = Write([](Txn& txn) -> Status {
        auto n = txn.Remediations().PruneChanges(2);
        if (!n) return n.error();
        return *n == 2 ? OkStatus() : Internal("pruned " + std::to_string(*n));
    });
    EXPECT_TRUE(IsOk(pruned));
    got = changes(0);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].seq, 3);
    EXPECT_EQ(got[1].seq, 4);
    EXPECT_EQ(last(), 4);
}

// docs/design.md 12: one replica's batch holds a row lock and waits for the automation lock
// while another's holds that lock and waits for the row. PostgreSQL breaks the deadlock by
// aborting one change; the writer runs it again in its next batch, so both succeed.
TEST_P(StoreContract, AChangeAbortedToBreakADeadlockIsRunAgain) {
    if (GetParam().name != "Postgres") GTEST_SKIP() << "one writer at a time: no deadlock";
    auto opened = OpenStore(url_);
    ASSERT_TRUE(opened) << opened.error().message;
    auto other = std::move(opened).value();
    std::atomic<bool> x_holds{false};
    std::atomic<bool> y_holds{false};
    auto await = [](const std::atomic<bool>& flag) {
        for (int i = 0; i < 500 && !flag; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    };
    std::atomic<int> x_runs{0};
    std::atomic<int> y_runs{0};
    Status y_status;
    std::thread y([&] {
        y_status = other->WriteAndWait([&](Txn& txn) -> Status {
            ++y_runs;
            NR_RETURN_IF_ERROR(txn.SerializeAutomation());
            y_holds = true;
            await(x_holds);
            return txn.Settings().Put("contended", "y");
        });
    });
    Status x_status = Write([&](Txn& txn) -> Status {
        ++x_runs;
        NR_RETURN_IF_ERROR(txn.Settings().Put("contended", "x"));
        x_holds = true;
        await(y_holds);
        return txn.SerializeAutomation();
    });
    y.join();
    other->Close();
    EXPECT_TRUE(IsOk(x_status));
    EXPECT_TRUE(IsOk(y_status));
    EXPECT_EQ(x_runs + y_runs, 3) << "the deadlock's victim ran once more";
}

// On PostgreSQL with several writers, a change can read a remediation that another thread's
// change (in another writer's batch) then changes and commits before the first one's update:
// the update matches no row. That change is run again in its lane's next batch, where it reads
// the row as committed, instead of failing (the engine's pick-up racing a cancel: the cancel is
// then refused for the state it finds, not answered 409).
TEST_P(StoreContract, AChangeWhoseRemediationChangedAfterItReadItIsRunAgain) {
    if (GetParam().name != "Postgres") GTEST_SKIP() << "one writer: nothing commits in between";
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-1", "i1", State::kPending, T(1)))));
    std::promise<void> first_read;
    std::promise<void> other_committed;
    auto committed = other_committed.get_future().share();
    std::atomic<int> runs{0};
    std::promise<Status> done;
    store_->Write(
        [&, committed](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto r, txn.Remediations().Get("r-1"));
            if (!r) return NotFound("r-1");
            if (++runs == 1) {
                first_read.set_value();
                committed.wait_for(std::chrono::seconds(10));
            }
            const State read = r->state;
            r->state = read == State::kPending ? State::kCancelled : State::kSucceeded;
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), *r, read);
        },
        [&](Status s) { done.set_value(std::move(s)); });
    ASSERT_EQ(first_read.get_future().wait_for(std::chrono::seconds(10)),
              std::future_status::ready);
    Status other;
    std::thread([&] {  // another thread: another lane, another writer
        other = Write([](Txn& txn) -> Status {
            NR_ASSIGN_OR_RETURN(auto r, txn.Remediations().Get("r-1"));
            if (!r) return NotFound("r-1");
            r->state = State::kRunning;
            return txn.Remediations().Update(storage::UncheckedRemediationWriteKey(), *r,
                                             State::kPending);
        });
    })
        .join();
    other_committed.set_value();
    EXPECT_TRUE(IsOk(other));
    auto first = done.get_future();
    ASSERT_EQ(first.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_TRUE(IsOk(first.get()));
    EXPECT_EQ(runs, 2) << "run again once, after the other change committed";
    EXPECT_EQ(StateOf("r-1"), State::kSucceeded);
}

// A read ends its transaction when it returns, not when its pooled connection is next used: a
// snapshot left open would hold back VACUUM on every table while the connection idles.
TEST_P(StoreContract, AReadLeavesNoTransactionOpenBehindIt) {
    if (GetParam().name != "Postgres") GTEST_SKIP() << "SQLite reads end when they return";
    ASSERT_TRUE(IsOk(Insert(MakeRemediation("r-1", "i1", State::kPending, T(1)))));
    EXPECT_TRUE(Get("r-1"));
    auto observer = postgres::Connection::Open(url_);
    ASSERT_TRUE(observer) << observer.error().message;
    int64_t open = -1;
    for (int i = 0; i < 200 && open != 0; ++i) {
        auto stmt = (*observer)->Prepare(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid "
            "<> pg_backend_pid() AND backend_xmin IS NOT NULL");
        ASSERT_TRUE(stmt) << stmt.error().message;
        auto row = stmt->Step();
        ASSERT_TRUE(row && *row);
        open = stmt->Int(0);
        if (open != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(open, 0) << "a connection of the store still holds a snapshot";
}

// The store's connections reach a sync point now and then, where PostgreSQL reports their
// table statistics: without them autovacuum never learns of the dead rows the writer leaves.
TEST_P(StoreContract, TheDatabaseCountsTheStoresWrites) {
    if (GetParam().name != "Postgres") GTEST_SKIP() << "PostgreSQL's statistics";
    auto observer = postgres::Connection::Open(url_);
    ASSERT_TRUE(observer) << observer.error().message;
    int64_t inserted = 0;
    for (int i = 0; i < 100 && inserted < 2; ++i) {
        // A write a little over a second after the last lets the writer set its sync point.
        if (i % 12 == 0) {
            ASSERT_TRUE(IsOk(Insert(MakeRemediation(
                "r-" + std::to_string(i), "i" + std::to_string(i), State::kSucceeded, T(1)))));
        }
        auto stmt = (*observer)->Prepare(
            "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'remediations'");
        ASSERT_TRUE(stmt) << stmt.error().message;
        auto row = stmt->Step();
        ASSERT_TRUE(row && *row);
        inserted = stmt->Int(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_GE(inserted, 2) << "the writer's inserts never reached the statistics";
}

}  // namespace
}  // namespace noderepair::storage
