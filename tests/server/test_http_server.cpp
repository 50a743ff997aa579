// The Beast/Asio HTTP layer over real sockets: keep-alive, chunked streaming framing, 413 and 400
// answered by the layer itself, and on_close when a client leaves mid-stream.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

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

private:
    int fd_ = -1;
    std::string buf_;
};

class HttpServerTest : public ::testing::Test {
protected:
    void start(Handler h, size_t max_body = 1024) {
        HttpServerOptions o;
        o.host = "127.0.0.1";
        o.port = 0;
        o.num_threads = 2;
        o.max_body_bytes = max_body;
        o.make_error = [](int status, const std::string& msg) {
            return HttpResponse{status, "text/plain", "error: " + msg, {}};
        };
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
    for (int i = 0; i < 500 && !closed; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(started.load());
    EXPECT_TRUE(closed.load());
    EXPECT_EQ(server_->num_active_exchanges(), 0);
    held->write("data: late\n\n");  // writes after the client left are dropped, not crashes
}

}  // namespace
}  // namespace kite::server
