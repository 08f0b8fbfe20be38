#include "storage/postgres/schema.hpp"

#include <array>
#include <string>

#include "storage/sql/repositories.hpp"

namespace noderepair::storage::postgres {
namespace {

// Versioned migrations: entry i takes the schema from version i to i+1. Append only. The first
// is the whole schema the SQLite backend reaches with its first eleven migrations (the same
// tables, columns and indexes, with PostgreSQL's types and triggers), so both backends number
// later migrations alike.
constexpr std::array kMigrations = {
    R"sql(
CREATE TABLE clusters(
    cluster_id TEXT PRIMARY KEY,
    cluster_name TEXT NOT NULL,
    status TEXT NOT NULL,
    automatic INTEGER NOT NULL DEFAULT 0,
    automatic_alerts TEXT NOT NULL DEFAULT ''
);
CREATE TABLE hosts(
    host_name TEXT PRIMARY KEY,
    gpu_slots INTEGER NOT NULL,
    cordoned INTEGER NOT NULL DEFAULT 0,
    libvirt_uri TEXT,
    used_gpus INTEGER NOT NULL DEFAULT 0,
    power_cycled_at BIGINT
);
CREATE INDEX hosts_by_free ON hosts(cordoned, (gpu_slots - used_gpus) DESC, host_name);
CREATE TABLE instances(
    instance_id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(cluster_id),
    instance_name TEXT NOT NULL,
    num_gpus INTEGER NOT NULL,
    host_name TEXT REFERENCES hosts(host_name),
    status TEXT NOT NULL,
    auto_repair INTEGER NOT NULL DEFAULT 1,
    latest_remediation_id TEXT
);
CREATE INDEX instances_by_cluster ON instances(cluster_id, instance_name);
CREATE INDEX instances_by_host ON instances(host_name);
CREATE INDEX instances_by_name ON instances(instance_name);
CREATE TABLE remediations(
    seq BIGSERIAL PRIMARY KEY,
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
    review_time BIGINT,
    review_comment TEXT,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    error_message TEXT,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX remediations_by_cluster_create ON remediations(cluster_id, create_time, id);
CREATE INDEX remediations_by_cluster_update ON remediations(cluster_id, update_time, id);
CREATE INDEX remediations_by_instance_create ON remediations(instance_id, create_time, id);
CREATE INDEX remediations_by_instance_update ON remediations(instance_id, update_time, id);
-- At most one active remediation per instance (docs/http-api.md 1), enforced by the database too.
CREATE UNIQUE INDEX remediations_one_active ON remediations(instance_id)
    WHERE state NOT IN (6, 7, 8, 9);
CREATE INDEX remediations_working ON remediations(state, create_time) WHERE state IN (2, 3, 4, 5);
CREATE INDEX remediations_active_by_cluster ON remediations(cluster_id)
    WHERE state NOT IN (6, 7, 8, 9);
CREATE INDEX remediations_waiting_approval ON remediations(state) WHERE state = 1;
-- Event numbers come from one sequence: increasing in commit order of each remediation,
-- whichever process appends (docs/design.md 7).
CREATE SEQUENCE remediation_event_numbers;
CREATE TABLE remediation_events(
    remediation_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    state INTEGER,
    step TEXT,
    actor TEXT,
    detail TEXT,
    PRIMARY KEY(remediation_id, n)
);
CREATE TABLE tokens(
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role INTEGER NOT NULL,
    clusters TEXT NOT NULL,
    created_at BIGINT,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX tokens_by_name ON tokens(name);
CREATE TABLE settings(
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE engine_jobs(
    remediation_id TEXT PRIMARY KEY,
    workflow_version INTEGER NOT NULL,
    step TEXT NOT NULL,
    fence BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    step_started BIGINT NOT NULL,
    next_check BIGINT NOT NULL,
    source_host TEXT,
    target_host TEXT,
    num_gpus INTEGER NOT NULL,
    host_was_cordoned INTEGER NOT NULL,
    instances TEXT,
    calls TEXT
);
CREATE INDEX engine_jobs_by_host ON engine_jobs(source_host);
CREATE INDEX engine_jobs_by_target ON engine_jobs(target_host);
CREATE TABLE reservations(
    instance_id TEXT PRIMARY KEY,
    host_name TEXT NOT NULL REFERENCES hosts(host_name),
    num_gpus INTEGER NOT NULL
);
CREATE INDEX reservations_by_host ON reservations(host_name);
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
    started_at BIGINT NOT NULL,
    resolved_at BIGINT,
    remediation_id TEXT,
    waiting INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint, started_at);
CREATE INDEX alerts_by_cluster ON alerts(cluster_id, started_at, id);
CREATE INDEX alerts_by_remediation ON alerts(remediation_id) WHERE remediation_id IS NOT NULL;
CREATE INDEX alerts_open_by_instance ON alerts(instance_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_waiting ON alerts(cluster_id, started_at) WHERE waiting = 1;
CREATE TABLE health_check_runs(
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    tests TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    end_time BIGINT,
    remediation_id TEXT,
    waiting INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX health_check_runs_by_instance ON health_check_runs(instance_id, create_time, id);
CREATE INDEX health_check_runs_running ON health_check_runs(create_time) WHERE state = 1;
CREATE INDEX health_check_runs_waiting ON health_check_runs(create_time) WHERE waiting = 1;
CREATE TABLE remediation_counts(
    state INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY(state, mode, trigger)
);
CREATE TABLE sim_operations(
    key TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    instance_id TEXT,
    host_name TEXT,
    target_host TEXT,
    num_gpus INTEGER NOT NULL,
    ready_at BIGINT NOT NULL,
    applied INTEGER NOT NULL
);
CREATE TABLE sim_instances(instance_id TEXT PRIMARY KEY);
CREATE TABLE sim_vms(
    vm_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    host_name TEXT NOT NULL
);
CREATE INDEX sim_vms_by_instance ON sim_vms(instance_id);
CREATE TABLE sim_hosts(
    host_name TEXT PRIMARY KEY,
    degraded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sim_faults(
    fingerprint TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE INDEX sim_faults_by_instance ON sim_faults(instance_id);
CREATE TABLE audit_records(
    seq BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_head(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head(id, seq, hash)
    VALUES(1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Each host's used GPUs, kept by triggers so placement is an index seek.
CREATE FUNCTION hosts_count_instance_gpus() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.host_name IS NOT NULL THEN
        UPDATE hosts SET used_gpus = used_gpus - OLD.num_gpus WHERE host_name = OLD.host_name;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.host_name IS NOT NULL THEN
        UPDATE hosts SET used_gpus = used_gpus + NEW.num_gpus WHERE host_name = NEW.host_name;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER instances_counted AFTER INSERT OR DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION hosts_count_instance_gpus();
CREATE TRIGGER instances_moved AFTER UPDATE OF host_name, num_gpus ON instances
    FOR EACH ROW EXECUTE FUNCTION hosts_count_instance_gpus();
CREATE TRIGGER reservations_counted AFTER INSERT OR DELETE ON reservations
    FOR EACH ROW EXECUTE FUNCTION hosts_count_instance_gpus();

-- Remediations counted by state, mode and trigger, so /metrics reads a few dozen rows. A
-- trigger appends +1/-1 deltas instead of updating the count rows: one hot row updated by every
-- create piles up row versions that each later update must step over (measured: 0.5 ms per
-- insert after 90,000 creates). The store folds the deltas into the counts now and then
-- (FoldCountsSql); reads add both.
CREATE TABLE remediation_count_deltas(
    state INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    n BIGINT NOT NULL
);
CREATE FUNCTION remediations_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO remediation_count_deltas(state, mode, trigger, n)
            VALUES(OLD.state, OLD.mode, OLD.trigger, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO remediation_count_deltas(state, mode, trigger, n)
            VALUES(NEW.state, NEW.mode, NEW.trigger, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER remediation_counted AFTER INSERT OR DELETE ON remediations
    FOR EACH ROW EXECUTE FUNCTION remediations_count();
CREATE TRIGGER remediation_recounted AFTER UPDATE OF state, mode, trigger ON remediations
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.mode IS DISTINCT FROM NEW.mode
                       OR OLD.trigger IS DISTINCT FROM NEW.trigger)
    EXECUTE FUNCTION remediations_count();
)sql",
    // 2: the overview's daily aggregates (docs/http-api.md 11), as SQLite's migration 12.
    // Back-filled from the stored history by BackfillStats right after this runs.
    R"sql(
CREATE TABLE remediation_daily(
    cluster_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    created BIGINT NOT NULL,
    succeeded BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    PRIMARY KEY(cluster_id, day, mode)
);
CREATE TABLE stage_daily(
    cluster_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    stage INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY(cluster_id, day, stage, bucket)
);
)sql",
    // 3: fleet intelligence (docs/http-api.md 11): a host's rack and suspicion, the host fault
    // ledger (append-only, read by host and by incident scope; its index covers the suspicion
    // counts), each scope's instances with their last signal (so incident detection counts
    // instances, not signals) and incidents.
    R"sql(
ALTER TABLE hosts ADD COLUMN rack TEXT;
ALTER TABLE hosts ADD COLUMN suspect TEXT;
CREATE INDEX hosts_by_rack ON hosts(rack) WHERE rack IS NOT NULL;
CREATE TABLE host_faults(
    seq BIGSERIAL PRIMARY KEY,
    host_name TEXT NOT NULL,
    rack TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    remediation_id TEXT,
    time BIGINT NOT NULL
);
CREATE INDEX host_faults_by_host ON host_faults(host_name, time, instance_id, remediation_id);
CREATE INDEX host_faults_by_scope ON host_faults(cluster_id, rack, time);
CREATE TABLE scope_instances(
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    last_signal BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, rack, instance_id)
);
CREATE TABLE incidents(
    id TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    state INTEGER NOT NULL,
    instances TEXT NOT NULL,
    signals INTEGER NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    closed_at BIGINT,
    closed_by TEXT
);
CREATE INDEX incidents_by_scope ON incidents(cluster_id, rack, first_seen);
)sql",
    // 4: every signal occurrence, append-only, for `policy replay` (docs/http-api.md 11).
    R"sql(
CREATE TABLE signal_occurrences(
    seq BIGSERIAL PRIMARY KEY,
    time BIGINT NOT NULL,
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    signal TEXT NOT NULL,
    mode INTEGER,
    alert_id TEXT,
    run_id TEXT
);
CREATE INDEX signal_occurrences_by_time ON signal_occurrences(time, seq);
)sql",
    // 5 (SQLite 15): several replicas on one database (docs/design.md 12): who works on each
    // engine job under which lease, the replicas seen, and the leader lease. Times are
    // microseconds of the database's clock.
    R"sql(
ALTER TABLE engine_jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE engine_jobs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 0;
ALTER TABLE engine_jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX engine_jobs_by_lease ON engine_jobs(lease_until);
CREATE INDEX engine_jobs_by_owner ON engine_jobs(owner);
CREATE TABLE replicas(
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE TABLE replica_leader(
    id INTEGER PRIMARY KEY CHECK (id = 1),
    replica_id TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
)sql",
    // 6 (SQLite 16): the change stream across replicas (docs/design.md 12): each committed
    // remediation change as it left the row, numbered in commit order by the audit head's
    // change_seq.
    R"sql(
ALTER TABLE audit_head ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE remediation_changes(
    seq BIGINT PRIMARY KEY,
    time BIGINT NOT NULL,
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
    review_time BIGINT,
    review_comment TEXT,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    error_message TEXT,
    version BIGINT NOT NULL
);
)sql",
    // 7 (SQLite 17): when each waiting signal is next due.
    R"sql(
ALTER TABLE alerts ADD COLUMN wait_until BIGINT NOT NULL DEFAULT 0;
DROP INDEX alerts_waiting;
CREATE INDEX alerts_waiting ON alerts(cluster_id, wait_until, started_at) WHERE waiting = 1;
CREATE INDEX alerts_waiting_due ON alerts(wait_until, cluster_id) WHERE waiting = 1;
)sql",
    // 8 (SQLite 18): one index of the firing signals by instance serves both the release of an
    // incident and the sweeper's joins (the waiting ones); which clusters have due signals is
    // asked per cluster of alerts_waiting. (A heap table: its indexes point at rows, not at
    // the UUID, so the table stays as it is.)
    R"sql(
DROP INDEX alerts_waiting_due;
DROP INDEX alerts_open_by_instance;
CREATE INDEX alerts_open_by_instance ON alerts(instance_id, waiting) WHERE resolved_at IS NULL;
)sql",
    // 9 (SQLite 19): each cluster's instance count, kept by the fleet import.
    R"sql(
ALTER TABLE clusters ADD COLUMN instance_count BIGINT NOT NULL DEFAULT 0;
UPDATE clusters SET instance_count =
    (SELECT COUNT(*) FROM instances i WHERE i.cluster_id = clusters.cluster_id);
)sql",
    // 10 (SQLite 20): each host's power as the leader last read it from its BMC.
    R"sql(
CREATE TABLE host_power(
    host_name TEXT PRIMARY KEY,
    power TEXT NOT NULL,
    read_at BIGINT NOT NULL
);
)sql",
    // 11 (SQLite 21): an instance's remediations by when they ended, newest first for the
    // cooldown's and the ladder's reads.
    R"sql(
CREATE INDEX remediations_by_instance_end ON remediations(instance_id, end_time, id)
    WHERE state IN (6, 7, 8);
)sql",
    // 12 (SQLite 22): a ceiling on each host's counted signals, for the suspicion check; the
    // ledger's index by host keeps only its key.
    R"sql(
CREATE TABLE host_fault_ceilings(
    host_name TEXT PRIMARY KEY,
    since BIGINT NOT NULL,
    signals BIGINT NOT NULL
);
DROP INDEX host_faults_by_host;
CREATE INDEX host_faults_by_host ON host_faults(host_name, time);
)sql",
    // 13 (PostgreSQL only): inserted and deleted remediations counted once per statement, from
    // its transition table, instead of a PL/pgSQL call and a delta row per remediation: a row of
    // creates is one INSERT (sql::SendRowWrites), so its remediations cost one delta row per
    // state, mode and trigger. A change of state stays counted per row (a trigger on chosen
    // columns cannot have a transition table), by the first migration's function, now for
    // updates only.
    R"sql(
DROP TRIGGER remediation_counted ON remediations;
CREATE OR REPLACE FUNCTION remediations_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO remediation_count_deltas(state, mode, trigger, n)
        VALUES(OLD.state, OLD.mode, OLD.trigger, -1), (NEW.state, NEW.mode, NEW.trigger, 1);
    RETURN NULL;
END $$;
CREATE FUNCTION remediations_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO remediation_count_deltas(state, mode, trigger, n)
        SELECT state, mode, trigger, COUNT(*) FROM inserted GROUP BY state, mode, trigger;
    RETURN NULL;
END $$;
CREATE FUNCTION remediations_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO remediation_count_deltas(state, mode, trigger, n)
        SELECT state, mode, trigger, -COUNT(*) FROM deleted GROUP BY state, mode, trigger;
    RETURN NULL;
END $$;
CREATE TRIGGER remediations_counted AFTER INSERT ON remediations
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION remediations_count_inserted();
CREATE TRIGGER remediations_uncounted AFTER DELETE ON remediations
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION remediations_count_deleted();
)sql",
    // 14 (PostgreSQL only): room on each page of instances for a new version of its rows. Every
    // create sets its instance's latest remediation, a column no index holds: with room on the
    // page that is a HOT update (no new entry in any of the table's four indexes); on a page
    // the fleet import packed full, every such update wrote four index entries and moved the
    // row. Takes effect for pages written from now on (a fleet imported after this migration).
    R"sql(
ALTER TABLE instances SET (fillfactor = 90);
)sql",
    // 15 (PostgreSQL only): a remediation's primary key is its id, the key every read by id
    // uses; the index on `seq` (SQLite's rowid, kept as a column and carried by `db copy`)
    // served no query, and cost every create one more index entry. (A unique constraint's
    // index cannot become the primary key's, so the id's index is built again, once.)
    R"sql(
