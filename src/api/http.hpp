// HTTP requests and responses as plain data, so handlers never include Beast (it compiles
// slowly; docs/design.md 6). The server owns the wire; the router and handlers own the meaning.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace noderepair::api {

struct HttpRequest {
    std::string method;                                      // "GET", "POST", ...
    std::vector<std::string> segments;                       // percent-decoded path segments
    std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
    std::string authorization;
    std::string content_type;
    std::string body;
    std::string request_id;
    std::string last_event_id;  // the Last-Event-ID header of a reconnecting event stream
    // Past it the server has answered 504 itself (ServerOptions::handler_deadline): work that
    // has not started by then is not worth starting. The epoch: no deadline.
    std::chrono::steady_clock::time_point deadline{};

    // Every value of a query parameter, under any of its spellings (docs/http-api.md 4.3).
    std::vector<std::string> QueryValues(std::string_view name, std::string_view alias = {}) const;
};

// The open body of a streaming response (server-sent events). Thread-safe.
class ResponseStream {
public:
    virtual ~ResponseStream() = default;
    // Queues `data` to be sent as it is. False once the stream is closed (the client left,
    // fell too far behind, or the server stops): the producer should then drop it.
    virtual bool Send(std::string data) = 0;
    virtual bool IsClosed() const = 0;
};

// A response whose body is written over time, until the client leaves.
struct StreamingBody {
    // Called on an I/O thread once the head is sent, with the stream to write to.
    std::function<void(std::shared_ptr<ResponseStream>)> open;
    std::string heartbeat;  // sent every `heartbeat_interval`, so proxies keep it open
    std::chrono::milliseconds heartbeat_interval{15000};
};

struct HttpResponse {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<StreamingBody> stream;  // set: `body` is ignored and the stream follows
};

// docs/http-api.md 10: sent with every response, refusals and event streams too, before the
// response's own headers (which win over a header of the same name).
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 2>
    kEveryResponseHeaders = {
        {{"cache-control", "no-store"}, {"x-content-type-options", "nosniff"}}};

// Sends the response for one request. Callable from any thread, exactly once.
using Responder = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest&&, Responder)>;

// docs/http-api.md 3: the grpc-gateway mapping; the only switch over codes.
int HttpStatusFor(Code code);
// A google.rpc.Status body with the mapped status and, when retrying cannot help,
// `x-should-retry: false`; UNAVAILABLE (a bound is full, docs/http-api.md 10) says `Retry-After`.
HttpResponse ErrorResponse(const Error& error);
HttpResponse JsonResponse(std::string body, int status = 200);

}  // namespace noderepair::api
