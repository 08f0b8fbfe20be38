#include "api/server.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "api/request_target.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/thread_name.hpp"

namespace noderepair::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

HttpResponse PlainError(Code code, std::string message, int status) {
    HttpResponse r = ErrorResponse(Error{code, std::move(message)});
    r.status = status;
    r.headers.clear();
    r.headers.emplace_back("x-should-retry", "false");
    return r;
}

std::string Seconds(std::chrono::milliseconds d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s"
                                 : std::to_string(d.count()) + " ms";
}

bool Readable(const std::string& path) { return std::ifstream(path, std::ios::binary).good(); }

// The last OpenSSL error's reason ("no start line", "key values mismatch"), for a log line.
std::string OpenSslReason(const beast::error_code& ec) {
    const char* reason = ERR_reason_error_string(ERR_peek_last_error());
    ERR_clear_error();
    return reason != nullptr ? reason : ec.message();
}

// A server context for TLS 1.2 or later with the certificate chain and key of these files.
Result<std::shared_ptr<ssl::context>> LoadTlsContext(const std::string& cert_file,
                                                     const std::string& key_file) {
    if (!Readable(cert_file)) return InvalidArgument("cannot read TLS certificate " + cert_file);
    if (!Readable(key_file)) return InvalidArgument("cannot read TLS key " + key_file);
    std::shared_ptr<ssl::context> context;
    // Asio throws when OpenSSL cannot make a context at all (docs/design.md 4: wrapped here).
    try {
        context = std::make_shared<ssl::context>(ssl::context::tls_server);
    } catch (const std::exception& e) {
        return Internal(std::string("cannot make a TLS context: ") + e.what());
    }
    SSL_CTX* native = context->native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
        return Internal("cannot require TLS 1.2 or later");
    }
    beast::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::single_dh_use,
                         ec);
    // An encrypted key would make OpenSSL prompt on the terminal: answer with no passphrase.
    if (!ec)
        context->set_password_callback(
            [](size_t, ssl::context::password_purpose) { return std::string(); }, ec);
    if (ec) return Internal("cannot set up TLS: " + ec.message());
    context->use_certificate_chain_file(cert_file, ec);
    if (ec) {
        return InvalidArgument("TLS certificate " + cert_file +
                               " is not a PEM certificate: " + OpenSslReason(ec));
    }
    const std::string mismatch =
        "TLS key " + key_file + " does not match the certificate " + cert_file;
    context->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) {
        // OpenSSL checks the pair here already; say so the same way as the check below.
        const std::string reason = OpenSslReason(ec);
        if (reason.find("mismatch") != std::string::npos) return InvalidArgument(mismatch);
        return InvalidArgument("TLS key " + key_file + " is not an unencrypted PEM key: " + reason);
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        ERR_clear_error();
        return InvalidArgument(mismatch);
    }
    return context;
}

bool SameHeaderName(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The head of a response with its whole body, written by hand: Beast's fields and serializer
// allocated a node per header and walked a chain of buffer views for every response. The
// same headers Beast wrote (docs/http-api.md 10): the content type and the request id, then
// kEveryResponseHeaders, then the response's own, each overriding an earlier one of its name;
// the body's length; and the connection's fate where the version does not imply it.
std::string ResponseHead(const HttpResponse& response, unsigned version,
                         std::string_view request_id, bool close) {
    const auto& own = response.headers;
    auto overridden = [&](std::string_view name, size_t from) {
        return std::any_of(own.begin() + std::ptrdiff_t(from), own.end(),
                           [&](const auto& header) { return SameHeaderName(header.first, name); });
    };
    std::string head;
    head.reserve(256);
    auto add = [&head](std::string_view name, std::string_view value) {
        head.append(name).append(": ").append(value).append("\r\n");
    };
    head.append("HTTP/")
        .append(std::to_string(version / 10))
        .append(".")
        .append(std::to_string(version % 10))
        .append(" ")
        .append(std::to_string(response.status))
        .append(" ")
        .append(http::obsolete_reason(http::status(unsigned(response.status))))
        .append("\r\n");
    if (!overridden("content-type", 0)) add("Content-Type", response.content_type);
    if (!overridden("x-request-id", 0)) add("x-request-id", request_id);
    for (const auto& [name, value] : kEveryResponseHeaders) {
        if (!overridden(name, 0)) add(name, value);
    }
    for (size_t i = 0; i < own.size(); ++i) {
        if (!overridden(own[i].first, i + 1)) add(own[i].first, own[i].second);
    }
    // RFC 9110 8.6: no length on a 1xx, 204 or 304, whose bodies are empty by definition.
    const int status = response.status;
    if (status >= 200 && status != 204 && status != 304) {
        add("Content-Length", std::to_string(response.body.size()));
    }
    if (close && version >= 11) add("Connection", "close");
    if (!close && version < 11) add("Connection", "keep-alive");
    head.append("\r\n");
    return head;
}

}  // namespace

