#include <map>
#include <tuple>
#include <utility>

#include "model/incident.hpp"
#include "storage/sql/repositories.hpp"

namespace noderepair::storage::sql {

Result<std::vector<DailyCount>> SqlStats::ListDaily(const std::string& cluster_id,
                                                    int64_t first_day, int64_t last_day) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT day, mode, created, succeeded, failed FROM "
                                      "remediation_daily WHERE cluster_id = ?1 AND day >= ?2 AND "
                                      "day <= ?3 ORDER BY day, mode"));
    stmt.Bind(1, cluster_id).Bind(2, first_day).Bind(3, last_day);
    return stmt.Rows([](Statement& s) {
        return DailyCount{s.Int(0), model::Mode(s.Int(1)), s.Int(2), s.Int(3), s.Int(4)};
    });
}

Result<std::vector<StageBucketCount>> SqlStats::SumStageBuckets(const std::string& cluster_id,
                                                                int64_t first_day,
                                                                int64_t last_day) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT stage, bucket, SUM(n) FROM stage_daily WHERE "
                                      "cluster_id = ?1 AND day >= ?2 AND day <= ?3 GROUP BY "
                                      "stage, bucket ORDER BY stage, bucket"));
    stmt.Bind(1, cluster_id).Bind(2, first_day).Bind(3, last_day);
    return stmt.Rows([](Statement& s) {
        return StageBucketCount{model::Stage(s.Int(0)), int(s.Int(1)), s.Int(2)};
    });
}

Result<NeedsPerson> SqlStats::CountNeedsPerson(const std::string& cluster_id) {
    // One round trip. The partial index remediations_waiting_approval holds only
    // PENDING_APPROVAL rows. A suspect host is the cluster's concern when a fault of the
    // cluster's instances landed on it: its instances may have been moved off by now
    // (docs/http-api.md 11). Its ledger is walked newest first along its chain (from its
    // ceiling row's last_seq) to the first such fault.
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("SELECT (SELECT COUNT(*) FROM remediations WHERE state = 1 AND cluster_id = "
                      "?1), (SELECT COUNT(*) FROM settings s JOIN instances i ON i.instance_id = "
                      "substr(s.key, 11) WHERE s.key >= 'attention/' AND s.key < 'attention0' "
                      "AND i.cluster_id = ?1), (SELECT COUNT(*) FROM hosts h WHERE h.suspect IS "
                      "NOT NULL AND EXISTS (WITH RECURSIVE chain(prev_seq, cluster_id) AS "
                      "(SELECT f.prev_seq, f.cluster_id FROM host_fault_ceilings c JOIN "
                      "host_faults f ON f.seq = c.last_seq WHERE c.host_name = h.host_name UNION "
                      "ALL SELECT f.prev_seq, f.cluster_id FROM chain JOIN host_faults f ON f.seq "
                      "= chain.prev_seq WHERE chain.cluster_id <> ?1) SELECT 1 FROM chain WHERE "
                      "cluster_id = ?1)), (SELECT COUNT(*) FROM incidents WHERE cluster_id = ?1 "
                      "AND state = ?2)"));
    stmt.Bind(1, cluster_id).Bind(2, int64_t(model::IncidentState::kOpen));
    NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Internal("counting what needs a person returned no row");
    return NeedsPerson{stmt.Int(0), stmt.Int(1), stmt.Int(2), stmt.Int(3)};
}

Result<std::vector<SuspectHost>> SqlStats::ListSuspectHosts(int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt, conn_.Prepare("SELECT host_name, COALESCE(rack, ''), suspect "
                                                 "FROM hosts WHERE suspect IS NOT NULL ORDER BY "
                                                 "host_name LIMIT ?1"));
    stmt.Bind(1, int64_t(limit));
    return stmt.Rows([](Statement& s) { return SuspectHost{s.Text(0), s.Text(1), s.Text(2)}; });
}

Result<std::vector<OpenIncident>> SqlStats::ListOpenIncidents(int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT id, cluster_id, rack, signals, first_seen FROM "
                                      "incidents WHERE state = ?1 ORDER BY first_seen, id LIMIT "
                                      "?2"));
    stmt.Bind(1, int64_t(model::IncidentState::kOpen)).Bind(2, int64_t(limit));
    return stmt.Rows([](Statement& s) {
        return OpenIncident{s.Text(0), s.Text(1), s.Text(2), s.Int(3), FromMicros(s.Int(4))};
    });
}

