// Matches a request's method and path segments to a route (docs/http-api.md 4). Patterns are
// segment lists where "{}" takes one segment as a parameter and "{}:verb" one that ends in ":verb".
#pragma once

#include <functional>
#include <optional>
#include <string>
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

struct Route {
    std::string method;
    std::vector<std::string> pattern;
    std::optional<auth::Role> role;  // nullopt: no authentication
    std::function<void(Call&, Responder)> handler;
    std::string label = {};  // "/v1/compute/clusters/{}", for metrics and logs; Add() sets it
    // Runs on the I/O thread, past the worker queue, so it answers under overload too
    // (docs/http-api.md 10). Only for handlers that never block: no store, no lock held long.
    bool on_io_thread = false;
};

struct RouteMatch {
    const Route* route = nullptr;  // null: see path_known
    bool path_known = false;       // some route has this path, with another method
    std::vector<std::string> params;
};

class Router {
public:
    void Add(Route route);
    RouteMatch Match(const std::string& method, const std::vector<std::string>& segments) const;

private:
    std::vector<Route> routes_;
};

}  // namespace noderepair::api