struct HttpServer::Impl {
    ServerOptions options;
    Handler handler;
    // Sessions alive, over the limit or not. Shared: a session kept by a late responder may be
    // destroyed after the server.
    std::shared_ptr<std::atomic<size_t>> connections = std::make_shared<std::atomic<size_t>>(0);
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::atomic<bool> stopping{false};
    std::atomic<int64_t> in_flight{0};
    asio::steady_timer drain_timer{ioc};
    asio::steady_timer accept_pause{ioc};

    // What new connections handshake with; null: plain HTTP. Swapped by ReloadTls().
    mutable std::mutex tls_mu;
    std::shared_ptr<ssl::context> tls_context;

    Impl(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

    std::shared_ptr<ssl::context> TlsContext() const {
        std::lock_guard lock(tls_mu);
        return tls_context;
    }

    void Accept();
    void Admit(tcp::socket socket);
    void WaitForDrain(std::chrono::steady_clock::time_point deadline);
};

namespace {

// One connection, plain (PlainStream) or HTTPS (TlsStream). Reads one request at a time;
// pipelined requests wait in the buffer, so responses go out in order. Every handler of a
// session runs on its strand.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
public:
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

    // `over_limit`: accepted past ServerOptions::max_connections; one request is answered.
    Session(tcp::socket socket, HttpServer::Impl& server, bool over_limit) requires(!kTls)
        : stream_(std::move(socket)),
          server_(server),
          connections_(server.connections),
          over_limit_(over_limit) {
        ++*connections_;
    }
    Session(tcp::socket socket, std::shared_ptr<ssl::context> tls, HttpServer::Impl& server,
            bool over_limit) requires(kTls)
        : tls_(std::move(tls)),
          stream_(std::move(socket), *tls_),
          server_(server),
          connections_(server.connections),
          over_limit_(over_limit) {
        ++*connections_;
    }
    ~Session() { --*connections_; }

    void Start() {
        if constexpr (kTls) {
            // Asynchronous like every other step, and bounded: a client that connects and
            // stays silent (or speaks plain HTTP) holds no I/O thread and is closed.
            Tcp().expires_after(server_.options.handshake_timeout);
            stream_.async_handshake(ssl::stream_base::server,
                                    [self = Self()](beast::error_code ec) {
                                        if (ec) return self->Close();
                                        self->ReadHeader();
                                    });
        } else {
            ReadHeader();
        }
    }

private:
    std::shared_ptr<Session> Self() { return this->shared_from_this(); }
    beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

    std::chrono::seconds ReadTimeout() const {
        // A connection over the limit gets little time to say what it wants.
        constexpr std::chrono::seconds kOverLimitReadTimeout{5};
        return over_limit_ ? std::min(server_.options.read_timeout, kOverLimitReadTimeout)
                           : server_.options.read_timeout;
    }

