#include "cli/http_client.hpp"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <optional>

#include "common/ids.hpp"

namespace noderepair::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string Lower(std::string_view text) {
    std::string out;
    for (char c : text) out.push_back(char(std::tolower(static_cast<unsigned char>(c))));
    return out;
}

std::string Seconds(std::chrono::milliseconds d) {
    auto ms = d.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

constexpr uint64_t kMaxReplyBytes = 64ull << 20;

}  // namespace

Result<ServerUrl> ParseServerUrl(std::string_view text) {
    const std::string given(text);
    std::string with_scheme = given.find("://") == std::string::npos ? "http://" + given : given;
    auto url = boost::urls::parse_uri(with_scheme);
    if (!url || url->encoded_host().empty()) {
        return InvalidArgument("--server '" + given + "' is not a URL such as http://HOST:PORT");
    }
    const std::string scheme = Lower(url->scheme());
    if (scheme == "https") {
        return InvalidArgument(
            "https is not supported; put the CLI next to the server or use a TLS-terminating "
            "tunnel");
    }
    if (scheme != "http") {
        return InvalidArgument("--server '" + given + "' must start with http://");
    }
    if (url->has_userinfo() || url->has_query() || url->has_fragment()) {
        return InvalidArgument("--server '" + given +
                               "' must be http://HOST[:PORT][/PREFIX] (no user, query or "
                               "fragment)");
    }
    ServerUrl out;
    out.host = url->host_address();
    out.port = url->has_port() ? std::string(url->port()) : "80";
    if (out.port.empty()) out.port = "80";
    out.base_path = std::string(url->encoded_path());
    while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
    out.text = given;
    return out;
}

std::string EncodeUrlComponent(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 15]);
        }
    }
    return out;
}

struct HttpClient::Impl {
    ServerUrl server;
    std::string token;
    HttpClientOptions options;
    asio::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    // Runs the io_context until the operation just started completes; the stream's own
    // timer bounds it.
    void Run() {
        ioc.restart();
        ioc.run();
    }

    Error Broken(const beast::error_code& ec, std::chrono::milliseconds timeout) {
        Close();
        if (ec == beast::error::timeout) {
            return {Code::kDeadlineExceeded,
                    "no answer from server at " + server.text + " within " + Seconds(timeout)};
        }
        return Unavailable("connection to server at " + server.text + " failed: " + ec.message());
    }

