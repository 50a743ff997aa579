// libFuzzer target for what a client controls: raw HTTP bytes through Beast's request parser (with
// the server's limits), then the body through the whole handler path of every route (JSON parsing,
// field validation, prompt and chat-template handling, response shaping) against a scripted engine.
// Any crash, sanitizer report or exception escaping is a bug. A custom mutator adds what byte-level
// mutation rarely finds: deep nesting ("[[[[..." and {"a":{"a":... runs thousands of levels deep),
// one slice repeated until the input is large, and extreme numbers in place of a digit run.
// Run with a large -max_len (e.g. 262144) so the depth and size mutations have room.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <random>
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

constexpr const char* kBigNumbers[] = {"4611686018427387904", "18446744073709551615", "-9223372036854775809",
                                       "1e308", "-1", "0", "2147483648", "1e-320", "128", "1024"};

// Writes `s` into data[0, max_size) in place of [pos, pos + cut); returns the new size.
size_t splice(uint8_t* data, size_t size, size_t max_size, size_t pos, size_t cut, const std::string& s) {
    pos = std::min(pos, size);
    cut = std::min(cut, size - pos);
    std::string out(reinterpret_cast<const char*>(data), pos);
    out += s;
    out.append(reinterpret_cast<const char*>(data) + pos + cut, size - pos - cut);
    if (out.size() > max_size) out.resize(max_size);
    std::memcpy(data, out.data(), out.size());
    return out.size();
}

void parse_http(const uint8_t* data, size_t size) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    parser.header_limit(64 << 10);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
    std::minstd_rand rng(seed);
    const size_t pos = size > 1 ? 1 + rng() % size : 1;  // byte 0 picks the route
    switch (rng() % 8) {
        case 0: {  // deep nesting of arrays or objects, closed or not
            const size_t depth = 1 + rng() % std::max<size_t>(1, max_size / 8);
            const bool object = rng() & 1;
            std::string open, close;
            for (size_t i = 0; i < depth; ++i) {
                open += object ? "{\"a\":" : "[";
                close += object ? "}" : "]";
            }
            return splice(data, size, max_size, pos, 0, open + "1" + ((rng() & 3) ? close : std::string()));
        }
        case 1: {  // one slice repeated: size mutation
            if (size < 2) break;
            const size_t from = 1 + rng() % (size - 1), len = 1 + rng() % std::min<size_t>(64, size - from);
            const std::string piece(reinterpret_cast<const char*>(data + from), len);
            std::string rep;
            const size_t times = 1 + rng() % std::max<size_t>(1, max_size / len);
            for (size_t i = 0; i < times && rep.size() < max_size; ++i) rep += piece;
            return splice(data, size, max_size, pos, 0, rep);
        }
        case 2: {  // a digit run becomes an extreme number
            size_t i = pos;
            while (i < size && !(data[i] >= '0' && data[i] <= '9')) ++i;
            if (i >= size) break;
            size_t j = i;
            while (j < size && data[j] >= '0' && data[j] <= '9') ++j;
            return splice(data, size, max_size, i, j - i, kBigNumbers[rng() % (sizeof(kBigNumbers) / sizeof(kBigNumbers[0]))]);
        }
        default: break;
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

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
