#include "api/api.hpp"

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "api/routes/routes.hpp"
#include "common/log.hpp"
#include "common/request_context.hpp"

namespace noderepair::api {
namespace {

// The role, then the cluster scope as the route declares it (docs/http-api.md 10). Never the
// shape of the URL: a route says where its clusters come from.
Status CheckAccess(const Access& access, const Call& call) {
    const auth::Principal& caller = call.principal;
    if (!caller.HasRole(access.role())) {
        return PermissionDenied("token '" + caller.name + "' has role " +
                                std::string(auth::RoleName(caller.role)) + "; this needs " +
                                std::string(auth::RoleName(access.role())));
    }
    switch (access.scope()) {
        case Scope::kPathCluster:
            if (caller.CanSeeCluster(call.params[0])) return OkStatus();
            return PermissionDenied("token '" + caller.name + "' is not allowed on cluster " +
                                    call.params[0]);
        case Scope::kUnscopedOnly:
            if (!caller.IsScoped()) return OkStatus();
            return PermissionDenied(
                "token '" + caller.name +
                "' is scoped to clusters; this needs an unscoped token (one for every cluster)");
        // The handler narrows these to the caller's clusters.
        case Scope::kListedClusters:
        case Scope::kHostInstances:
        case Scope::kHostOfCluster:
        case Scope::kAlertInstances:
        case Scope::kFaultInstance:
        case Scope::kFleetRead:
            return OkStatus();
    }
    return Internal("unknown scope");
}

}  // namespace

Api::Api(ApiServices services, int worker_threads, size_t max_queued_requests)
    : s_(services),
      request_log_(s_.log_requests ? std::make_unique<GatheredLog>() : nullptr),
      workers_(worker_threads > 0
                   ? std::make_unique<WorkerPool>(worker_threads, max_queued_requests)
                   : nullptr) {
    // The router takes the first route that matches, but no two of these match the same request:
    // this order is for reading only.
    AddSystemRoutes(router_, s_);
    AddRemediationRoutes(router_, s_);
    AddClusterRoutes(router_, s_);
    AddHostRoutes(router_, s_);
    AddAlertRoutes(router_, s_);
    AddHealthCheckRoutes(router_, s_);
    AddIncidentRoutes(router_, s_);
    if (s_.simulated != nullptr) AddSimulatedFleetRoutes(router_, s_);
    AddEngineRoutes(router_, s_);
    AddAuditRoutes(router_, s_);
    AddOverviewRoutes(router_, s_);
    AddReplicaRoutes(router_, s_);
}

void Api::Handle(HttpRequest&& request, Responder respond) {
    RouteMatch match = router_.Match(request.method, request.segments);
    const Route* route = match.route;
    // Every answer is measured and logged, with the route's pattern rather than its path.
    auto call = std::make_shared<Call>(Call{std::move(request), std::move(match.params), {}});
    ++*unanswered_;
    respond = [this, call, route, started = std::chrono::steady_clock::now(),
               unanswered = unanswered_, respond = std::move(respond)](HttpResponse response) {
        std::string path;
        if (s_.log_requests) {
            for (const auto& segment : call->request.segments) path.append("/").append(segment);
        }
        Record({call->request.request_id, call->request.method, path.empty() ? "/" : path,
                route ? std::string_view(route->label) : "unmatched", response.status,
                std::chrono::steady_clock::now() - started, call->principal.name});
        respond(std::move(response));
        --*unanswered;
    };
    if (route == nullptr) {
        if (match.path_known) {
            return respond(ErrorResponse(
                {Code::kUnimplemented, "method " + call->request.method + " is not allowed here"}));
        }
        return respond(ErrorResponse(NotFound("no such endpoint")));
    }
    if (!workers_ || route->on_io_thread ||
        (route->queues_write && !s_.store.ReadsAreRoundTrips())) {
        return Authorize(*route, *call, std::move(respond));
    }
    if (route->queues_write || (route->reads_coalesced && s_.remediations.ReadsTogether())) {
        // Past the worker hand-off when the token check needs no read: the handler only queues
        // its write, or only asks for its read.
        if (route->access.open()) return Admit(*route, *call, std::move(respond));
        if (auto principal =
                s_.authenticator.AuthenticateWithoutReading(call->request.authorization)) {
            if (!*principal) return respond(ErrorResponse(principal->error()));
            call->principal = **std::move(principal);
            return Admit(*route, *call, std::move(respond));
        }
    }
    // The responder is shared so that a refused post can still answer: TryPost drops its task.
    auto shared_respond = std::make_shared<Responder>(std::move(respond));
    const bool queued = workers_->TryPost([this, route, call, shared_respond] {
        // Past its deadline the server has answered already; the answer would be dropped.
        const auto deadline = call->request.deadline;
        if (deadline != std::chrono::steady_clock::time_point{} &&
            std::chrono::steady_clock::now() >= deadline) {
            return (*shared_respond)(ErrorResponse(
                {Code::kDeadlineExceeded, "the request waited past its deadline for a worker"}));
        }
        Authorize(*route, *call, std::move(*shared_respond));
    });
    if (!queued) {
        (*shared_respond)(ErrorResponse(
            Unavailable("the server is busy: " + std::to_string(workers_->max_queued()) +
                        " requests are waiting (server.max_queued_requests); retry shortly")));
    }
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
    request_log_->Add(line.Finish());
}

bool Api::WaitForAnswers(std::chrono::steady_clock::time_point deadline) const {
    while (*unanswered_ > 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

void Api::Authorize(const Route& route, Call& call, Responder respond) {
    if (!route.access.open()) {
        auto principal = s_.authenticator.Authenticate(call.request.authorization);
        if (!principal) return respond(ErrorResponse(principal.error()));
        call.principal = std::move(*principal);
    }
    Admit(route, call, std::move(respond));
}

void Api::Admit(const Route& route, Call& call, Responder respond) {
    if (!route.access.open()) {
        if (!s_.rate_limiter.Allow(call.principal.name)) {
            return respond(ErrorResponse(
                {Code::kResourceExhausted,
                 "rate limit of token '" + call.principal.name + "' exceeded; retry shortly"}));
        }
        if (Status allowed = CheckAccess(route.access, call); !allowed) {
            return respond(ErrorResponse(allowed.error()));
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
