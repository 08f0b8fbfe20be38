#include "storage/sqlite/sqlite_store.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <utility>

#include "common/json.hpp"
#include "common/request_context.hpp"

namespace noderepair::storage::sqlite {
namespace {

using model::Remediation;
using model::State;

// Versioned migrations: entry i takes the schema from version i to i+1. Append only.
constexpr std::array<const char*, 7> kMigrations = {
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
-- At most one active remediation per instance (API.md 1), enforced by the database too.
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
};

constexpr const char* kRunColumns =
    "id, cluster_id, instance_id, state, tests, create_time, end_time, remediation_id, waiting";

std::string EncodeTests(const std::vector<model::TestResult>& tests) {
    std::string out;
    JsonWriter w(out);
    w.BeginArray();
    for (const auto& t : tests) {
        w.BeginObject()
            .Key("name")
            .String(t.name)
            .Key("state")
            .Int(int(t.state))
            .Key("detail")
            .String(t.detail)
            .EndObject();
    }
    w.EndArray();
    return out;
}

std::vector<model::TestResult> DecodeTests(const std::string& text) {
    std::vector<model::TestResult> out;
    auto parsed = ParseStrictJson(text);
    if (!parsed || !parsed->is_array()) return out;
    for (const auto& v : parsed->as_array()) {
        if (!v.is_object()) continue;
        const auto& o = v.as_object();
        model::TestResult t;
        if (const auto* n = o.if_contains("name"); n && n->is_string()) t.name = n->as_string();
        if (const auto* st = o.if_contains("state"); st && st->is_int64()) {
            t.state = model::CheckState(st->as_int64());
        }
        if (const auto* d = o.if_contains("detail"); d && d->is_string()) {
            t.detail = d->as_string();
        }
        out.push_back(std::move(t));
    }
    return out;
}

model::HealthCheckRun ReadRun(const Statement& s) {
    model::HealthCheckRun r;
    r.id = s.Text(0);
    r.cluster_id = s.Text(1);
    r.instance_id = s.Text(2);
    r.state = model::CheckState(s.Int(3));
    r.tests = DecodeTests(s.Text(4));
    r.create_time = FromMicros(s.Int(5));
    r.end_time = s.Time(6);
    r.remediation_id = s.Text(7);
    r.waiting = s.Int(8) != 0;
    return r;
}

constexpr const char* kAlertColumns =
    "id, fingerprint, alert_name, cluster_id, instance_id, target_vm, severity, labels, "
    "annotations, started_at, resolved_at, remediation_id, waiting";

std::string EncodeMap(const std::map<std::string, std::string>& m) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    for (const auto& [k, v] : m) w.Key(k).String(v);
    w.EndObject();
    return out;
}

std::map<std::string, std::string> DecodeMap(const std::string& text) {
    std::map<std::string, std::string> out;
    auto parsed = ParseStrictJson(text);
    if (!parsed || !parsed->is_object()) return out;
    for (const auto& [k, v] : parsed->as_object()) {
        if (v.is_string()) out[std::string(k)] = std::string(v.as_string());
    }
    return out;
}

model::Alert ReadAlert(const Statement& s, int c = 0) {
    model::Alert a;
    a.id = s.Text(c++);
    a.fingerprint = s.Text(c++);
    a.alert_name = s.Text(c++);
    a.cluster_id = s.Text(c++);
    a.instance_id = s.Text(c++);
    a.target_vm = s.Text(c++);
    a.severity = model::Severity(s.Int(c++));
    a.labels = DecodeMap(s.Text(c++));
    a.annotations = DecodeMap(s.Text(c++));
    a.started_at = FromMicros(s.Int(c++));
    a.resolved_at = s.Time(c++);
    a.remediation_id = s.Text(c++);
    a.waiting = s.Int(c++) != 0;
    return a;
}

constexpr const char* kRemediationColumns =
    "id, cluster_id, instance_id, instance_name, mode, requested_mode, trigger, state, reason, "
    "active_health_check_run_id, passive_health_check_event_id, requested_by, reviewed_by, "
    "review_time, review_comment, create_time, update_time, start_time, end_time, "
    "error_message";

// Reads the columns of kRemediationColumns starting at `first`.
Remediation ReadRemediation(const Statement& s, int first = 0) {
    Remediation r;
    int c = first;
    r.id = s.Text(c++);
    r.cluster_id = s.Text(c++);
    r.instance_id = s.Text(c++);
    r.instance_name = s.Text(c++);
    r.mode = model::Mode(s.Int(c++));
    r.requested_mode = model::Mode(s.Int(c++));
    r.trigger = model::Trigger(s.Int(c++));
    r.state = State(s.Int(c++));
    r.reason = s.Text(c++);
    r.active_health_check_run_id = s.Text(c++);
    r.passive_health_check_event_id = s.Text(c++);
    r.requested_by = s.Text(c++);
    r.reviewed_by = s.Text(c++);
    r.review_time = s.Time(c++);
    r.review_comment = s.Text(c++);
    r.create_time = FromMicros(s.Int(c++));
    r.update_time = FromMicros(s.Int(c++));
    r.start_time = s.Time(c++);
    r.end_time = s.Time(c++);
    r.error_message = s.Text(c++);
    return r;
}

// Binds every column of kRemediationColumns from index `first`.
void BindRemediation(Statement& s, const Remediation& r, int first = 1) {
    int i = first;
    s.Bind(i++, r.id);
    s.Bind(i++, r.cluster_id);
    s.Bind(i++, r.instance_id);
    s.Bind(i++, r.instance_name);
    s.Bind(i++, int64_t(r.mode));
    s.Bind(i++, int64_t(r.requested_mode));
    s.Bind(i++, int64_t(r.trigger));
    s.Bind(i++, int64_t(r.state));
    s.BindOptional(i++, r.reason);
    s.BindOptional(i++, r.active_health_check_run_id);
    s.BindOptional(i++, r.passive_health_check_event_id);
    s.BindOptional(i++, r.requested_by);
    s.BindOptional(i++, r.reviewed_by);
    s.Bind(i++, r.review_time);
    s.BindOptional(i++, r.review_comment);
    s.Bind(i++, ToMicros(r.create_time));
    s.Bind(i++, ToMicros(r.update_time));
    s.Bind(i++, r.start_time);
    s.Bind(i++, r.end_time);
    s.BindOptional(i++, r.error_message);
}

template <class E>
int64_t MaskOf(const std::vector<E>& values) {
    if (values.empty()) return -1;  // every bit: no filter
    int64_t mask = 0;
    for (E v : values) mask |= int64_t(1) << int(v);
    return mask;
}

std::string JoinClusters(const std::vector<std::string>& clusters) {
    std::string out;
    for (const auto& c : clusters) {
        if (!out.empty()) out.push_back('\n');
        out += c;
    }
    return out;
}

std::vector<std::string> SplitClusters(const std::string& joined) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < joined.size()) {
        size_t end = joined.find('\n', start);
        if (end == std::string::npos) end = joined.size();
        out.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// Every row's first column, as text.
Result<std::vector<std::string>> FirstColumn(Statement& stmt) {
    std::vector<std::string> values;
    while (true) {
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        values.push_back(stmt.Text(0));
    }
    return values;
}

// Reader and Txn over one connection. The writer's instance also writes.
class SqliteTxn final : public Txn {
public:
    explicit SqliteTxn(Connection& conn) : conn_(conn) {}

    // The remediation changes of the batch so far, for the commit observers. A change rolled
    // back to its savepoint drops its entries with Truncate().
    std::vector<RemediationChange> changes;
    std::string request_id;  // of the change being run
    void Truncate(size_t size) { changes.resize(size); }

    Result<std::optional<Remediation>> GetRemediation(const std::string& id) override {
        static const std::string sql =
            std::string("SELECT ") + kRemediationColumns + " FROM remediations WHERE id = ?1";
        std::optional<Remediation> r;
        {
            NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
            stmt.Bind(1, id);
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return r;
            r = ReadRemediation(stmt);
        }
        NR_RETURN_IF_ERROR(AttachAlerts(*r));
        return r;
    }

    // Fills linked_alerts for a whole page with one query instead of one per row.
    Status AttachAlerts(std::vector<Remediation>& page) {
        if (page.empty()) return OkStatus();
        std::string ids;
        JsonWriter w(ids);
        w.BeginArray();
        for (const auto& r : page) w.String(r.id);
        w.EndArray();
        static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                       " FROM alerts WHERE remediation_id IN (SELECT value FROM "
                                       "json_each(?1)) ORDER BY started_at, id";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, ids);
        std::unordered_map<std::string, Remediation*> by_id;
        for (auto& r : page) {
            r.linked_alerts.clear();
            by_id[r.id] = &r;
        }
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            model::Alert alert = ReadAlert(stmt);
            auto it = by_id.find(alert.remediation_id);
            if (it != by_id.end()) it->second->linked_alerts.push_back(std::move(alert));
        }
        return OkStatus();
    }

    // Fills linked_alerts (API.md 5): every alert linked to the remediation, oldest first.
    Status AttachAlerts(Remediation& r) {
        static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                       " FROM alerts WHERE remediation_id = ?1 ORDER BY "
                                       "started_at, id";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, r.id);
        r.linked_alerts.clear();
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            r.linked_alerts.push_back(ReadAlert(stmt));
        }
        return OkStatus();
    }

    Result<RemediationPage> ListRemediations(const ListQuery& q) override {
        // One statement text per scope, order and direction; filters are bit masks so the
        // prepared statements stay few and cached.
        const bool by_instance = !q.instance_id.empty();
        const char* time_col = q.order == OrderField::kCreateTime ? "create_time" : "update_time";
        const char* dir = q.descending ? "DESC" : "ASC";
        const char* cmp = q.descending ? "<" : ">";
        std::string sql =
            std::string("SELECT ") + kRemediationColumns + " FROM remediations WHERE " +
            (by_instance ? "instance_id = ?2 AND cluster_id = ?1" : "cluster_id = ?1");
        if (q.after) sql += std::string(" AND (") + time_col + ", id) " + cmp + " (?3, ?4)";
        sql += " AND (?5 >> state) & 1 AND (?6 >> mode) & 1 AND (?7 >> trigger) & 1";
        sql += std::string(" ORDER BY ") + time_col + " " + dir + ", id " + dir + " LIMIT ?8";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, q.cluster_id);
        if (by_instance) stmt.Bind(2, q.instance_id);
        if (q.after) {
            stmt.Bind(3, q.after->time_us);
            stmt.Bind(4, q.after->id);
        }
        stmt.Bind(5, MaskOf(q.states));
        stmt.Bind(6, MaskOf(q.modes));
        stmt.Bind(7, MaskOf(q.triggers));
        stmt.Bind(8, int64_t(q.limit) + 1);
        RemediationPage page;
        page.remediations.reserve(size_t(q.limit));
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            if (int(page.remediations.size()) == q.limit) {
                page.has_next = true;
                break;
            }
            page.remediations.push_back(ReadRemediation(stmt));
        }
        NR_RETURN_IF_ERROR(AttachAlerts(page.remediations));
        return page;
    }

    Result<std::optional<Remediation>> GetActiveRemediation(
        const std::string& instance_id) override {
        static const std::string sql = std::string("SELECT ") + kRemediationColumns +
                                       " FROM remediations WHERE instance_id = ?1 AND state "
                                       "NOT IN (6, 7, 8, 9)";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, instance_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<Remediation>();
        return std::optional<Remediation>(ReadRemediation(stmt));
    }

    Result<std::vector<model::RemediationEvent>> ListEvents(
        const std::string& remediation_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT time, type, state, step, actor, detail FROM "
                                          "remediation_events WHERE remediation_id = ?1 "
                                          "ORDER BY n"));
        stmt.Bind(1, remediation_id);
        std::vector<model::RemediationEvent> events;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            model::RemediationEvent e;
            e.time = FromMicros(stmt.Int(0));
            e.type = stmt.Text(1);
            if (!stmt.IsNull(2)) e.state = State(stmt.Int(2));
            e.step = stmt.Text(3);
            e.actor = stmt.Text(4);
            e.detail = stmt.Text(5);
            events.push_back(std::move(e));
        }
        return events;
    }

    Result<std::optional<model::Instance>> GetInstance(const std::string& instance_id) override {
        return OneInstance("instance_id = ?1", instance_id);
    }

    // The first instance matching `where` (with ?1 bound to `key`).
    Result<std::optional<model::Instance>> OneInstance(const char* where, const std::string& key) {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare(std::string("SELECT instance_id, cluster_id, "
                                                      "instance_name, num_gpus, host_name, "
                                                      "status, auto_repair FROM instances "
                                                      "WHERE ") +
                                          where + " LIMIT 1"));
        stmt.Bind(1, key);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<model::Instance>();
        return std::optional<model::Instance>(ReadInstance(stmt));
    }

    Result<bool> HasCluster(const std::string& cluster_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT 1 FROM clusters WHERE cluster_id = ?1"));
        stmt.Bind(1, cluster_id);
        return stmt.Step();
    }

    Result<std::optional<model::Host>> GetHost(const std::string& host_name) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT host_name, gpu_slots, cordoned FROM hosts "
                                          "WHERE host_name = ?1"));
        stmt.Bind(1, host_name);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<model::Host>();
        return std::optional<model::Host>(
            model::Host{stmt.Text(0), int(stmt.Int(1)), 0, stmt.Int(2) != 0, {}, ""});
    }

    Result<std::vector<model::Cluster>> ListClusters() override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT cluster_id, cluster_name, status "
                                                     "FROM clusters ORDER BY cluster_id"));
        std::vector<model::Cluster> clusters;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            clusters.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), {}, {}, 0});
        }
        return clusters;
    }

    Result<std::optional<model::Cluster>> GetCluster(const std::string& cluster_id) override {
        model::Cluster cluster;
        {
            NR_ASSIGN_OR_RETURN(auto stmt,
                                conn_.Prepare("SELECT cluster_id, cluster_name, status FROM "
                                              "clusters WHERE cluster_id = ?1"));
            stmt.Bind(1, cluster_id);
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return std::optional<model::Cluster>();
            cluster = {stmt.Text(0), stmt.Text(1), stmt.Text(2), {}, {}, 0};
        }
        NR_ASSIGN_OR_RETURN(cluster.automation, GetClusterAutomation(cluster_id));
        {
            NR_ASSIGN_OR_RETURN(auto waiting,
                                conn_.Prepare("SELECT COUNT(*) FROM alerts WHERE waiting = 1 "
                                              "AND cluster_id = ?1"));
            waiting.Bind(1, cluster_id);
            NR_ASSIGN_OR_RETURN(bool row, waiting.Step());
            if (row) cluster.waiting_signals = int(waiting.Int(0));
        }
        static const std::string sql =
            std::string(
                "SELECT i.instance_id, i.cluster_id, i.instance_name, i.num_gpus, "
                "i.host_name, i.status, i.auto_repair, r.") +
            [] {
                std::string cols = kRemediationColumns;
                std::string prefixed;
                for (size_t pos = 0; pos < cols.size();) {
                    size_t comma = cols.find(", ", pos);
                    if (comma == std::string::npos) comma = cols.size();
                    if (!prefixed.empty()) prefixed += ", r.";
                    prefixed += cols.substr(pos, comma - pos);
                    pos = comma + 2;
                }
                return prefixed;
            }() +
            " FROM instances i LEFT JOIN remediations r ON r.id = i.latest_remediation_id "
            "WHERE i.cluster_id = ?1 ORDER BY i.instance_name, i.instance_id";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, cluster_id);
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            model::Instance instance = ReadInstance(stmt);
            if (!stmt.IsNull(7)) instance.latest_remediation = ReadRemediation(stmt, 7);
            cluster.gpu_worker_nodes.push_back(std::move(instance));
        }
        return std::optional<model::Cluster>(std::move(cluster));
    }

    Result<std::vector<model::Host>> ListHosts() override {
        std::vector<model::Host> hosts;
        {
            NR_ASSIGN_OR_RETURN(auto stmt,
                                conn_.Prepare("SELECT host_name, gpu_slots, cordoned, libvirt_uri "
                                              "FROM hosts ORDER BY host_name"));
            while (true) {
                NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
                if (!row) break;
                hosts.push_back(
                    {stmt.Text(0), int(stmt.Int(1)), 0, stmt.Int(2) != 0, {}, stmt.Text(3)});
            }
        }
        {
            // Reserved slots are taken too: a replacement VM is on its way there.
            NR_ASSIGN_OR_RETURN(auto reserved, conn_.Prepare("SELECT host_name, SUM(num_gpus) FROM "
                                                             "reservations GROUP BY host_name"));
            while (true) {
                NR_ASSIGN_OR_RETURN(bool row, reserved.Step());
                if (!row) break;
                std::string host_name = reserved.Text(0);
                for (auto& host : hosts) {
                    if (host.host_name == host_name) host.used_gpus += int(reserved.Int(1));
                }
            }
        }
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT host_name, instance_id, num_gpus, cluster_id "
                                          "FROM instances WHERE host_name IS NOT NULL ORDER BY "
                                          "host_name, instance_id"));
        size_t h = 0;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            std::string host_name = stmt.Text(0);
            while (h < hosts.size() && hosts[h].host_name < host_name) ++h;
            if (h == hosts.size() || hosts[h].host_name != host_name) continue;
            hosts[h].instances.push_back({stmt.Text(1), stmt.Text(3)});
            hosts[h].used_gpus += int(stmt.Int(2));
        }
        return hosts;
    }

    Result<std::optional<TokenRecord>> FindToken(const std::string& token_hash) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT name, role, clusters FROM tokens WHERE "
                                          "token_hash = ?1"));
        stmt.Bind(1, token_hash);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<TokenRecord>();
        return std::optional<TokenRecord>(
            TokenRecord{stmt.Text(0), Role(stmt.Int(1)), SplitClusters(stmt.Text(2))});
    }

    Result<bool> HasAnyToken() override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT 1 FROM tokens LIMIT 1"));
        return stmt.Step();
    }

    Result<std::optional<std::string>> GetSetting(const std::string& key) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT value FROM settings WHERE key = ?1"));
        stmt.Bind(1, key);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<std::string>();
        return std::optional<std::string>(stmt.Text(0));
    }

    Status InsertRemediation(const Remediation& r) override {
        static const std::string sql = std::string("INSERT INTO remediations(") +
                                       kRemediationColumns +
                                       ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                       "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)";
        {
            NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
            BindRemediation(stmt, r);
            NR_RETURN_IF_ERROR(stmt.Run());
        }
        NR_ASSIGN_OR_RETURN(auto latest,
                            conn_.Prepare("UPDATE instances SET latest_remediation_id = ?1 "
                                          "WHERE instance_id = ?2"));
        latest.Bind(1, r.id).Bind(2, r.instance_id);
        NR_RETURN_IF_ERROR(latest.Run());
        changes.push_back({r, std::nullopt, request_id});
        return OkStatus();
    }

    Status UpdateRemediation(const Remediation& r, State expected) override {
        static const std::string sql =
            "UPDATE remediations SET id = ?1, cluster_id = ?2, instance_id = ?3, "
            "instance_name = ?4, mode = ?5, requested_mode = ?6, trigger = ?7, state = ?8, "
            "reason = ?9, active_health_check_run_id = ?10, passive_health_check_event_id = ?11, "
            "requested_by = ?12, reviewed_by = ?13, review_time = ?14, review_comment = ?15, "
            "create_time = ?16, update_time = ?17, start_time = ?18, end_time = ?19, "
            "error_message = ?20 WHERE id = ?1 AND state = ?21";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        BindRemediation(stmt, r);
        stmt.Bind(21, int64_t(expected));
        NR_RETURN_IF_ERROR(stmt.Run());
        if (stmt.Changes() != 1) {
            return Aborted("remediation " + r.id + " is no longer in the expected state");
        }
        changes.push_back({r, expected, request_id});
        return OkStatus();
    }

    Status AppendEvent(const std::string& remediation_id,
                       const model::RemediationEvent& e) override {
        NR_ASSIGN_OR_RETURN(
            auto stmt,
            conn_.Prepare("INSERT INTO remediation_events(remediation_id, n, time, type, state, "
                          "step, actor, detail) VALUES(?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM "
                          "remediation_events WHERE remediation_id = ?1), ?2, ?3, ?4, ?5, ?6, "
                          "?7)"));
        stmt.Bind(1, remediation_id).Bind(2, ToMicros(e.time)).Bind(3, e.type);
        if (e.state) {
            stmt.Bind(4, int64_t(*e.state));
        } else {
            stmt.BindNull(4);
        }
        stmt.BindOptional(5, e.step).BindOptional(6, e.actor).BindOptional(7, e.detail);
        return stmt.Run();
    }

    Status InsertToken(const std::string& token_hash, const TokenRecord& token) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("INSERT INTO tokens(token_hash, name, role, clusters) "
                                          "VALUES(?1, ?2, ?3, ?4)"));
        stmt.Bind(1, token_hash)
            .Bind(2, token.name)
            .Bind(3, int64_t(token.role))
            .Bind(4, JoinClusters(token.clusters));
        return stmt.Run();
    }

    Status PutSetting(const std::string& key, const std::string& value) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("INSERT INTO settings(key, value) VALUES(?1, ?2) ON "
                                          "CONFLICT(key) DO UPDATE SET value = excluded.value"));
        stmt.Bind(1, key).Bind(2, value);
        return stmt.Run();
    }

    Status ImportFleet(const FleetImport& fleet) override {
        for (const auto& host : fleet.hosts) {
            // A host's libvirt URI is configuration, not state: a new fleet file updates it.
            NR_ASSIGN_OR_RETURN(auto stmt,
                                conn_.Prepare("INSERT INTO hosts(host_name, gpu_slots, "
                                              "libvirt_uri) VALUES(?1, ?2, ?3) ON "
                                              "CONFLICT(host_name) DO UPDATE SET libvirt_uri = "
                                              "excluded.libvirt_uri"));
            stmt.Bind(1, host.host_name)
                .Bind(2, int64_t(host.gpu_slots))
                .BindOptional(3, host.libvirt_uri);
            NR_RETURN_IF_ERROR(stmt.Run());
        }
        for (const auto& cluster : fleet.clusters) {
            {
                NR_ASSIGN_OR_RETURN(auto stmt,
                                    conn_.Prepare("INSERT OR IGNORE INTO clusters(cluster_id, "
                                                  "cluster_name, status) VALUES(?1, ?2, ?3)"));
                stmt.Bind(1, cluster.cluster_id).Bind(2, cluster.cluster_name).Bind(3, "Ready");
                NR_RETURN_IF_ERROR(stmt.Run());
            }
            for (const auto& node : cluster.gpu_worker_nodes) {
                NR_ASSIGN_OR_RETURN(
                    auto stmt,
                    conn_.Prepare("INSERT OR IGNORE INTO instances(instance_id, cluster_id, "
                                  "instance_name, num_gpus, host_name, status) VALUES(?1, ?2, "
                                  "?3, ?4, ?5, ?6)"));
                stmt.Bind(1, node.instance_id)
                    .Bind(2, cluster.cluster_id)
                    .Bind(3, node.instance_name)
                    .Bind(4, int64_t(node.num_gpus))
                    .BindOptional(5, node.host_name)
                    .Bind(6, node.host_name.empty() ? "Evicted" : "Ready");
                NR_RETURN_IF_ERROR(stmt.Run());
            }
        }
        return OkStatus();
    }

    Result<std::vector<std::string>> ListOldestInState(State state, int limit) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT id FROM remediations WHERE state = ?1 ORDER "
                                          "BY create_time LIMIT ?2"));
        stmt.Bind(1, int64_t(state)).Bind(2, int64_t(limit));
        return FirstColumn(stmt);
    }

    Result<std::vector<EngineJob>> ListEngineJobs() override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(std::string(kJobSelect)));
        std::vector<EngineJob> jobs;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            jobs.push_back(ReadJob(stmt));
        }
        return jobs;
    }

    Result<std::optional<EngineJob>> GetEngineJob(const std::string& remediation_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare(std::string(kJobSelect) + " WHERE remediation_id = ?1"));
        stmt.Bind(1, remediation_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<EngineJob>();
        return std::optional<EngineJob>(ReadJob(stmt));
    }

    Result<std::vector<model::Mode>> ModesWorkingOnHost(const std::string& host_name) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT r.mode FROM engine_jobs j JOIN "
                                                     "remediations r ON r.id = j.remediation_id "
                                                     "WHERE j.source_host = ?1"));
        stmt.Bind(1, host_name);
        std::vector<model::Mode> modes;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            modes.push_back(model::Mode(stmt.Int(0)));
        }
        return modes;
    }

    Status PutEngineJob(const EngineJob& j) override {
        NR_ASSIGN_OR_RETURN(
            auto stmt,
            conn_.Prepare("INSERT OR REPLACE INTO engine_jobs(remediation_id, step, started, "
                          "handle, attempts, step_started, next_check, source_host, "
                          "target_host, num_gpus, host_was_cordoned) VALUES(?1, ?2, ?3, ?4, "
                          "?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
        stmt.Bind(1, j.remediation_id)
            .Bind(2, int64_t(j.step))
            .Bind(3, int64_t(j.started))
            .BindOptional(4, j.handle)
            .Bind(5, int64_t(j.attempts))
            .Bind(6, ToMicros(j.step_started))
            .Bind(7, ToMicros(j.next_check))
            .BindOptional(8, j.source_host)
            .BindOptional(9, j.target_host)
            .Bind(10, int64_t(j.num_gpus))
            .Bind(11, int64_t(j.host_was_cordoned));
        return stmt.Run();
    }

    Status DeleteEngineJob(const std::string& remediation_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("DELETE FROM engine_jobs WHERE remediation_id = ?1"));
        stmt.Bind(1, remediation_id);
        return stmt.Run();
    }

    Status SetHostCordoned(const std::string& host_name, bool cordoned) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("UPDATE hosts SET cordoned = ?2 WHERE host_name = ?1"));
        stmt.Bind(1, host_name).Bind(2, int64_t(cordoned));
        NR_RETURN_IF_ERROR(stmt.Run());
        if (stmt.Changes() != 1) return NotFound("host " + host_name + " not found");
        return OkStatus();
    }

    Status SetInstancePlacement(const std::string& instance_id, const std::string& host_name,
                                const std::string& status) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("UPDATE instances SET host_name = ?2, status = ?3 "
                                          "WHERE instance_id = ?1"));
        stmt.Bind(1, instance_id).BindOptional(2, host_name).Bind(3, status);
        NR_RETURN_IF_ERROR(stmt.Run());
        if (stmt.Changes() != 1) return NotFound("instance " + instance_id + " not found");
        return OkStatus();
    }

    Status SetInstanceStatus(const std::string& instance_id, const std::string& status) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("UPDATE instances SET status = ?2 WHERE instance_id = "
                                          "?1"));
        stmt.Bind(1, instance_id).Bind(2, status);
        return stmt.Run();
    }

    Result<std::optional<std::string>> FindHostWithRoom(int num_gpus,
                                                        const std::string& exclude) override {
        NR_ASSIGN_OR_RETURN(
            auto stmt, conn_.Prepare("SELECT host_name FROM hosts WHERE cordoned = 0 AND "
                                     "(gpu_slots - used_gpus) >= ?1 AND host_name != ?2 ORDER BY "
                                     "(gpu_slots - used_gpus) DESC, host_name LIMIT 1"));
        stmt.Bind(1, int64_t(num_gpus)).Bind(2, exclude);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<std::string>();
        return std::optional<std::string>(stmt.Text(0));
    }

    Status PutReservation(const std::string& instance_id, const std::string& host_name,
                          int num_gpus) override {
        // Delete, then insert: REPLACE would skip the delete trigger that frees the old slots.
        NR_RETURN_IF_ERROR(DeleteReservation(instance_id));
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("INSERT INTO reservations(instance_id, host_name, "
                                          "num_gpus) VALUES(?1, ?2, ?3)"));
        stmt.Bind(1, instance_id).Bind(2, host_name).Bind(3, int64_t(num_gpus));
        return stmt.Run();
    }

    Status DeleteReservation(const std::string& instance_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("DELETE FROM reservations WHERE instance_id = ?1"));
        stmt.Bind(1, instance_id);
        return stmt.Run();
    }

    Result<std::optional<SimOperation>> GetSimOperation(const std::string& key) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT key, action, instance_id, host_name, "
                                          "target_host, num_gpus, ready_at, applied FROM "
                                          "sim_operations WHERE key = ?1"));
        stmt.Bind(1, key);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<SimOperation>();
        SimOperation op{stmt.Text(0),
                        stmt.Text(1),
                        stmt.Text(2),
                        stmt.Text(3),
                        stmt.Text(4),
                        int(stmt.Int(5)),
                        FromMicros(stmt.Int(6)),
                        stmt.Int(7) != 0};
        return std::optional<SimOperation>(std::move(op));
    }

    Status PutSimOperation(const SimOperation& op) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("INSERT OR REPLACE INTO sim_operations(key, action, "
                                          "instance_id, host_name, target_host, num_gpus, "
                                          "ready_at, applied) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
                                          "?7, ?8)"));
        stmt.Bind(1, op.key)
            .Bind(2, op.action)
            .BindOptional(3, op.instance_id)
            .BindOptional(4, op.host)
            .BindOptional(5, op.target_host)
            .Bind(6, int64_t(op.num_gpus))
            .Bind(7, ToMicros(op.ready_at))
            .Bind(8, int64_t(op.applied));
        return stmt.Run();
    }

    Result<AlertPage> ListAlerts(const AlertQuery& q) override {
        std::string sql =
            std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE cluster_id = ?1";
        if (q.after) sql += " AND (started_at, id) < (?2, ?3)";
        if (q.firing)
            sql += *q.firing ? " AND resolved_at IS NULL" : " AND resolved_at IS NOT NULL";
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?4";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, q.cluster_id);
        if (q.after) stmt.Bind(2, q.after->time_us).Bind(3, q.after->id);
        stmt.Bind(4, int64_t(q.limit) + 1);
        AlertPage page;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            if (int(page.alerts.size()) == q.limit) {
                page.has_next = true;
                break;
            }
            page.alerts.push_back(ReadAlert(stmt));
        }
        return page;
    }

    Result<std::optional<model::Alert>> GetAlertByFingerprint(
        const std::string& fingerprint) override {
        static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                       " FROM alerts WHERE fingerprint = ?1 ORDER BY "
                                       "started_at DESC LIMIT 1";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, fingerprint);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<model::Alert>();
        return std::optional<model::Alert>(ReadAlert(stmt));
    }

    Result<std::optional<model::Instance>> FindInstanceByName(const std::string& name) override {
        return OneInstance("instance_name = ?1", name);
    }

    Result<std::vector<RemediationCount>> CountRemediations() override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT state, mode, trigger, n FROM "
                                                     "remediation_counts ORDER BY 1, 2, 3"));
        std::vector<RemediationCount> out;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            out.push_back({model::State(stmt.Int(0)), model::Mode(stmt.Int(1)),
                           model::Trigger(stmt.Int(2)), stmt.Int(3)});
        }
        return out;
    }

    Result<int> CountActiveRemediations(const std::string& cluster_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT COUNT(*) FROM remediations WHERE cluster_id "
                                          "= ?1 AND state NOT IN (6, 7, 8, 9)"));
        stmt.Bind(1, cluster_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        return row ? int(stmt.Int(0)) : 0;
    }

    Result<int> CountInstances(const std::string& cluster_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT COUNT(*) FROM instances WHERE "
                                                     "cluster_id = ?1"));
        stmt.Bind(1, cluster_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        return row ? int(stmt.Int(0)) : 0;
    }

    Result<std::optional<Timestamp>> LastRemediationEnd(const std::string& instance_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT MAX(end_time) FROM remediations WHERE "
                                                     "instance_id = ?1 AND state IN (6, 7, 8)"));
        stmt.Bind(1, instance_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<Timestamp>();
        return stmt.Time(0);
    }

    Result<std::vector<std::string>> ListClustersWithWaitingAlerts() override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT DISTINCT cluster_id FROM alerts "
                                                     "WHERE waiting = 1"));
        return FirstColumn(stmt);
    }

    Result<std::vector<model::Alert>> ListOpenAlerts(const std::string& instance_id) override {
        static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                       " FROM alerts WHERE instance_id = ?2 AND resolved_at IS "
                                       "NULL ORDER BY started_at LIMIT ?1";
        return Alerts(sql, instance_id, 10000);
    }

    Result<std::vector<model::Alert>> ListWaitingAlertsWithActiveRemediation(int limit) override {
        static const std::string sql =
            std::string("SELECT ") + kAlertColumns +
            " FROM alerts WHERE waiting = 1 AND EXISTS (SELECT 1 FROM remediations r WHERE "
            "r.instance_id = alerts.instance_id AND r.state NOT IN (6, 7, 8, 9)) ORDER BY "
            "started_at LIMIT ?1";
        return Alerts(sql, "", limit);
    }

    Result<std::vector<model::Alert>> ListWaitingAlerts(const std::string& cluster_id,
                                                        int limit) override {
        static const std::string sql = std::string("SELECT ") + kAlertColumns +
                                       " FROM alerts WHERE waiting = 1 AND cluster_id = ?2 "
                                       "ORDER BY started_at LIMIT ?1";
        return Alerts(sql, cluster_id, limit);
    }

    Result<std::vector<model::Alert>> Alerts(const std::string& sql, const std::string& cluster_id,
                                             int limit) {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, int64_t(limit));
        if (!cluster_id.empty()) stmt.Bind(2, cluster_id);
        std::vector<model::Alert> alerts;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            alerts.push_back(ReadAlert(stmt));
        }
        return alerts;
    }

    Result<std::vector<std::string>> ListAutoResolvable(Timestamp cutoff, int limit) override {
        NR_ASSIGN_OR_RETURN(
            auto stmt,
            conn_.Prepare("SELECT r.id FROM remediations r WHERE r.state = 1 AND EXISTS "
                          "(SELECT 1 FROM alerts a WHERE a.remediation_id = r.id) AND NOT "
                          "EXISTS (SELECT 1 FROM alerts a WHERE a.remediation_id = r.id AND "
                          "(a.resolved_at IS NULL OR a.resolved_at > ?1)) LIMIT ?2"));
        stmt.Bind(1, ToMicros(cutoff)).Bind(2, int64_t(limit));
        return FirstColumn(stmt);
    }

    Result<model::ClusterAutomation> GetClusterAutomation(const std::string& cluster_id) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("SELECT automatic, automatic_alerts FROM clusters "
                                          "WHERE cluster_id = ?1"));
        stmt.Bind(1, cluster_id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        model::ClusterAutomation a;
        if (!row) return a;
        a.automatic = stmt.Int(0) != 0;
        a.automatic_alerts = SplitClusters(stmt.Text(1));
        return a;
    }

    Status PutAlert(const model::Alert& a) override {
        static const std::string sql = std::string("INSERT OR REPLACE INTO alerts(") +
                                       kAlertColumns +
                                       ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                       "?12, ?13)";
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, a.id)
            .Bind(2, a.fingerprint)
            .Bind(3, a.alert_name)
            .BindOptional(4, a.cluster_id)
            .BindOptional(5, a.instance_id)
            .BindOptional(6, a.target_vm)
            .Bind(7, int64_t(a.severity))
            .Bind(8, EncodeMap(a.labels))
            .Bind(9, EncodeMap(a.annotations))
            .Bind(10, ToMicros(a.started_at))
            .Bind(11, a.resolved_at)
            .BindOptional(12, a.remediation_id)
            .Bind(13, int64_t(a.waiting));
        return stmt.Run();
    }

    Status SetClusterAutomation(const std::string& cluster_id,
                                const model::ClusterAutomation& a) override {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn_.Prepare("UPDATE clusters SET automatic = ?2, automatic_alerts "
                                          "= ?3 WHERE cluster_id = ?1"));
        stmt.Bind(1, cluster_id)
            .Bind(2, int64_t(a.automatic))
            .Bind(3, JoinClusters(a.automatic_alerts));
        NR_RETURN_IF_ERROR(stmt.Run());
        if (stmt.Changes() != 1) return NotFound("cluster " + cluster_id + " not found");
        return OkStatus();
    }

    Status SetInstanceAutoRepair(const std::string& instance_id, bool auto_repair) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("UPDATE instances SET auto_repair = ?2 WHERE "
                                                     "instance_id = ?1"));
        stmt.Bind(1, instance_id).Bind(2, int64_t(auto_repair));
        NR_RETURN_IF_ERROR(stmt.Run());
        if (stmt.Changes() != 1) return NotFound("instance " + instance_id + " not found");
        return OkStatus();
    }

    Result<std::optional<model::HealthCheckRun>> GetHealthCheckRun(const std::string& id) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(std::string("SELECT ") + kRunColumns +
                                                     " FROM health_check_runs WHERE id = ?1"));
        stmt.Bind(1, id);
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return std::optional<model::HealthCheckRun>();
        return std::optional<model::HealthCheckRun>(ReadRun(stmt));
    }

    Result<std::vector<model::HealthCheckRun>> ListHealthCheckRuns(const std::string& instance_id,
                                                                   int limit) override {
        return Runs(std::string("SELECT ") + kRunColumns +
                        " FROM health_check_runs WHERE instance_id = ?1 ORDER BY create_time "
                        "DESC, id DESC LIMIT ?2",
                    instance_id, limit);
    }

    Result<std::vector<model::HealthCheckRun>> ListRunningHealthChecks(int limit) override {
        return Runs(std::string("SELECT ") + kRunColumns +
                        " FROM health_check_runs WHERE state = 1 AND ?1 = ?1 ORDER BY "
                        "create_time LIMIT ?2",
                    "", limit);
    }

    Result<std::vector<model::HealthCheckRun>> ListWaitingHealthChecks(int limit) override {
        return Runs(std::string("SELECT ") + kRunColumns +
                        " FROM health_check_runs WHERE waiting = 1 AND ?1 = ?1 ORDER BY "
                        "create_time LIMIT ?2",
                    "", limit);
    }

    Status PutHealthCheckRun(const model::HealthCheckRun& r) override {
        NR_ASSIGN_OR_RETURN(
            auto stmt, conn_.Prepare(std::string("INSERT OR REPLACE INTO health_check_runs(") +
                                     kRunColumns + ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
        stmt.Bind(1, r.id)
            .Bind(2, r.cluster_id)
            .Bind(3, r.instance_id)
            .Bind(4, int64_t(r.state))
            .Bind(5, EncodeTests(r.tests))
            .Bind(6, ToMicros(r.create_time))
            .Bind(7, r.end_time)
            .BindOptional(8, r.remediation_id)
            .Bind(9, int64_t(r.waiting));
        return stmt.Run();
    }

    Status DeleteSetting(const std::string& key) override {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("DELETE FROM settings WHERE key = ?1"));
        stmt.Bind(1, key);
        return stmt.Run();
    }

private:
    Result<std::vector<model::HealthCheckRun>> Runs(const std::string& sql, const std::string& arg,
                                                    int limit) {
        NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare(sql));
        stmt.Bind(1, arg).Bind(2, int64_t(limit));
        std::vector<model::HealthCheckRun> runs;
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            runs.push_back(ReadRun(stmt));
        }
        return runs;
    }

    static constexpr const char* kJobSelect =
        "SELECT remediation_id, step, started, handle, attempts, step_started, next_check, "
        "source_host, target_host, num_gpus, host_was_cordoned FROM engine_jobs";

    static EngineJob ReadJob(const Statement& s) {
        EngineJob j;
        j.remediation_id = s.Text(0);
        j.step = int(s.Int(1));
        j.started = s.Int(2) != 0;
        j.handle = s.Text(3);
        j.attempts = int(s.Int(4));
        j.step_started = FromMicros(s.Int(5));
        j.next_check = FromMicros(s.Int(6));
        j.source_host = s.Text(7);
        j.target_host = s.Text(8);
        j.num_gpus = int(s.Int(9));
        j.host_was_cordoned = s.Int(10) != 0;
        return j;
    }

    static model::Instance ReadInstance(const Statement& s) {
        model::Instance i;
        i.instance_id = s.Text(0);
        i.cluster_id = s.Text(1);
        i.instance_name = s.Text(2);
        i.num_gpus = int(s.Int(3));
        i.host_name = s.Text(4);
        i.status = s.Text(5);
        i.auto_repair = s.Int(6) != 0;
        return i;
    }

    Connection& conn_;
};

