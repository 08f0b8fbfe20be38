#include <utility>

#include "api/codec.hpp"
#include "api/routes/routes.hpp"
#include "health/service.hpp"

namespace noderepair::api {

using auth::Role;

void AddSimulatedFaultRoutes(Router& router, const ApiServices& services) {
    router.Add({"POST",
                {"v1", "sim", "instances", "{}", "faults"},
                Role::kOperator,
                [&services](Call& call, Responder respond) {
                    auto body = ParseBodyObject(call.request.body);
                    if (!body) return respond(ErrorResponse(body.error()));
                    health::SimulatedFault fault;
                    auto kind = OptionalStringField(*body, "kind");
                    if (!kind) return respond(ErrorResponse(kind.error()));
                    fault.kind = std::move(*kind);
                    if (const auto* xid = body->if_contains("xid")) {
                        if (!xid->is_int64()) {
                            return respond(
                                ErrorResponse(InvalidArgument("'xid' must be a positive integer")));
                        }
                        fault.xid = xid->as_int64();
                    }
                    auto reason = OptionalStringField(*body, "reason");
                    if (!reason) return respond(ErrorResponse(reason.error()));
                    fault.reason = std::move(*reason);
                    services.health.RaiseSimulatedFault(
                        call.params[0], std::move(fault), [respond](auto result) {
                            if (!result) return respond(ErrorResponse(result.error()));
                            respond(JsonResponse(IngestJson(*result)));
                        });
                }});
}

}  // namespace noderepair::api
