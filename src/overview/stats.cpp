#include "overview/stats.hpp"

#include <charconv>
#include <cmath>

namespace noderepair::overview {
namespace {

void Add(ModeCounts& counts, model::Mode mode, int64_t n) {
    if (n == 0) return;
    for (auto& [m, count] : counts) {
        if (m == mode) {
            count += n;
            return;
        }
    }
    counts.emplace_back(mode, n);
}

}  // namespace

Result<int> ParseDays(const std::optional<std::string>& text) {
    if (!text) return kDefaultDays;
    int days = 0;
    const char* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, days);
    if (text->empty() || ec != std::errc() || ptr != end || days < 1 || days > kMaxDays) {
        return InvalidArgument("days must be an integer from 1 to " + std::to_string(kMaxDays) +
                               ", got \"" + *text + "\"");
    }
    return days;
}

std::optional<double> Percentile(const std::vector<storage::StageBucketCount>& buckets, double p) {
    int64_t total = 0;
    for (const auto& b : buckets) total += b.count;
    if (total == 0) return std::nullopt;
    const auto rank = std::max<int64_t>(1, int64_t(std::ceil(p * double(total))));
    int64_t seen = 0;
    for (const auto& b : buckets) {
        seen += b.count;
        if (seen >= rank) return model::BucketSeconds(b.bucket);
    }
    return model::BucketSeconds(buckets.back().bucket);
}

Result<ClusterStats> ReadStats(storage::Store& store, const std::string& cluster_id, int days,
                               Timestamp now) {
    const int64_t last_day = model::UtcDay(now);
    const int64_t first_day = last_day - days + 1;
    ClusterStats stats;
    std::vector<storage::DailyCount> daily;
    std::vector<storage::StageBucketCount> buckets;
    NR_RETURN_IF_ERROR(store.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(bool known, reader.Inventory().HasCluster(cluster_id));
        if (!known) return NotFound("cluster " + cluster_id + " not found");
        NR_ASSIGN_OR_RETURN(daily, reader.Stats().ListDaily(cluster_id, first_day, last_day));
        NR_ASSIGN_OR_RETURN(buckets,
                            reader.Stats().SumStageBuckets(cluster_id, first_day, last_day));
        NR_ASSIGN_OR_RETURN(stats.needs_person, reader.Stats().CountNeedsPerson(cluster_id));
        return OkStatus();
    }));
    stats.days.resize(size_t(days));
    for (int i = 0; i < days; ++i) stats.days[size_t(i)].day = first_day + i;
    // Rows come by day and mode, and kAllModes is in the modes' numeric order.
    for (const auto& row : daily) {
        auto& day = stats.days[size_t(row.day - first_day)];
        Add(day.created, row.mode, row.created);
        Add(day.succeeded, row.mode, row.succeeded);
        Add(day.failed, row.mode, row.failed);
    }
    for (model::Stage stage : model::kAllStages) {
        std::vector<storage::StageBucketCount> mine;
        StageStats out;
        out.stage = stage;
        for (const auto& b : buckets) {
            if (b.stage != stage) continue;
            mine.push_back(b);
            out.count += b.count;
        }
        out.p50_s = Percentile(mine, 0.5);
        out.p90_s = Percentile(mine, 0.9);
        stats.stages.push_back(out);
    }
    return stats;
}

}  // namespace noderepair::overview
