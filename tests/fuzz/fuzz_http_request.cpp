// libFuzzer target for what a client controls: raw HTTP bytes through Beast's request parser (with
// the server's limits), then the body through the whole handler path of every route (JSON parsing,
// field validation, prompt and chat-template handling, response shaping) against a scripted engine.
// Any crash, sanitizer report or exception escaping is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "../server/fakes.h"
#include "server/router.h"

namespace {

namespace http = boost::beast::http;
using kite::server::testing::FakeEngine;
using kite::server::testing::FakeExchange;

constexpr const char* kPaths[] = {"/", "/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize",
                                  "/v1/models", "/v1/models/toy", "/health", "/metrics", "/worker_status"};

void parse_http(const uint8_t* data, size_t size) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    parser.header_limit(64 << 10);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    parse_http(data, size);
    if (size < 1) return 0;
    kite::server::ServerState st;
    auto engine = std::make_shared<FakeEngine>();
    kite::server::testing::make_ready(st, engine);
    kite::server::HttpRequest req;
    const size_t route = data[0] % (sizeof(kPaths) / sizeof(kPaths[0]));
    req.method = (data[0] & 0x80) ? "GET" : "POST";
    req.path = req.target = kPaths[route];
    req.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
    auto ex = std::make_shared<FakeExchange>();
    kite::server::dispatch(st, req, ex);
    // Let every accepted request run to its end: one token, then finished.
    for (const std::string& id : engine->order) {
        const auto& r = engine->live.at(id).request;
        const int seqs = r.num_beams > 1 ? r.num_return_sequences : r.n;
        for (int i = 0; i < seqs; ++i) engine->emit(id, i, {5}, true);
    }
    if (ex->close_fn) ex->close_fn();
    engine->deliver_aborts();
    return 0;
}
