#include "storage/sqlite/schema.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "storage/open.hpp"
#include "storage/sql/repositories.hpp"
#include "storage/store_contract_test.hpp"

namespace noderepair::storage::sqlite {
namespace {

using test_support::ScopedTempDir;

// The text of the first column of the first row `sql` returns ("" for none or NULL).
std::string One(Connection& conn, const std::string& sql) {
    auto stmt = conn.Prepare(sql);
    EXPECT_TRUE(stmt) << sql;
    if (!stmt) return "";
    auto row = stmt->Step();
    EXPECT_TRUE(row) << sql;
    return row && *row ? stmt->Text(0) : "";
}

// The database at `path` as a binary at schema `version` left it holding what `rows` (SQL)
// inserts, then upgraded by this one; null (and the test failed) when that cannot be made.
std::unique_ptr<Connection> UpgradedFrom(const std::string& path, size_t version,
                                         const char* rows) {
    {
        auto old = Connection::Open(path);
        EXPECT_TRUE(old) << old.error().message;
        if (!old) return nullptr;
        Status made = Migrate(**old, version);
        if (made) made = (*old)->Exec(rows);
        EXPECT_TRUE(made) << made.error().message;
        if (!made) return nullptr;
    }
    auto conn = Connection::Open(path);
    EXPECT_TRUE(conn) << conn.error().message;
    if (!conn) return nullptr;
    Status upgraded = Migrate(**conn);
    EXPECT_TRUE(upgraded) << upgraded.error().message;
    if (!upgraded) return nullptr;
    return std::move(*conn);
}

// A database an older binary (schema 8) left with a power cycle in flight, two steps in:
// after the upgrade its job names the step it was at, in workflow version 1, and the simulated
// world holds the VMs, the degraded host and the open fault the old tables held.
TEST(SchemaUpgrade, JobsInFlightKeepTheirStepByNameAndTheSimulatedWorldIsSeeded) {
    ScopedTempDir dir;
    auto conn = UpgradedFrom(dir.path() + "/old.db", 8, R"sql(
INSERT INTO clusters(cluster_id, cluster_name, status) VALUES('c1', 'one', 'Ready');
INSERT INTO hosts(host_name, gpu_slots) VALUES('h1', 8), ('h2', 8);
INSERT INTO instances(instance_id, cluster_id, instance_name, num_gpus, host_name, status)
    VALUES('i1', 'c1', 'n1', 4, 'h1', 'PowerCycling'), ('i2', 'c1', 'n2', 4, 'h1', 'Ready'),
          ('i3', 'c1', 'n3', 8, NULL, 'Evicted');
INSERT INTO remediations(seq, id, cluster_id, instance_id, instance_name, mode, requested_mode,
    trigger, state, create_time, update_time) VALUES(1, 'r1', 'c1', 'i1', 'n1', 5, 5, 1, 4, 1, 2);
INSERT INTO engine_jobs(remediation_id, step, started, handle, attempts, step_started,
    next_check, source_host, target_host, num_gpus, host_was_cordoned)
    VALUES('r1', 2, 1, 'r1/2', 0, 10, 20, 'h1', NULL, 4, 0);
INSERT INTO settings(key, value) VALUES('simulated.degraded_host.h2', 'true');
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, severity, labels,
    annotations, started_at) VALUES('a1', 'sim-i2-GpuSmClockThermalThrottle',
    'GpuSmClockThermalThrottle', 'c1', 'i2', 3, '{"alertname":"GpuSmClockThermalThrottle"}',
    '{}', 5);
)sql");
    ASSERT_TRUE(conn);
    Connection& db = *conn;
    EXPECT_EQ(One(db,
                  "SELECT workflow_version || ' ' || step || ' ' || fence || ' ' || "
                  "step_started || ' ' || source_host FROM engine_jobs"),
              "1 power_cycle_host 0 10 h1");
    EXPECT_EQ(One(db, "SELECT COALESCE(calls, 'none') FROM engine_jobs"), "none")
        << "the intent is recorded again under the new engine";
    EXPECT_EQ(One(db,
                  "SELECT group_concat(instance_id || '@' || host_name, ' ') FROM "
                  "(SELECT * FROM sim_vms ORDER BY instance_id)"),
              "i1@h1 i2@h1");
    EXPECT_EQ(One(db, "SELECT count(*) FROM sim_instances"), "3");
    EXPECT_EQ(One(db, "SELECT host_name FROM sim_hosts WHERE degraded = 1"), "h2");
    EXPECT_EQ(One(db, "SELECT count(*) FROM settings WHERE key LIKE 'simulated.%'"), "0");
    EXPECT_EQ(One(db, "SELECT instance_id || ' ' || started_at FROM sim_faults"), "i2 5");
    EXPECT_EQ(One(db, "PRAGMA user_version"), "26") << "every migration ran";
}

// A database of schema 9 with a token: after the upgrade the token still works, was never
// used, never expires, is listed, and the audit chain starts empty at the genesis hash.
TEST(SchemaUpgrade, OldTokensKeepWorkingAndTheAuditChainStartsEmpty) {
    ScopedTempDir dir;
    const std::string path = dir.path() + "/old.db";
    {
        auto conn = Connection::Open(path);
        ASSERT_TRUE(conn) << conn.error().message;
        ASSERT_TRUE(Migrate(**conn, 9));
        ASSERT_TRUE((*conn)->Exec(
            "INSERT INTO tokens(token_hash, name, role, clusters) VALUES('h1', 'old', 4, '')"));
    }
    auto opened = OpenStore("sqlite:" + path);
    ASSERT_TRUE(opened) << opened.error().message;
    Store& store = **opened;
    auto found = test_support::ReadValue<std::optional<TokenRecord>>(
        store, [](Reader& r) { return r.Tokens().Find("h1"); });
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->name, "old");
    EXPECT_FALSE((*found)->created_at || (*found)->expires_at || (*found)->revoked_at ||
                 (*found)->last_used_at);
    auto listed = test_support::ReadValue<std::vector<TokenRecord>>(
        store, [](Reader& r) { return r.Tokens().List(); });
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->size(), 1u);
    auto head =
        test_support::ReadValue<AuditHead>(store, [](Reader& r) { return r.Audit().Head(); });
    ASSERT_TRUE(head);
    EXPECT_EQ(head->seq, 0);
    EXPECT_EQ(head->hash, kAuditGenesisHash);
    ASSERT_TRUE(
        store.WriteAndWait([](Txn& txn) { return txn.Tokens().Revoke("old", FromMicros(1)); }));
    head = test_support::ReadValue<AuditHead>(store, [](Reader& r) { return r.Audit().Head(); });
    ASSERT_TRUE(head);
    EXPECT_EQ(head->seq, 1);
    store.Close();
}

