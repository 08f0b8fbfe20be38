// The API of docs/http-api.md 4 and 6 on top of the services: routing, authentication, role and
// scope checks, request decoding and response encoding. Handle() is called on I/O threads and
// queues the work on a bounded worker pool (503 when it is full), or runs it in place when there
// is none or the route runs on the I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "api/http.hpp"
#include "api/router.hpp"
#include "api/watch_hub.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/tokens.hpp"
#include "common/log.hpp"
#include "common/worker_pool.hpp"
#include "engine/control.hpp"
#include "health/service.hpp"
#include "inventory/service.hpp"
#include "providers/simulated/faults.hpp"
#include "remediation/service.hpp"
#include "telemetry/metrics.hpp"

namespace noderepair::api {

struct ApiServices {
    storage::Store& store;
    auth::Authenticator& authenticator;
    remediation::RemediationService& remediations;
    inventory::InventoryService& inventory;
    engine::EngineControl& engine;
    auth::RateLimiter& rate_limiter;
    health::HealthService& health;
    WatchHub& watch;
    telemetry::Metrics& metrics;
    std::function<size_t()> engine_in_flight;
    bool log_requests = true;  // one log line per request
    // The simulated fleet's faults; null with another provider (then /v1/sim/... does not exist).
    providers::simulated::SimulatedFaults* simulated = nullptr;
    // A host's power as its BMC last reported it, empty without a BMC; null: no BMCs at all.
    std::function<std::string(const std::string& host)> host_power = nullptr;
};

class Api {
public:
    // At most `max_queued_requests` wait for a worker; the next get 503 (docs/http-api.md 10).
    Api(ApiServices services, int worker_threads, size_t max_queued_requests = 1024);
    void Handle(HttpRequest&& request, Responder respond);
    // A request the HTTP server refused itself (ServerOptions::on_refused): measured and logged
    // like the others, under the route "(refused)".
    void Refused(std::string_view method, int status, std::string_view request_id);
    // Waits until every request handed to a handler was answered, or `deadline`: answers come
    // from other threads (the store's, the read coalescers') and go through the HTTP server,
    // which must outlive them. False at the deadline.
    bool WaitForAnswers(std::chrono::steady_clock::time_point deadline) const;
    // The route table, read-only (the route x role x scope matrix test walks it).
    const Router& router() const { return router_; }

private:
    // One answered request, for the request metrics and the request log line.
    struct Answered {
        std::string_view request_id;
        std::string_view method;
        std::string_view path;  // empty: not known (refused before it was read)
        std::string_view route;
        int status;
        std::chrono::nanoseconds took;
        std::string_view token;  // the caller's token name, once authenticated
    };
    void Record(const Answered& answered);
    // Authenticates the caller (a read of the database at most once a second per token), then
    // Admit.
    void Authorize(const Route& route, Call& call, Responder respond);
    // The rate limit and the route's access for the authenticated caller, then the handler.
    void Admit(const Route& route, Call& call, Responder respond);

    ApiServices s_;
    Router router_;
    // Requests handed to a handler, not yet answered. Shared with each answer, which counts
    // itself answered last, when whoever waited for it may already have destroyed this Api.
    std::shared_ptr<std::atomic<int64_t>> unanswered_ = std::make_shared<std::atomic<int64_t>>(0);
    // The request log's lines, written together (null: log.requests is off). Declared before
    // the workers, so that it outlives the last of them.
    std::unique_ptr<GatheredLog> request_log_;
    // Null when handlers run on the I/O threads themselves (server.worker_threads: 0).
    std::unique_ptr<WorkerPool> workers_;
};

}  // namespace noderepair::api
