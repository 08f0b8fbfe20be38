#include "api/router.hpp"

namespace noderepair::api {
namespace {

bool MatchSegments(const std::vector<std::string>& pattern,
                   const std::vector<std::string>& segments, std::vector<std::string>& params) {
    if (pattern.size() != segments.size()) return false;
    params.clear();
    for (size_t i = 0; i < pattern.size(); ++i) {
        const std::string& p = pattern[i];
        const std::string& s = segments[i];
        if (p == "{}") {
            if (s.empty()) return false;
            params.push_back(s);
        } else if (p.starts_with("{}:")) {
            const std::string_view verb = std::string_view(p).substr(2);
            if (s.size() <= verb.size() || !s.ends_with(verb)) return false;
            params.push_back(s.substr(0, s.size() - verb.size()));
        } else if (p != s) {
            return false;
        }
    }
    return true;
}

}  // namespace

void Router::Add(Route route) {
    const auto& p = route.pattern;
    NR_ASSERT(route.access.open() || route.access.scope() != Scope::kPathCluster ||
                  (p.size() >= 4 && p[1] == "compute" && p[2] == "clusters" && p[3] == "{}"),
              "a route scoped by its path's cluster takes the cluster id as its first parameter");
    std::string label;
    for (const auto& segment : route.pattern) label.append("/").append(segment);
    route.label = label.empty() ? std::string("/") : std::move(label);
    routes_.push_back(std::move(route));
}

RouteMatch Router::Match(const std::string& method,
                         const std::vector<std::string>& segments) const {
    RouteMatch match;
    std::vector<std::string> params;
    for (const auto& route : routes_) {
        if (!MatchSegments(route.pattern, segments, params)) continue;
        if (route.method == method) {
            match.route = &route;
            match.params = std::move(params);
            return match;
        }
        match.path_known = true;
    }
    return match;
}

}  // namespace noderepair::api
