// One line per request on stderr: peer, method, path, status, tokens in/out, TTFT, total time.
#pragma once

#include <string>

namespace kite::server {

struct AccessRecord {
    std::string peer, method, path, request_id;
    int status = 0;
    int64_t tokens_in = -1, tokens_out = -1;  // -1: not a generation request
    double ttft_ms = -1, total_ms = 0;
};

void write_access_log(const AccessRecord& r);

}  // namespace kite::server