// A database of schema 17 with alerts: after the upgrade they keep every field under an
// integer row key (docs/http-api.md 5, "Ingest rate"), and a Put by id still replaces.
TEST(SchemaUpgrade, AlertsKeepTheirRowsUnderAnIntegerRowKey) {
    ScopedTempDir dir;
    const std::string path = dir.path() + "/old.db";
    {
        auto conn = UpgradedFrom(path, 17, R"sql(
INSERT INTO clusters(cluster_id, cluster_name, status) VALUES('c1', 'one', 'Ready');
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, target_vm, severity,
    labels, annotations, started_at, resolved_at, remediation_id, waiting, wait_until)
    VALUES('a2', 'fp2', 'DmesgXidError', 'c1', 'i1', 'n1', 3, '{"alertname":"DmesgXidError"}',
           '{"summary":"x"}', 20, NULL, NULL, 1, 70),
          ('a1', 'fp1', 'DmesgXidError', 'c1', 'i2', 'n2', 2, '{"alertname":"DmesgXidError"}',
           '{}', 10, 15, 'r1', 0, 0);
)sql");
        ASSERT_TRUE(conn);
        Connection& db = *conn;
        EXPECT_EQ(
            One(db,
                "SELECT group_concat(id || ' ' || fingerprint || ' ' || instance_id || ' ' "
                "|| target_vm || ' ' || severity || ' ' || labels || ' ' || annotations || "
                "' ' || started_at || ' ' || COALESCE(resolved_at, '-') || ' ' || "
                "COALESCE(remediation_id, '-') || ' ' || waiting || ' ' || wait_until, "
                "'; ') FROM (SELECT * FROM alerts ORDER BY rowid)"),
            "a1 fp1 i2 n2 2 {\"alertname\":\"DmesgXidError\"} {} 10 15 r1 0 0; "
            "a2 fp2 i1 n1 3 {\"alertname\":\"DmesgXidError\"} {\"summary\":\"x\"} 20 - - 1 70");
        EXPECT_EQ(One(db,
                      "SELECT count(*) FROM sqlite_schema WHERE name = 'alerts' AND sql LIKE "
                      "'%WITHOUT ROWID%'"),
                  "0");
        EXPECT_EQ(One(db,
                      "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'alerts' AND "
                      "type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"),
                  "5");
    }
    auto opened = OpenStore("sqlite:" + path);
    ASSERT_TRUE(opened) << opened.error().message;
    Store& store = **opened;
    auto a2 = test_support::ReadValue<std::optional<model::Alert>>(
        store, [](Reader& r) { return r.Alerts().GetByFingerprint("fp2"); });
    ASSERT_TRUE(a2 && *a2);
    EXPECT_TRUE((*a2)->waiting);
    model::Alert joined = **a2;
    joined.waiting = false;
    joined.remediation_id = "r9";
    ASSERT_TRUE(store.WriteAndWait([&](Txn& txn) { return txn.Alerts().Put(joined); }));
    auto again = test_support::ReadValue<std::optional<model::Alert>>(
        store, [](Reader& r) { return r.Alerts().GetByFingerprint("fp2"); });
    ASSERT_TRUE(again && *again);
    EXPECT_EQ((*again)->id, "a2");
    EXPECT_EQ((*again)->remediation_id, "r9");
    EXPECT_FALSE((*again)->waiting);
    store.Close();
}

