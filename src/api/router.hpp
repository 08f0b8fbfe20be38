// Matches a request's method and path segments to a route (docs/http-api.md 4). Patterns are
// segment lists where "{}" takes one segment as a parameter and "{}:verb" one that ends in ":verb".
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "api/http.hpp"
#include "auth/principal.hpp"

namespace noderepair::api {

// One request on its way through a route: the request, its path parameters, the caller.
struct Call {
    HttpRequest request;
    std::vector<std::string> params;
    auth::Principal principal;
};

// Where a route finds the clusters a request touches, so that a cluster-scoped token acts only
// inside its clusters (docs/http-api.md 10). Api::Authorize enforces the first two; for the
// others the handler narrows what it reads or does to the caller's clusters.
enum class Scope {
    kPathCluster,     // the cluster id in the path, the route's first parameter; another: 403
    kUnscopedOnly,    // fleet-wide changes and secrets: a cluster-scoped token gets 403
    kListedClusters,  // a list: the handler leaves out what belongs to other clusters
    kHostInstances,   // the hosts list: only hosts that carry the token's clusters' instances
    kHostOfCluster,   // one host: without the token's clusters' instances it is 404, as unknown
    kAlertInstances,  // each alert's instance: the handler drops and counts the others
    kFaultInstance,   // the fault's instance: outside the scope it is 404, as if unknown
    kFleetRead,       // fleet-wide state every token may read (the engine's pause switch)
};

// Who may call a route. Every route states it: Access has no default, so a route added without
// one does not compile.
class Access {
public:
    // No token at all: probes, metrics and the console's files.
    static constexpr Access Open() { return Access(std::nullopt, Scope::kUnscopedOnly); }
    // A token with at least `role`, its cluster scope resolved as `scope` says.
    static constexpr Access Token(auth::Role role, Scope scope) { return Access(role, scope); }

    bool open() const { return !role_; }
    auth::Role role() const { return *role_; }  // only when !open()
    Scope scope() const { return scope_; }

private:
    constexpr Access(std::optional<auth::Role> role, Scope scope) : role_(role), scope_(scope) {}
    std::optional<auth::Role> role_;
    Scope scope_;
};

static_assert(!std::is_default_constructible_v<Access>, "a route states its access");

struct Route {
    std::string method;
    std::vector<std::string> pattern;
    Access access;
    std::function<void(Call&, Responder)> handler;
    std::string label = {};  // "/v1/compute/clusters/{}", for metrics and logs; Add() sets it
    // Runs on the I/O thread, past the worker queue, so it answers under overload too
    // (docs/http-api.md 10). Only for handlers that never block: no store, no lock held long.
    bool on_io_thread = false;
    // Queues its write and waits for nothing but the token check, which reads the database at
    // most once a second per token: runs on the I/O thread where such a read never waits
    // (a store whose reads are no round trips, SQLite; docs/design.md 6) or is not needed
    // (the caller's token was read in the last second), else on a worker.
    bool queues_write = false;
    // Its reads are asked of a read coalescer and never wait (remediation::RemediationService's
    // Get and List where reads are round trips, RemediationService::ReadsTogether: PostgreSQL):
    // runs on the I/O thread when the caller's token needs no read, else on a worker.
    bool reads_coalesced = false;
};

struct RouteMatch {
    const Route* route = nullptr;  // null: see path_known
    bool path_known = false;       // some route has this path, with another method
    std::vector<std::string> params;
};

class Router {
public:
    // Aborts on a route whose declared scope its pattern cannot give (kPathCluster without
    // "clusters/{}" first): that is a bug, not input.
    void Add(Route route);
    RouteMatch Match(const std::string& method, const std::vector<std::string>& segments) const;
    // Every route, in the order added (the route x role x scope matrix test walks them).
    const std::vector<Route>& routes() const { return routes_; }

private:
    std::vector<Route> routes_;
};

}  // namespace noderepair::api
