// Bytes a client sends to the server: a request head and body through Beast's parser with the
// server's limits (scaled down), as one piece and as the many pieces a socket may deliver (they
// must read the same), then the target into path segments and query pairs and those into a
// route, as server.cpp and the router do.
#include <algorithm>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "api/request_target.hpp"
#include "api/router.hpp"
#include "api/server.hpp"
#include "invariants.hpp"

using namespace noderepair;
namespace http = boost::beast::http;

namespace {

// Route shapes of the API: fixed segments, parameters, and a parameter ending in a verb.
const api::Router& Routes() {
    static const api::Router router = [] {
        api::Router r;
        const std::vector<std::string> remediations = {"v1",        "compute", "clusters",    "{}",
                                                       "instances", "{}",      "remediations"};
        auto one = remediations;
        one.push_back("{}");
        auto approve = one;
        approve.push_back("approve");
        auto in_cluster = [](auth::Role role) {
            return api::Access::Token(role, api::Scope::kPathCluster);
        };
        const auto fleet_wide = api::Access::Token(auth::Role::kAdmin, api::Scope::kUnscopedOnly);
        r.Add({"GET", {"healthz"}, api::Access::Open(), {}});
        r.Add({"GET", remediations, in_cluster(auth::Role::kViewer), {}});
        r.Add({"POST", remediations, in_cluster(auth::Role::kOperator), {}});
        r.Add({"GET", one, in_cluster(auth::Role::kViewer), {}});
        r.Add({"POST", approve, in_cluster(auth::Role::kApprover), {}});
        r.Add({"POST", {"v1", "compute", "hosts", "{}:cordon"}, fleet_wide, {}});
        r.Add({"POST", {"v1", "engine:pause"}, fleet_wide, {}});
        return r;
    }();
    return router;
}

// The server's limits (ServerOptions), scaled down so that inputs of a few KiB reach them.
api::ServerOptions Limits() {
    api::ServerOptions limits;
    limits.max_header_bytes = 1 << 10;
    limits.max_body_bytes = 2 << 10;
    limits.max_unparsed_bytes = 2 << 10;
    return limits;
}

// What the server reads from `wire` when the socket delivers it in pieces of `piece` bytes:
// the request, or nothing when the server would refuse it (400, 413, 431) or wait for more.
std::optional<http::request<http::string_body>> Read(std::string_view wire, size_t piece) {
    const api::ServerOptions limits = Limits();
    http::request_parser<http::string_body> parser;
    parser.header_limit(std::uint32_t(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    std::string received;  // read from the socket, not yet taken by the parser
    size_t read = 0;
    boost::beast::error_code ec;
    while (!parser.is_done()) {
        if (!received.empty()) {
            const size_t used = parser.put(boost::asio::buffer(received), ec);
            received.erase(0, used);
            if (ec == http::error::need_more) {
                ec = {};
            } else if (ec) {
                return std::nullopt;
            } else if (used > 0) {
                continue;
            }
        }
        if (read == wire.size()) {
            // As Beast's read does: the client left before a request began, or in its middle.
            if (!parser.got_some()) return std::nullopt;
            parser.put_eof(ec);
            if (ec || !parser.is_done()) return std::nullopt;
            break;
        }
        // The server's read buffer holds max_unparsed_bytes: full, and the parser still wants
        // more, is a refusal.
        const size_t n =
            std::min({piece, wire.size() - read, limits.max_unparsed_bytes - received.size()});
        if (n == 0) return std::nullopt;
        received.append(wire.substr(read, n));
        read += n;
    }
    return parser.release();
}

bool SameRequest(const http::request<http::string_body>& a,
                 const http::request<http::string_body>& b) {
    return a.method_string() == b.method_string() && a.target() == b.target() &&
           a.version() == b.version() && a.body() == b.body() &&
           std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
               return x.name_string() == y.name_string() && x.value() == y.value();
           });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view wire(reinterpret_cast<const char*>(data), size);
    auto raw = Read(wire, std::max<size_t>(1, size));
    auto in_pieces = Read(wire, 1 + size % 61);
    // Beast checks the head's limit at points that depend on how the bytes arrive: within a few
    // bytes of it one split may be refused and another read. Below it, every split must agree.
    const bool near_the_limit = size + 8 >= Limits().max_header_bytes;
    if ((raw.has_value() != in_pieces.has_value() && !near_the_limit) ||
        (raw && in_pieces && !SameRequest(*raw, *in_pieces))) {
        fuzz::Broken("any split of the bytes reads the same request", wire);
    }
    if (!raw) return 0;

    api::HttpRequest request;
    request.method = std::string(raw->method_string());
    request.authorization = std::string((*raw)[http::field::authorization]);
    request.content_type = std::string((*raw)[http::field::content_type]);
    request.last_event_id = std::string((*raw)["last-event-id"]);
    if (Status parsed = api::ParseRequestTarget(raw->target(), request); !parsed) {
        fuzz::CheckWritesStrictJson(api::ErrorResponse(parsed.error()).body);
        return 0;
    }
    if (raw->body().size() > Limits().max_body_bytes) {
        fuzz::Broken("bodies are within the limit", wire);
    }
    request.body = std::move(raw->body());
    (void)request.QueryValues("page_size", "pageSize");
    api::RouteMatch match = Routes().Match(request.method, request.segments);
    if (match.route != nullptr) {
        const auto& pattern = match.route->pattern;
        const auto parameters = std::count_if(pattern.begin(), pattern.end(),
                                              [](const auto& p) { return p.starts_with("{}"); });
        if (match.params.size() != size_t(parameters)) {
            fuzz::Broken("a route match has one value per parameter", wire);
        }
        for (const auto& value : match.params) {
            if (value.empty()) fuzz::Broken("path parameters are not empty", wire);
        }
    }
    return 0;
}