Status Migrate(Connection& conn) {
    NR_RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
    auto migrate = [&]() -> Status {
        NR_ASSIGN_OR_RETURN(auto stmt, conn.Prepare("PRAGMA user_version"));
        NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
        NR_ASSERT(row, "PRAGMA user_version returns one row");
        const auto version = size_t(stmt.Int(0));
        if (version > kMigrations.size()) {
            return Internal("database schema version " + std::to_string(version) +
                            " is newer than this binary knows (" +
                            std::to_string(kMigrations.size()) + ")");
        }
        for (size_t v = version; v < kMigrations.size(); ++v) {
            NR_RETURN_IF_ERROR(conn.Exec(kMigrations[v]));
        }
        std::string set_version = "PRAGMA user_version = " + std::to_string(kMigrations.size());
        return conn.Exec(set_version.c_str());
    }();
    if (!migrate) {
        (void)conn.Exec("ROLLBACK");
        return migrate;
    }
    return conn.Exec("COMMIT");
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, int max_batch) {
    NR_ASSIGN_OR_RETURN(auto writer, Connection::Open(path));
    NR_RETURN_IF_ERROR(Migrate(*writer));
    // Statement journals of big transactions (a fleet import) stay in memory, not in temp files.
    NR_RETURN_IF_ERROR(writer->Exec("PRAGMA temp_store=MEMORY"));
    // Commits never checkpoint: the checkpointer thread copies the WAL into the database file
    // in the background, so a commit's latency is its own fsync only.
    NR_RETURN_IF_ERROR(writer->Exec("PRAGMA wal_autocheckpoint=0"));
    NR_ASSIGN_OR_RETURN(auto checkpointer, Connection::Open(path));
    return std::unique_ptr<SqliteStore>(new SqliteStore(
        path, std::move(writer), std::move(checkpointer), max_batch < 1 ? 1 : max_batch));
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Connection> writer,
                         std::unique_ptr<Connection> checkpointer, int max_batch)
    : path_(std::move(path)),
      max_batch_(size_t(max_batch)),
      writer_(std::move(writer)),
      checkpointer_(std::move(checkpointer)) {
    writer_thread_ = std::thread([this] { WriterLoop(); });
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
}

