#include <string>
#include <utility>

#include "api/codec.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "inventory/service.hpp"

namespace noderepair::api {

using auth::Role;

namespace {

// docs/http-api.md 11: one host with its fault ledger, and clearing its suspicion.
void AddHostPolicyRoutes(Router& router, const ApiServices& services) {
    router.Add({"GET",
                {"v1", "compute", "hosts", "{}"},
                Access::Token(Role::kViewer, Scope::kHostOfCluster),
                [&services](Call& call, Responder respond) {
                    auto detail = services.inventory.GetHost(call.principal, call.params[0]);
                    if (!detail) return respond(ErrorResponse(detail.error()));
                    if (services.host_power) {
                        detail->host.power = services.host_power(detail->host.host_name);
                    }
                    respond(JsonResponse(HostJson(detail->host, detail->faults)));
                }});
    router.Add({"POST",
                {"v1", "compute", "hosts", "{}:clear"},
                Access::Token(Role::kAdmin, Scope::kUnscopedOnly),
                [&services](Call& call, Responder respond) {
                    services.inventory.ClearSuspect(
                        call.params[0], [respond](Result<model::Host> host) {
                            if (!host) return respond(ErrorResponse(host.error()));
                            std::string body;
                            JsonWriter(body)
                                .BeginObject()
                                .Key("host_name")
                                .String(host->host_name)
                                .Key("suspect")
                                .Bool(false)
                                .Key("cordoned")
                                .Bool(host->cordoned)
                                .EndObject();
                            respond(JsonResponse(std::move(body)));
                        });
                }});
}

}  // namespace

void AddHostRoutes(Router& router, const ApiServices& services) {
    router.Add({"GET",
                {"v1", "compute", "hosts"},
                Access::Token(Role::kViewer, Scope::kHostInstances),
                [&services](Call& call, Responder respond) {
                    auto hosts = services.inventory.ListHosts(call.principal);
                    if (!hosts) return respond(ErrorResponse(hosts.error()));
                    if (services.host_power) {
                        for (auto& host : *hosts) host.power = services.host_power(host.host_name);
                    }
                    respond(JsonResponse(HostListJson(*hosts)));
                }});

    AddHostPolicyRoutes(router, services);

    for (bool cordon : {true, false}) {
        router.Add({"POST",
                    {"v1", "compute", "hosts", cordon ? "{}:cordon" : "{}:uncordon"},
                    Access::Token(Role::kAdmin, Scope::kUnscopedOnly),
                    [&services, cordon](Call& call, Responder respond) {
                        std::string host = call.params[0];
                        services.inventory.SetCordoned(
                            host, cordon, [host, cordon, respond](Status s) {
                                if (!s) return respond(ErrorResponse(s.error()));
                                std::string body;
                                JsonWriter(body)
                                    .BeginObject()
                                    .Key("host_name")
                                    .String(host)
                                    .Key("cordoned")
                                    .Bool(cordon)
                                    .EndObject();
                                respond(JsonResponse(std::move(body)));
                            });
                    }});
    }
}

}  // namespace noderepair::api
