#include "api/server.hpp"

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <cstdio>
#include <deque>
#include <thread>
#include <vector>

#include "api/request_target.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/thread_name.hpp"

namespace noderepair::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

HttpResponse PlainError(Code code, std::string message, int status) {
    HttpResponse r = ErrorResponse(Error{code, std::move(message)});
    r.status = status;
    r.headers.clear();
    r.headers.emplace_back("x-should-retry", "false");
    return r;
}

}  // namespace

struct HttpServer::Impl {
    ServerOptions options;
    Handler handler;
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::atomic<bool> stopping{false};
    std::atomic<int64_t> in_flight{0};
    asio::steady_timer drain_timer{ioc};

    Impl(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

    void Accept();
    void WaitForDrain(std::chrono::steady_clock::time_point deadline);
};

namespace {

// One connection. Reads one request at a time; pipelined requests wait in the buffer, so
// responses go out in order.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, HttpServer::Impl& server)
        : stream_(std::move(socket)), server_(server), buffer_(server.options.max_unparsed_bytes) {}

    void Start() { ReadHeader(); }

private:
    void ReadHeader() {
        parser_.emplace();
        parser_->header_limit(std::uint32_t(server_.options.max_header_bytes));
        parser_->body_limit(server_.options.max_body_bytes);
        stream_.expires_after(server_.options.read_timeout);
        http::async_read_header(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
    }

    void OnHeader(beast::error_code ec) {
        if (ec) return OnReadError(ec);
        // From here on the request is in flight: a shutdown waits for its reply.
        BeginRequest();
        auto& req = parser_->get();
        // A declared body over the limit is refused before it is read.
        if (auto length = parser_->content_length();
            length && *length > server_.options.max_body_bytes) {
            return ReplyAndClose(TooLarge());
        }
        if (req[http::field::expect] == "100-continue") {
            auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                           req.version());
            http::async_write(stream_, *cont,
                              [self = shared_from_this(), cont](beast::error_code e, size_t) {
                                  if (e) return self->Close();
                                  self->ReadBody();
                              });
            return;
        }
        ReadBody();
    }

    void ReadBody() {
        stream_.expires_after(server_.options.read_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, size_t) {
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
            ec == asio::error::operation_aborted) {
            return Close();
        }
        if (ec == http::error::body_limit) return ReplyAndClose(TooLarge());
        if (ec == http::error::header_limit) {
            return ReplyAndClose(
                PlainError(Code::kInvalidArgument, "request headers are larger than 16 KiB", 431));
        }
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
                                                                          : RandomHex(8);
        request_id_ = req.request_id;
        if (Status parsed = ParseRequestTarget(raw.target(), req); !parsed) {
            Refused(400);
            return Write(ErrorResponse(parsed.error()));
        }
        req.body = std::move(raw.body());
        stream_.expires_never();
        // The responder may run on any thread: hop back onto this connection's executor.
        server_.handler(std::move(req), [self = shared_from_this()](HttpResponse response) {
            asio::post(self->stream_.get_executor(),
                       [self, response = std::move(response)]() mutable {
                           self->Write(std::move(response));
                       });
        });
    }

    void Write(HttpResponse response) {
        if (response.stream) return StartStream(std::move(response));
        auto res = std::make_shared<http::response<http::string_body>>(
            http::status(unsigned(response.status)), version_);
        res->set(http::field::content_type, response.content_type);
        res->set("x-request-id", request_id_);
        for (const auto& [name, value] : kEveryResponseHeaders) res->set(name, value);
        for (auto& [name, value] : response.headers) res->set(name, value);
        res->body() = std::move(response.body);
        const bool close = close_after_write_ || !keep_alive_ || server_.stopping;
        res->keep_alive(!close);
        res->prepare_payload();
        stream_.expires_after(server_.options.write_timeout);
        http::async_write(stream_, *res,
                          [self = shared_from_this(), res, close](beast::error_code ec, size_t) {
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
        stream_.expires_after(server_.options.write_timeout);
        http::async_write_header(
            stream_, *serializer,
            [self = shared_from_this(), res, serializer, body = std::move(*response.stream)](
                beast::error_code ec, size_t) mutable {
                self->EndRequest();
                if (ec) return self->Close();
                self->stream_.expires_never();
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
        stream_.expires_after(server_.options.write_timeout);
        auto written = [self = shared_from_this()](beast::error_code ec, size_t) {
            self->OnChunkWritten(ec);
        };
        if (stream_chunked_) {
            asio::async_write(stream_, http::make_chunk(asio::buffer(chunks_.front())),
                              std::move(written));
        } else {
            asio::async_write(stream_, asio::buffer(chunks_.front()), std::move(written));
        }
    }

    void OnChunkWritten(beast::error_code ec);

    // An event stream's client sends nothing more: any read completing means it left.
    void WatchForHangUp() {
        auto scratch = std::make_shared<std::array<char, 512>>();
        stream_.socket().async_read_some(asio::buffer(*scratch),
                                         [self = shared_from_this(), scratch](
                                             beast::error_code, size_t) { self->CloseStream(); });
    }

    void ScheduleHeartbeat() {
        if (heartbeat_.empty()) return;
        heartbeat_timer_.expires_after(heartbeat_interval_);
        heartbeat_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
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
    // what still arrives, for a bounded time and size.
    void LingeringClose() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(std::chrono::seconds(5));
        Drain(0);
    }

    void Drain(size_t drained) {
        constexpr size_t kMaxDrain = 64 << 20;
        if (drained > kMaxDrain) return Close();
        auto chunk = std::make_shared<std::array<char, 16384>>();
        stream_.async_read_some(asio::buffer(*chunk), [self = shared_from_this(), chunk, drained](
                                                          beast::error_code ec, size_t n) {
            if (ec) return self->Close();
            self->Drain(drained + n);
        });
    }

    void ReplyAndClose(HttpResponse response) {
        close_after_write_ = true;
        if (request_id_.empty()) request_id_ = RandomHex(8);
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
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    beast::tcp_stream stream_;
    HttpServer::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string request_id_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool close_after_write_ = false;
    bool counted_ = false;  // this connection holds one of server_.in_flight

    // An open event stream (StartStream).
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

class SessionStream final : public ResponseStream {
public:
    explicit SessionStream(std::shared_ptr<Session> session)
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
    std::weak_ptr<Session> session_;
    asio::any_io_executor executor_;
};

std::shared_ptr<ResponseStream> Session::OpenStream() {
    return std::make_shared<SessionStream>(shared_from_this());
}

void Session::OnChunkWritten(beast::error_code ec) {
    queued_bytes_ -= chunks_.front().size();
    chunks_.pop_front();
    if (ec) return CloseStream();
    if (!chunks_.empty()) return WriteNextChunk();
    stream_.expires_never();
}

void Session::CloseStream() {
    if (stream_closed_.exchange(true)) return;
    heartbeat_timer_.cancel();
    Close();
}

}  // namespace

void HttpServer::Impl::Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
        if (stopping) return;
        if (!ec) {
            s.set_option(tcp::no_delay(true), ec);
            std::make_shared<Session>(std::move(s), *this)->Start();
        }
        Accept();
    });
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
    const std::string& listen = impl_->options.listen;
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

}  // namespace noderepair::api
