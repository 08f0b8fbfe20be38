#include <memory>
#include <utility>

#include "api/codec.hpp"
#include "api/request_bodies.hpp"
#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "health/service.hpp"
#include "providers/simulated/faults.hpp"

namespace noderepair::api {

using auth::Role;

void AddSimulatedFleetRoutes(Router& router, const ApiServices& services) {
    // A fault of the simulated fleet (docs/http-api.md 6); its alerts take the webhook's path.
    router.Add({"POST",
                {"v1", "sim", "instances", "{}", "faults"},
                Role::kOperator,
                [&services](Call& call, Responder respond) {
                    auto fault = ParseFaultBody(call.request.body);
                    if (!fault) return respond(ErrorResponse(fault.error()));
                    services.simulated->Raise(
                        call.params[0], std::move(*fault),
                        [principal = call.principal](const std::string& cluster_id) {
                            return principal.CanSeeCluster(cluster_id);
                        },
                        [&services, respond](Result<std::vector<model::IncomingAlert>> alerts) {
                            if (!alerts) return respond(ErrorResponse(alerts.error()));
                            services.health.Ingest(std::move(*alerts), [respond](auto result) {
                                if (!result) return respond(ErrorResponse(result.error()));
                                respond(JsonResponse(IngestJson(*result)));
                            });
                        });
                }});
    // The simulated world's VMs and where they run: what the engine's records are checked
    // against (a scoped token sees its clusters' instances only).
    router.Add(
        {"GET", {"v1", "sim", "vms"}, Role::kViewer, [&services](Call& call, Responder respond) {
             std::string out;
             JsonWriter w(out);
             w.BeginObject().Key("vms").BeginArray();
             Status read = services.store.Read([&](storage::Reader& reader) -> Status {
                 NR_ASSIGN_OR_RETURN(auto vms, reader.Simulated().ListVms());
                 for (const auto& vm : vms) {
                     if (!call.principal.clusters.empty()) {
                         NR_ASSIGN_OR_RETURN(auto instance,
                                             reader.Inventory().GetInstance(vm.instance_id));
                         if (!instance || !call.principal.CanSeeCluster(instance->cluster_id)) {
                             continue;
                         }
                     }
                     w.BeginObject()
                         .Key("vm_id")
                         .String(vm.vm_id)
                         .Key("instance_id")
                         .String(vm.instance_id)
                         .Key("host_name")
                         .String(vm.host_name)
                         .EndObject();
                 }
                 return OkStatus();
             });
             if (!read) return respond(ErrorResponse(read.error()));
             w.EndArray().EndObject();
             respond(JsonResponse(std::move(out)));
         }});
}

}  // namespace noderepair::api
