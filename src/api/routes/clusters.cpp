#include <string>
#include <utility>

#include "api/codec.hpp"
#include "api/request_bodies.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "health/service.hpp"
#include "inventory/service.hpp"
#include "model/inventory.hpp"

namespace noderepair::api {

using auth::Role;

void AddClusterRoutes(Router& router, const ApiServices& services) {
    // Inventory (docs/http-api.md 4.7).
    router.Add({"GET",
                {"v1", "compute", "clusters"},
                Access::Token(Role::kViewer, Scope::kListedClusters),
                [&services](Call& call, Responder respond) {
                    auto clusters = services.inventory.ListClusters(call.principal);
                    if (!clusters) return respond(ErrorResponse(clusters.error()));
                    respond(JsonResponse(ClusterListJson(*clusters)));
                }});
    router.Add({"GET",
                {"v1", "compute", "clusters", "{}"},
                Access::Token(Role::kViewer, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto cluster = services.inventory.GetCluster(call.params[0]);
                    if (!cluster) return respond(ErrorResponse(cluster.error()));
                    respond(JsonResponse(ClusterJson(*cluster)));
                }});

    router.Add({"PATCH",
                {"v1", "compute", "clusters", "{}"},
                Access::Token(Role::kAdmin, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto automation = ParseClusterAutomationBody(call.request.body);
                    if (!automation) return respond(ErrorResponse(automation.error()));
                    const model::ClusterAutomation a = std::move(*automation);
                    std::string cluster_id = call.params[0];
                    services.health.SetClusterAutomation(
                        cluster_id, a, [respond, cluster_id, a](Status s) {
                            if (!s) return respond(ErrorResponse(s.error()));
                            std::string out;
                            JsonWriter w(out);
                            w.BeginObject().Key("cluster_id").String(cluster_id);
                            w.Key("automation").BeginObject();
                            w.Key("policy").String(a.automatic ? "automatic" : "approve");
                            w.Key("automatic_alerts").BeginArray();
                            for (const auto& name : a.automatic_alerts) w.String(name);
                            w.EndArray().EndObject().EndObject();
                            respond(JsonResponse(std::move(out)));
                        });
                }});
    router.Add({"PATCH",
                {"v1", "compute", "clusters", "{}", "instances", "{}"},
                Access::Token(Role::kOperator, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto patch = ParseInstancePatchBody(call.request.body);
                    if (!patch) return respond(ErrorResponse(patch.error()));
                    const InstancePatch p = *patch;
                    std::string instance_id = call.params[1];
                    services.health.PatchInstance(
                        call.params[0], instance_id, p.auto_repair, p.clear_attention,
                        [respond, instance_id, p](Status s) {
                            if (!s) return respond(ErrorResponse(s.error()));
                            std::string out;
                            JsonWriter w(out);
                            w.BeginObject().Key("instance_id").String(instance_id);
                            if (p.auto_repair) w.Key("auto_repair").Bool(*p.auto_repair);
                            if (p.clear_attention) w.Key("attention").Null();
                            w.EndObject();
                            respond(JsonResponse(std::move(out)));
                        });
                }});
}

}  // namespace noderepair::api