Result<std::vector<WaitingApproval>> SqlStats::ListWaitingApproval(Timestamp cutoff, int limit) {
    NR_ASSIGN_OR_RETURN(auto stmt,
                        conn_.Prepare("SELECT id, cluster_id, instance_id, instance_name, "
                                      "create_time FROM remediations WHERE state = 1 AND "
                                      "create_time <= ?1 ORDER BY create_time, id LIMIT ?2"));
    stmt.Bind(1, ToMicros(cutoff)).Bind(2, int64_t(limit));
    return stmt.Rows([](Statement& s) {
        return WaitingApproval{s.Text(0), s.Text(1), s.Text(2), s.Text(3), FromMicros(s.Int(4))};
    });
}

Result<std::vector<AttentionNode>> SqlStats::ListAttention(int limit) {
    NR_ASSIGN_OR_RETURN(
        auto stmt, conn_.Prepare("SELECT i.cluster_id, i.instance_id, i.instance_name, s.value "
                                 "FROM settings s JOIN instances i ON i.instance_id = "
                                 "substr(s.key, 11) WHERE s.key >= 'attention/' AND s.key < "
                                 "'attention0' ORDER BY s.key LIMIT ?1"));
    stmt.Bind(1, int64_t(limit));
    return stmt.Rows([](Statement& s) {
        return AttentionNode{s.Text(0), s.Text(1), s.Text(2), s.Text(3)};
    });
}

Status SqlStats::AddDaily(const std::string& cluster_id, int64_t day, model::Mode mode,
                          int64_t created, int64_t succeeded, int64_t failed) {
    if (log_ != nullptr) {
        log_->daily.push_back({cluster_id, day, int(mode), created, succeeded, failed});
        return OkStatus();
    }
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("INSERT INTO remediation_daily(cluster_id, day, mode, created, succeeded, "
                      "failed) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(cluster_id, day, mode) "
                      "DO UPDATE SET created = remediation_daily.created + excluded.created, "
                      "succeeded = remediation_daily.succeeded + excluded.succeeded, failed = "
                      "remediation_daily.failed + excluded.failed"));
    stmt.Bind(1, cluster_id)
        .Bind(2, day)
        .Bind(3, int64_t(mode))
        .Bind(4, created)
        .Bind(5, succeeded)
        .Bind(6, failed);
    return stmt.Send();
}

Status ApplyStatDeltas(Connection& conn, const ChangeLog& log) {
    std::map<std::tuple<std::string, int64_t, int>, DailyDelta> daily;
    for (const auto& d : log.daily) {
        auto& sum = daily[{d.cluster_id, d.day, d.mode}];
        sum.created += d.created;
        sum.succeeded += d.succeeded;
        sum.failed += d.failed;
    }
    std::map<std::tuple<std::string, int64_t, int, int>, int64_t> buckets;
    for (const auto& b : log.buckets) buckets[{b.cluster_id, b.day, b.stage, b.bucket}] += b.n;
    SqlStats now(conn);
    for (const auto& [key, sum] : daily) {
        const auto& [cluster_id, day, mode] = key;
        NR_RETURN_IF_ERROR(now.AddDaily(cluster_id, day, model::Mode(mode), sum.created,
                                        sum.succeeded, sum.failed));
    }
    for (const auto& [key, n] : buckets) {
        const auto& [cluster_id, day, stage, bucket] = key;
        NR_RETURN_IF_ERROR(now.AddBucket(cluster_id, day, model::Stage(stage), bucket, n));
    }
    return OkStatus();
}

Status SqlStats::AddStages(const std::string& cluster_id, int64_t day,
                           const std::vector<model::StageSample>& samples) {
    for (const auto& sample : samples) {
        NR_RETURN_IF_ERROR(
            AddBucket(cluster_id, day, sample.stage, model::DurationBucket(sample.duration), 1));
    }
    return OkStatus();
}

