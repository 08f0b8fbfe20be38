#include <string>
#include <utility>

#include "api/routes/routes.hpp"
#include "common/json.hpp"
#include "engine/control.hpp"

namespace noderepair::api {
namespace {

using auth::Role;

HttpResponse EngineResponse(bool paused) {
    std::string body;
    JsonWriter(body).BeginObject().Key("paused").Bool(paused).EndObject();
    return JsonResponse(std::move(body));
}

}  // namespace

void AddEngineRoutes(Router& router, const ApiServices& services) {
    // Engine pause (docs/http-api.md 6).
    router.Add({"GET",
                {"v1", "engine"},
                Access::Token(Role::kViewer, Scope::kFleetRead),
                [&services](Call&, Responder respond) {
                    auto paused = services.engine.IsPaused();
                    if (!paused) return respond(ErrorResponse(paused.error()));
                    respond(EngineResponse(*paused));
                }});
    for (bool pause : {true, false}) {
        router.Add({"POST",
                    {"v1", pause ? "engine:pause" : "engine:resume"},
                    Access::Token(Role::kAdmin, Scope::kUnscopedOnly),
                    [&services, pause](Call&, Responder respond) {
                        services.engine.SetPaused(pause, [respond](Result<bool> paused) {
                            if (!paused) return respond(ErrorResponse(paused.error()));
                            respond(EngineResponse(*paused));
                        });
                    }});
    }
}

}  // namespace noderepair::api
