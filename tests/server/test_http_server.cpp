// The Beast/Asio HTTP layer over real sockets: keep-alive, chunked streaming framing, 413 and 400
// answered by the layer itself, and on_close when a client leaves mid-stream.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace kite::server {
namespace {

// A blocking client socket with helpers to read until a marker.
class Client {
public:
    explicit Client(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval tv{10, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    }
    ~Client() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }
    // Reads until `marker` has been seen (or the peer closes / times out); returns all read so far.
    std::string read_until(const std::string& marker) {
        while (buf_.find(marker) == std::string::npos) {
            char tmp[4096];
            const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
            if (n <= 0) break;
            buf_.append(tmp, static_cast<size_t>(n));
        }
        return buf_;
    }
    void clear() { buf_.clear(); }
    void shutdown_send() { ::shutdown(fd_, SHUT_WR); }
    int fd() const { return fd_; }
    // Reads until the peer closes; returns everything read.
    std::string read_all() {
        for (;;) {
            char tmp[65536];
            const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return buf_;
            buf_.append(tmp, static_cast<size_t>(n));
        }
    }

private:
    int fd_ = -1;
    std::string buf_;
};

class HttpServerTest : public ::testing::Test {
protected:
    void start(Handler h, size_t max_body = 1024, const std::function<void(HttpServerOptions&)>& tweak = {}) {
        HttpServerOptions o;
        o.host = "127.0.0.1";
        o.port = 0;
        o.num_threads = 2;
        o.max_body_bytes = max_body;
        o.make_error = [](int status, const std::string& msg) {
            return HttpResponse{status, "text/plain", "error: " + msg, {}};
        };
        if (tweak) tweak(o);
        auto s = HttpServer::create(o, std::move(h));
        ASSERT_TRUE(s.ok()) << s.status().message();
        server_ = std::move(*s);
        thread_ = std::thread([this] { server_->run(); });
    }
    void TearDown() override {
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
    }
    std::unique_ptr<HttpServer> server_;
    std::thread thread_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    start([](const HttpRequest& req, std::shared_ptr<Exchange> ex) {
        ex->reply({200, "text/plain", req.method + " " + req.path + " " + req.body, {}});
    });
    Client c(server_->port());
    c.send("POST /a?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    std::string r1 = c.read_until("POST /a abc");
    EXPECT_EQ(r1.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(r1.find("Content-Length: 11\r\n"), std::string::npos);
    c.clear();
    c.send("GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_NE(c.read_until("GET /b ").find("GET /b "), std::string::npos);
    // HEAD: the headers of the answer, no body; the next response follows directly.
    c.clear();
    c.send("HEAD /c HTTP/1.1\r\nHost: t\r\n\r\nGET /d HTTP/1.1\r\nHost: t\r\n\r\n");
    std::string r = c.read_until("GET /d ");
    EXPECT_EQ(r.find("HEAD /c"), std::string::npos);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_NE(r.find("\r\n\r\nHTTP/1.1 200 OK\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, StreamsChunkedEvents) {
    start([](const HttpRequest&, std::shared_ptr<Exchange> ex) {
        ex->start_stream(200, "text/event-stream");
        ex->write("data: 1\n\n");
        ex->write("data: 22\n\n");
        ex->end();
    });
    Client c(server_->port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    std::string r = c.read_until("0\r\n\r\n");
    EXPECT_NE(r.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
    EXPECT_NE(r.find("Content-Type: text/event-stream\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\n\r\n9\r\ndata: 1\n\n\r\na\r\ndata: 22\n\n\r\n0\r\n\r\n"), std::string::npos);
}

TEST_F(HttpServerTest, TooLargeAndMalformedAreAnsweredByTheLayer) {
    std::atomic<int> handled{0};
    start([&](const HttpRequest&, std::shared_ptr<Exchange> ex) {
        ++handled;
        ex->reply({200, "text/plain", "ok", {}});
    }, /*max_body=*/16);
    {
        Client c(server_->port());
        c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
        std::string r = c.read_until("error:");
        EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
    }
    {
        Client c(server_->port());
        c.send("NOT HTTP AT ALL\r\n\r\n");
        std::string r = c.read_until("error:");
        EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
    }
    EXPECT_EQ(handled.load(), 0);
    Client c(server_->port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_NE(c.read_until("ok").find("200 OK"), std::string::npos);
}

TEST_F(HttpServerTest, ClientLeavingMidStreamFiresOnClose) {
    std::atomic<bool> closed{false};
    std::shared_ptr<Exchange> held;
    std::atomic<bool> started{false};
    start([&](const HttpRequest&, std::shared_ptr<Exchange> ex) {
        ex->start_stream(200, "text/event-stream");
        ex->write("data: first\n\n");
        ex->on_close([&] { closed = true; });
        held = ex;  // never ends: only the client can finish this exchange
        started = true;
    });
    {
        Client c(server_->port());
        c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        c.read_until("first");
    }
    // A closed socket reads like a half-close until the server writes: the next writes find it gone.
    for (int i = 0; i < 500 && !closed; ++i) {
        held->write("data: probe\n\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(started.load());
    EXPECT_TRUE(closed.load());
    EXPECT_EQ(server_->num_active_exchanges(), 0);
    held->write("data: late\n\n");  // writes after the client left are dropped, not crashes
}

// --- limits against hostile clients (docs/server.md, "Limits") ---

TEST_F(HttpServerTest, HalfClosedClientStillGetsItsResponse) {
    start([](const HttpRequest&, std::shared_ptr<Exchange> ex) {
        // Answer later, after the server has seen the client's FIN.
        ex->post_after(200, [ex] { ex->reply({200, "text/plain", "late answer", {}}); });
    });
    Client c(server_->port());
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    c.shutdown_send();
    const std::string got = c.read_all();
    EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
    EXPECT_NE(got.find("late answer"), std::string::npos) << got;
}

TEST_F(HttpServerTest, OversizedHeaderGets431NamingHeaders) {
    start([](const HttpRequest&, std::shared_ptr<Exchange> ex) { ex->reply({200, "text/plain", "ok", {}}); }, 1024,
          [](HttpServerOptions& o) { o.max_header_bytes = 1024; });
    Client c(server_->port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
    const std::string got = c.read_all();
    EXPECT_NE(got.find("HTTP/1.1 431"), std::string::npos) << got;
    EXPECT_NE(got.find("request headers too large (limit 1024 bytes)"), std::string::npos) << got;
}

TEST_F(HttpServerTest, ConnectionsOverTheCapGet503WhileOpenOnesAreServed) {
    start([](const HttpRequest&, std::shared_ptr<Exchange> ex) { ex->reply({200, "text/plain", "ok", {}}); }, 1024,
          [](HttpServerOptions& o) { o.max_connections = 3; });
    Client a(server_->port()), b(server_->port()), c(server_->port());
    a.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_NE(a.read_until("ok").find("HTTP/1.1 200"), std::string::npos);
    Client d(server_->port());  // the fourth
    const std::string refused = d.read_all();
    EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
    EXPECT_NE(refused.find("too many open connections (limit 3"), std::string::npos) << refused;
    EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
    a.clear();
    a.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");  // the keep-alive one still answers
    EXPECT_NE(a.read_until("ok").find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(HttpServerTest, RequestNotReceivedInTimeGets408) {
    start([](const HttpRequest&, std::shared_ptr<Exchange> ex) { ex->reply({200, "text/plain", "ok", {}}); }, 1024,
          [](HttpServerOptions& o) { o.request_timeout_s = 1; });
    Client c(server_->port());
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly a part");  // and then nothing
    const std::string got = c.read_all();
    EXPECT_NE(got.find("HTTP/1.1 408"), std::string::npos) << got;
    EXPECT_NE(got.find("within 1 s (--request-timeout-s)"), std::string::npos) << got;
}

TEST_F(HttpServerTest, BufferedBodiesOverTheTotalGet503) {
    std::atomic<int> handled{0};
    start([&](const HttpRequest&, std::shared_ptr<Exchange> ex) {
        ++handled;
        ex->reply({200, "text/plain", "ok", {}});
    }, 1u << 20, [](HttpServerOptions& o) { o.max_buffered_body_bytes = 1u << 20; });
    Client a(server_->port()), b(server_->port());
    a.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 700000\r\n\r\npartial");  // holds 700000
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    b.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 700000\r\n\r\npartial");
    const std::string got = b.read_all();
    EXPECT_NE(got.find("HTTP/1.1 503"), std::string::npos) << got;
    EXPECT_NE(got.find("request bodies being received exceed 1 MiB in total"), std::string::npos) << got;
    a.close();  // its reservation is returned: a new body fits again
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Client c(server_->port());
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 700000\r\n\r\n" + std::string(700000, 'x'));
    EXPECT_NE(c.read_until("ok").find("HTTP/1.1 200"), std::string::npos);
    EXPECT_EQ(handled.load(), 1);
}

TEST_F(HttpServerTest, ReplyLargerThanTheWriteQueueArrivesWhole) {
    const std::string big(3u << 20, 'z');
    start([&](const HttpRequest&, std::shared_ptr<Exchange> ex) { ex->reply({200, "text/plain", big, {}}); }, 1024,
          [](HttpServerOptions& o) { o.max_queued_bytes = 1u << 20; });
    Client c(server_->port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    const std::string got = c.read_all();
    EXPECT_NE(got.find("Content-Length: " + std::to_string(big.size())), std::string::npos);
    EXPECT_EQ(got.size() - got.find("\r\n\r\n") - 4, big.size());
}

TEST_F(HttpServerTest, RandomBytesPartialRequestsAndHangUpsLeaveItServing) {
    // The session's read path (head, body pieces, accounting, timers, half-close) under a seeded
    // stream of mangled requests, cut at random points, from clients that hang up, half-close or
    // read: afterwards every connection is gone, nothing is reserved and a good request is served.
    std::atomic<int> handled{0};
    start([&](const HttpRequest& req, std::shared_ptr<Exchange> ex) {
        ++handled;
        ex->reply({200, "text/plain", "ok " + std::to_string(req.body.size()), {}});
    }, 32 << 10, [](HttpServerOptions& o) {
        o.max_header_bytes = 1024;
        o.max_connections = 24;
        o.max_buffered_body_bytes = 96 << 10;
        o.request_timeout_s = 1;
    });
    const std::vector<std::string> bases = {
        "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
        "POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n\r\n" + std::string(30000, 'b'),
        "GET /b HTTP/1.1\r\nHost: t\r\nX: " + std::string(2000, 'h') + "\r\n\r\n",
        "GET /c HTTP/1.0\r\n\r\nGET /d HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    std::mt19937 rng(1234);
    std::vector<std::unique_ptr<Client>> open;
    for (int i = 0; i < 300; ++i) {
        std::string msg = bases[rng() % bases.size()];
        for (int k = static_cast<int>(rng() % 4); k > 0; --k) msg[rng() % msg.size()] = static_cast<char>(rng());
        if (rng() % 3 == 0) msg.resize(rng() % msg.size());  // cut anywhere
        auto c = std::make_unique<Client>(server_->port());
        if (!msg.empty()) ::send(c->fd(), msg.data(), msg.size(), MSG_NOSIGNAL);
        switch (rng() % 4) {
            case 0: break;                        // hang up at once
            case 1: c->shutdown_send(); break;    // half-close, then hang up
            case 2: open.push_back(std::move(c)); break;  // keep it open for a while
            default: c->shutdown_send(); c->read_all(); break;
        }
        if (open.size() > 30) open.erase(open.begin());
    }
    open.clear();
    for (int i = 0; i < 300 && server_->num_connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(server_->num_connections(), 0);
    EXPECT_EQ(server_->num_active_exchanges(), 0);
    Client good(server_->port());
    good.send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n\r\n" + std::string(30000, 'g'));
    EXPECT_NE(good.read_until("ok 30000").find("ok 30000"), std::string::npos);  // the whole body budget is free again
    EXPECT_GT(handled.load(), 0);
}

}  // namespace
}  // namespace kite::server
