#include "storage/sqlite/schema.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "storage/sql/repositories.hpp"

namespace noderepair::storage::sqlite {
namespace {

// Versioned migrations: entry i takes the schema from version i to i+1. Append only.
constexpr std::array kMigrations = {
    R"sql(
CREATE TABLE clusters(
    cluster_id TEXT PRIMARY KEY,
    cluster_name TEXT NOT NULL,
    status TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE hosts(
    host_name TEXT PRIMARY KEY,
    gpu_slots INTEGER NOT NULL,
    cordoned INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE instances(
    instance_id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(cluster_id),
    instance_name TEXT NOT NULL,
    num_gpus INTEGER NOT NULL,
    host_name TEXT REFERENCES hosts(host_name),
    status TEXT NOT NULL,
    auto_repair INTEGER NOT NULL DEFAULT 1,
    latest_remediation_id TEXT
) WITHOUT ROWID;
CREATE INDEX instances_by_cluster ON instances(cluster_id, instance_name);
CREATE INDEX instances_by_host ON instances(host_name);
CREATE TABLE remediations(
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    mode INTEGER NOT NULL,
    requested_mode INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    state INTEGER NOT NULL,
    reason TEXT,
    active_health_check_run_id TEXT,
    passive_health_check_event_id TEXT,
    requested_by TEXT,
    reviewed_by TEXT,
    review_time INTEGER,
    review_comment TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    start_time INTEGER,
    end_time INTEGER,
    error_message TEXT
);
CREATE INDEX remediations_by_cluster_create ON remediations(cluster_id, create_time, id);
CREATE INDEX remediations_by_cluster_update ON remediations(cluster_id, update_time, id);
CREATE INDEX remediations_by_instance_create ON remediations(instance_id, create_time, id);
CREATE INDEX remediations_by_instance_update ON remediations(instance_id, update_time, id);
-- At most one active remediation per instance (docs/http-api.md 1), enforced by the database too.
CREATE UNIQUE INDEX remediations_one_active ON remediations(instance_id)
    WHERE state NOT IN (6, 7, 8, 9);
CREATE TABLE remediation_events(
    remediation_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    state INTEGER,
    step TEXT,
    actor TEXT,
    detail TEXT,
    PRIMARY KEY(remediation_id, n)
) WITHOUT ROWID;
CREATE TABLE tokens(
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role INTEGER NOT NULL,
    clusters TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE settings(
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: the engine's jobs, slot reservations and the simulated provider's operations.
    R"sql(
ALTER TABLE hosts ADD COLUMN libvirt_uri TEXT;
CREATE INDEX remediations_working ON remediations(state, create_time)
    WHERE state IN (2, 3, 4, 5);
CREATE TABLE engine_jobs(
    remediation_id TEXT PRIMARY KEY,
    step INTEGER NOT NULL,
    started INTEGER NOT NULL,
    handle TEXT,
    attempts INTEGER NOT NULL,
    step_started INTEGER NOT NULL,
    next_check INTEGER NOT NULL,
    source_host TEXT,
    target_host TEXT,
    num_gpus INTEGER NOT NULL,
    host_was_cordoned INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE reservations(
    instance_id TEXT PRIMARY KEY,
    host_name TEXT NOT NULL REFERENCES hosts(host_name),
    num_gpus INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX reservations_by_host ON reservations(host_name);
CREATE TABLE sim_operations(
    key TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    instance_id TEXT,
    host_name TEXT,
    target_host TEXT,
    num_gpus INTEGER NOT NULL,
    ready_at INTEGER NOT NULL,
    applied INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 3: passive health alerts, cluster automation policy.
    R"sql(
CREATE TABLE alerts(
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    alert_name TEXT NOT NULL,
    cluster_id TEXT,
    instance_id TEXT,
    target_vm TEXT,
    severity INTEGER NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    remediation_id TEXT,
    waiting INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint, started_at);
CREATE INDEX alerts_by_cluster ON alerts(cluster_id, started_at, id);
CREATE INDEX alerts_by_remediation ON alerts(remediation_id) WHERE remediation_id IS NOT NULL;
CREATE INDEX alerts_open_by_instance ON alerts(instance_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_waiting ON alerts(cluster_id, started_at) WHERE waiting = 1;
CREATE INDEX instances_by_name ON instances(instance_name);
CREATE INDEX remediations_active_by_cluster ON remediations(cluster_id)
    WHERE state NOT IN (6, 7, 8, 9);
CREATE INDEX remediations_waiting_approval ON remediations(state) WHERE state = 1;
ALTER TABLE clusters ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN automatic_alerts TEXT NOT NULL DEFAULT '';
)sql",
    // 4: active health check runs.
    R"sql(
CREATE TABLE health_check_runs(
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    tests TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    end_time INTEGER,
    remediation_id TEXT,
    waiting INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX health_check_runs_by_instance ON health_check_runs(instance_id, create_time, id);
CREATE INDEX health_check_runs_running ON health_check_runs(create_time) WHERE state = 1;
CREATE INDEX health_check_runs_waiting ON health_check_runs(create_time) WHERE waiting = 1;
)sql",
    // 5: each host's used GPUs kept by triggers, so placement is an index seek, not a scan of
    // every host.
    R"sql(
ALTER TABLE hosts ADD COLUMN used_gpus INTEGER NOT NULL DEFAULT 0;
UPDATE hosts SET used_gpus =
    COALESCE((SELECT SUM(num_gpus) FROM instances i WHERE i.host_name = hosts.host_name), 0) +
    COALESCE((SELECT SUM(num_gpus) FROM reservations r WHERE r.host_name = hosts.host_name), 0);
CREATE INDEX hosts_by_free ON hosts(cordoned, (gpu_slots - used_gpus) DESC, host_name);
CREATE TRIGGER instances_placed AFTER INSERT ON instances WHEN NEW.host_name IS NOT NULL
BEGIN
    UPDATE hosts SET used_gpus = used_gpus + NEW.num_gpus WHERE host_name = NEW.host_name;
END;
CREATE TRIGGER instances_moved AFTER UPDATE OF host_name, num_gpus ON instances
BEGIN
    UPDATE hosts SET used_gpus = used_gpus - OLD.num_gpus WHERE host_name = OLD.host_name;
    UPDATE hosts SET used_gpus = used_gpus + NEW.num_gpus WHERE host_name = NEW.host_name;
END;
CREATE TRIGGER instances_removed AFTER DELETE ON instances
BEGIN
    UPDATE hosts SET used_gpus = used_gpus - OLD.num_gpus WHERE host_name = OLD.host_name;
END;
CREATE TRIGGER reservations_added AFTER INSERT ON reservations
BEGIN
    UPDATE hosts SET used_gpus = used_gpus + NEW.num_gpus WHERE host_name = NEW.host_name;
END;
CREATE TRIGGER reservations_removed AFTER DELETE ON reservations
BEGIN
    UPDATE hosts SET used_gpus = used_gpus - OLD.num_gpus WHERE host_name = OLD.host_name;
END;
)sql",
    // 6: remediations counted by state, mode and trigger, kept by triggers, so /metrics reads
    // a few dozen rows however many remediations there are.
    R"sql(
CREATE TABLE remediation_counts(
    state INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY(state, mode, trigger)
) WITHOUT ROWID;
INSERT INTO remediation_counts(state, mode, trigger, n)
    SELECT state, mode, trigger, COUNT(*) FROM remediations GROUP BY state, mode, trigger;
CREATE TRIGGER remediation_counted AFTER INSERT ON remediations
BEGIN
    INSERT INTO remediation_counts(state, mode, trigger, n) VALUES(NEW.state, NEW.mode, NEW.trigger, 1)
        ON CONFLICT(state, mode, trigger) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER remediation_recounted AFTER UPDATE OF state, mode, trigger ON remediations
    WHEN OLD.state IS NOT NEW.state OR OLD.mode IS NOT NEW.mode OR OLD.trigger IS NOT NEW.trigger
BEGIN
    UPDATE remediation_counts SET n = n - 1
        WHERE state = OLD.state AND mode = OLD.mode AND trigger = OLD.trigger;
    INSERT INTO remediation_counts(state, mode, trigger, n) VALUES(NEW.state, NEW.mode, NEW.trigger, 1)
        ON CONFLICT(state, mode, trigger) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER remediation_uncounted AFTER DELETE ON remediations
BEGIN
    UPDATE remediation_counts SET n = n - 1
        WHERE state = OLD.state AND mode = OLD.mode AND trigger = OLD.trigger;
END;
)sql",
    // 7: the engine's work by host, so a host-level claim checks its host with an index seek.
    R"sql(
CREATE INDEX engine_jobs_by_host ON engine_jobs(source_host);
)sql",
    // 8: a version per remediation, bumped by every change: the lifecycle writer's
    // compare-and-set no longer rests on the state alone (a mode change keeps the state).
    R"sql(
ALTER TABLE remediations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
)sql",
    // 9: steps by name within a workflow version, a fence per intent, the calls of the
    // current step (co-tenants included); the simulated fleet's own world. Jobs in flight keep
    // workflow version 1 and their position becomes the step's name in that version's list.
    R"sql(
CREATE TABLE engine_jobs_v2(
    remediation_id TEXT PRIMARY KEY,
    workflow_version INTEGER NOT NULL,
    step TEXT NOT NULL,
    fence INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    step_started INTEGER NOT NULL,
    next_check INTEGER NOT NULL,
    source_host TEXT,
    target_host TEXT,
    num_gpus INTEGER NOT NULL,
    host_was_cordoned INTEGER NOT NULL,
    instances TEXT,
    calls TEXT
) WITHOUT ROWID;
INSERT INTO engine_jobs_v2
SELECT j.remediation_id, 1,
    COALESCE(json_extract(CASE r.mode
        WHEN 1 THEN '["reserve_capacity","drain","delete_vm","provision_vm","wait_ready","verify","rejoin"]'
        WHEN 2 THEN '["cordon_host","reserve_capacity","drain","delete_vm","provision_vm","wait_ready","verify","rejoin"]'
        WHEN 3 THEN '["drain","evict_vm"]'
        WHEN 4 THEN '["drain","reboot_vm","wait_ready","verify","rejoin"]'
        WHEN 5 THEN '["cordon_host","drain","power_cycle_host","wait_ready","verify","rejoin","uncordon_host"]'
        END, '$[' || j.step || ']'), ''),
    0, j.attempts, j.step_started, j.next_check, j.source_host, j.target_host, j.num_gpus,
    j.host_was_cordoned, NULL, NULL
FROM engine_jobs j JOIN remediations r ON r.id = j.remediation_id;
DROP TABLE engine_jobs;
ALTER TABLE engine_jobs_v2 RENAME TO engine_jobs;
CREATE INDEX engine_jobs_by_host ON engine_jobs(source_host);
CREATE INDEX engine_jobs_by_target ON engine_jobs(target_host);
ALTER TABLE hosts ADD COLUMN power_cycled_at INTEGER;
CREATE TABLE sim_instances(instance_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE sim_vms(
    vm_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    host_name TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sim_vms_by_instance ON sim_vms(instance_id);
CREATE TABLE sim_hosts(
    host_name TEXT PRIMARY KEY,
    degraded INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sim_faults(
    fingerprint TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    started_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sim_faults_by_instance ON sim_faults(instance_id);
INSERT INTO sim_instances SELECT instance_id FROM instances;
INSERT INTO sim_vms SELECT 'vm-' || instance_id, instance_id, host_name FROM instances
    WHERE host_name IS NOT NULL;
INSERT INTO sim_hosts(host_name, degraded)
    SELECT substr(key, 25), 1 FROM settings WHERE key LIKE 'simulated.degraded_host.%';
DELETE FROM settings WHERE key LIKE 'simulated.degraded_host.%';
INSERT OR IGNORE INTO sim_faults
    SELECT fingerprint, instance_id, labels, annotations, started_at FROM alerts
    WHERE fingerprint LIKE 'sim-%' AND resolved_at IS NULL AND instance_id IS NOT NULL;
)sql",
    // 10: the token lifecycle (docs/http-api.md 10): creation, expiry, revocation and last use.
    // Older tokens keep a NULL creation time and never expire.
    R"sql(
ALTER TABLE tokens ADD COLUMN created_at INTEGER;
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX tokens_by_name ON tokens(name);
)sql",
    // 11: the audit trail (docs/design.md 11): records in one hash chain, and its head in one
    // row that every append reads and moves in the appending transaction.
    R"sql(
CREATE TABLE audit_records(
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_head(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head(id, seq, hash)
    VALUES(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
)sql",
    // 12: the overview's daily aggregates (docs/http-api.md 11): remediations per cluster, UTC
    // day and mode, and stage-duration histograms per cluster, day and stage. Back-filled from
    // the stored history by BackfillStats right after this runs.
    R"sql(
CREATE TABLE remediation_daily(
    cluster_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    created INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    PRIMARY KEY(cluster_id, day, mode)
) WITHOUT ROWID;
CREATE TABLE stage_daily(
    cluster_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    stage INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY(cluster_id, day, stage, bucket)
) WITHOUT ROWID;
)sql",
    // 13: fleet intelligence (docs/http-api.md 11): a host's rack and suspicion, the host fault
    // ledger (append-only, read by host and by incident scope; its index covers the suspicion
    // counts), each scope's instances with their last signal (so incident detection counts
    // instances, not signals) and incidents.
    R"sql(
ALTER TABLE hosts ADD COLUMN rack TEXT;
ALTER TABLE hosts ADD COLUMN suspect TEXT;
CREATE INDEX hosts_by_rack ON hosts(rack) WHERE rack IS NOT NULL;
CREATE TABLE host_faults(
    seq INTEGER PRIMARY KEY,
    host_name TEXT NOT NULL,
    rack TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    remediation_id TEXT,
    time INTEGER NOT NULL
);
CREATE INDEX host_faults_by_host ON host_faults(host_name, time, instance_id, remediation_id);
CREATE INDEX host_faults_by_scope ON host_faults(cluster_id, rack, time);
CREATE TABLE scope_instances(
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    last_signal INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, rack, instance_id)
);
CREATE TABLE incidents(
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    state INTEGER NOT NULL,
    instances TEXT NOT NULL,
    signals INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    closed_at INTEGER,
    closed_by TEXT
);
CREATE INDEX incidents_by_scope ON incidents(cluster_id, rack, first_seen);
)sql",
    // 14: every signal occurrence, append-only, for `policy replay` (docs/http-api.md 11).
    R"sql(
CREATE TABLE signal_occurrences(
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    signal TEXT NOT NULL,
    mode INTEGER,
    alert_id TEXT,
    run_id TEXT
);
CREATE INDEX signal_occurrences_by_time ON signal_occurrences(time, seq);
)sql",
    // 15: several replicas on one database (docs/design.md 12): who works on each engine job
    // under which lease, the replicas seen, and the leader lease. Times are microseconds of
    // the database's clock.
    R"sql(
ALTER TABLE engine_jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE engine_jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE engine_jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX engine_jobs_by_lease ON engine_jobs(lease_until);
CREATE INDEX engine_jobs_by_owner ON engine_jobs(owner);
CREATE TABLE replicas(
    id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE replica_leader(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    replica_id TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
)sql",
    // 16: the change stream across replicas (docs/design.md 12): each committed remediation
    // change as it left the row, numbered in commit order by the audit head's change_seq.
    R"sql(
ALTER TABLE audit_head ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE remediation_changes(
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    id TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    mode INTEGER NOT NULL,
    requested_mode INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    state INTEGER NOT NULL,
    reason TEXT,
    active_health_check_run_id TEXT,
    passive_health_check_event_id TEXT,
    requested_by TEXT,
    reviewed_by TEXT,
    review_time INTEGER,
    review_comment TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    start_time INTEGER,
    end_time INTEGER,
    error_message TEXT,
    version INTEGER NOT NULL
);
)sql",
    // 17: when each waiting signal is next due (docs/http-api.md 11): a signal held by the
    // cooldown is not looked at again before the cooldown ends; 0, whenever room frees.
    R"sql(
ALTER TABLE alerts ADD COLUMN wait_until INTEGER NOT NULL DEFAULT 0;
DROP INDEX alerts_waiting;
CREATE INDEX alerts_waiting ON alerts(cluster_id, wait_until, started_at) WHERE waiting = 1;
CREATE INDEX alerts_waiting_due ON alerts(wait_until, cluster_id) WHERE waiting = 1;
)sql",
    // 18: alerts keyed by an integer row id, the UUID a unique column (docs/http-api.md 5,
    // "Ingest rate"): every secondary index carries the row id instead of the 36-byte UUID,
    // and a new row goes to the end of the table. One index of the firing signals by instance
    // serves both the release of an incident and the sweeper's joins (the waiting ones: a
    // waiting signal is always firing); which clusters have due signals is asked per cluster
    // of alerts_waiting, so alerts_waiting_due goes.
    R"sql(
CREATE TABLE alerts_by_row(
    id TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    alert_name TEXT NOT NULL,
    cluster_id TEXT,
    instance_id TEXT,
    target_vm TEXT,
    severity INTEGER NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    remediation_id TEXT,
    waiting INTEGER NOT NULL DEFAULT 0,
    wait_until INTEGER NOT NULL DEFAULT 0
);
INSERT INTO alerts_by_row(id, fingerprint, alert_name, cluster_id, instance_id, target_vm,
    severity, labels, annotations, started_at, resolved_at, remediation_id, waiting, wait_until)
    SELECT id, fingerprint, alert_name, cluster_id, instance_id, target_vm, severity, labels,
        annotations, started_at, resolved_at, remediation_id, waiting, wait_until
    FROM alerts ORDER BY id;
DROP TABLE alerts;
ALTER TABLE alerts_by_row RENAME TO alerts;
CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint, started_at);
CREATE INDEX alerts_by_cluster ON alerts(cluster_id, started_at, id);
CREATE INDEX alerts_by_remediation ON alerts(remediation_id) WHERE remediation_id IS NOT NULL;
CREATE INDEX alerts_open_by_instance ON alerts(instance_id, waiting) WHERE resolved_at IS NULL;
CREATE INDEX alerts_waiting ON alerts(cluster_id, wait_until, started_at) WHERE waiting = 1;
)sql",
    // 19: each cluster's instance count, kept by the fleet import in its transaction, so the
    // blast radius reads it by primary key and every replica sees a new import at once
    // (docs/design.md 12).
    R"sql(
ALTER TABLE clusters ADD COLUMN instance_count INTEGER NOT NULL DEFAULT 0;
UPDATE clusters SET instance_count =
    (SELECT COUNT(*) FROM instances i WHERE i.cluster_id = clusters.cluster_id);
)sql",
    // 20: each host's power as the leader last read it from its BMC, shown by every replica
    // (docs/http-api.md 8, docs/design.md 12).
    R"sql(
CREATE TABLE host_power(
    host_name TEXT PRIMARY KEY,
    power TEXT NOT NULL,
    read_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 21: an instance's ends that count for the cooldown and the ladder (succeeded, failed,
    // cancelled; not auto-resolved) by when they ended: their reads (its last end, its last
    // finished one) take the newest first and stop, where they read every remediation the
    // instance ever had (docs/http-api.md 11).
    R"sql(
CREATE INDEX remediations_by_instance_end ON remediations(instance_id, end_time, id)
    WHERE state IN (6, 7, 8);
)sql",
    // 22: a ceiling on each host's counted signals (docs/http-api.md 11, suspect hosts): the
    // signals at or after `since` when it was set, plus every signal appended since. While it
    // is below the suspicion thresholds, the check reads this row, not the window's signals
    // (which grow with a storm). A host without one is counted from its ledger. So the
    // ledger's index by host no longer covers the count: it keeps only its key, and a storm,
    // which adds to every host's run of it in each commit, writes a third fewer of its pages.
    R"sql(
CREATE TABLE host_fault_ceilings(
    host_name TEXT PRIMARY KEY,
    since INTEGER NOT NULL,
    signals INTEGER NOT NULL
) WITHOUT ROWID;
DROP INDEX host_faults_by_host;
CREATE INDEX host_faults_by_host ON host_faults(host_name, time);
)sql",
    // 23: each scope's instances keyed by their primary key alone (WITHOUT ROWID): every counted
    // signal touches its instance's row (docs/http-api.md 11, incidents), and a rowid table made
    // that two B-tree seeks, the key's index and then the row, where one does.
    R"sql(
CREATE TABLE scope_instances_by_key(
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    last_signal INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, rack, instance_id)
) WITHOUT ROWID;
INSERT INTO scope_instances_by_key(cluster_id, rack, instance_id, last_signal)
    SELECT cluster_id, rack, instance_id, last_signal FROM scope_instances;
