// The Beast/Asio side of the HTTP layer: a listener, one Session per connection (all of its work on
// one strand), and the Exchange that handlers reply through. Responses are written from a per-
// connection byte queue, so a slow client only grows its own queue and never blocks the caller.
#include "server/http_server.h"

#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kite::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
    HttpServerOptions options;
    Handler handler;
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    asio::signal_set signals{ioc, SIGTERM, SIGINT};
    std::function<void(int)> signal_fn;
    std::atomic<int> active_exchanges{0};
    std::atomic<int> connections{0};
    int port = 0;

    explicit Impl(const HttpServerOptions& o, Handler h) : options(o), handler(std::move(h)) {}
    void do_accept();
    void wait_signal();
};

namespace {

std::string status_line(int status) {
    std::string reason(http::obsolete_reason(static_cast<http::status>(status)));
    if (reason.empty() || reason == "<unknown-status>") reason = "Unknown";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
}

std::string hex(size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%zx", n);
    return buf;
}

class Session;

// Forwards every call to its Session's strand; calls after the exchange ended are ignored there.
class SessionExchange : public Exchange, public std::enable_shared_from_this<SessionExchange> {
public:
    SessionExchange(std::shared_ptr<Session> s, asio::any_io_executor ex) : session_(s), ex_(std::move(ex)) {}
    void reply(HttpResponse response) override;
    void start_stream(int status, const std::string& content_type) override;
    void write(std::string data) override;
    void end() override;
    void post(std::function<void()> fn) override { asio::post(ex_, std::move(fn)); }
    void post_after(int64_t ms, std::function<void()> fn) override {
        auto timer = std::make_shared<asio::steady_timer>(ex_, std::chrono::milliseconds(ms));
        timer->async_wait([timer, fn = std::move(fn)](beast::error_code ec) {
            if (!ec) fn();
        });
    }
    void on_close(std::function<void()> fn) override;

    // Strand only.
    std::function<void()> close_fn;
    bool ended = false;
    bool client_gone = false;  // the connection closed before the response ended

private:
    std::weak_ptr<Session> session_;
    asio::any_io_executor ex_;
};

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket&& socket, HttpServer::Impl* server) : stream_(std::move(socket)), server_(server) {
        ++server_->connections;
    }
    ~Session() { --server_->connections; }

    void start() {
        beast::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
    }
    asio::any_io_executor executor() { return stream_.get_executor(); }

    // --- called on the strand by SessionExchange ---
    void send_full(SessionExchange* ex, HttpResponse r) {
        if (!is_current(ex)) return;
        std::string out = status_line(r.status);
        out += "Content-Type: " + r.content_type + "\r\n";
        out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
        for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
        out += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
        if (!head_request_) out += r.body;  // a HEAD answer has the headers of the GET, no body
        ex->ended = true;
        enqueue(std::move(out));
    }
    void send_head(SessionExchange* ex, int status, const std::string& content_type) {
        if (!is_current(ex) || streaming_) return;
        streaming_ = true;
        chunked_ = http_11_;
        if (!http_11_) keep_alive_ = false;  // HTTP/1.0: no chunked framing, the close ends the body
        std::string out = status_line(status);
        out += "Content-Type: " + content_type + "\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
        if (chunked_) out += "Transfer-Encoding: chunked\r\n";
        out += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
        enqueue(std::move(out));
    }
    void send_chunk(SessionExchange* ex, std::string data) {
        if (!is_current(ex) || !streaming_ || data.empty()) return;
        if (chunked_) data = hex(data.size()) + "\r\n" + data + "\r\n";
        enqueue(std::move(data));
    }
    void send_end(SessionExchange* ex) {
        if (!is_current(ex) || !streaming_) return;
        ex->ended = true;
        enqueue(chunked_ ? std::string("0\r\n\r\n") : std::string());
    }
    void set_close_fn(SessionExchange* ex, std::function<void()> fn) {
        if (ex->client_gone) return fn();  // it left before the callback was registered
        if (is_current(ex)) ex->close_fn = std::move(fn);
    }