    void ReadHeader() {
        parser_.emplace();
        parser_->header_limit(std::uint32_t(server_.options.max_header_bytes));
        parser_->body_limit(server_.options.max_body_bytes);
        Tcp().expires_after(ReadTimeout());
        http::async_read_header(
            stream_, buffer_, *parser_,
            [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
    }

    void OnHeader(beast::error_code ec) {
        if (ec) return OnReadError(ec);
        // From here on the request is in flight: a shutdown waits for its reply.
        BeginRequest();
        auto& req = parser_->get();
        if (over_limit_) {
            // Only the health check is served past the limit; the connection ends after it.
            close_after_write_ = true;
            const std::string_view target = req.target();
            if (target.substr(0, target.find('?')) != server_.options.health_path) {
                return ReplyAndClose(ErrorResponse(Unavailable(
                    "the server has too many open connections (server.max_connections is " +
                    std::to_string(server_.options.max_connections) + "); retry shortly")));
            }
        }
        // A declared body over the limit is refused before it is read.
        if (auto length = parser_->content_length();
            length && *length > server_.options.max_body_bytes) {
            return ReplyAndClose(TooLarge());
        }
        if (req[http::field::expect] == "100-continue") {
            auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                           req.version());
            http::async_write(stream_, *cont, [self = Self(), cont](beast::error_code e, size_t) {
                if (e) return self->Close();
                self->ReadBody();
            });
            return;
        }
        // A request without a body (most GETs) is whole once its head is: dispatch it now
        // rather than through one more read that would complete at once.
        if (parser_->is_done()) return Dispatch();
        ReadBody();
    }

    void ReadBody() {
        Tcp().expires_after(ReadTimeout());
        http::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
            if (ec) return self->OnReadError(ec);
            self->Dispatch();
        });
    }

    static HttpResponse TooLarge() {
        return PlainError(Code::kResourceExhausted, "request body is larger than 1 MiB", 413);
    }

