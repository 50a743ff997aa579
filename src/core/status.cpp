#include "core/status.h"

namespace kite {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::kOk: return "OK";
        case StatusCode::kInvalidArgument: return "InvalidArgument";
        case StatusCode::kNotFound: return "NotFound";
        case StatusCode::kDataLoss: return "DataLoss";
        case StatusCode::kUnimplemented: return "Unimplemented";
        case StatusCode::kResourceExhausted: return "ResourceExhausted";
        case StatusCode::kFailedPrecondition: return "FailedPrecondition";
        case StatusCode::kAborted: return "Aborted";
        case StatusCode::kInternal: return "Internal";
        case StatusCode::kUnavailable: return "Unavailable";
    }
    return "Unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "OK";
    return message_;
}

void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
    std::fprintf(stderr, "kite: internal error: check failed: %s at %s:%d %s\n", expr, file, line, msg.c_str());
    std::abort();
}

}  // namespace kite
