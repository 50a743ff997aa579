// A small blocking HTTP/1.1 client (Boost.Beast inside http_client.cpp) for `kite router`: forwards a
// request to a backend and hands back the response head, then the body piece by piece as it
// arrives (chunked encoding decoded), so server-sent events pass through unbuffered. One call runs
// on the caller's thread; every wait has a deadline, so a dead backend costs at most the timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace kite::server {

// "http://host:port" (port defaults to 80; https is not spoken) -> host, port.
struct HttpEndpoint {
    std::string host;
    int port = 80;
    std::string url() const { return "http://" + host + ":" + std::to_string(port); }
};
Result<HttpEndpoint> parse_http_url(const std::string& url);

struct HttpClientRequest {
    std::string method = "GET";
    std::string target = "/";
    std::vector<std::pair<std::string, std::string>> headers;  // sent as given (Host is added)
    std::string body;
    int connect_timeout_ms = 2000;
    // Longest silence allowed while reading the response (0: no limit, e.g. a long generation).
    int read_timeout_ms = 0;
};

struct HttpClientHead {
    int status = 0;
    std::string content_type;
    std::map<std::string, std::string> headers;  // names lower-cased
    bool chunked = false;
};

// Sends `req` and reads the response. `on_head` runs once the head is in; `on_data` for each piece
// of the decoded body, and returns false to abandon the response (the connection is closed, which
// tells a kite backend its client left). Returns an error when nothing could be sent or the head
// never came (the caller may retry elsewhere: `*head_received` is false then), or when the body was
// cut off (`*head_received` true).
Status http_fetch(const HttpEndpoint& to, const HttpClientRequest& req,
                  const std::function<void(const HttpClientHead&)>& on_head,
                  const std::function<bool(std::string_view)>& on_data, bool* head_received);

// Convenience: the whole response body in memory (at most `max_bytes`).
struct HttpClientResponse {
    HttpClientHead head;
    std::string body;
};
Result<HttpClientResponse> http_get(const HttpEndpoint& to, const std::string& target, int timeout_ms,
                                    size_t max_bytes = 4u << 20);

}  // namespace kite::server