    void OnReadError(beast::error_code ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == beast::error::timeout || ec == asio::error::connection_reset ||
            ec == asio::error::operation_aborted || ec == ssl::error::stream_truncated) {
            return Close();
        }
        if (ec == http::error::body_limit) return ReplyAndClose(TooLarge());
        if (ec == http::error::header_limit) {
            return ReplyAndClose(
                PlainError(Code::kInvalidArgument, "request headers are larger than 16 KiB", 431));
        }
        if (ec.category() == asio::error::get_ssl_category()) return Close();
        ReplyAndClose(PlainError(Code::kInvalidArgument, "malformed HTTP request", 400));
    }

    void Dispatch() {
        auto& raw = parser_->get();
        keep_alive_ = raw.keep_alive();
        version_ = raw.version();
        HttpRequest req;
        req.method = std::string(raw.method_string());
        req.authorization = std::string(raw[http::field::authorization]);
        req.content_type = std::string(raw[http::field::content_type]);
        req.last_event_id = std::string(raw["last-event-id"]);
        auto incoming_id = raw["x-request-id"];
        req.request_id = !incoming_id.empty() && incoming_id.size() <= 64 ? std::string(incoming_id)
                                                                          : NewRequestId();
        request_id_ = req.request_id;
        if (Status parsed = ParseRequestTarget(raw.target(), req); !parsed) {
            Refused(400);
            return Write(ErrorResponse(parsed.error()));
        }
        req.body = std::move(raw.body());
        req.deadline = std::chrono::steady_clock::now() + server_.options.handler_deadline;
        Tcp().expires_never();
        // Each request has a number: an answer for an earlier one (after its deadline passed)
        // finds another number here and is dropped.
        const uint64_t request = ++requests_;
        answered_ = false;
        request_deadline_ = req.deadline;
        WatchDeadline();
        // The responder may run on any thread: hop back onto this connection's executor.
        server_.handler(std::move(req), [self = Self(), request](HttpResponse response) {
            asio::post(self->stream_.get_executor(),
                       [self, request, response = std::move(response)]() mutable {
                           self->Answer(request, std::move(response));
                       });
        });
    }

    // One timer per connection, never cancelled by an answer: when it fires it answers the
    // request in flight if that one is past its deadline, or waits again until it will be.
    // (Arming and cancelling it for every request cost a timer-queue update and the cancelled
    // wait's completion on every request.)
    void WatchDeadline() {
        if (deadline_armed_) return;
        deadline_armed_ = true;
        deadline_timer_.expires_at(request_deadline_);
        deadline_timer_.async_wait(
            [self = Self()](beast::error_code ec) { self->OnDeadlineTimer(ec); });
    }

    void OnDeadlineTimer(beast::error_code ec) {
        deadline_armed_ = false;
        if (ec || answered_) return;  // closed, or nothing in flight: the next request arms it
        if (std::chrono::steady_clock::now() < request_deadline_) return WatchDeadline();
        Answer(requests_,
               ErrorResponse(Error{Code::kDeadlineExceeded,
                                   "the request was not answered within its deadline of " +
                                       Seconds(server_.options.handler_deadline) +
                                       "; it may still take effect"}));
    }

    // The first answer to request number `request` is written; any later one is dropped.
    void Answer(uint64_t request, HttpResponse response) {
        if (request != requests_ || answered_) return;
        answered_ = true;
        Write(std::move(response));
    }

    void Write(HttpResponse response) {
        if (response.stream) return StartStream(std::move(response));
        const bool close = close_after_write_ || !keep_alive_ || server_.stopping;
        auto message = std::make_shared<std::pair<std::string, std::string>>(
            ResponseHead(response, version_, request_id_, close), std::move(response.body));
        Tcp().expires_after(server_.options.write_timeout);
        asio::async_write(stream_,
                          std::array<asio::const_buffer, 2>{asio::buffer(message->first),
                                                            asio::buffer(message->second)},
                          [self = Self(), message, close](beast::error_code ec, size_t) {
                              self->EndRequest();
                              if (ec) return self->Close();
                              if (close) return self->LingeringClose();
                              self->ReadHeader();
                          });
    }

    // A streaming response: the head with chunked encoding, then chunks as the producer sends
    // them, until the client hangs up. It is not a request in flight: a shutdown does not wait
    // for it.
    void StartStream(HttpResponse response) {
        auto res = std::make_shared<http::response<http::empty_body>>(
            http::status(unsigned(response.status)), version_);
        res->set(http::field::content_type, response.content_type);
        res->set("x-request-id", request_id_);
        for (const auto& [name, value] : kEveryResponseHeaders) res->set(name, value);
        for (auto& [name, value] : response.headers) res->set(name, value);
        // HTTP/1.0 has no chunked encoding: there the body simply ends when the connection does.
        stream_chunked_ = version_ >= 11;
        res->chunked(stream_chunked_);
        res->keep_alive(false);
        auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
        Tcp().expires_after(server_.options.write_timeout);
        http::async_write_header(
            stream_, *serializer,
            [self = Self(), res, serializer, body = std::move(*response.stream)](
                beast::error_code ec, size_t) mutable {
                self->EndRequest();
                if (ec) return self->Close();
                self->Tcp().expires_never();
                self->heartbeat_ = std::move(body.heartbeat);
                self->heartbeat_interval_ = body.heartbeat_interval;
                self->WatchForHangUp();
                self->ScheduleHeartbeat();
                body.open(self->OpenStream());
            });
    }

    std::shared_ptr<ResponseStream> OpenStream();

    // Sends a chunk now, or after those already queued. On this connection's executor.
    void QueueChunk(std::string data) {
        if (stream_closed_) return;
        chunks_.push_back(std::move(data));
        if (chunks_.size() == 1) WriteNextChunk();
    }

    void WriteNextChunk() {
        Tcp().expires_after(server_.options.write_timeout);
        auto written = [self = Self()](beast::error_code ec, size_t) { self->OnChunkWritten(ec); };
        if (stream_chunked_) {
            asio::async_write(stream_, http::make_chunk(asio::buffer(chunks_.front())),
                              std::move(written));
        } else {
            asio::async_write(stream_, asio::buffer(chunks_.front()), std::move(written));
        }
    }

    void OnChunkWritten(beast::error_code ec);

    // An event stream's client sends nothing more: any read completing means it left. Over TLS
    // the read goes through the TLS layer (one read and one write may be outstanding at once).
    void WatchForHangUp() {
        auto scratch = std::make_shared<std::array<char, 512>>();
        auto left = [self = Self(), scratch](beast::error_code, size_t) { self->CloseStream(); };
        if constexpr (kTls) {
            stream_.async_read_some(asio::buffer(*scratch), std::move(left));
        } else {
            stream_.socket().async_read_some(asio::buffer(*scratch), std::move(left));
        }
    }

    void ScheduleHeartbeat() {
        if (heartbeat_.empty()) return;
        heartbeat_timer_.expires_after(heartbeat_interval_);
        heartbeat_timer_.async_wait([self = Self()](beast::error_code ec) {
            if (ec || self->stream_closed_) return;
            if (self->chunks_.empty()) self->QueueChunk(self->heartbeat_);
            self->ScheduleHeartbeat();
        });
    }

    void CloseStream();

    void BeginRequest() {
        if (counted_) return;
        counted_ = true;
        ++server_.in_flight;
    }

    void EndRequest() {
        if (!counted_) return;
        counted_ = false;
        --server_.in_flight;
    }

    // After an early reply (say a 413) the client may still be sending its body; closing at
    // once would reset the connection and lose the reply. Stop sending, then read and drop
    // what still arrives, for a bounded time and size. Over TLS: say close_notify, briefly.
    void LingeringClose() {
        if constexpr (kTls) {
            Tcp().expires_after(std::chrono::seconds(2));
            stream_.async_shutdown([self = Self()](beast::error_code) { self->Close(); });
        } else {
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            stream_.expires_after(std::chrono::seconds(5));
            Drain(0);
        }
    }

    void Drain(size_t drained) {
        constexpr size_t kMaxDrain = 64 << 20;
        if (drained > kMaxDrain) return Close();
        auto chunk = std::make_shared<std::array<char, 16384>>();
        stream_.async_read_some(asio::buffer(*chunk),
                                [self = Self(), chunk, drained](beast::error_code ec, size_t n) {
                                    if (ec) return self->Close();
                                    self->Drain(drained + n);
                                });
    }

    void ReplyAndClose(HttpResponse response) {
        close_after_write_ = true;
        if (request_id_.empty()) request_id_ = NewRequestId();
        Refused(response.status);
        Write(std::move(response));
    }

    void Refused(int status) {
        if (!server_.options.on_refused) return;
        // The request line may have been read even when the head as a whole was refused.
        server_.options.on_refused(parser_ ? parser_->get().method_string() : "", status,
                                   request_id_);
    }

    void Close() {
        EndRequest();
        deadline_timer_.cancel();
        beast::error_code ignored;
        Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        Tcp().close();
    }

    std::shared_ptr<ssl::context> tls_;  // kept alive by every connection that uses it
    Stream stream_;
    HttpServer::Impl& server_;
    std::shared_ptr<std::atomic<size_t>> connections_;  // counts this session
    const bool over_limit_;
    beast::flat_buffer buffer_{server_.options.max_unparsed_bytes};
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string request_id_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool close_after_write_ = false;
    bool counted_ = false;   // this connection holds one of server_.in_flight
    uint64_t requests_ = 0;  // the number of the request being answered
    bool answered_ = false;  // it has its answer (the handler's, or the deadline's)
    std::chrono::steady_clock::time_point request_deadline_{};  // of request number requests_
    bool deadline_armed_ = false;                               // deadline_timer_ is waiting
    asio::steady_timer deadline_timer_{stream_.get_executor()};

    // An open event stream (StartStream).
    template <class>
    friend class SessionStream;
    std::deque<std::string> chunks_;  // queued; the front one is being written
    bool stream_chunked_ = true;
    std::atomic<bool> stream_closed_{false};
    std::atomic<size_t> queued_bytes_{0};
    std::string heartbeat_;
    std::chrono::milliseconds heartbeat_interval_{0};
    asio::steady_timer heartbeat_timer_{stream_.get_executor()};
};