ALTER TABLE remediations DROP CONSTRAINT remediations_pkey;
ALTER TABLE remediations DROP CONSTRAINT remediations_id_key;
ALTER TABLE remediations ADD CONSTRAINT remediations_pkey PRIMARY KEY (id);
)sql",
    // 16 (SQLite 24): each host's fault ledger as a chain newest first (prev_seq, reach; the
    // ceiling row's last_seq and reach), where its index by host was.
    R"sql(
ALTER TABLE host_faults ADD COLUMN prev_seq BIGINT;
ALTER TABLE host_faults ADD COLUMN reach BIGINT NOT NULL DEFAULT 0;
ALTER TABLE host_fault_ceilings ADD COLUMN last_seq BIGINT;
ALTER TABLE host_fault_ceilings ADD COLUMN reach BIGINT NOT NULL DEFAULT 0;
WITH chain AS (SELECT seq, LAG(seq) OVER (PARTITION BY host_name ORDER BY seq) AS prev,
        MAX(time) OVER (PARTITION BY host_name ORDER BY seq ROWS UNBOUNDED PRECEDING) AS reach
    FROM host_faults)
UPDATE host_faults f SET prev_seq = chain.prev, reach = chain.reach FROM chain
    WHERE chain.seq = f.seq;
INSERT INTO host_fault_ceilings(host_name, since, signals, last_seq, reach)
    SELECT host_name, 9223372036854775807, 0, MAX(seq), MAX(time) FROM host_faults
    GROUP BY host_name
    ON CONFLICT(host_name) DO UPDATE SET last_seq = excluded.last_seq, reach = excluded.reach;
