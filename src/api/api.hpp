// The API of API.md 4 and 6 on top of the services: routing, authentication, role and scope
// checks, request decoding and response encoding. Handle() is called on I/O threads and
// queues the work on a worker pool.
#pragma once

#include <memory>

#include "api/http.hpp"
#include "api/router.hpp"
#include "auth/tokens.hpp"
#include "common/worker_pool.hpp"
#include "engine/control.hpp"
#include "inventory/service.hpp"
#include "remediation/service.hpp"

namespace noderepair::api {

struct ApiServices {
    storage::Store& store;
    auth::Authenticator& authenticator;
    remediation::RemediationService& remediations;
    inventory::InventoryService& inventory;
    engine::EngineControl& engine;
};

class Api {
public:
    Api(ApiServices services, int worker_threads);
    void Handle(HttpRequest&& request, Responder respond);

private:
    void AddRoutes();
    void Authorize(const Route& route, Call& call, Responder respond);

    ApiServices s_;
    Router router_;
    WorkerPool workers_;
};

}  // namespace noderepair::api
