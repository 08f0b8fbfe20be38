#include "storage/postgres/schema.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "storage/open.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::storage::postgres {
namespace {

using test_support::IsOk;

int64_t Scalar(Connection& conn, const char* sql) {
    auto stmt = conn.Prepare(sql);
    NR_ASSERT(stmt, "prepare");
    auto row = stmt->Step();
    NR_ASSERT(row && *row, "one row");
    return stmt->Int(0);
}

// The counts of remediations by state, mode and trigger come from folded rows plus deltas; a
// fold moves the deltas into the folded rows and the counts stay what they were.
TEST(PostgresSchema, FoldingTheCountDeltasKeepsEveryCount) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server for this test run";
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(IsOk((*store)->WriteAndWait([](Txn& txn) -> Status {
        NR_RETURN_IF_ERROR(txn.Inventory().ImportFleet(test_support::TestFleet()));
        auto r1 = test_support::MakeRemediation("r1", "i1", model::State::kPending,
                                                test_support::TestEpoch());
        auto r2 = test_support::MakeRemediation("r2", "i2", model::State::kPending,
                                                test_support::TestEpoch());
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(UncheckedRemediationWriteKey(), r1));
        NR_RETURN_IF_ERROR(txn.Remediations().Insert(UncheckedRemediationWriteKey(), r2));
        r1.state = model::State::kCancelled;
        return txn.Remediations().Update(UncheckedRemediationWriteKey(), r1,
                                         model::State::kPending);
    })));
    auto counts = [&] {
        std::vector<RemediationCount> out;
        EXPECT_TRUE(IsOk((*store)->Read([&](Reader& reader) -> Status {
            NR_ASSIGN_OR_RETURN(out, reader.Remediations().Count());
            return OkStatus();
        })));
        std::map<std::pair<int, int>, int64_t> by_state;
        for (const auto& c : out) by_state[{int(c.state), int(c.mode)}] += c.count;
        return by_state;
    };
    auto conn = Connection::Open(url);
    ASSERT_TRUE(conn) << conn.error().message;
    // A change the store did not make, so deltas are there whether or not it folded already.
    const std::string cancel_r2 =
        "UPDATE remediations SET state = " + std::to_string(int(model::State::kCancelled)) +
        " WHERE id = 'r2'";
    ASSERT_TRUE(IsOk((*conn)->Exec(cancel_r2.c_str())));
    const auto before = counts();
    EXPECT_EQ(before.at({int(model::State::kPending), int(model::Mode::kVmOnly)}), 0);
    EXPECT_EQ(before.at({int(model::State::kCancelled), int(model::Mode::kVmOnly)}), 2);
    ASSERT_GT(Scalar(**conn, "SELECT COUNT(*) FROM remediation_count_deltas"), 0);
    ASSERT_TRUE(IsOk((*conn)->Exec(FoldCountsSql())));
    EXPECT_EQ(Scalar(**conn, "SELECT COUNT(*) FROM remediation_count_deltas"), 0);
    EXPECT_EQ(counts(), before);
    (*store)->Close();
}

// Remediations inserted or deleted by one statement (a row of creates is one INSERT) are
// counted by one delta row per state, mode and trigger, not one per remediation, and the counts
// stay exact.
TEST(PostgresSchema, OneStatementsRemediationsAddOneCountDeltaPerKind) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server for this test run";
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().message;
    (*store)->Close();  // migrated; its folds would move the deltas this test counts
    auto conn = Connection::Open(url);
    ASSERT_TRUE(conn) << conn.error().message;
    const std::string pending = std::to_string(int(model::State::kPending));
    const std::string cancelled = std::to_string(int(model::State::kCancelled));
    const std::string insert_ten =
        "INSERT INTO remediations(id, cluster_id, instance_id, instance_name, mode, "
        "requested_mode, trigger, state, create_time, update_time) SELECT 'r' || g, 'c1', 'i' || "
        "g, 'n', 1, 1, 1, CASE WHEN g <= 6 THEN " +
        pending + " ELSE " + cancelled + " END, 1, 1 FROM generate_series(1, 10) g";
    ASSERT_TRUE(IsOk((*conn)->Exec(insert_ten.c_str())));
    EXPECT_EQ(Scalar(**conn, "SELECT COUNT(*) FROM remediation_count_deltas"), 2);
    const std::string delete_cancelled = "DELETE FROM remediations WHERE state = " + cancelled;
    ASSERT_TRUE(IsOk((*conn)->Exec(delete_cancelled.c_str())));
    EXPECT_EQ(Scalar(**conn, "SELECT COUNT(*) FROM remediation_count_deltas"), 3);
    const std::string count_of =
        "SELECT COALESCE(SUM(n), 0) FROM remediation_count_deltas WHERE "
        "state = ";
    EXPECT_EQ(Scalar(**conn, (count_of + pending).c_str()), 6);
    EXPECT_EQ(Scalar(**conn, (count_of + cancelled).c_str()), 0);
    // A statement that inserts nothing adds nothing.
    ASSERT_TRUE(IsOk((*conn)->Exec("INSERT INTO remediations SELECT * FROM remediations LIMIT 0")));
    EXPECT_EQ(Scalar(**conn, "SELECT COUNT(*) FROM remediation_count_deltas"), 3);
}

