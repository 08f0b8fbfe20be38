#include "api/server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
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
