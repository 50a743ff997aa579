// The Beast/Asio side of the HTTP layer: a listener, one Session per connection (all of its work on
// one strand), and the Exchange that handlers reply through. Responses are written from a per-
// connection byte queue, so a slow client only grows its own queue and never blocks the caller.
#include "server/http_server.h"

#include <atomic>
#include <cstdio>
#include <malloc.h>
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
    std::atomic<size_t> buffered_body_bytes{0};  // reserved by sessions for the bodies they hold
    std::atomic<size_t> freed_since_trim{0};
    int port = 0;

    explicit Impl(const HttpServerOptions& o, Handler h) : options(o), handler(std::move(h)) {}
    void do_accept();
    void wait_signal();
    void refuse(tcp::socket socket);
    HttpResponse error(int status, const std::string& message) const {
        HttpResponse r = options.make_error ? options.make_error(status, message)
                                            : HttpResponse{status, "text/plain", message + "\n", {}};
        r.status = status;
        return r;
    }
    void body_released(size_t n) {
        buffered_body_bytes.fetch_sub(n);
        note_freed(n);
    }
    // Memory of big requests and responses goes back to the system once 32 MiB of them were freed:
    // glibc keeps freed heap pages otherwise (a response of many small JSON nodes leaves its whole
    // peak behind), and RSS would stay at the high-water mark of an attack.
    void note_freed(size_t n) {
        if (freed_since_trim.fetch_add(n) + n < (32u << 20)) return;
        freed_since_trim = 0;
        malloc_trim(0);
    }
    // What was freed below the threshold is trimmed a moment later, so RSS settles after an attack.
    asio::steady_timer trim_timer{ioc};
    void trim_later() {
        trim_timer.expires_after(std::chrono::seconds(2));
        trim_timer.async_wait([this](beast::error_code ec) {
            if (ec) return;
            if (freed_since_trim.exchange(0) > (1u << 20)) malloc_trim(0);
            trim_later();
        });
    }
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
    std::shared_ptr<Session> pin;  // set after a half-close, when nothing else keeps the session alive

