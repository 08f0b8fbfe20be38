#include <string>
#include <utility>

#include "api/codec.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "health/service.hpp"

namespace noderepair::api {

using auth::Role;

namespace {

void WriteIncident(JsonWriter& w, const model::Incident& i) {
    w.BeginObject();
    w.Key("id").String(i.id);
    w.Key("scope").String(i.Scope());
    w.Key("state").String(model::WireName(i.state));
    w.Key("instances").BeginArray();
    for (const auto& instance : i.instances) w.String(instance);
    w.EndArray();
    w.Key("signals").Int(i.signals);
    w.Key("first_seen").String(FormatRfc3339(i.first_seen));
    w.Key("last_seen").String(FormatRfc3339(i.last_seen));
    if (i.closed_at) w.Key("closed_at").String(FormatRfc3339(*i.closed_at));
    w.OptionalString("closed_by", i.closed_by);
    w.EndObject();
}

}  // namespace

// docs/http-api.md 11: a cluster's incidents, and a person's release or dismissal of one.
void AddIncidentRoutes(Router& router, const ApiServices& services) {
    router.Add({"GET",
                {"v1", "compute", "clusters", "{}", "incidents"},
                Access::Token(Role::kViewer, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto incidents = services.health.ListIncidents(call.params[0]);
                    if (!incidents) return respond(ErrorResponse(incidents.error()));
                    std::string body;
                    JsonWriter w(body);
                    w.BeginObject().Key("incidents").BeginArray();
                    for (const auto& i : *incidents) WriteIncident(w, i);
                    w.EndArray().EndObject();
                    respond(JsonResponse(std::move(body)));
                }});
    for (bool release : {true, false}) {
        router.Add({"POST",
                    {"v1", "compute", "clusters", "{}", "incidents",
                     release ? "{}:release" : "{}:dismiss"},
                    Access::Token(Role::kApprover, Scope::kPathCluster),
                    [&services, release](Call& call, Responder respond) {
                        services.health.CloseIncident(
                            call.params[0], call.params[1], release, call.principal.name,
                            [respond](Result<model::Incident> closed) {
                                if (!closed) return respond(ErrorResponse(closed.error()));
                                std::string body;
                                JsonWriter w(body);
                                WriteIncident(w, *closed);
                                respond(JsonResponse(std::move(body)));
                            });
                    }});
    }
}

}  // namespace noderepair::api
