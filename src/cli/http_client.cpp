#include "cli/http_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <fstream>
#include <optional>

#include "common/ids.hpp"

namespace noderepair::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
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
    if (scheme != "http" && scheme != "https") {
        return InvalidArgument("--server '" + given + "' must start with http:// or https://");
    }
    if (url->has_userinfo() || url->has_query() || url->has_fragment()) {
        return InvalidArgument("--server '" + given +
                               "' must be http[s]://HOST[:PORT][/PREFIX] (no user, query or "
                               "fragment)");
    }
    ServerUrl out;
    out.tls = scheme == "https";
    const std::string default_port = out.tls ? "443" : "80";
    out.host = url->host_address();
    out.port = url->has_port() ? std::string(url->port()) : default_port;
    if (out.port.empty()) out.port = default_port;
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
    std::optional<ssl::context> tls_context;  // made for the first https connection
    // The open connection, if any: one of the two.
    std::optional<beast::tcp_stream> stream;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
    beast::flat_buffer buffer;

    bool Connected() const { return stream.has_value() || tls_stream.has_value(); }
    beast::tcp_stream& Tcp() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *stream; }

    // Starts `op` on whichever stream is open.
    template <class Op>
    void With(Op&& op) {
        if (tls_stream) {
            op(*tls_stream);
        } else {
            op(*stream);
        }
    }

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

    // docs/http-api.md 10: the server's certificate must chain to --cacert (or to the system's
    // roots) and name the host the URL names.
    Status MakeTlsContext() {
        if (tls_context) return OkStatus();
        // Asio throws when OpenSSL cannot make a context at all (docs/design.md 4: wrapped here).
        try {
            tls_context.emplace(ssl::context::tls_client);
        } catch (const std::exception& e) {
            return Internal(std::string("cannot make a TLS context: ") + e.what());
        }
        SSL_CTX_set_min_proto_version(tls_context->native_handle(), TLS1_2_VERSION);
        beast::error_code ec;
        tls_context->set_verify_mode(ssl::verify_peer, ec);
        if (!ec && server.cacert_file.empty()) tls_context->set_default_verify_paths(ec);
        Status trusted = [&]() -> Status {
            if (ec) return Internal("cannot set up TLS: " + ec.message());
            if (server.cacert_file.empty()) return OkStatus();
            if (!std::ifstream(server.cacert_file, std::ios::binary).good()) {
                return InvalidArgument("cannot read --cacert " + server.cacert_file);
            }
            tls_context->load_verify_file(server.cacert_file, ec);
            if (ec) {
                ERR_clear_error();
                return InvalidArgument("--cacert " + server.cacert_file +
                                       " holds no PEM certificate: " + ec.message());
            }
            return OkStatus();
        }();
        // A context without its trust anchors is never used.
        if (!trusted) tls_context.reset();
        return trusted;
    }

    Status Handshake() {
        SSL* native = tls_stream->native_handle();
        beast::error_code ec;
        asio::ip::make_address(server.host, ec);
        const bool is_address = !ec;
        // The certificate must name what the URL names. A name also goes in the handshake (SNI)
        // so that a server with several certificates picks the right one; an address may not.
        const int named =
            is_address ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), server.host.c_str())
                       : SSL_set1_host(native, server.host.c_str()) == 1 &&
                             SSL_set_tlsext_host_name(native, server.host.c_str()) == 1;
        if (named != 1) {
            ERR_clear_error();
            return InvalidArgument("cannot check the server's certificate against " + server.host);
        }
        ec = {};
        Tcp().expires_after(options.connect_timeout);
        tls_stream->async_handshake(ssl::stream_base::client,
                                    [&ec](beast::error_code e) { ec = e; });
        Run();
        if (!ec) return OkStatus();
        std::string why = ec == beast::error::timeout
                              ? "no TLS handshake within " + Seconds(options.connect_timeout)
                              : ec.message();
        if (const long verified = SSL_get_verify_result(native); verified != X509_V_OK) {
            why = std::string("the server's certificate was refused: ") +
                  X509_verify_cert_error_string(verified);
            why += server.cacert_file.empty()
                       ? "; pass --cacert FILE with the certificate that signs it"
                       : " (checked against --cacert " + server.cacert_file + ")";
        }
        ERR_clear_error();
        Close();
        return Unavailable("TLS handshake with server at " + server.text + " failed: " + why);
    }

    Status Connect() {
        Close();
        if (server.tls) NR_RETURN_IF_ERROR(MakeTlsContext());
        beast::error_code ec;
        tcp::resolver resolver(ioc);
        auto endpoints = resolver.resolve(server.host, server.port, ec);
        if (ec) return Unavailable("cannot reach server at " + server.text + ": " + ec.message());
        if (server.tls) {
            tls_stream.emplace(ioc, *tls_context);
        } else {
            stream.emplace(ioc);
        }
        Tcp().expires_after(options.connect_timeout);
        Tcp().async_connect(endpoints,
                            [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
        Run();
        if (ec) {
            Close();
            std::string why = ec == beast::error::timeout
                                  ? "no connection within " + Seconds(options.connect_timeout)
                                  : ec.message();
            return Unavailable("cannot reach server at " + server.text + ": " + why);
        }
        Tcp().socket().set_option(tcp::no_delay(true), ec);
        buffer.clear();
        if (server.tls) return Handshake();
        return OkStatus();
    }

    void Close() {
        if (Connected()) {
            beast::error_code ignored;
            Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
            Tcp().close();
        }
        stream.reset();
        tls_stream.reset();
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
        Tcp().expires_after(options.request_timeout);
        With([&](auto& s) {
            http::async_write(s, req, [&ec](beast::error_code e, size_t) { ec = e; });
        });
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
        Tcp().expires_after(options.request_timeout);
        With([&](auto& s) {
            http::async_read(s, buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
        });
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
    const bool reused = impl_->Connected();
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
    m.Tcp().expires_after(m.options.request_timeout);
    m.With([&](auto& s) {
        http::async_read_header(s, m.buffer, head, [&ec](beast::error_code e, size_t) { ec = e; });
    });
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
        m.Tcp().expires_after(idle_timeout);
        m.With([&](auto& s) {
            http::async_read_some(s, m.buffer, body,
                                  [&ec](beast::error_code e, size_t) { ec = e; });
        });
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