DROP TABLE scope_instances;
ALTER TABLE scope_instances_by_key RENAME TO scope_instances;
)sql",
    // 24: each host's fault ledger as a chain newest first, where its index by host was (which a
    // storm's commit rewrote nearly whole, a random page per signal): each row names the
    // previous row of its host (`prev_seq`) and the newest time at or before it along the chain
    // (`reach`, so a walk back stops exactly where every older row is older than a window even
    // when the clock stepped back), and each host's ceiling row names its newest (`last_seq`,
    // with the chain's `reach`). A host's row without a ceiling yet has the `since` no window
    // reaches. Existing rows are chained in their order of arrival.
    R"sql(
ALTER TABLE host_faults ADD COLUMN prev_seq INTEGER;
ALTER TABLE host_faults ADD COLUMN reach INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_fault_ceilings ADD COLUMN last_seq INTEGER;
ALTER TABLE host_fault_ceilings ADD COLUMN reach INTEGER NOT NULL DEFAULT 0;
WITH chain AS (SELECT seq, LAG(seq) OVER (PARTITION BY host_name ORDER BY seq) AS prev,
        MAX(time) OVER (PARTITION BY host_name ORDER BY seq ROWS UNBOUNDED PRECEDING) AS reach
    FROM host_faults)
UPDATE host_faults SET prev_seq = chain.prev, reach = chain.reach FROM chain
    WHERE chain.seq = host_faults.seq;