// The virtual-machine steps of every statement the connection ran, reset to 0.
int64_t TakeVmSteps(Connection& conn) {
    int64_t steps = 0;
    for (sqlite3_stmt* stmt = sqlite3_next_stmt(conn.handle(), nullptr); stmt != nullptr;
         stmt = sqlite3_next_stmt(conn.handle(), stmt)) {
        steps += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 1);
    }
    return steps;
}

// A migrated database at `path` holding what `rows` (SQL) inserts; null (and the test failed)
// when that cannot be made.
std::unique_ptr<Connection> MigratedWith(const std::string& path, const char* rows) {
    auto conn = Connection::Open(path);
    EXPECT_TRUE(conn) << conn.error().message;
    if (!conn) return nullptr;
    Status made = Migrate(**conn);
    if (made) made = (*conn)->Exec(rows);
    EXPECT_TRUE(made) << made.error().message;
    if (!made) return nullptr;
    return std::move(*conn);
}

// The sweeper's question which waiting signals can join a remediation, and the VM steps it took.
std::pair<std::vector<model::Alert>, int64_t> JoinableWithSteps(Connection& db) {
    sql::SqlAlerts alerts(db);
    TakeVmSteps(db);
    auto joinable = alerts.ListWaitingWithActiveRemediation(1000);
    EXPECT_TRUE(joinable) << joinable.error().message;
    return {joinable ? *std::move(joinable) : std::vector<model::Alert>(), TakeVmSteps(db)};
}

