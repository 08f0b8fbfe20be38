#include <string>
#include <utility>
#include <vector>

#include "api/codec.hpp"
#include "api/routes/routes.hpp"
#include "health/service.hpp"
#include "model/health_check.hpp"

namespace noderepair::api {

using auth::Role;

void AddHealthCheckRoutes(Router& router, const ApiServices& services) {
    // Active health checks (docs/http-api.md 5).
    const std::vector<std::string> kChecks = {"v1",        "compute", "clusters",     "{}",
                                              "instances", "{}",      "health_checks"};
    router.Add(
        {"POST", kChecks, Role::kOperator, [&services](Call& call, Responder respond) {
             auto body = ParseBodyObject(call.request.body);
             if (!body) return respond(ErrorResponse(body.error()));
             const auto* tests = body->if_contains("tests");
             if (tests == nullptr || !tests->is_array()) {
                 return respond(
                     ErrorResponse(InvalidArgument("body needs 'tests': an array of test names")));
             }
             std::vector<std::string> names;
             for (const auto& t : tests->as_array()) {
                 if (!t.is_string()) {
                     return respond(
                         ErrorResponse(InvalidArgument("'tests' must be an array of test names")));
                 }
                 names.emplace_back(t.as_string());
             }
             services.health.StartHealthCheck(call.params[0], call.params[1], std::move(names),
                                              [respond](Result<model::HealthCheckRun> run) {
                                                  if (!run) {
                                                      return respond(ErrorResponse(run.error()));
                                                  }
                                                  respond(JsonResponse(HealthCheckJson(*run)));
                                              });
         }});
    router.Add({"GET", kChecks, Role::kViewer, [&services](Call& call, Responder respond) {
                    auto runs = services.health.ListHealthChecks(call.params[0], call.params[1]);
                    if (!runs) return respond(ErrorResponse(runs.error()));
                    respond(JsonResponse(HealthCheckListJson(*runs)));
                }});
    auto one_check = kChecks;
    one_check.push_back("{}");
    router.Add({"GET", one_check, Role::kViewer, [&services](Call& call, Responder respond) {
                    auto run = services.health.GetHealthCheck(call.params[0], call.params[1],
                                                              call.params[2]);
                    if (!run) return respond(ErrorResponse(run.error()));
                    respond(JsonResponse(HealthCheckJson(*run)));
                }});
}

}  // namespace noderepair::api