DROP INDEX host_faults_by_host;
)sql",
    // 17 (SQLite 25): the firing signals by instance without the linked ones, which are
    // reached from their instance's remediations through alerts_by_remediation.
    R"sql(
DROP INDEX alerts_open_by_instance;
CREATE INDEX alerts_open_by_instance ON alerts(instance_id, waiting)
    WHERE resolved_at IS NULL AND (remediation_id IS NULL OR waiting = 1);
)sql",  // 18 (SQLite 26): each scope's faults as a chain newest first (scope_prev_seq,
    // scope_reach; scope_fault_heads names each scope's newest), where its index by scope was.
    R"sql(
ALTER TABLE host_faults ADD COLUMN scope_prev_seq BIGINT;
ALTER TABLE host_faults ADD COLUMN scope_reach BIGINT NOT NULL DEFAULT 0;
CREATE TABLE scope_fault_heads(
    cluster_id TEXT NOT NULL,
    rack TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    reach BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, rack)
);
WITH chain AS (SELECT seq, LAG(seq) OVER (PARTITION BY cluster_id, rack ORDER BY seq) AS prev,
        MAX(time) OVER (PARTITION BY cluster_id, rack ORDER BY seq ROWS UNBOUNDED PRECEDING)
            AS reach
    FROM host_faults)