// The sweeper's two questions (docs/http-api.md 5, "Ingest rate") cost what is due, not what
// waits: with 5,000 signals waiting for room in a full cluster and one waiting signal of an
// instance that has a remediation, each visits a handful of rows, not the 5,000.
TEST(SchemaUpgrade, TheSweepersQuestionsDoNotVisitEveryWaitingSignal) {
    ScopedTempDir dir;
    auto conn = MigratedWith(dir.path() + "/sweep.db", R"sql(
INSERT INTO clusters(cluster_id, cluster_name, status) VALUES('c1', 'one', 'Ready');
INSERT INTO instances(instance_id, cluster_id, instance_name, num_gpus, host_name, status)
    VALUES('i-active', 'c1', 'n0', 1, NULL, 'Ready');
INSERT INTO remediations(id, cluster_id, instance_id, instance_name, mode, requested_mode,
    trigger, state, create_time, update_time) VALUES('r1', 'c1', 'i-active', 'n0', 1, 1, 2, 1,
    1, 1);
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5000)
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, severity, labels,
    annotations, started_at, waiting, wait_until)
    SELECT 'a' || k, 'fp' || k, 'DmesgXidError', 'c1', 'i' || (k % 500), 3, '{}', '{}', k, 1, 0
    FROM n;
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, severity, labels,
    annotations, started_at, waiting, wait_until)
    VALUES('joins', 'fp-joins', 'DmesgXidError', 'c1', 'i-active', 3, '{}', '{}', 9000, 1, 0);
)sql");
    ASSERT_TRUE(conn);
    auto [joinable, steps] = JoinableWithSteps(*conn);
    ASSERT_EQ(joinable.size(), 1u);
    EXPECT_EQ(joinable[0].id, "joins");
    EXPECT_LT(steps, 500) << "the joins looked at every waiting signal";
    Connection& db = *conn;
    sql::SqlAlerts alerts(db);
    auto clusters = alerts.ListClustersWithWaiting(FromMicros(10));
    ASSERT_TRUE(clusters) << clusters.error().message;
    EXPECT_EQ(*clusters, std::vector<std::string>{"c1"});
    EXPECT_LT(TakeVmSteps(db), 500) << "the clusters with due signals looked at every one";
}

// Five times a second the sweeper asks which waiting signals can join a remediation: with no
// signal waiting, that costs a look at the waiting ones, not a walk over the 5,000 active
// remediations (a fleet under durable creates).
TEST(SchemaUpgrade, TheSweepersJoinQuestionIsFreeWhenNothingWaits) {
    ScopedTempDir dir;
    auto conn = MigratedWith(dir.path() + "/active.db", R"sql(
INSERT INTO clusters(cluster_id, cluster_name, status) VALUES('c1', 'one', 'Ready');
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5000)
INSERT INTO instances(instance_id, cluster_id, instance_name, num_gpus, host_name, status)
    SELECT 'i' || k, 'c1', 'n' || k, 1, NULL, 'Ready' FROM n;
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5000)
INSERT INTO remediations(id, cluster_id, instance_id, instance_name, mode, requested_mode,
    trigger, state, create_time, update_time)
    SELECT 'r' || k, 'c1', 'i' || k, 'n' || k, 1, 1, 1, 2, k, k FROM n;
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, severity, labels,
    annotations, started_at, resolved_at, waiting, wait_until)
    VALUES('done', 'fp-done', 'DmesgXidError', 'c1', 'i7', 3, '{}', '{}', 5, NULL, 0, 0);
)sql");
    ASSERT_TRUE(conn);
    auto [joinable, steps] = JoinableWithSteps(*conn);
    EXPECT_TRUE(joinable.empty());
    EXPECT_LT(steps, 500) << "the question walked every active remediation";
}

// The suspicion check (docs/http-api.md 11) with 5,000 signals of a host in its window and a
// threshold above them reads the host's ceiling, not the 5,000; at the threshold it counts them.
TEST(SchemaUpgrade, TheSuspicionCheckBelowItsThresholdDoesNotReadTheWindow) {
    ScopedTempDir dir;
    auto conn = UpgradedFrom(dir.path() + "/faults.db", 23, R"sql(
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5000)
INSERT INTO host_faults(host_name, rack, cluster_id, instance_id, name, time)
    SELECT 'h1', 'r1', 'c1', 'i' || (k % 3), 'DmesgXidError', k FROM n;
INSERT INTO host_fault_ceilings(host_name, since, signals) VALUES('h1', 0, 5000);
)sql");
    ASSERT_TRUE(conn);
    Connection& db = *conn;
    sql::SqlInventory inventory(db, nullptr);
    TakeVmSteps(db);
    auto below = inventory.CountHostFaultsReaching("h1", FromMicros(1), 1000000);
    ASSERT_TRUE(below) << below.error().message;
    EXPECT_FALSE(*below);
    EXPECT_LT(TakeVmSteps(db), 500) << "the check read the window's signals";
    auto reached = inventory.CountHostFaultsReaching("h1", FromMicros(1), 5000);
    ASSERT_TRUE(reached) << reached.error().message;
    ASSERT_TRUE(*reached);
    EXPECT_EQ((*reached)->signals, 5000);
    EXPECT_EQ((*reached)->instances, 3);
}

