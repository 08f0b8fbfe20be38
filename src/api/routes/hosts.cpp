#include <string>
#include <utility>

#include "api/codec.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "inventory/service.hpp"

namespace noderepair::api {

using auth::Role;

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