private:
    bool is_current(SessionExchange* ex) const { return !closed_ && current_.get() == ex && !ex->ended; }

    void do_read() {
        parser_.emplace();
        parser_->body_limit(server_->options.max_body_bytes);
        parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
        stream_.expires_after(std::chrono::seconds(server_->options.idle_timeout_s));
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
            return close();
        }
        if (ec == http::error::partial_message) return abandoned();
        stream_.expires_never();
        if (ec) {
            // The stream is out of sync after a parse error: answer and close.
            keep_alive_ = false;
            unread_input_ = true;
            head_request_ = false;
            const bool too_big = ec == http::error::body_limit || ec == http::error::header_limit ||
                                 ec == http::error::buffer_overflow;
            const int status = too_big ? 413 : 400;
            const std::string msg = too_big ? "request too large (body limit " +
                                                  std::to_string(server_->options.max_body_bytes) + " bytes)"
                                            : "malformed HTTP request: " + ec.message();
            begin_exchange();
            HttpResponse r = server_->options.make_error ? server_->options.make_error(status, msg)
                                                         : HttpResponse{status, "text/plain", msg + "\n", {}};
            r.status = status;
            send_full(current_.get(), std::move(r));
            return;
        }
        auto& msg = parser_->get();
        HttpRequest req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        req.path = req.target.substr(0, req.target.find('?'));
        for (const auto& f : msg) {
            std::string name(f.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            req.headers[name] = std::string(f.value());
        }
        req.body = std::move(msg.body());
        beast::error_code ignored;
        auto ep = stream_.socket().remote_endpoint(ignored);
        req.peer = ignored ? "-" : ep.address().to_string();
        req.received_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        keep_alive_ = msg.keep_alive();
        http_11_ = msg.version() >= 11;
        head_request_ = msg.method() == http::verb::head;
        begin_exchange();
        watch();
        server_->handler(req, current_);
    }

    // The client closed the connection in the middle of a request: nobody is left to answer.
    void abandoned() {
        if (server_->options.on_abandoned && parser_ && parser_->is_header_done()) {
            HttpRequest req;
            req.method = std::string(parser_->get().method_string());
            req.target = std::string(parser_->get().target());
            req.path = req.target.substr(0, req.target.find('?'));
            beast::error_code ignored;
            auto ep = stream_.socket().remote_endpoint(ignored);
            req.peer = ignored ? "-" : ep.address().to_string();
            server_->options.on_abandoned(req);
        }
        close();
    }

    void begin_exchange() {
        current_ = std::make_shared<SessionExchange>(shared_from_this(), stream_.get_executor());
        streaming_ = false;
        chunked_ = false;
        ++server_->active_exchanges;
    }

    // While a response is pending, a read detects a client that hangs up. Bytes of a pipelined next
    // request are kept in buffer_ for the parser.
    void watch() {
        if (watching_ || closed_) return;
        if (buffer_.size() > server_->options.max_header_bytes + server_->options.max_body_bytes) return;
        watching_ = true;
        stream_.socket().async_read_some(buffer_.prepare(4096),
                                         [self = shared_from_this()](beast::error_code ec, size_t n) {
                                             self->on_watch(ec, n);
                                         });
    }

    void on_watch(beast::error_code ec, size_t n) {
        watching_ = false;
        if (!ec) {
            buffer_.commit(n);
            if (current_) return watch();
            return do_read();
        }
        if (ec == asio::error::operation_aborted && !closed_ && !current_) return do_read();
        close();
    }

    void enqueue(std::string data) {
        if (closed_) return;
        pending_ += data;
        if (pending_.size() > server_->options.max_queued_bytes) return close();
        if (!writing_) do_write();
    }

    void do_write() {
        if (pending_.empty()) {
            writing_ = false;
            if (current_ && current_->ended) finish_exchange();
            return;
        }
        writing_ = true;
        inflight_.swap(pending_);
        pending_.clear();
        asio::async_write(stream_.socket(), asio::buffer(inflight_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->inflight_.clear();
                              if (ec) return self->close();
                              self->do_write();
                          });
    }

    void finish_exchange() {
        current_.reset();
        --server_->active_exchanges;
        if (!keep_alive_) {
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            if (unread_input_ && !watching_) return linger();
            return close();
        }
        if (watching_) {
            beast::error_code ignored;
            stream_.socket().cancel(ignored);  // on_watch sees operation_aborted and reads on
            return;
        }
        do_read();
    }

    // After answering a request whose body was not read (413, 400), read and drop what the client is
    // still sending for a while, so that it sees the answer instead of a reset (nginx's lingering close).
    void linger() {
        if (!discard_) discard_ = std::make_unique<char[]>(kDiscardBytes);
        stream_.expires_after(std::chrono::seconds(5));
        stream_.async_read_some(asio::buffer(discard_.get(), kDiscardBytes),
                                [self = shared_from_this()](beast::error_code ec, size_t n) {
                                    self->lingered_ += n;
                                    if (ec || self->lingered_ > (64u << 20)) return self->close();
                                    self->linger();
                                });
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        beast::error_code ignored;
        stream_.socket().close(ignored);
        if (current_) {
            auto ex = std::move(current_);
            --server_->active_exchanges;
            if (!ex->ended) {
                ex->client_gone = true;
                if (ex->close_fn) ex->close_fn();
            }
            ex->ended = true;
        }
    }

    beast::tcp_stream stream_;
    HttpServer::Impl* server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<SessionExchange> current_;
    std::string pending_, inflight_;
    bool writing_ = false, watching_ = false, closed_ = false;
    bool keep_alive_ = true, http_11_ = true, streaming_ = false, chunked_ = false, unread_input_ = false, head_request_ = false;
    static constexpr size_t kDiscardBytes = 16384;
    std::unique_ptr<char[]> discard_;
    size_t lingered_ = 0;
};