void SqliteStore::CheckpointLoop() {
    std::unique_lock lock(queue_mu_);
    while (!closing_) {
        checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(50));
        if (closing_) break;
        lock.unlock();
        // PASSIVE never waits for readers or the writer: it copies what it can now.
        int log_frames = 0;
        int copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(checkpointer_->handle(), nullptr,
                                           SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            std::fprintf(stderr, "noderepair: WAL checkpoint failed: %s\n", sqlite3_errstr(rc));
        }
        lock.lock();
    }
}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::Close() {
    {
        std::lock_guard lock(queue_mu_);
        if (closing_ && !writer_thread_.joinable()) return;
        closing_ = true;
    }
    queue_cv_.notify_all();
    checkpoint_cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
    // A last full copy, so the next start does not begin with a long WAL.
    if (checkpointer_) {
        sqlite3_wal_checkpoint_v2(checkpointer_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                  nullptr, nullptr);
    }
}

void SqliteStore::Write(TxnWork work, CommitCallback done) {
    {
        std::lock_guard lock(queue_mu_);
        if (!closing_) {
            queue_.push_back({std::move(work), std::move(done), CurrentRequestId()});
            queue_cv_.notify_one();
            return;
        }
    }
    done(Unavailable("storage is shutting down"));
}

void SqliteStore::WriterLoop() {
    std::vector<PendingWrite> batch;
    while (true) {
        {
            std::unique_lock lock(queue_mu_);
            queue_cv_.wait(lock, [this] { return closing_ || !queue_.empty(); });
            if (queue_.empty()) return;  // closing and drained
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        CommitBatch(batch);
        batch.clear();
    }
}

void SqliteStore::CommitBatch(std::vector<PendingWrite>& batch) {
    const auto began = std::chrono::steady_clock::now();
    std::vector<Status> outcomes(batch.size());
    Status begun = writer_->Exec("BEGIN IMMEDIATE");
    if (!begun) {
        for (auto& w : batch) w.done(begun);
        return;
    }
    SqliteTxn txn(*writer_);
    for (size_t i = 0; i < batch.size(); ++i) {
        // A savepoint per change: a change whose rules fail leaves no trace, the others in
        // the batch still commit.
        Status saved = writer_->Exec("SAVEPOINT change");
        if (!saved) {
            outcomes[i] = saved;
            continue;
        }
        const size_t recorded = txn.changes.size();
        txn.request_id = std::move(batch[i].request_id);
        outcomes[i] = batch[i].work(txn);
        if (!outcomes[i]) {
            (void)writer_->Exec("ROLLBACK TO change");
            txn.Truncate(recorded);
        }
        (void)writer_->Exec("RELEASE change");
    }
    Status committed = writer_->Exec("COMMIT");
    if (!committed) {
        (void)writer_->Exec("ROLLBACK");
        for (auto& w : batch) w.done(committed);
        return;
    }
    CommitReport report{batch.size(), std::chrono::steady_clock::now() - began,
                        std::move(txn.changes)};
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(outcomes[i]));
    std::lock_guard lock(observers_mu_);
    for (auto* observer : observers_) observer->OnCommit(report);
}

