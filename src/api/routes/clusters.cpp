#include <string>
#include <utility>

#include "api/codec.hpp"
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
                Role::kViewer,
                [&services](Call& call, Responder respond) {
                    auto clusters = services.inventory.ListClusters(call.principal);
                    if (!clusters) return respond(ErrorResponse(clusters.error()));
                    respond(JsonResponse(ClusterListJson(*clusters)));
                }});
    router.Add({"GET",
                {"v1", "compute", "clusters", "{}"},
                Role::kViewer,
                [&services](Call& call, Responder respond) {
                    auto cluster = services.inventory.GetCluster(call.params[0]);
                    if (!cluster) return respond(ErrorResponse(cluster.error()));
                    respond(JsonResponse(ClusterJson(*cluster)));
                }});

    router.Add(
        {"PATCH",
         {"v1", "compute", "clusters", "{}"},
         Role::kAdmin,
         [&services](Call& call, Responder respond) {
             auto body = ParseBodyObject(call.request.body);
             if (!body) return respond(ErrorResponse(body.error()));
             const auto* automation = body->if_contains("automation");
             if (automation == nullptr || !automation->is_object()) {
                 return respond(
                     ErrorResponse(InvalidArgument("body needs an 'automation' object")));
             }
             model::ClusterAutomation a;
             auto policy = OptionalStringField(automation->as_object(), "policy");
             if (!policy) return respond(ErrorResponse(policy.error()));
             if (*policy != "automatic" && *policy != "approve") {
                 return respond(ErrorResponse(
                     InvalidArgument("automation.policy must be approve or automatic")));
             }
             a.automatic = *policy == "automatic";
             if (const auto* names = automation->as_object().if_contains("automatic_alerts")) {
                 if (!names->is_array()) {
                     return respond(ErrorResponse(InvalidArgument(
                         "automation.automatic_alerts must be an array of alert names")));
                 }
                 for (const auto& name : names->as_array()) {
                     if (!name.is_string() || name.as_string().empty()) {
                         return respond(ErrorResponse(InvalidArgument(
                             "automation.automatic_alerts must be an array of alert names")));
                     }
                     a.automatic_alerts.emplace_back(name.as_string());
                 }
             }
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
                Role::kOperator,
                [&services](Call& call, Responder respond) {
                    auto body = ParseBodyObject(call.request.body);
                    if (!body) return respond(ErrorResponse(body.error()));
                    const auto* flag = body->if_contains("auto_repair");
                    if (flag == nullptr || !flag->is_bool()) {
                        return respond(
                            ErrorResponse(InvalidArgument("body needs a boolean 'auto_repair'")));
                    }
                    const bool auto_repair = flag->as_bool();
                    std::string instance_id = call.params[1];
                    services.health.SetAutoRepair(call.params[0], instance_id, auto_repair,
                                                  [respond, instance_id, auto_repair](Status s) {
                                                      if (!s) {
                                                          return respond(ErrorResponse(s.error()));
                                                      }
                                                      std::string out;
                                                      JsonWriter(out)
                                                          .BeginObject()
                                                          .Key("instance_id")
                                                          .String(instance_id)
                                                          .Key("auto_repair")
                                                          .Bool(auto_repair)
                                                          .EndObject();
                                                      respond(JsonResponse(std::move(out)));
                                                  });
                }});
}

}  // namespace noderepair::api