UPDATE host_faults f SET scope_prev_seq = chain.prev, scope_reach = chain.reach FROM chain
    WHERE chain.seq = f.seq;
INSERT INTO scope_fault_heads(cluster_id, rack, last_seq, reach)
    SELECT cluster_id, rack, MAX(seq), MAX(time) FROM host_faults GROUP BY cluster_id, rack;
DROP INDEX host_faults_by_scope;
)sql",
    // 19 (PostgreSQL only): the rows a batch appends (remediations and their recorded changes,
    // events, audit records) travel as arrays of these records (sql::RecordArray), which the
    // server parses in about half the CPU of the JSON they went as. The fields are the
    // statements' columns, in the order the writer writes them.
    R"sql(
CREATE TYPE remediation_row AS (
    id TEXT,
    cluster_id TEXT,
    instance_id TEXT,
    instance_name TEXT,
    mode INTEGER,
    requested_mode INTEGER,
    trigger INTEGER,
    state INTEGER,
    reason TEXT,
    active_health_check_run_id TEXT,
    passive_health_check_event_id TEXT,
    requested_by TEXT,
    reviewed_by TEXT,
    review_time BIGINT,
    review_comment TEXT,
    create_time BIGINT,
    update_time BIGINT,
    start_time BIGINT,
    end_time BIGINT,
    error_message TEXT,
    version BIGINT
);
CREATE TYPE remediation_event_row AS (
    remediation_id TEXT,
    time BIGINT,
    type TEXT,
    state INTEGER,
    step TEXT,
    actor TEXT,
    detail TEXT
);
CREATE TYPE audit_record_row AS (
    seq BIGINT,
    time BIGINT,
    actor TEXT,
    action TEXT,
    target TEXT,
    detail TEXT,
    hash TEXT
);
)sql",
    // 20 (PostgreSQL only): an instance's latest remediation is read from its remediations by
    // `seq`, the order they were inserted in (sql::SqlInventory::GetCluster), not kept on the
    // instance: the update of `instances` that kept it cost every create 17-22 us of the
    // server's CPU, half of them a moved row with four new index entries (bench/RESULTS.md).
    // It is the one index by instance: the instance's lists by create and by update time sort
    // the instance's own remediations (a few) instead of walking an index each, which cost
    // every create and every change of state an entry each.
    R"sql(
