// The access log: a single fprintf per request, so lines from several threads never interleave.
#include "server/access_log.h"

#include <cstdio>
#include <ctime>

namespace kite::server {

void write_access_log(const AccessRecord& r) {
    char when[32];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char tokens[96] = "";
    if (r.tokens_in >= 0)
        std::snprintf(tokens, sizeof(tokens), " in=%lld out=%lld ttft_ms=%.1f", static_cast<long long>(r.tokens_in),
                      static_cast<long long>(r.tokens_out), r.ttft_ms);
    std::fprintf(stderr, "%s access %s \"%s %s\" %d%s total_ms=%.1f%s%s\n", when, r.peer.c_str(), r.method.c_str(),
                 r.path.c_str(), r.status, tokens, r.total_ms, r.request_id.empty() ? "" : " id=",
                 r.request_id.c_str());
}

}  // namespace kite::server
