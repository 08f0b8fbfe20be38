// A small synchronous HTTP/1.1 client for the client verbs, plain or HTTPS: one connection to
// one server, kept alive across requests, every step bounded by a timeout. Beast stays inside
// http_client.cpp (it compiles slowly; docs/design.md 6). Used by one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace noderepair::cli {

struct ServerUrl {
    std::string host;       // a name or an address; IPv6 without brackets
    std::string port;       // "8080"; 80 (443 with https) when the URL names none
    std::string base_path;  // "" or a prefix such as "/noderepair" (no trailing '/')
    std::string text;       // as given, for messages
    bool tls = false;       // https: the server's certificate is verified, its name too
    // PEM certificates that may sign the server's (--cacert); empty: the system's.
    std::string cacert_file;
};

// `http[s]://HOST[:PORT][/PREFIX]`; a bare `HOST:PORT` means http.
Result<ServerUrl> ParseServerUrl(std::string_view text);

// Percent-encodes one path segment or query value (everything but RFC 3986 unreserved).
std::string EncodeUrlComponent(std::string_view text);

struct HttpReply {
    int status = 0;
    std::string body;
    std::string content_type;
    std::string request_id;  // the response's x-request-id, else the one the client sent
};

struct HttpClientOptions {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{60'000};
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
public:
    // An empty token sends no Authorization header (the server then says why it refuses).
    HttpClient(ServerUrl server, std::string token, HttpClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // One request; `target` is the path after the base path, with its query ("/v1/engine").
    // A non-empty body is sent as JSON. Any HTTP status is a reply; Unavailable when the
    // server cannot be reached or the connection breaks, DeadlineExceeded on a timeout.
    Result<HttpReply> Send(std::string_view method, std::string_view target,
                           std::string_view body = {});

    // GET `target` on a connection of its own and hand the body of a 200 to `on_data` piece by
    // piece as it arrives, until on_data returns false or the server ends the response (both
    // return the 200 with an empty body). Nothing arriving for `idle_timeout` is
    // DeadlineExceeded. Any other status comes back whole, as from Send.
    Result<HttpReply> Stream(std::string_view target, const HttpHeaders& headers,
                             std::chrono::milliseconds idle_timeout,
                             const std::function<bool(std::string_view)>& on_data);

    const ServerUrl& server() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace noderepair::cli