INSERT INTO host_fault_ceilings(host_name, since, signals, last_seq, reach)
    SELECT host_name, 9223372036854775807, 0, MAX(seq), MAX(time) FROM host_faults WHERE true
    GROUP BY host_name
    ON CONFLICT(host_name) DO UPDATE SET last_seq = excluded.last_seq, reach = excluded.reach;
DROP INDEX host_faults_by_host;
)sql",
    // 25: the firing signals by instance without the linked ones (docs/http-api.md 5, "Ingest
    // rate"): a storm's signals come in instance after instance, so each entry of this index
    // dirties a page of its own in the commit. A linked signal is reached from its instance's
    // remediations through alerts_by_remediation instead, which it is in anyway. A waiting
    // signal stays (the sweeper's joins ask for those by instance), linked or not.
    R"sql(
DROP INDEX alerts_open_by_instance;
CREATE INDEX alerts_open_by_instance ON alerts(instance_id, waiting)
    WHERE resolved_at IS NULL AND (remediation_id IS NULL OR waiting = 1);
)sql",  // 26: each scope's (cluster and rack) faults as a chain newest first, where its index by
    // scope was: a storm adds to every rack's run of that index in each commit, a page per
    // rack. As the host chain (24): each row names the previous row of its scope
    // (`scope_prev_seq`) and the newest time at or before it along that chain (`scope_reach`);
    // each scope's `scope_fault_heads` row names its newest. Only an incident's opening reads
    // a scope's faults. Existing rows are chained in their order of arrival.
    R"sql(