// A client this far behind is disconnected rather than buffered without bound; it can
// reconnect with Last-Event-ID.
constexpr size_t kMaxQueuedStreamBytes = 8 << 20;

template <class Stream>
class SessionStream final : public ResponseStream {
public:
    explicit SessionStream(std::shared_ptr<Session<Stream>> session)
        : session_(session), executor_(session->stream_.get_executor()) {}

    bool Send(std::string data) override {
        auto session = session_.lock();
        if (!session || session->stream_closed_) return false;
        if (session->queued_bytes_.fetch_add(data.size()) + data.size() > kMaxQueuedStreamBytes) {
            asio::post(executor_, [session] { session->CloseStream(); });
            return false;
        }
        asio::post(executor_, [session, data = std::move(data)]() mutable {
            session->QueueChunk(std::move(data));
        });
        return true;
    }

    bool IsClosed() const override {
        auto session = session_.lock();
        return !session || session->stream_closed_;
    }

private:
    std::weak_ptr<Session<Stream>> session_;
    asio::any_io_executor executor_;
};

template <class Stream>
std::shared_ptr<ResponseStream> Session<Stream>::OpenStream() {
    return std::make_shared<SessionStream<Stream>>(Self());
}

template <class Stream>
void Session<Stream>::OnChunkWritten(beast::error_code ec) {
    queued_bytes_ -= chunks_.front().size();
    chunks_.pop_front();
    if (ec) return CloseStream();
    if (!chunks_.empty()) return WriteNextChunk();
    Tcp().expires_never();
}

