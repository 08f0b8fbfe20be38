#include "api/server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "storage/store_contract_test.hpp"

namespace noderepair::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void AnswerOk(HttpRequest&&, Responder respond) { respond(JsonResponse("{}")); }

// A server on a free loopback port; by default it answers every request it parses with 200.
class ServerOnLoopback {
public:
    explicit ServerOnLoopback(ServerOptions options = {}, Handler handler = AnswerOk)
        : server_(WithLoopback(std::move(options)), std::move(handler)) {
        auto port = server_.Listen();
        EXPECT_TRUE(port) << port.error().message;
        port_ = port ? *port : 0;
        thread_ = std::thread([this] { server_.Run(); });
    }
    ~ServerOnLoopback() {
        server_.Shutdown(std::chrono::milliseconds(0));
        thread_.join();
    }

    // Sends `request` on a new connection and returns the status line of the answer.
    std::string StatusLineFor(const std::string& request) {
        asio::io_context io;
        tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), port_});
        boost::system::error_code ec;
        asio::write(socket, asio::buffer(request), ec);  // the server may answer before the end
        std::string received;
        asio::read_until(socket, asio::dynamic_buffer(received), "\r\n", ec);
        return received.substr(0, received.find("\r\n"));
    }

    // A new connection to the server.
    tcp::socket Connect(asio::io_context& io) const {
        tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), port_});
        return socket;
    }

private:
    static ServerOptions WithLoopback(ServerOptions options) {
        options.listen = "127.0.0.1:0";
        options.io_threads = 1;
        return options;
    }

    HttpServer server_;
    uint16_t port_ = 0;
    std::thread thread_;
};

// Sends a GET of `target` on `socket` and reads the whole answer; an error when the server
// closed the connection instead.
Result<http::response<http::string_body>> Get(tcp::socket& socket, const std::string& target) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    beast::error_code ec;
    http::write(socket, req, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (!ec) http::read(socket, buffer, res, ec);
    if (ec) return Unavailable(ec.message());
    return res;
}

const std::string kChunkedHead =
    "POST /v1/integrations/alertmanager HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

// Beast 1.81 bounds neither a chunk-size line nor the trailers: without a bound on the read
// buffer, a client sending one that never ends grew the server's memory for as long as it sent.
// Found while fixing what fuzz/http_request_fuzzer reported about chunk headers.
TEST(HttpServer, RefusesAChunkSizeLineThatNeverEnds) {
    ServerOnLoopback server;
    const std::string endless_extension = "1;" + std::string(1 << 20, 'e');
    EXPECT_EQ(server.StatusLineFor(kChunkedHead + endless_extension), "HTTP/1.1 400 Bad Request");
}

TEST(HttpServer, RefusesTrailersThatNeverEnd) {
    ServerOnLoopback server;
    const std::string endless_trailer = "0\r\nx-trailer: " + std::string(1 << 20, 't');
    EXPECT_EQ(server.StatusLineFor(kChunkedHead + endless_trailer), "HTTP/1.1 400 Bad Request");
}

TEST(HttpServer, AcceptsChunkExtensionsAndTrailersOfUsualSize) {
    ServerOnLoopback server;
    const std::string body =
        "2;name=value\r\n{}\r\n0\r\nx-trailer: " + std::string(1000, 't') + "\r\n\r\n";
    EXPECT_EQ(server.StatusLineFor(kChunkedHead + body), "HTTP/1.1 200 OK");
}

// docs/http-api.md 10: a handler that does not answer in time costs its client a clear 504,
// not a hung request; its late answer goes nowhere, and the connection serves on.
TEST(HttpServer, AnswersPastTheDeadlineWith504AndDropsTheLateAnswer) {
    std::mutex mu;
    std::vector<Responder> held;
    ServerOnLoopback server({.handler_deadline = std::chrono::milliseconds(200)},
                            [&](HttpRequest&& req, Responder respond) {
                                if (req.segments.size() == 1 && req.segments[0] == "slow") {
                                    std::lock_guard lock(mu);
                                    held.push_back(std::move(respond));
                                    return;
                                }
                                respond(JsonResponse(R"({"fast":true})"));
                            });
    asio::io_context io;
    tcp::socket socket = server.Connect(io);
    auto slow = Get(socket, "/slow");
    ASSERT_TRUE(slow) << slow.error().message;
    EXPECT_EQ(slow->result_int(), 504u);
    EXPECT_NE(slow->body().find("\"code\":4"), std::string::npos) << slow->body();
    EXPECT_NE(slow->body().find("deadline"), std::string::npos) << slow->body();
    {
        std::lock_guard lock(mu);
        ASSERT_EQ(held.size(), 1u);
        held[0](JsonResponse(R"({"late":true})", 200));
    }
    // The late answer is not taken for the next request's.
    auto fast = Get(socket, "/fast");
    ASSERT_TRUE(fast) << fast.error().message;
    EXPECT_EQ(fast->result_int(), 200u);
    EXPECT_EQ(fast->body(), R"({"fast":true})");
    std::lock_guard lock(mu);
    held.clear();  // the responder holds the connection: let it go while the server runs
}