void SqliteStore::AddObserver(CommitObserver* observer) {
    std::lock_guard lock(observers_mu_);
    observers_.push_back(observer);
}

Result<std::unique_ptr<Connection>> SqliteStore::AcquireReader() {
    {
        std::lock_guard lock(readers_mu_);
        if (!idle_readers_.empty()) {
            auto conn = std::move(idle_readers_.back());
            idle_readers_.pop_back();
            return conn;
        }
    }
    return Connection::Open(path_);
}

void SqliteStore::ReleaseReader(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(readers_mu_);
    idle_readers_.push_back(std::move(conn));
}

Status SqliteStore::Read(const std::function<Status(Reader&)>& read) {
    NR_ASSIGN_OR_RETURN(auto conn, AcquireReader());
    // Prepared once per connection: sqlite3_exec would parse BEGIN and COMMIT every time.
    Status status = [&]() -> Status {
        NR_ASSIGN_OR_RETURN(auto begin, conn->Prepare("BEGIN"));
        return begin.Run();
    }();
    if (status) {
        SqliteTxn reader(*conn);
        status = read(reader);
        auto commit = conn->Prepare("COMMIT");
        Status ended = commit ? commit->Run() : Status(commit.error());
        if (status && !ended) status = ended;
    }
    ReleaseReader(std::move(conn));
    return status;
}

}  // namespace noderepair::storage::sqlite