    Status Connect() {
        Close();
        beast::error_code ec;
        tcp::resolver resolver(ioc);
        auto endpoints = resolver.resolve(server.host, server.port, ec);
        if (ec) return Unavailable("cannot reach server at " + server.text + ": " + ec.message());
        stream.emplace(ioc);
        stream->expires_after(options.connect_timeout);
        stream->async_connect(endpoints,
                              [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
        Run();
        if (ec) {
            Close();
            std::string why = ec == beast::error::timeout
                                  ? "no connection within " + Seconds(options.connect_timeout)
                                  : ec.message();
            return Unavailable("cannot reach server at " + server.text + ": " + why);
        }
        stream->socket().set_option(tcp::no_delay(true), ec);
        buffer.clear();
        return OkStatus();
    }

    void Close() {
        if (!stream) return;
        beast::error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream->close();
        stream.reset();
        buffer.clear();
    }

    Status Write(std::string_view method, std::string_view target, std::string_view body,
                 const HttpHeaders& headers, const std::string& request_id) {
        http::request<http::string_body> req;
        req.method_string(method);
        req.target(server.base_path + std::string(target));
        req.version(11);
        const bool v6 = server.host.find(':') != std::string::npos;
        req.set(http::field::host,
                (v6 ? "[" + server.host + "]" : server.host) + ":" + server.port);
        req.set(http::field::user_agent, "noderepair-cli");
        req.set(http::field::accept, "application/json");
        req.set("x-request-id", request_id);
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
        for (const auto& [name, value] : headers) req.set(name, value);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = std::string(body);
        }
        req.keep_alive(true);
        req.prepare_payload();
        beast::error_code ec;
        stream->expires_after(options.request_timeout);
        http::async_write(*stream, req, [&ec](beast::error_code e, size_t) { ec = e; });
        Run();
        if (ec) return Broken(ec, options.request_timeout);
        return OkStatus();
    }

    template <class Parser>
    HttpReply ReplyOf(Parser& parser, const std::string& request_id) {
        auto& res = parser.get();
        HttpReply reply;
        reply.status = int(res.result_int());
        reply.content_type = std::string(res[http::field::content_type]);
        auto id = res["x-request-id"];
        reply.request_id = id.empty() ? request_id : std::string(id);
        return reply;
    }

    Result<HttpReply> ReadWhole(http::response_parser<http::string_body>& parser,
                                const std::string& request_id) {
        parser.body_limit(kMaxReplyBytes);
        beast::error_code ec;
        stream->expires_after(options.request_timeout);
        http::async_read(*stream, buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
        Run();
        if (ec) return Broken(ec, options.request_timeout);
        HttpReply reply = ReplyOf(parser, request_id);
        reply.body = std::move(parser.get().body());
        if (!parser.get().keep_alive()) Close();
        return reply;
    }

    Result<HttpReply> Exchange(std::string_view method, std::string_view target,
                               std::string_view body, const std::string& request_id) {
        NR_RETURN_IF_ERROR(Write(method, target, body, {}, request_id));
        http::response_parser<http::string_body> parser;
        return ReadWhole(parser, request_id);
    }
};

HttpClient::HttpClient(ServerUrl server, std::string token, HttpClientOptions options)
    : impl_(std::make_unique<Impl>()) {
    impl_->server = std::move(server);
    impl_->token = std::move(token);
    impl_->options = options;
}

HttpClient::~HttpClient() { impl_->Close(); }

const ServerUrl& HttpClient::server() const { return impl_->server; }

Result<HttpReply> HttpClient::Send(std::string_view method, std::string_view target,
                                   std::string_view body) {
    const std::string request_id = RandomHex(8);
    const bool reused = impl_->stream.has_value();
    if (!reused) NR_RETURN_IF_ERROR(impl_->Connect());
    auto reply = impl_->Exchange(method, target, body, request_id);
    // A kept-alive connection may have been closed by the server while idle; a GET is safe to
    // send again on a new one.
    if (!reply && reused && method == "GET" && reply.error().code == Code::kUnavailable) {
        NR_RETURN_IF_ERROR(impl_->Connect());
        return impl_->Exchange(method, target, body, request_id);
    }
    return reply;
}

Result<HttpReply> HttpClient::Stream(std::string_view target, const HttpHeaders& headers,
                                     std::chrono::milliseconds idle_timeout,
                                     const std::function<bool(std::string_view)>& on_data) {
    Impl& m = *impl_;
    const std::string request_id = RandomHex(8);
    NR_RETURN_IF_ERROR(m.Connect());
    HttpHeaders all = headers;
    all.emplace_back("accept", "text/event-stream");
    all.emplace_back("cache-control", "no-cache");
    NR_RETURN_IF_ERROR(m.Write("GET", target, {}, all, request_id));

    beast::error_code ec;
    http::response_parser<http::empty_body> head;
    m.stream->expires_after(m.options.request_timeout);
    http::async_read_header(*m.stream, m.buffer, head,
                            [&ec](beast::error_code e, size_t) { ec = e; });
    m.Run();
    if (ec) return m.Broken(ec, m.options.request_timeout);
    if (head.get().result_int() != 200) {
        http::response_parser<http::string_body> whole(std::move(head));
        return m.ReadWhole(whole, request_id);
    }

    http::response_parser<http::buffer_body> body(std::move(head));
    body.body_limit(boost::none);
    HttpReply reply = m.ReplyOf(body, request_id);
    std::array<char, 16384> chunk;
    while (!body.is_done()) {
        body.get().body().data = chunk.data();
        body.get().body().size = chunk.size();
        m.stream->expires_after(idle_timeout);
        http::async_read_some(*m.stream, m.buffer, body,
                              [&ec](beast::error_code e, size_t) { ec = e; });
        m.Run();
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return m.Broken(ec, idle_timeout);
        const size_t n = chunk.size() - body.get().body().size;
        if (n > 0 && !on_data(std::string_view(chunk.data(), n))) break;
    }
    m.Close();
    return reply;
}

}  // namespace noderepair::cli
