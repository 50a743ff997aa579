// The HTTP interface the API handlers see: a parsed request and an Exchange (one request's reply
// channel). The Beast/Asio implementation lives in http_server.cpp; tests use a fake Exchange.
// Nothing outside src/server includes Boost.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kite::server {

struct HttpRequest {
    std::string method;                         // "GET", "POST", ...
    std::string target;                         // as sent, e.g. "/v1/models?x=1"
    std::string path;                           // target without the query
    std::map<std::string, std::string> headers; // names lower-cased
    std::string body;
    std::string peer;                           // client address, for the access log
    double received_s = 0;                      // steady clock, seconds: when it was parsed

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// One request's reply channel. Thread-safety: every method may be called from any thread; the
// implementation forwards to the connection's strand, so calls never block on the client. All
// callbacks given to post()/on_close()/post_after() run on that strand, one at a time.
class Exchange {
public:
    virtual ~Exchange() = default;
    // A complete response; ends the exchange.
    virtual void reply(HttpResponse response) = 0;
    // Starts a chunked response (e.g. text/event-stream), then write() pieces and end().
    virtual void start_stream(int status, const std::string& content_type) = 0;
    virtual void write(std::string data) = 0;
    virtual void end() = 0;
    // Runs `fn` on the connection's strand.
    virtual void post(std::function<void()> fn) = 0;
    // Runs `fn` on the strand after `ms` milliseconds (unless the exchange is gone by then).
    virtual void post_after(int64_t ms, std::function<void()> fn) = 0;
    // Called once, on the strand, when the client goes away before the response ended (closed
    // socket, write error, or a client too slow to read what is queued for it).
    virtual void on_close(std::function<void()> fn) = 0;
};

// Takes the request by value: the server moves it in (bodies can be megabytes).
using Handler = std::function<void(HttpRequest, std::shared_ptr<Exchange>)>;

}  // namespace kite::server