// A create's update of its instance's latest remediation (no index holds that column) stays on
// the instance's page, a HOT update, even on a page the fleet import filled (migration 14): a
// full page moved the row and wrote an entry in each of the table's four indexes.
TEST(PostgresSchema, AnImportedInstancesLatestRemediationIsUpdatedInPlace) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server for this test run";
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().message;
    FleetImport fleet;
    model::Cluster cluster{"c1", "cluster one", "Ready", {}};
    for (int i = 0; i < 400; ++i) {
        cluster.gpu_worker_nodes.push_back(
            test_support::TestInstance("p" + std::to_string(i), "c1", ""));
    }
    fleet.clusters = {cluster};
    ASSERT_TRUE(IsOk(
        (*store)->WriteAndWait([&fleet](Txn& txn) { return txn.Inventory().ImportFleet(fleet); })));
    auto conn = Connection::Open(url);
    ASSERT_TRUE(conn) << conn.error().message;
    const char* page_of_p0 =
        "SELECT (ctid::text::point)[0]::bigint FROM instances WHERE instance_id = 'p0'";
    const int64_t before = Scalar(**conn, page_of_p0);
    ASSERT_TRUE(IsOk((*store)->WriteAndWait([](Txn& txn) {
        return txn.Remediations().Insert(
            UncheckedRemediationWriteKey(),
            test_support::MakeRemediation("r0", "p0", model::State::kPending,
                                          test_support::TestEpoch()));
    })));
    EXPECT_EQ(Scalar(**conn, page_of_p0), before);
    (*store)->Close();
}

// A remediation's primary key is its id (migration 15), and `seq` leads no index: it orders an
// instance's remediations in the one full index by instance (migration 20), and the instance
// keeps no latest remediation of its own, so a create writes no row of `instances`.
TEST(PostgresSchema, RemediationsAreKeyedByIdAndIndexedByInstanceOnlyWithSeq) {
    const std::string url = test_support::NewPostgresDatabase();
    if (url.empty()) GTEST_SKIP() << "no PostgreSQL server for this test run";
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().message;
    (*store)->Close();
    auto conn = Connection::Open(url);
    ASSERT_TRUE(conn) << conn.error().message;
    EXPECT_EQ(Scalar(**conn,
                     "SELECT COUNT(*) FROM pg_index x JOIN pg_attribute a ON a.attrelid = "
                     "x.indrelid AND a.attnum = x.indkey[0] WHERE x.indrelid = "
                     "'remediations'::regclass AND a.attname = 'seq'"),
              0);
    EXPECT_EQ(Scalar(**conn,
                     "SELECT COUNT(*) FROM pg_index x JOIN pg_attribute a ON a.attrelid = "
                     "x.indrelid AND a.attnum = x.indkey[0] WHERE x.indrelid = "
                     "'remediations'::regclass AND x.indisprimary AND x.indnatts = 1 AND "
                     "a.attname = 'id'"),
              1);
    EXPECT_EQ(Scalar(**conn,
                     "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'remediations' AND "
                     "indexdef LIKE '%(instance_id%' AND indexdef NOT LIKE '% WHERE %'"),
              1);
    EXPECT_EQ(Scalar(**conn,
                     "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'remediations' AND "
                     "indexdef LIKE '%(instance_id, seq)'"),
              1);
    EXPECT_EQ(Scalar(**conn,
                     "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = "
                     "'instances' AND column_name = 'latest_remediation_id'"),
              0);
}

}  // namespace
}  // namespace noderepair::storage::postgres