Status SqlStats::AddBucket(const std::string& cluster_id, int64_t day, model::Stage stage,
                           int bucket, int64_t n) {
    if (log_ != nullptr) {
        log_->buckets.push_back({cluster_id, day, int(stage), bucket, n});
        return OkStatus();
    }
    NR_ASSIGN_OR_RETURN(
        auto stmt,
        conn_.Prepare("INSERT INTO stage_daily(cluster_id, day, stage, bucket, n) VALUES(?1, ?2, "
                      "?3, ?4, ?5) ON CONFLICT(cluster_id, day, stage, bucket) DO UPDATE SET n = "
                      "stage_daily.n + excluded.n"));
    stmt.Bind(1, cluster_id)
        .Bind(2, day)
        .Bind(3, int64_t(stage))
        .Bind(4, int64_t(bucket))
        .Bind(5, n);
    return stmt.Send();
}

}  // namespace noderepair::storage::sql

namespace noderepair::storage::sql {
namespace {

struct DailyKey {
    std::string cluster_id;
    int64_t day;
    int mode;
    auto operator<=>(const DailyKey&) const = default;
};

struct StageKey {
    std::string cluster_id;
    int64_t day;
    int stage;
    int bucket;
    auto operator<=>(const StageKey&) const = default;
};

}  // namespace

Status BackfillStats(Connection& conn) {
    std::map<DailyKey, DailyCount> daily;
    {
        NR_ASSIGN_OR_RETURN(auto stmt,
                            conn.Prepare("SELECT cluster_id, requested_mode, mode, state, "
                                         "create_time, end_time FROM remediations"));
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            const std::string cluster_id = stmt.Text(0);
            const auto created_day = model::UtcDay(FromMicros(stmt.Int(4)));
            ++daily[{cluster_id, created_day, int(stmt.Int(1))}].created;
            const auto state = model::State(stmt.Int(3));
            if (stmt.IsNull(5)) continue;
            const auto end_day = model::UtcDay(FromMicros(stmt.Int(5)));
            auto& outcome = daily[{cluster_id, end_day, int(stmt.Int(2))}];
            if (state == model::State::kSucceeded) ++outcome.succeeded;
            if (state == model::State::kFailed) ++outcome.failed;
        }
    }
    std::map<StageKey, int64_t> stages;
    {
        // Every ended remediation's timeline, one remediation after another.
        NR_ASSIGN_OR_RETURN(
            auto stmt,
            conn.Prepare("SELECT e.remediation_id, r.cluster_id, r.end_time, e.time, e.type, "
                         "e.state, e.step FROM remediation_events e JOIN remediations r ON r.id "
                         "= e.remediation_id WHERE r.end_time IS NOT NULL ORDER BY "
                         "e.remediation_id, e.n"));
        std::string id, cluster_id;
        int64_t end_day = 0;
        std::vector<model::RemediationEvent> timeline;
        auto count = [&] {
            for (const auto& sample : model::StagesOf(timeline)) {
                ++stages[{cluster_id, end_day, int(sample.stage),
                          model::DurationBucket(sample.duration)}];
            }
            timeline.clear();
        };
        while (true) {
            NR_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) break;
            if (stmt.Text(0) != id) {
                count();
                id = stmt.Text(0);
                cluster_id = stmt.Text(1);
                end_day = model::UtcDay(FromMicros(stmt.Int(2)));
            }
            model::RemediationEvent event;
            event.time = FromMicros(stmt.Int(3));
            event.type = stmt.Text(4);
            if (!stmt.IsNull(5)) event.state = model::State(stmt.Int(5));
            event.step = stmt.IsNull(6) ? "" : stmt.Text(6);
            timeline.push_back(std::move(event));
        }
        count();
    }
    SqlStats writer(conn);
    for (const auto& [key, counts] : daily) {
        NR_RETURN_IF_ERROR(writer.AddDaily(key.cluster_id, key.day, model::Mode(key.mode),
                                           counts.created, counts.succeeded, counts.failed));
    }
    for (const auto& [key, n] : stages) {
        NR_RETURN_IF_ERROR(
            writer.AddBucket(key.cluster_id, key.day, model::Stage(key.stage), key.bucket, n));
    }
    return conn.Flush();
}

}  // namespace noderepair::storage::sql
