#include "api/api.hpp"

#include <chrono>
#include <exception>
#include <memory>
#include <string>

#include "api/routes/routes.hpp"
#include "common/log.hpp"
#include "common/request_context.hpp"

namespace noderepair::api {
namespace {

Error NotInScope(const Call& call) {
    return PermissionDenied("token '" + call.principal.name + "' is not allowed on cluster " +
                            call.params[0]);
}

}  // namespace

Api::Api(ApiServices services, int worker_threads)
    : s_(services),
      workers_(worker_threads > 0 ? std::make_unique<WorkerPool>(worker_threads) : nullptr) {
    // The router takes the first route that matches, but no two of these match the same request:
    // this order is for reading only.
    AddSystemRoutes(router_, s_);
    AddRemediationRoutes(router_, s_);
    AddClusterRoutes(router_, s_);
    AddHostRoutes(router_, s_);
    AddAlertRoutes(router_, s_);
    AddHealthCheckRoutes(router_, s_);
    if (s_.simulated != nullptr) AddSimulatedFleetRoutes(router_, s_);
    AddEngineRoutes(router_, s_);
    AddAuditRoutes(router_, s_);
}

void Api::Handle(HttpRequest&& request, Responder respond) {
    RouteMatch match = router_.Match(request.method, request.segments);
    const Route* route = match.route;
    // Every answer is measured and logged, with the route's pattern rather than its path.
    auto call = std::make_shared<Call>(Call{std::move(request), std::move(match.params), {}});
    respond = [this, call, route, started = std::chrono::steady_clock::now(),
               respond = std::move(respond)](HttpResponse response) {
        std::string path;
        if (s_.log_requests) {
            for (const auto& segment : call->request.segments) path.append("/").append(segment);
        }
        Record({call->request.request_id, call->request.method, path.empty() ? "/" : path,
                route ? std::string_view(route->label) : "unmatched", response.status,
                std::chrono::steady_clock::now() - started, call->principal.name});
        respond(std::move(response));
    };
    if (route == nullptr) {
        if (match.path_known) {
            return respond(ErrorResponse(
                {Code::kUnimplemented, "method " + call->request.method + " is not allowed here"}));
        }
        return respond(ErrorResponse(NotFound("no such endpoint")));
    }
    if (!workers_) return Authorize(*route, *call, std::move(respond));
    workers_->Post([this, route, call, respond = std::move(respond)]() mutable {
        Authorize(*route, *call, std::move(respond));
    });
}

void Api::Refused(std::string_view method, int status, std::string_view request_id) {
    Record({request_id, method, "", "(refused)", status, std::chrono::nanoseconds(0), ""});
}

void Api::Record(const Answered& a) {
    s_.metrics.ObserveRequest(a.method, a.route, a.status, a.took);
    if (!s_.log_requests) return;
    LogLine line("request");
    line.Add("request_id", a.request_id).Add("method", a.method);
    if (!a.path.empty()) line.Add("path", a.path);
    line.Add("route", a.route).Add("status", int64_t(a.status));
    if (a.took.count() > 0) {
        line.AddMillis("duration_ms", std::chrono::duration<double, std::milli>(a.took).count());
    }
    if (!a.token.empty()) line.Add("token", a.token);
    WriteLog(line.Finish());
}

void Api::Authorize(const Route& route, Call& call, Responder respond) {
    if (route.role) {
        auto principal = s_.authenticator.Authenticate(call.request.authorization);
        if (!principal) return respond(ErrorResponse(principal.error()));
        call.principal = std::move(*principal);
        if (!s_.rate_limiter.Allow(call.principal.name)) {
            return respond(ErrorResponse(
                {Code::kResourceExhausted,
                 "rate limit of token '" + call.principal.name + "' exceeded; retry shortly"}));
        }
        if (!call.principal.HasRole(*route.role)) {
            return respond(ErrorResponse(
                PermissionDenied("token '" + call.principal.name + "' has role " +
                                 std::string(auth::RoleName(call.principal.role)) +
                                 "; this needs " + std::string(auth::RoleName(*route.role)))));
        }
        // Every route under /v1/compute/clusters/{cluster_id} is scoped to that cluster.
        const auto& seg = call.request.segments;
        if (seg.size() >= 4 && seg[1] == "compute" && seg[2] == "clusters" &&
            !call.principal.CanSeeCluster(call.params[0])) {
            return respond(ErrorResponse(NotInScope(call)));
        }
    }
    // What this request causes further down (a commit, a transition) is logged with its id,
    // and audited as done by its token (docs/design.md 11).
    ScopedRequestId request_id(call.request.request_id);
    ScopedActor actor(call.principal.name.empty() ? CurrentActor() : call.principal.name);
    // The last-resort catch of docs/design.md 4: our code returns errors as values, but a library
    // that throws must cost one request a 500, never the server.
    try {
        route.handler(call, respond);
    } catch (const std::exception& e) {
        respond(ErrorResponse(Internal(std::string("unhandled exception: ") + e.what())));
    } catch (...) {
        respond(ErrorResponse(Internal("unhandled exception")));
    }
}

}  // namespace noderepair::api