template <class Stream>
void Session<Stream>::CloseStream() {
    if (stream_closed_.exchange(true)) return;
    heartbeat_timer_.cancel();
    Close();
}

}  // namespace

void HttpServer::Impl::Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
        if (stopping) return;
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE ||
            ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
            // Out of file descriptors or memory: accepting again at once would spin. Wait for
            // connections to end; the pending ones wait in the listen backlog.
            accept_pause.expires_after(std::chrono::milliseconds(50));
            accept_pause.async_wait([this](beast::error_code) {
                if (!stopping) Accept();
            });
            return;
        }
        if (!ec) Admit(std::move(s));
        Accept();
    });
}

void HttpServer::Impl::Admit(tcp::socket socket) {
    const size_t open_now = *connections;
    if (open_now >= 2 * options.max_connections) {
        // Memory stays bounded: this one is not even read (docs/http-api.md 10).
        beast::error_code ignored;
        socket.close(ignored);
        return;
    }
    const bool over_limit = open_now >= options.max_connections;
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (auto tls = TlsContext()) {
        std::make_shared<Session<TlsStream>>(std::move(socket), std::move(tls), *this, over_limit)
            ->Start();
    } else {
        std::make_shared<Session<PlainStream>>(std::move(socket), *this, over_limit)->Start();
    }
}

void HttpServer::Impl::WaitForDrain(std::chrono::steady_clock::time_point deadline) {
    if (in_flight == 0 || std::chrono::steady_clock::now() >= deadline) {
        ioc.stop();
        return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([this, deadline](beast::error_code) { WaitForDrain(deadline); });
}

HttpServer::HttpServer(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Result<uint16_t> HttpServer::Listen() {
    const ServerOptions& options = impl_->options;
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
        return InvalidArgument("server.tls needs both cert_file and key_file");
    }
    if (options.max_connections < 1) return InvalidArgument("server.max_connections must be >= 1");
    if (!options.tls_cert_file.empty()) {
        NR_ASSIGN_OR_RETURN(auto context,
                            LoadTlsContext(options.tls_cert_file, options.tls_key_file));
        std::lock_guard lock(impl_->tls_mu);
        impl_->tls_context = std::move(context);
    }
    const std::string& listen = options.listen;
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return InvalidArgument("--listen must be HOST:PORT");
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    int port = -1;
    std::string_view port_text = std::string_view(listen).substr(colon + 1);
    auto [end, parse_ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (parse_ec != std::errc() || end != port_text.data() + port_text.size()) port = -1;
    if (port < 0 || port > 65535) return InvalidArgument("--listen port must be 0-65535");
    beast::error_code ec;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return InvalidArgument("--listen host must be an IP address: " + host);
    tcp::endpoint endpoint(address, uint16_t(port));
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Unavailable("cannot listen on " + listen + ": " + ec.message());
    return acceptor.local_endpoint().port();
}

void HttpServer::Run() {
    impl_->Accept();
    std::vector<std::thread> threads;
    for (int i = 1; i < impl_->options.io_threads; ++i) {
        threads.emplace_back([this] {
            NameThisThread("nr-io");
            impl_->ioc.run();
        });
    }
    impl_->ioc.run();
    for (auto& t : threads) t.join();
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
    asio::post(impl_->ioc, [this, grace] {
        if (impl_->stopping.exchange(true)) return;
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
        impl_->WaitForDrain(std::chrono::steady_clock::now() + grace);
    });
}

Status HttpServer::ReloadTls() {
    const ServerOptions& options = impl_->options;
    if (options.tls_cert_file.empty()) return FailedPrecondition("TLS is not configured");
    NR_ASSIGN_OR_RETURN(auto context, LoadTlsContext(options.tls_cert_file, options.tls_key_file));
    std::lock_guard lock(impl_->tls_mu);
    impl_->tls_context = std::move(context);
    return OkStatus();
}

bool HttpServer::UsesTls() const { return !impl_->options.tls_cert_file.empty(); }

}  // namespace noderepair::api