template <typename Fn>
void on_session(const std::weak_ptr<Session>& weak, asio::any_io_executor& ex, Fn fn) {
    asio::post(ex, [weak, fn = std::move(fn)]() mutable {
        if (auto s = weak.lock()) fn(*s);
    });
}

void SessionExchange::reply(HttpResponse response) {
    on_session(session_, ex_, [self = shared_from_this(), r = std::move(response)](Session& s) mutable {
        s.send_full(self.get(), std::move(r));
    });
}
void SessionExchange::start_stream(int status, const std::string& content_type) {
    on_session(session_, ex_, [self = shared_from_this(), status, content_type](Session& s) {
        s.send_head(self.get(), status, content_type);
    });
}
void SessionExchange::write(std::string data) {
    on_session(session_, ex_, [self = shared_from_this(), d = std::move(data)](Session& s) mutable {
        s.send_chunk(self.get(), std::move(d));
    });
}
void SessionExchange::end() {
    on_session(session_, ex_, [self = shared_from_this()](Session& s) { s.send_end(self.get()); });
}
void SessionExchange::on_close(std::function<void()> fn) {
    auto weak = session_;
    asio::post(ex_, [weak, self = shared_from_this(), fn = std::move(fn)]() mutable {
        if (auto s = weak.lock()) {
            s->set_close_fn(self.get(), std::move(fn));
        } else if (!self->ended || self->client_gone) {
            fn();  // the connection is already gone
        }
    });
}

}  // namespace

void HttpServer::Impl::do_accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (!ec) std::make_shared<Session>(std::move(socket), this)->start();
        else if (ec == asio::error::no_descriptors) {
            // Out of file descriptors: back off briefly rather than spin.
            auto t = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(50));
            t->async_wait([this, t](beast::error_code) { do_accept(); });
            return;
        }
        do_accept();
    });
}

void HttpServer::Impl::wait_signal() {
    signals.async_wait([this](beast::error_code ec, int sig) {
        if (ec) return;
        if (signal_fn) signal_fn(sig);
        wait_signal();
    });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::create(const HttpServerOptions& options, Handler handler) {
    auto impl = std::make_unique<Impl>(options, std::move(handler));
    beast::error_code ec;
    auto addr = asio::ip::make_address(options.host, ec);
    if (ec) return invalid_argument("--host '" + options.host + "' is not an IP address (" + ec.message() + ")");
    tcp::endpoint ep(addr, static_cast<unsigned short>(options.port));
    impl->acceptor.open(ep.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(ep, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " +
                           ec.message());
    impl->port = impl->acceptor.local_endpoint().port();
    impl->do_accept();
    impl->wait_signal();
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::run() {
    std::vector<std::thread> threads;
    for (int i = 1; i < impl_->options.num_threads; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
    impl_->ioc.run();
    for (auto& t : threads) t.join();
}

void HttpServer::stop_accepting() {
    asio::post(impl_->ioc, [this] {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
    });
}

void HttpServer::stop() { impl_->ioc.stop(); }

void HttpServer::on_signal(std::function<void(int)> fn) {
    asio::post(impl_->ioc, [this, fn = std::move(fn)]() mutable { impl_->signal_fn = std::move(fn); });
}

void HttpServer::run_after(int64_t ms, std::function<void()> fn) {
    auto t = std::make_shared<asio::steady_timer>(impl_->ioc, std::chrono::milliseconds(ms));
    t->async_wait([t, fn = std::move(fn)](beast::error_code ec) {
        if (!ec) fn();
    });
}

int HttpServer::num_active_exchanges() const { return impl_->active_exchanges.load(); }
int HttpServer::num_connections() const { return impl_->connections.load(); }

}  // namespace kite::server
