#include <string>
#include <utility>
#include <vector>

#include "api/codec.hpp"
#include "api/request_bodies.hpp"
#include "api/routes/routes.hpp"
#include "health/service.hpp"
#include "model/health_check.hpp"

namespace noderepair::api {

using auth::Role;

void AddHealthCheckRoutes(Router& router, const ApiServices& services) {
    // Active health checks (docs/http-api.md 5).
    const std::vector<std::string> kChecks = {"v1",        "compute", "clusters",     "{}",
                                              "instances", "{}",      "health_checks"};
    router.Add({"POST", kChecks, Access::Token(Role::kOperator, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto names = ParseHealthCheckBody(call.request.body);
                    if (!names) return respond(ErrorResponse(names.error()));
                    services.health.StartHealthCheck(
                        call.params[0], call.params[1], std::move(*names),
                        [respond](Result<model::HealthCheckRun> run) {
                            if (!run) {
                                return respond(ErrorResponse(run.error()));
                            }
                            respond(JsonResponse(HealthCheckJson(*run)));
                        });
                }});
    router.Add({"GET", kChecks, Access::Token(Role::kViewer, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto runs = services.health.ListHealthChecks(call.params[0], call.params[1]);
                    if (!runs) return respond(ErrorResponse(runs.error()));
                    respond(JsonResponse(HealthCheckListJson(*runs)));
                }});
    auto one_check = kChecks;
    one_check.push_back("{}");
    router.Add({"GET", one_check, Access::Token(Role::kViewer, Scope::kPathCluster),
                [&services](Call& call, Responder respond) {
                    auto run = services.health.GetHealthCheck(call.params[0], call.params[1],
                                                              call.params[2]);
                    if (!run) return respond(ErrorResponse(run.error()));
                    respond(JsonResponse(HealthCheckJson(*run)));
                }});
}

}  // namespace noderepair::api