CREATE INDEX remediations_by_instance_seq ON remediations(instance_id, seq);
DROP INDEX remediations_by_instance_create;
DROP INDEX remediations_by_instance_update;
ALTER TABLE instances DROP COLUMN latest_remediation_id;
)sql",
};

// Any fixed number: the key of the advisory lock that serialises migrations.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7163021968)";

// The migration that adds the overview's aggregates, which its back-fill follows.
constexpr size_t kStatsMigration = 2;

}  // namespace

const char* FoldCountsSql() {
    return "WITH folded AS (DELETE FROM remediation_count_deltas RETURNING state, mode, "
           "trigger, n) INSERT INTO remediation_counts(state, mode, trigger, n) SELECT state, "
           "mode, trigger, SUM(n) FROM folded GROUP BY state, mode, trigger ON CONFLICT(state, "
           "mode, trigger) DO UPDATE SET n = remediation_counts.n + excluded.n";
}

Status Migrate(Connection& conn) {
    NR_RETURN_IF_ERROR(conn.Exec("BEGIN"));
    auto migrate = [&]() -> Status {
        // Every server starting on the database waits here for the one that migrates first,
        // then finds the schema current.
        NR_RETURN_IF_ERROR(conn.Exec(kMigrationLock));
        NR_RETURN_IF_ERROR(conn.Exec(
            "CREATE TABLE IF NOT EXISTS noderepair_schema(id INTEGER PRIMARY KEY CHECK (id = 1), "
            "version INTEGER NOT NULL)"));
        size_t version = 0;
        {
            NR_ASSIGN_OR_RETURN(auto stmt,
                                conn.Prepare("SELECT version FROM noderepair_schema WHERE id = 1"));
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) version = size_t(stmt.Int(0));
        }
        if (version > kMigrations.size()) {
            return Internal("database schema version " + std::to_string(version) +
                            " is newer than this binary knows (" +
                            std::to_string(kMigrations.size()) + ")");
        }
        for (size_t v = version; v < kMigrations.size(); ++v) {
            NR_RETURN_IF_ERROR(conn.Exec(kMigrations[v]));
            if (v + 1 == kStatsMigration) NR_RETURN_IF_ERROR(sql::BackfillStats(conn));
        }
        std::string set_version = "INSERT INTO noderepair_schema(id, version) VALUES(1, " +
                                  std::to_string(kMigrations.size()) +
                                  ") ON CONFLICT(id) DO UPDATE SET version = excluded.version";
        return conn.Exec(set_version.c_str());
    }();
    if (!migrate) {
        (void)conn.Exec("ROLLBACK");
        return migrate;
    }
    return conn.Exec("COMMIT");
}

}  // namespace noderepair::storage::postgres