private:
    std::weak_ptr<Session> session_;
    asio::any_io_executor ex_;
};

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket&& socket, HttpServer::Impl* server)
        : stream_(std::move(socket)), server_(server), request_timer_(stream_.get_executor()) {
        ++server_->connections;
    }
    ~Session() {
        release_body();
        --server_->connections;
        // A flood of connections leaves many small freed blocks (buffers, parsers, timers): counted
        // so that the heap is trimmed after a few thousand have gone.
        server_->note_freed(kSessionFootprint + buffer_.capacity());
    }

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
        // A complete reply already exists in memory: it goes out as the client reads, whatever its
        // size. Only streams, which grow while the client does not read, are capped.
        enqueue(std::move(out), /*capped=*/false);
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

    // Between requests: wait (idle timeout) for the first byte of the next one. The request then has
    // request_timeout_s to arrive whole; its body is counted against max_buffered_body_bytes.
    void do_read() {
        release_body();
        parser_.emplace();
        parser_->body_limit(server_->options.max_body_bytes);
        parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
        if (buffer_.size() > 0) return read_head();  // pipelined bytes already here
        stream_.expires_after(std::chrono::seconds(server_->options.idle_timeout_s));
        stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
            if (ec) return self->close();  // idle timeout or the client left between requests
            self->buffer_.commit(n);
            self->read_head();
        });
    }

    void read_head() {
        stream_.expires_never();
        receiving_ = true;
        timed_out_ = false;
        request_timer_.expires_after(std::chrono::seconds(server_->options.request_timeout_s));
        request_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (ec || !self->receiving_ || self->closed_) return;
            self->timed_out_ = true;  // the pending read ends with operation_aborted
            beast::error_code ignored;
            self->stream_.socket().cancel(ignored);
        });
        http::async_read_header(stream_, buffer_, *parser_,
                                [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
    }

    // After the head and after each piece of the body.
    void on_body(beast::error_code ec) {
        if (ec) return on_read(ec);
        // Content-Length is reserved at once (the body string reserves it too); chunked bodies
        // as they grow.
        const size_t want = std::max<size_t>(parser_->content_length().value_or(0), parser_->get().body().size());
        if (want > reserved_body_) {
            const size_t add = want - reserved_body_;
            const size_t cap = server_->options.max_buffered_body_bytes;
            if (server_->buffered_body_bytes.fetch_add(add) + add > cap) {
                server_->buffered_body_bytes.fetch_sub(add);
                std::string msg = "server busy: request bodies being received exceed " + std::to_string(cap >> 20) +
                                  " MiB in total (--max-buffered-body-mb); retry later";
                return answer_unread(503, std::move(msg), true);
            }
            reserved_body_ = want;
        }
        if (parser_->is_done()) return on_read({});
        http::async_read_some(stream_, buffer_, *parser_,
                              [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
    }

    void release_body() {
        if (reserved_body_ == 0) return;
        server_->body_released(reserved_body_);
        reserved_body_ = 0;
    }

    // Answers a request whose body was not (completely) read, then closes.
    void answer_unread(int status, std::string msg, bool retry_after) {
        receiving_ = false;
        request_timer_.cancel();
        keep_alive_ = false;
        unread_input_ = true;
        head_request_ = false;
        begin_exchange();
        HttpResponse r = server_->error(status, msg);
        if (retry_after) r.headers.emplace_back("Retry-After", "1");
        send_full(current_.get(), std::move(r));
    }

    void on_read(beast::error_code ec) {
        receiving_ = false;
        request_timer_.cancel();
        if (ec == asio::error::operation_aborted && timed_out_ && !closed_)
            return answer_unread(408, "request not received completely within " +
                                          std::to_string(server_->options.request_timeout_s) +
                                          " s (--request-timeout-s)", false);
        if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
            return close();
        }
        if (ec == http::error::partial_message) return abandoned();
        stream_.expires_never();
        if (ec) {
            // The stream is out of sync after a parse error: answer and close.
            if (ec == http::error::body_limit)
                return answer_unread(413, "request body too large (limit " +
                                              std::to_string(server_->options.max_body_bytes) + " bytes, --max-body-mb)",
                                     false);
            if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
                return answer_unread(431, "request headers too large (limit " +
                                              std::to_string(server_->options.max_header_bytes) + " bytes)",
                                     false);
            return answer_unread(400, "malformed HTTP request: " + ec.message(), false);
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
        server_->handler(std::move(req), current_);
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
        if ((ec == asio::error::eof || ec == http::error::end_of_stream) && current_ && !closed_) {
            // A half-close (shutdown(SHUT_WR) after sending the request) still gets its response;
            // a client that is really gone is noticed when the response is written. No read is
            // pending any more, so the exchange holds the session until it ends.
            keep_alive_ = false;
            current_->pin = shared_from_this();
            return;
        }
        close();
    }

    void enqueue(std::string data, bool capped = true) {
        if (closed_) return;
        if (pending_.empty()) pending_.swap(data);
        else pending_ += data;
        if (capped && pending_.size() > server_->options.max_queued_bytes) return close();
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
                              const size_t sent = self->inflight_.size();
                              self->inflight_.clear();
                              if (self->inflight_.capacity() >= (1u << 20)) std::string().swap(self->inflight_);
                              // A large piece was built from many more bytes of JSON nodes, now freed.
                              if (sent >= (1u << 20)) self->server_->note_freed(4 * sent);
                              if (ec) return self->close();
                              self->do_write();
                          });
    }

    void finish_exchange() {
        auto keep = shared_from_this();  // releasing the pin below may drop the last other reference
        current_->pin.reset();
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
        auto keep = shared_from_this();
        closed_ = true;
        receiving_ = false;
        request_timer_.cancel();
        release_body();
        beast::error_code ignored;
        stream_.socket().close(ignored);
        if (current_) {
            auto ex = std::move(current_);
            --server_->active_exchanges;
            ex->pin.reset();
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
    static constexpr size_t kSessionFootprint = 16384;  // about what one connection allocates
    std::unique_ptr<char[]> discard_;
    size_t lingered_ = 0;
    asio::steady_timer request_timer_;
    bool receiving_ = false, timed_out_ = false;
    size_t reserved_body_ = 0;  // this session's share of buffered_body_bytes
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
        if (!ec && connections.load() >= options.max_connections) refuse(std::move(socket));
        else if (!ec) std::make_shared<Session>(std::move(socket), this)->start();
        else if (ec == asio::error::no_descriptors) {
            // Out of file descriptors: back off briefly rather than spin.
            auto t = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(50));
            t->async_wait([this, t](beast::error_code) { do_accept(); });
            return;
        }
        do_accept();
    });
}

namespace {

// A connection over --max-connections: a 503, then its input is read and dropped for a moment so
// that the client sees the answer rather than a reset, then it is closed.
struct Refused : std::enable_shared_from_this<Refused> {
    beast::tcp_stream stream;
    std::string out;
    char sink[4096];
    Refused(tcp::socket s, std::string o) : stream(std::move(s)), out(std::move(o)) {}
    void start() {
        stream.expires_after(std::chrono::seconds(2));
        asio::async_write(stream, asio::buffer(out), [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return;
            beast::error_code ignored;
            self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            self->drain();
        });
    }
    void drain() {
        stream.async_read_some(asio::buffer(sink), [self = shared_from_this()](beast::error_code ec, size_t) {
            if (!ec) self->drain();
        });
    }
};

}  // namespace

void HttpServer::Impl::refuse(tcp::socket socket) {
    HttpResponse r = error(503, "too many open connections (limit " + std::to_string(options.max_connections) +
                                    ", --max-connections); retry later");
    std::string out = status_line(503) + "Content-Type: " + r.content_type + "\r\nContent-Length: " +
                      std::to_string(r.body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + r.body;
    std::make_shared<Refused>(std::move(socket), std::move(out))->start();
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
    impl->trim_later();
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::run() {
    std::vector<std::thread> threads;
    // The last line of defence: an exception escaping a completion handler (std::bad_alloc under
    // memory pressure) ends that piece of work, not the I/O thread or the process.
    auto run_loop = [this] {
        for (;;) {
            try {
                impl_->ioc.run();
                return;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "kite serve: error on an I/O thread: %s\n", e.what());
            }
        }
    };
    for (int i = 1; i < impl_->options.num_threads; ++i) threads.emplace_back(run_loop);
    run_loop();
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
