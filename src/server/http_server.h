// An asynchronous HTTP/1.1 server on Boost.Beast + Asio: accepts connections, parses requests
// (size limits -> 413, malformed -> 400), hands each to one Handler with an Exchange, and writes
// full or chunked (server-sent events) responses. Boost stays inside http_server.cpp.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/http.h"

namespace kite::server {

struct HttpServerOptions {
    std::string host = "0.0.0.0";
    int port = 8088;                       // 0: any free port (see HttpServer::port())
    int num_threads = 2;                   // threads running the I/O loop
    size_t max_body_bytes = 8u << 20;      // larger bodies get 413
    size_t max_header_bytes = 64u << 10;
    int idle_timeout_s = 75;               // keep-alive connections idle this long are closed
    size_t max_queued_bytes = 16u << 20;   // a client this far behind is cut off (on_close fires)
    // Builds the body of the errors the HTTP layer answers itself (400 malformed HTTP, 413).
    std::function<HttpResponse(int status, const std::string& message)> make_error;
    // Told when a client hangs up after starting a request but before sending all of it (no
    // response can be sent; the server logs it as 499, nginx's "client closed request").
    std::function<void(const HttpRequest& partial)> on_abandoned;
};

class HttpServer {
public:
    // Binds and listens; serving starts with run().
    static Result<std::unique_ptr<HttpServer>> create(const HttpServerOptions& options, Handler handler);
    ~HttpServer();

    int port() const;
    // Runs the I/O loop on num_threads threads (this one included) until stop().
    void run();
    // Thread-safe. Closes the listening socket; open connections go on.
    void stop_accepting();
    // Thread-safe. Stops the I/O loop; run() returns.
    void stop();
    // Called (on an I/O thread) on SIGTERM or SIGINT.
    void on_signal(std::function<void(int)> fn);
    // Runs `fn` on an I/O thread after `ms` milliseconds.
    void run_after(int64_t ms, std::function<void()> fn);
    // Requests whose response has not been completely written yet.
    int num_active_exchanges() const;
    int num_connections() const;

    struct Impl;

private:
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kite::server