// A host's fault ledger without its index by host (docs/http-api.md 11): an older binary's rows
// are chained by host in their order of arrival by the upgrade, each host's ceiling row names
// its newest (a ceiling it had is kept), and a host's page of faults and its window count walk
// its own rows from the newest, a few whatever the length of its history or of the others'.
TEST(SchemaUpgrade, AHostsFaultsAreChainedNewestFirstAndReadWithoutAScan) {
    ScopedTempDir dir;
    auto conn = UpgradedFrom(dir.path() + "/chain.db", 23, R"sql(
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 6000)
INSERT INTO host_faults(host_name, rack, cluster_id, instance_id, name, remediation_id, time)
    SELECT 'h' || (k % 3), 'r1', 'c1', 'i' || (k % 7), 'DmesgXidError',
        CASE WHEN k % 10 = 0 THEN 'rem' END, k FROM n;
INSERT INTO host_fault_ceilings(host_name, since, signals) VALUES('h1', 0, 2000);
)sql");
    ASSERT_TRUE(conn);
    Connection& db = *conn;
    EXPECT_EQ(One(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'host_faults_by_host'"),
              "0");
    EXPECT_EQ(One(db,
                  "SELECT since || ' ' || signals || ' ' || last_seq || ' ' || reach FROM "
                  "host_fault_ceilings WHERE host_name = 'h1'"),
              "0 2000 5998 5998")
        << "the ceiling is kept and names the host's newest row";
    EXPECT_EQ(One(db,
                  "SELECT since = 9223372036854775807 FROM host_fault_ceilings WHERE "
                  "host_name = 'h2'"),
              "1")
        << "a host without a ceiling gets one no window is within";
    EXPECT_EQ(One(db, "SELECT prev_seq || ' ' || reach FROM host_faults WHERE seq = 5998"),
              "5995 5998");
    EXPECT_EQ(One(db, "SELECT COUNT(*) FROM host_faults WHERE prev_seq IS NULL"), "3");
    sql::SqlInventory inventory(db, nullptr);
    TakeVmSteps(db);
    auto page = inventory.ListHostFaults("h1", 10);
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->size(), 10u);
    EXPECT_EQ((*page)[0].time, FromMicros(5998));
    EXPECT_EQ((*page)[9].time, FromMicros(5971));
    auto counts = inventory.CountHostFaults("h1", FromMicros(5900));
    ASSERT_TRUE(counts) << counts.error().message;
    EXPECT_EQ(counts->signals, 30) << "33 rows of h1 from 5,900 on, 3 of them remediations";
    EXPECT_EQ(counts->instances, 7);
    EXPECT_LT(TakeVmSteps(db), 2000) << "the reads went through more than the host's few rows";
    // Appended after the upgrade: the host's newest, ahead of the upgraded rows.
    ASSERT_TRUE(inventory.AddHostFault({"h1", "r1", "c1", "i1", "A", "", FromMicros(7000)}));
    auto again = inventory.ListHostFaults("h1", 2);
    ASSERT_TRUE(again) << again.error().message;
    ASSERT_EQ(again->size(), 2u);
    EXPECT_EQ((*again)[0].name, "A");
    EXPECT_EQ((*again)[1].time, FromMicros(5998));
}

