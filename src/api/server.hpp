// The HTTP/1.1 server (Boost.Beast): keep-alive, pipelining, size limits and timeouts.
// I/O threads only parse and write; requests go to the handler, whose Responder may be
// called from any thread. Owned by `serve`; Run() blocks until Shutdown() drains it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "common/status.hpp"

namespace noderepair::api {

struct ServerOptions {
    std::string listen = "127.0.0.1:8080";
    int io_threads = 2;
    size_t max_body_bytes = 1 << 20;  // docs/http-api.md 3: over 1 MiB is 413
    size_t max_header_bytes = 16 << 10;
    // What one connection holds read but not yet parsed: a request head and a read's worth
    // more. Beast 1.81 bounds neither a chunk-size line (with its extensions) nor the trailers;
    // past this they are refused as malformed instead of growing the buffer.
    size_t max_unparsed_bytes = (16 << 10) + (64 << 10);
    std::chrono::seconds read_timeout{30};  // a whole request head, or its body
    std::chrono::seconds write_timeout{30};
    // Told about each request the server refuses itself, before any handler (too large,
    // malformed): its method once the request line was read (else empty), status, request id.
    std::function<void(std::string_view method, int status, std::string_view request_id)>
        on_refused;
};

class HttpServer {
public:
    HttpServer(ServerOptions options, Handler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens; returns the bound port (useful with port 0).
    Result<uint16_t> Listen();
    // Serves on the I/O threads until Shutdown() has drained in-flight requests.
    void Run();
    // Stops accepting, lets in-flight requests finish (up to `grace`), then stops Run().
    // Safe to call from any thread or a signal watcher.
    void Shutdown(std::chrono::milliseconds grace);

    // The Asio state, shared with the connections in server.cpp.
    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace noderepair::api
