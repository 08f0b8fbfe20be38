// The HTTP/1.1 server (Boost.Beast): keep-alive, pipelining, size limits and timeouts, plain or
// HTTPS (OpenSSL), a bounded number of connections and a deadline for every answer. I/O threads
// only parse and write; requests go to the handler, whose Responder may be called from any
// thread. Owned by `serve`; Run() blocks until Shutdown() drains it.
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
    // docs/http-api.md 10: with both set the listener speaks HTTPS only, TLS 1.2 or later.
    std::string tls_cert_file;  // PEM, the certificate chain
    std::string tls_key_file;   // PEM, unencrypted
    // A client that has not finished its TLS handshake by then is disconnected.
    std::chrono::seconds handshake_timeout{10};
    // Connections served at once (docs/http-api.md 10). The next ones, up to as many again, get
    // their request answered with 503 (or `health_path`, so monitors see the server alive) and
    // are closed; past twice this a new connection is closed at once.
    size_t max_connections = 4096;
    std::string health_path = "/healthz";
    // A request not answered by then gets 504 from the server itself; the handler's late answer
    // is dropped. The request carries it (HttpRequest::deadline) so that queued work can skip.
    std::chrono::milliseconds handler_deadline{30000};
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
    // Reads the certificate and key files again: new connections use them, open ones keep the
    // ones they started with. When the files are unreadable, not PEM or do not match, the error
    // says why and the certificate in use stays. FailedPrecondition when TLS is not configured.
    // Safe to call from any thread.
    Status ReloadTls();
    bool UsesTls() const;

    // The Asio state, shared with the connections in server.cpp.
    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace noderepair::api