ALTER TABLE host_faults ADD COLUMN scope_prev_seq INTEGER;
ALTER TABLE host_faults ADD COLUMN scope_reach INTEGER NOT NULL DEFAULT 0;
CREATE TABLE scope_fault_heads(
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    reach INTEGER NOT NULL,
    PRIMARY KEY (cluster_id, rack)
) WITHOUT ROWID;
WITH chain AS (SELECT seq, LAG(seq) OVER (PARTITION BY cluster_id, rack ORDER BY seq) AS prev,
        MAX(time) OVER (PARTITION BY cluster_id, rack ORDER BY seq ROWS UNBOUNDED PRECEDING)
            AS reach
    FROM host_faults)
UPDATE host_faults SET scope_prev_seq = chain.prev, scope_reach = chain.reach FROM chain
    WHERE chain.seq = host_faults.seq;
INSERT INTO scope_fault_heads(cluster_id, rack, last_seq, reach)
    SELECT cluster_id, rack, MAX(seq), MAX(time) FROM host_faults GROUP BY cluster_id, rack;
DROP INDEX host_faults_by_scope;
)sql",
};

// The migration that adds the overview's aggregates, which its back-fill follows.
constexpr size_t kStatsMigration = 12;

}  // namespace

Status Migrate(Connection& conn, size_t target) {
    NR_RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
    auto migrate = [&]() -> Status {
        size_t version = 0;
        {
            // Reset before the migrations run: a statement still open keeps its tables
            // locked, and a migration may drop one.
            NR_ASSIGN_OR_RETURN(auto stmt, conn.Prepare("PRAGMA user_version"));
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            NR_ASSERT(row, "PRAGMA user_version returns one row");
            version = size_t(stmt.Int(0));
        }
        if (version > kMigrations.size()) {
            return Internal("database schema version " + std::to_string(version) +
                            " is newer than this binary knows (" +
                            std::to_string(kMigrations.size()) + ")");
        }
        const size_t last = std::min(target, kMigrations.size());
        for (size_t v = version; v < last; ++v) {
            NR_RETURN_IF_ERROR(conn.Exec(kMigrations[v]));
            if (v + 1 == kStatsMigration) NR_RETURN_IF_ERROR(sql::BackfillStats(conn));
        }
        std::string set_version =
            "PRAGMA user_version = " + std::to_string(std::max(last, version));
        return conn.Exec(set_version.c_str());
    }();
    if (!migrate) {
        (void)conn.Exec("ROLLBACK");
        return migrate;
    }
    return conn.Exec("COMMIT");
}

}  // namespace noderepair::storage::sqlite