// Each counted signal touches its instance's row of scope_instances (docs/http-api.md 11,
// incidents): after the upgrade the rows are kept in one B-tree by their key (no rowid, no
// second index), and a touch still moves a row within the window and adds one entering it.
TEST(SchemaUpgrade, ScopeInstancesKeepTheirRowsInOneBTreeByKey) {
    ScopedTempDir dir;
    auto conn = UpgradedFrom(dir.path() + "/scope.db", 22, R"sql(
INSERT INTO scope_instances(cluster_id, rack, instance_id, last_signal)
    VALUES('c1', 'r1', 'i1', 100), ('c1', 'r1', 'i2', 5), ('c1', 'r2', 'i3', 100);
)sql");
    ASSERT_TRUE(conn);
    Connection& db = *conn;
    EXPECT_EQ(One(db,
                  "SELECT group_concat(cluster_id || ' ' || rack || ' ' || instance_id || ' ' || "
                  "last_signal, '; ') FROM scope_instances"),
              "c1 r1 i1 100; c1 r1 i2 5; c1 r2 i3 100");
    EXPECT_EQ(One(db,
                  "SELECT count(*) FROM sqlite_schema WHERE name = 'scope_instances' AND sql LIKE "
                  "'%WITHOUT ROWID%'"),
              "1");
    EXPECT_EQ(One(db,
                  "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'scope_instances' AND "
                  "type = 'index'"),
              "0");
    sql::SqlInventory inventory(db, nullptr);
    auto moved = inventory.TouchScopeInstance("c1", "r1", "i1", FromMicros(50), FromMicros(200));
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_FALSE(*moved) << "i1 was within the window already";
    auto entered = inventory.TouchScopeInstance("c1", "r1", "i2", FromMicros(50), FromMicros(200));
    ASSERT_TRUE(entered) << entered.error().message;
    EXPECT_TRUE(*entered) << "i2's last signal was before the window";
    auto counted = inventory.CountScopeInstances("c1", "r1", FromMicros(50));
    ASSERT_TRUE(counted) << counted.error().message;
    EXPECT_EQ(*counted, 2);
}

// A storm's linked signals are not entries of alerts_open_by_instance (docs/http-api.md 5,
// "Ingest rate"): upgraded from schema 24, 3,000 linked firing signals leave the index and
// 3,000 waiting ones stay; an instance's firing signals (an incident's release) are still read
// from its own rows, linked ones included, and the sweeper's joins still find the waiting ones.
TEST(SchemaUpgrade, LinkedSignalsAreReachedThroughTheirRemediationsNotTheOpenIndex) {
    ScopedTempDir dir;
    auto conn = UpgradedFrom(dir.path() + "/open.db", 24, R"sql(
INSERT INTO clusters(cluster_id, cluster_name, status) VALUES('c1', 'one', 'Ready');
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 600)
INSERT INTO remediations(id, cluster_id, instance_id, instance_name, mode, requested_mode,
    trigger, state, create_time, update_time)
    SELECT 'r' || k, 'c1', 'i' || k, 'n' || k, 1, 1, 2, 1, k, k FROM n;
INSERT INTO remediations(id, cluster_id, instance_id, instance_name, mode, requested_mode,
    trigger, state, create_time, update_time) VALUES('r-old', 'c1', 'i1', 'n1', 1, 1, 2, 6, 0, 0);
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 6000)
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, severity, labels,
    annotations, started_at, remediation_id, waiting, wait_until)
    SELECT 'a' || k, 'fp' || k, 'DmesgXidError', 'c1', 'i' || (k % 599 + 1), 3, '{}', '{}', k,
        CASE WHEN k % 2 = 0 THEN 'r' || (k % 599 + 1) END, k % 2, 0 FROM n;
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, severity, labels,
    annotations, started_at, remediation_id, waiting, wait_until)
    VALUES('old', 'fp-old', 'DmesgXidError', 'c1', 'i1', 3, '{}', '{}', 7000, 'r-old', 0, 0);
)sql");
    ASSERT_TRUE(conn);
    Connection& db = *conn;
    // Every entry of an index B-tree is one cell, interior or leaf.
    EXPECT_EQ(One(db, "SELECT sum(ncell) FROM dbstat WHERE name = 'alerts_open_by_instance'"),
              "3000");
    sql::SqlAlerts alerts(db);
    TakeVmSteps(db);
    auto open = alerts.ListOpen("i1");
    ASSERT_TRUE(open) << open.error().message;
    ASSERT_EQ(open->size(), 11u) << "i1's 5 waiting, 5 linked and the one of its ended repair";
    EXPECT_EQ(open->front().id, "a599");
    EXPECT_EQ(open->back().id, "old");
    EXPECT_LT(TakeVmSteps(db), 1000) << "an instance's firing signals were read by a scan";
    auto joinable = alerts.ListWaitingWithActiveRemediation(1000);
    ASSERT_TRUE(joinable) << joinable.error().message;
    EXPECT_EQ(joinable->size(), 1000u);
    EXPECT_EQ(joinable->front().id, "a1");
}

