#include <string>

#include "api/request_params.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "overview/stats.hpp"

namespace noderepair::api {
namespace {

using auth::Role;

void WriteModeCounts(JsonWriter& w, const overview::ModeCounts& counts) {
    w.BeginObject();
    for (const auto& [mode, n] : counts) w.Key(model::WireName(mode)).Int(n);
    w.EndObject();
}

void WriteSeconds(JsonWriter& w, const std::optional<double>& seconds) {
    if (seconds) {
        w.Double(*seconds);
    } else {
        w.Null();
    }
}

// docs/http-api.md 11 ("Overview").
std::string StatsJson(const overview::ClusterStats& stats) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("days").BeginArray();
    for (const auto& day : stats.days) {
        w.BeginObject().Key("date").String(model::FormatUtcDay(day.day));
        w.Key("created");
        WriteModeCounts(w, day.created);
        w.Key("succeeded");
        WriteModeCounts(w, day.succeeded);
        w.Key("failed");
        WriteModeCounts(w, day.failed);
        w.EndObject();
    }
    w.EndArray().Key("stages").BeginArray();
    for (const auto& stage : stats.stages) {
        w.BeginObject().Key("stage").String(model::WireName(stage.stage));
        w.Key("count").Int(stage.count);
        w.Key("p50_s");
        WriteSeconds(w, stage.p50_s);
        w.Key("p90_s");
        WriteSeconds(w, stage.p90_s);
        w.EndObject();
    }
    const auto& needs = stats.needs_person;
    w.EndArray()
        .Key("needs_person")
        .BeginObject()
        .Key("approvals_waiting")
        .Int(needs.approvals_waiting)
        .Key("attention")
        .Int(needs.attention)
        .Key("suspect_hosts")
        .Int(needs.suspect_hosts)
        .Key("open_incidents")
        .Int(needs.open_incidents)
        .EndObject()
        .EndObject();
    return out;
}

}  // namespace

void AddOverviewRoutes(Router& router, const ApiServices& services) {
    router.Add({"GET",
                {"v1", "compute", "clusters", "{}", "stats"},
                Access::Token(Role::kViewer, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto days = overview::ParseDays(SingleParam(call.request, "days", "days"));
                    if (!days) return respond(ErrorResponse(days.error()));
                    static const SystemClock clock;
                    auto stats =
                        overview::ReadStats(services.store, call.params[0], *days, clock.Now());
                    if (!stats) return respond(ErrorResponse(stats.error()));
                    respond(JsonResponse(StatsJson(*stats)));
                }});
}

}  // namespace noderepair::api