// Sends a GET of `target` on `socket` and waits at most `limit` for the whole answer.
Result<http::response<http::string_body>> GetWithin(asio::io_context& io, tcp::socket& socket,
                                                    const std::string& target,
                                                    std::chrono::milliseconds limit) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    std::optional<beast::error_code> outcome;
    http::async_write(socket, req, [&](beast::error_code ec, size_t) {
        if (ec) {
            outcome = ec;
            return;
        }
        http::async_read(socket, buffer, res,
                         [&](beast::error_code read_ec, size_t) { outcome = read_ec; });
    });
    io.restart();
    io.run_for(limit);
    if (!outcome) {
        socket.cancel();
        io.restart();
        io.run();
        return Error{Code::kDeadlineExceeded, "no answer within the limit"};
    }
    if (*outcome) return Unavailable(outcome->message());
    return res;
}

// The connection's deadline timer is not re-armed by every request: a request that follows an
// answered one on the same connection still gets its own whole deadline, then its 504.
TEST(HttpServer, EachRequestOfAConnectionGetsItsOwnWholeDeadline) {
    constexpr auto kDeadline = std::chrono::milliseconds(300);
    std::mutex mu;
    std::vector<Responder> held;
    ServerOnLoopback server({.handler_deadline = kDeadline},
                            [&](HttpRequest&& req, Responder respond) {
                                if (req.segments.size() == 1 && req.segments[0] == "slow") {
                                    std::lock_guard lock(mu);
                                    held.push_back(std::move(respond));
                                    return;
                                }
                                respond(JsonResponse("{}"));
                            });
    asio::io_context io;
    tcp::socket socket = server.Connect(io);
    const auto first_sent = std::chrono::steady_clock::now();
    auto fast = GetWithin(io, socket, "/fast", std::chrono::seconds(5));
    ASSERT_TRUE(fast) << fast.error().message;
    EXPECT_EQ(fast->result_int(), 200u);
    // The second request starts halfway through the first one's deadline.
    std::this_thread::sleep_until(first_sent + kDeadline / 2);
    const auto slow_sent = std::chrono::steady_clock::now();
    auto slow = GetWithin(io, socket, "/slow", std::chrono::seconds(5));
    const auto waited = std::chrono::steady_clock::now() - slow_sent;
    ASSERT_TRUE(slow) << slow.error().message;
    EXPECT_EQ(slow->result_int(), 504u);
    EXPECT_GE(waited, kDeadline);
    std::lock_guard lock(mu);
    held.clear();
}

// Reads from `socket` until the end of a response head; returns the head.
std::string ReadHead(tcp::socket& socket, std::string& received) {
    boost::system::error_code ec;
    const size_t end = asio::read_until(socket, asio::dynamic_buffer(received), "\r\n\r\n", ec);
    std::string head = received.substr(0, end);
    received.erase(0, end);
    return head;
}

