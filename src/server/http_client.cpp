// The Beast side of the router's backend client: connect with a deadline, write the request, read
// the head, then the body through a fixed buffer so each decoded piece goes straight to the caller.
#include "server/http_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kite::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpEndpoint> parse_http_url(const std::string& url) {
    std::string rest = url;
    const std::string scheme = "http://";
    if (rest.rfind(scheme, 0) == 0) rest = rest.substr(scheme.size());
    else if (rest.find("://") != std::string::npos)
        return invalid_argument("backend URL '" + url + "': only http:// is supported");
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.find('/') != std::string::npos)
        return invalid_argument("backend URL '" + url + "': expected http://host:port with no path");
    HttpEndpoint e;
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos) {
        e.host = rest;
    } else {
        e.host = rest.substr(0, colon);
        const std::string port = rest.substr(colon + 1);
        if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit))
            return invalid_argument("backend URL '" + url + "': port must be a number 1-65535");
        e.port = std::stoi(port);
        if (e.port < 1 || e.port > 65535) return invalid_argument("backend URL '" + url + "': port out of range");
    }
    if (e.host.empty()) return invalid_argument("backend URL '" + url + "': expected http://host:port");
    return e;
}

Status http_fetch(const HttpEndpoint& to, const HttpClientRequest& req,
                  const std::function<void(const HttpClientHead&)>& on_head,
                  const std::function<bool(std::string_view)>& on_data, bool* head_received) {
    *head_received = false;
    const std::string where = to.url() + req.target;
    try {
        asio::io_context ioc;
        tcp::resolver resolver(ioc);
        beast::tcp_stream stream(ioc);
        beast::error_code ec;
        auto endpoints = resolver.resolve(to.host, std::to_string(to.port), ec);
        if (ec) return unavailable(where + ": cannot resolve host: " + ec.message());
        stream.expires_after(std::chrono::milliseconds(req.connect_timeout_ms));
        stream.connect(endpoints, ec);
        if (ec) return unavailable(where + ": cannot connect: " + ec.message());

        http::request<http::string_body> r{http::string_to_verb(req.method), req.target, 11};
        r.set(http::field::host, to.host + ":" + std::to_string(to.port));
        for (const auto& [k, v] : req.headers) r.set(k, v);
        r.body() = req.body;
        r.prepare_payload();
        http::write(stream, r, ec);
        if (ec) return unavailable(where + ": cannot send the request: " + ec.message());

        // The head: a backend that accepted the request answers it within the connect timeout's
        // order of magnitude unless it is busy computing a non-streamed reply; read_timeout covers it.
        if (req.read_timeout_ms > 0) stream.expires_after(std::chrono::milliseconds(req.read_timeout_ms));
        else stream.expires_never();
        beast::flat_buffer buf;
        http::response_parser<http::buffer_body> parser;
        // An explicit maximum: Boost 1.74 compares Content-Length against an empty optional as "over".
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        http::read_header(stream, buf, parser, ec);
        if (ec) return unavailable(where + ": no response: " + ec.message());
        HttpClientHead head;
        head.status = static_cast<int>(parser.get().result_int());
        for (const auto& f : parser.get()) {
            std::string name(f.name_string());
            std::transform(name.begin(), name.end(), name.begin(), ::tolower);
            head.headers[name] = std::string(f.value());
        }
        head.content_type = head.headers["content-type"];
        head.chunked = parser.chunked();
        *head_received = true;
        on_head(head);

        char chunk[16384];
        while (!parser.is_done()) {
            parser.get().body().data = chunk;
            parser.get().body().size = sizeof(chunk);
            if (req.read_timeout_ms > 0) stream.expires_after(std::chrono::milliseconds(req.read_timeout_ms));
            http::read(stream, buf, parser, ec);
            if (ec == http::error::need_buffer) ec = {};
            if (ec && ec != http::error::end_of_stream) return unavailable(where + ": response cut off: " + ec.message());
            const size_t n = sizeof(chunk) - parser.get().body().size;
            if (n > 0 && !on_data(std::string_view(chunk, n))) {
                stream.socket().shutdown(tcp::socket::shutdown_both, ec);
                return Status::ok();
            }
            if (ec == http::error::end_of_stream) break;
        }
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        return Status::ok();
    } catch (const std::exception& e) {
        return unavailable(where + ": " + e.what());
    }
}

Result<HttpClientResponse> http_get(const HttpEndpoint& to, const std::string& target, int timeout_ms,
                                    size_t max_bytes) {
    HttpClientRequest req;
    req.target = target;
    req.connect_timeout_ms = timeout_ms;
    req.read_timeout_ms = timeout_ms;
    HttpClientResponse out;
    bool too_big = false;
    bool head = false;
    Status s = http_fetch(
        to, req, [&](const HttpClientHead& h) { out.head = h; },
        [&](std::string_view piece) {
            if (out.body.size() + piece.size() > max_bytes) {
                too_big = true;
                return false;
            }
            out.body.append(piece);
            return true;
        },
        &head);
    if (!s.is_ok()) return s;
    if (too_big) return resource_exhausted(to.url() + target + ": response larger than " + std::to_string(max_bytes) + " bytes");
    return out;
}

}  // namespace kite::server
