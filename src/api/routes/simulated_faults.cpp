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
using model::IncomingAlert;

void AddSimulatedFleetRoutes(Router& router, const ApiServices& services) {
    // docs/http-api.md 10: a fault outside the token's clusters is NOT_FOUND, as an unknown
    // instance is, and injects nothing; the VM list leaves other clusters' VMs out.
    constexpr Access kRaise = Access::Token(Role::kOperator, Scope::kFaultInstance);
    constexpr Access kList = Access::Token(Role::kViewer, Scope::kListedClusters);
    // A fault of the simulated fleet (docs/http-api.md 6); its alerts take the webhook's path.
    router.Add({"POST",
                {"v1", "sim", "instances", "{}", "faults"},
                kRaise,
                [&services](Call& call, Responder respond) {
                    auto fault = ParseFaultBody(call.request.body);
                    if (!fault) return respond(ErrorResponse(fault.error()));
                    auto in_scope = call.principal.ClusterFilter();
                    services.simulated->Raise(
                        call.params[0], std::move(*fault), in_scope,
                        [&services, respond, in_scope](Result<std::vector<IncomingAlert>> alerts) {
                            if (!alerts) return respond(ErrorResponse(alerts.error()));
                            services.health.Ingest(std::move(*alerts), in_scope,
                                                   ReplyWithIngest(respond));
                        });
                }});
    // The simulated world's VMs and where they run: what the engine's records are checked
    // against (a scoped token sees its clusters' instances only).
    router.Add({"GET", {"v1", "sim", "vms"}, kList, [&services](Call& call, Responder respond) {
                    std::string out;
                    JsonWriter w(out);
                    w.BeginObject().Key("vms").BeginArray();
                    Status read = services.store.Read([&](storage::Reader& reader) -> Status {
                        NR_ASSIGN_OR_RETURN(auto vms, reader.Simulated().ListVms());
                        for (const auto& vm : vms) {
                            if (call.principal.IsScoped()) {
                                NR_ASSIGN_OR_RETURN(auto instance,
                                                    reader.Inventory().GetInstance(vm.instance_id));
                                if (!instance ||
                                    !call.principal.CanSeeCluster(instance->cluster_id)) {
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