size_t Count(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

// docs/http-api.md 10: the headers of every response, a response's own header overriding one of
// the same name, the body's length, and keep-alive said where HTTP/1.0 needs it said.
TEST(HttpServer, WritesTheHeadersOfEveryResponseAndTheResponsesOwn) {
    ServerOnLoopback server({}, [](HttpRequest&& req, Responder respond) {
        HttpResponse response = JsonResponse(R"({"made":true})", 201);
        if (!req.segments.empty() && req.segments[0] == "cached") {
            response.headers.emplace_back("Cache-Control", "max-age=5");
        }
        respond(std::move(response));
    });
    asio::io_context io;
    tcp::socket socket = server.Connect(io);
    asio::write(socket, asio::buffer(std::string("GET /cached HTTP/1.1\r\nHost: h\r\n"
                                                 "X-Request-Id: my-request-7\r\n\r\n")));
    std::string received;
    std::string head = ReadHead(socket, received);
    EXPECT_EQ(head.substr(0, head.find("\r\n")), "HTTP/1.1 201 Created");
    EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nx-request-id: my-request-7\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nx-content-type-options: nosniff\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nCache-Control: max-age=5\r\n"), std::string::npos) << head;
    std::string lower = head;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(Count(lower, "cache-control:"), 1u) << head;  // the response's own won
    EXPECT_NE(head.find("\r\nContent-Length: 13\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Connection:"), std::string::npos) << head;  // HTTP/1.1 keeps it open

    // HTTP/1.0 asking to keep the connection: told so, and the connection serves again.
    asio::write(socket, asio::buffer(std::string("GET /plain HTTP/1.0\r\nConnection: "
                                                 "keep-alive\r\n\r\n")));
    received.erase(0, std::min<size_t>(received.size(), 13));  // the first answer's body
    head = ReadHead(socket, received);
    EXPECT_EQ(head.substr(0, head.find("\r\n")), "HTTP/1.0 201 Created");
    EXPECT_NE(head.find("\r\ncache-control: no-store\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << head;
    received.erase(0, std::min<size_t>(received.size(), 13));

    // HTTP/1.1 asking to close: told so.
    asio::write(socket, asio::buffer(std::string("GET /plain HTTP/1.1\r\nHost: h\r\n"
                                                 "Connection: close\r\n\r\n")));
    head = ReadHead(socket, received);
    EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
}

// A server with room for one connection, and that connection, served once.
struct FullServer {
    FullServer() {
        auto served = Get(first, "/v1/engine");
        EXPECT_TRUE(served && served->result_int() == 200u);
    }
    // A GET on a connection of its own, over the limit; the server closes it after its answer.
    Result<http::response<http::string_body>> GetOverTheLimit(const std::string& target) {
        tcp::socket socket = server.Connect(io);
        auto answer = Get(socket, target);
        if (answer) {
            EXPECT_FALSE(answer->keep_alive());
        }
        return answer;
    }

    ServerOnLoopback server{{.max_connections = 1}};
    asio::io_context io;
    tcp::socket first = server.Connect(io);
};

// docs/http-api.md 10: past server.max_connections a connection still gets an answer (503 with
// Retry-After, or the health check) and is closed; past twice it, it is closed unread.
TEST(HttpServer, ConnectionsPastTheLimitGet503WithRetryAfter) {
    FullServer full;
    auto refused = full.GetOverTheLimit("/v1/engine");
    ASSERT_TRUE(refused) << refused.error().message;
    EXPECT_EQ(refused->result_int(), 503u);
    EXPECT_EQ((*refused)[http::field::retry_after], "1");
    EXPECT_NE(refused->body().find("\"code\":14"), std::string::npos) << refused->body();
    EXPECT_NE(refused->body().find("max_connections"), std::string::npos) << refused->body();

    // The connection within the limit is served as before.
    auto again = Get(full.first, "/v1/engine");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->result_int(), 200u);
}

// A monitor's probe on a new connection is answered even when the server is full.
TEST(HttpServer, TheHealthCheckIsAnsweredPastTheConnectionLimit) {
    FullServer full;
    auto health = full.GetOverTheLimit("/healthz?from=monitor");
    ASSERT_TRUE(health) << health.error().message;
    EXPECT_EQ(health->result_int(), 200u);
}

TEST(HttpServer, ConnectionsPastTwiceTheLimitAreClosedUnread) {
    FullServer full;
    // Accepted in order: this one is over the limit and waits for its request.
    tcp::socket second = full.server.Connect(full.io);
    tcp::socket third = full.server.Connect(full.io);
    auto closed = Get(third, "/healthz");
    EXPECT_FALSE(closed) << "answered " << closed->result_int();
    auto refused = Get(second, "/a");
    ASSERT_TRUE(refused) << refused.error().message;
    EXPECT_EQ(refused->result_int(), 503u);
}

TEST(HttpServer, ListenRefusesACertificateItCannotUse) {
    storage::test_support::ScopedTempDir dir;
    const std::string not_pem = dir.path() + "/not.pem";
    std::ofstream(not_pem) << "this is not a certificate\n";
    for (const auto& [cert, key, expected] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {dir.path() + "/missing.pem", not_pem, "cannot read TLS certificate"},
             {not_pem, not_pem, "is not a PEM certificate"},
             {not_pem, "", "needs both cert_file and key_file"}}) {
        HttpServer server({.listen = "127.0.0.1:0", .tls_cert_file = cert, .tls_key_file = key},
                          AnswerOk);
        auto port = server.Listen();
        ASSERT_FALSE(port) << cert;
        EXPECT_NE(port.error().message.find(expected), std::string::npos) << port.error().message;
    }
    HttpServer plain({.listen = "127.0.0.1:0"}, AnswerOk);
    Status reloaded = plain.ReloadTls();
    ASSERT_FALSE(reloaded.ok());
    EXPECT_EQ(reloaded.error().code, Code::kFailedPrecondition);
}

// A self-signed certificate for 127.0.0.1 made with the openssl command; false without it.
bool MakeCertificate(const std::string& dir) {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
        "-nodes -days 1 -subj /CN=127.0.0.1 -keyout '" +
        dir + "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
}

// The handshake is asynchronous and bounded: a client that connects and says nothing, or speaks
// plain HTTP, is disconnected, and holds no I/O thread meanwhile (the one here serves others).
TEST(HttpServer, TlsCutsOffASilentHandshakeAndRefusesPlainHttp) {
    storage::test_support::ScopedTempDir dir;
    if (!MakeCertificate(dir.path())) GTEST_SKIP() << "no openssl command";
    ServerOnLoopback server({.tls_cert_file = dir.path() + "/cert.pem",
                             .tls_key_file = dir.path() + "/key.pem",
                             .handshake_timeout = std::chrono::seconds(1)});
    asio::io_context io;
    tcp::socket silent = server.Connect(io);
    tcp::socket plain = server.Connect(io);
    EXPECT_FALSE(Get(plain, "/healthz"));
    const auto began = std::chrono::steady_clock::now();
    std::array<char, 16> scratch;
    beast::error_code ec;
    silent.read_some(asio::buffer(scratch), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
}

}  // namespace
}  // namespace noderepair::api
