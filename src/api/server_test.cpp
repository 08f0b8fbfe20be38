#include "api/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <string>
#include <thread>

namespace noderepair::api {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A server on a free loopback port that answers every request it parses with 200.
class ServerOnLoopback {
public:
    ServerOnLoopback()
        : server_({.listen = "127.0.0.1:0", .io_threads = 1},
                  [](HttpRequest&&, Responder respond) { respond(JsonResponse("{}")); }) {
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

private:
    HttpServer server_;
    uint16_t port_ = 0;
    std::thread thread_;
};

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

}  // namespace
}  // namespace noderepair::api