// Each scope's faults as a chain without the ledger's index by scope (docs/http-api.md 11): an
// older binary's rows are chained by cluster and rack in their order of arrival by the upgrade,
// each scope's head row names its newest, and a scope's signals since a time (an incident's
// opening) walk its own window, a few rows whatever the length of its history or the others'.
TEST(SchemaUpgrade, AScopesFaultsAreChainedNewestFirstAndReadWithoutAScan) {
    ScopedTempDir dir;
    auto conn = UpgradedFrom(dir.path() + "/scope_chain.db", 25, R"sql(
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 6000)
INSERT INTO host_faults(host_name, rack, cluster_id, instance_id, name, remediation_id, time)
    SELECT 'h' || (k % 7), 'r' || (k % 3), 'c1', 'i' || (k % 5), 'DmesgXidError',
        CASE WHEN k % 10 = 0 THEN 'rem' END, k FROM n;
)sql");
    ASSERT_TRUE(conn);
    Connection& db = *conn;
    EXPECT_EQ(One(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'host_faults_by_scope'"),
              "0");
    EXPECT_EQ(One(db,
                  "SELECT group_concat(rack || ' ' || last_seq || ' ' || reach, '; ') FROM "
                  "scope_fault_heads WHERE cluster_id = 'c1'"),
              "r0 6000 6000; r1 5998 5998; r2 5999 5999");
    EXPECT_EQ(One(db,
                  "SELECT scope_prev_seq || ' ' || scope_reach FROM host_faults WHERE seq = "
                  "5998"),
              "5995 5998");
    EXPECT_EQ(One(db, "SELECT COUNT(*) FROM host_faults WHERE scope_prev_seq IS NULL"), "3");
    sql::SqlInventory inventory(db, nullptr);
    TakeVmSteps(db);
    auto signals = inventory.ListScopeSignals("c1", "r1", FromMicros(5900));
    ASSERT_TRUE(signals) << signals.error().message;
    // r1's rows from 5,900 on: 5,902, 5,905, ..., 5,998 (33), three of them remediations.
    int counted = 0;
    for (const auto& s : *signals) counted += s.signals;
    EXPECT_EQ(counted, 30);
    EXPECT_EQ(signals->size(), 5u);
    EXPECT_LT(TakeVmSteps(db), 2000) << "the read went through more than the scope's window";
    // Appended after the upgrade: the scope's newest, ahead of the upgraded rows.
    ASSERT_TRUE(inventory.AddHostFault({"h1", "r1", "c1", "i9", "A", "", FromMicros(7000)}));
    auto again = inventory.ListScopeSignals("c1", "r1", FromMicros(5990));
    ASSERT_TRUE(again) << again.error().message;
    ASSERT_FALSE(again->empty());
    EXPECT_EQ(again->back().instance_id, "i9");
    EXPECT_EQ(One(db,
                  "SELECT last_seq = (SELECT MAX(seq) FROM host_faults) FROM scope_fault_heads "
                  "WHERE cluster_id = 'c1' AND rack = 'r1'"),
              "1");
}

TEST(SchemaUpgrade, ANewerDatabaseIsRefused) {
    ScopedTempDir dir;
    auto conn = Connection::Open(dir.path() + "/new.db");
    ASSERT_TRUE(conn);
    ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 99"));
    Status migrated = Migrate(**conn);
    ASSERT_FALSE(migrated);
    EXPECT_NE(migrated.error().message.find("newer than this binary"), std::string::npos);
}

}  // namespace
}  // namespace noderepair::storage::sqlite
